//! API keys: shown once, stored as a SHA-256 hash plus a visible prefix.
//!
//! A key looks like `pk_test_3fk9x2qa_<32 random chars>`. The part before the
//! last `_` is the prefix, stored in clear and unique, used to find the row
//! and to show the key in the dashboard. The whole key is hashed: keys are
//! 190 bits of randomness, so a fast hash is enough (unlike passwords), and
//! authentication stays cheap on every request.

use crate::clock;
use crate::db::Db;
use crate::error::{Forbidden, Invalid};
use crate::lookups::Stale;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::entities::{api_keys, pos, sellers, stores};
use crate::error::CoreError;
use crate::id::{ApiKeyId, PosId, SellerId, StoreId};
use crate::idempotency::Completion;
use crate::paging::{Page, PageRequest, fetch_page};
use crate::secret::SecretString;
use crate::states::{KeyAccess, KeyMode, ScopeKind};
use crate::tenancy::{Scope, parse_id};

const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const PREFIX_RANDOM_LEN: usize = 8;
const SECRET_LEN: usize = 32;
/// `last_used_at` is written at most this often per key.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub scope_kind: ScopeKind,
    /// The seller, store or POS the key is limited to (by Puente id), per
    /// `scope_kind`: text, parsed as the kind it names (malformed = not found).
    pub target_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub mode: KeyMode,
    /// `ReadOnly`: the key may only read (`GET`).
    pub access: KeyAccess,
}

fn random_string(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    // 256 % 57 bias is negligible for identifiers of this length.
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The visible prefix of a presented key, if it has the right shape.
fn split_prefix(key: &str) -> Option<&str> {
    let (prefix, secret) = key.rsplit_once('_')?;
    let valid_prefix = (prefix.starts_with("pk_live_") || prefix.starts_with("pk_test_"))
        && prefix.len() == 8 + PREFIX_RANDOM_LEN;
    (valid_prefix && secret.len() == SECRET_LEN).then_some(prefix)
}

/// Creates a key inside `scope` (which must be integrator-wide: narrower
/// keys cannot mint keys). Returns the row and the key, shown once.
pub async fn create(
    db: &Db,
    scope: &Scope,
    new: NewApiKey,
    created_by: Option<String>,
    completion: Option<&Completion<'_, (api_keys::Model, SecretString)>>,
) -> Result<(api_keys::Model, SecretString), CoreError> {
    if !scope.is_integrator_wide() {
        return Err(CoreError::Forbidden {
            reason: Forbidden::InsufficientScope,
            message: "only integrator-wide keys can create API keys".into(),
        });
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(CoreError::invalid(
            Invalid::Name,
            "the key name must be 1–80 characters",
        ));
    }
    if let Some(exp) = new.expires_at
        && exp <= clock::now()
    {
        return Err(CoreError::invalid(
            Invalid::Expiry,
            "expires_at must be in the future",
        ));
    }
    let (seller_id, store_id, pos_id) =
        resolve_target(db, scope, new.scope_kind, new.target_id.as_deref()).await?;

    let mode = match new.mode {
        KeyMode::Live => "live",
        KeyMode::Test => "test",
    };
    let prefix = format!("pk_{mode}_{}", random_string(PREFIX_RANDOM_LEN));
    let key = SecretString::new(format!("{prefix}_{}", random_string(SECRET_LEN)));
    let row = api_keys::ActiveModel {
        id: Set(ApiKeyId::new()),
        integrator_id: Set(scope.integrator_id().clone()),
        name: Set(name.to_owned()),
        prefix: Set(prefix),
        key_hash: Set(hash(key.expose_secret())),
        mode: Set(new.mode),
        scope_kind: Set(new.scope_kind),
        seller_id: Set(seller_id),
        store_id: Set(store_id),
        pos_id: Set(pos_id),
        created_by: Set(created_by),
        created_at: Set(clock::now()),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        access: Set(new.access),
    };
    let txn = db.begin_write().await?;
    let row = row.insert(&txn).await?;
    let created = (row, key);
    crate::idempotency::complete_with(completion, &txn, &created, created.0.id.as_str()).await?;
    txn.commit().await?;
    Ok(created)
}

/// Checks the target of a narrowed key exists in the scope, and fills in
/// the ids above it (a POS key also carries its store and seller).
async fn resolve_target(
    db: &Db,
    scope: &Scope,
    kind: ScopeKind,
    target: Option<&str>,
) -> Result<(Option<SellerId>, Option<StoreId>, Option<PosId>), CoreError> {
    let need = |what: &'static str| {
        target.ok_or_else(|| {
            CoreError::invalid(
                Invalid::MissingScopeTarget,
                format!("a {what}-scoped key needs the {what} id"),
            )
        })
    };
    match kind {
        ScopeKind::Integrator => {
            if target.is_some() {
                return Err(CoreError::invalid(
                    Invalid::UnexpectedScopeTarget,
                    "an integrator-wide key takes no target id",
                ));
            }
            Ok((None, None, None))
        }
        ScopeKind::Seller => {
            let id = parse_id::<sellers::Entity>(need("seller")?)?;
            let s = scope.find::<sellers::Entity>(db, &id).await?;
            Ok((Some(s.id), None, None))
        }
        ScopeKind::Store => {
            let id = parse_id::<stores::Entity>(need("store")?)?;
            let s = scope.find::<stores::Entity>(db, &id).await?;
            Ok((Some(s.seller_id), Some(s.id), None))
        }
        ScopeKind::Pos => {
            let id = parse_id::<pos::Entity>(need("pos")?)?;
            let p = scope.find::<pos::Entity>(db, &id).await?;
            Ok((Some(p.seller_id), Some(p.store_id), Some(p.id)))
        }
    }
}

/// Why a presented key was refused. Deliberately coarse for the caller:
/// all map to 401 `invalid_api_key` except the expired/revoked hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    Malformed,
    Unknown,
    Revoked,
    Expired,
}

/// An authenticated key and the scope it grants.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub key: api_keys::Model,
    pub scope: Scope,
}

pub async fn authenticate(
    db: &Db,
    presented: &str,
) -> Result<Result<Authenticated, KeyRejection>, CoreError> {
    let Some(prefix) = split_prefix(presented) else {
        return Ok(Err(KeyRejection::Malformed));
    };
    let lookups = db.lookups();
    let row = match lookups.key(prefix) {
        Some(row) => (*row).clone(),
        None => {
            let ticket = lookups.ticket(Stale::Keys);
            let Some(row) = api_keys::Entity::find()
                .filter(api_keys::Column::Prefix.eq(prefix))
                .one(db)
                .await?
            else {
                return Ok(Err(KeyRejection::Unknown));
            };
            lookups.keep_key(ticket, row.clone());
            row
        }
    };
    let presented_hash = hash(presented);
    if !bool::from(presented_hash.as_bytes().ct_eq(row.key_hash.as_bytes())) {
        return Ok(Err(KeyRejection::Unknown));
    }
    let now = clock::now();
    if row.revoked_at.is_some() {
        return Ok(Err(KeyRejection::Revoked));
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Ok(Err(KeyRejection::Expired));
    }
    let scope = scope_of(&row)?;
    let row = touch(db, row, now).await;
    Ok(Ok(Authenticated { key: row, scope }))
}

/// Whether the key `key_id` still authenticates now (not revoked, not
/// expired, not deleted): long-lived requests (SSE streams) ask again
/// while they run, so a revoked key's open stream ends.
pub async fn still_valid(db: &Db, key_id: &ApiKeyId) -> Result<bool, CoreError> {
    let row = api_keys::Entity::find_by_id(key_id.clone()).one(db).await?;
    Ok(
        row.is_some_and(|r| {
            r.revoked_at.is_none() && r.expires_at.is_none_or(|e| e > clock::now())
        }),
    )
}

/// The scope a key row grants.
pub fn scope_of(row: &api_keys::Model) -> Result<Scope, CoreError> {
    let bad = || CoreError::Internal(format!("API key {} has an inconsistent scope", row.id));
    let mut scope = Scope::integrator(row.integrator_id.clone());
    if row.scope_kind != ScopeKind::Integrator {
        scope = scope.with_seller(row.seller_id.clone().ok_or_else(bad)?);
    }
    if matches!(row.scope_kind, ScopeKind::Store | ScopeKind::Pos) {
        scope = scope.with_store(row.store_id.clone().ok_or_else(bad)?);
    }
    if row.scope_kind == ScopeKind::Pos {
        scope = scope.with_pos(row.pos_id.clone().ok_or_else(bad)?);
    }
    Ok(scope)
}

/// Records use, at most once a minute per key; a failed write is not the
/// caller's problem.
async fn touch(db: &Db, row: api_keys::Model, now: DateTime<Utc>) -> api_keys::Model {
    if row
        .last_used_at
        .is_some_and(|t| now - t < LAST_USED_RESOLUTION)
    {
        return row;
    }
    let ticket = db.lookups().ticket(Stale::Keys);
    let mut active = row.clone().into_active_model();
    active.last_used_at = Set(Some(now));
    match active.update(db).await {
        Ok(touched) => {
            db.lookups().keep_key(ticket, touched.clone());
            touched
        }
        Err(_) => row,
    }
}

pub async fn list(db: &Db, scope: &Scope) -> Result<Vec<api_keys::Model>, CoreError> {
    Ok(scope
        .select::<api_keys::Entity>()
        .order_by_desc(api_keys::Column::Id)
        .all(db)
        .await?)
}

/// A page of the scope's keys, newest first.
pub async fn page(
    db: &Db,
    scope: &Scope,
    page: &PageRequest,
) -> Result<Page<api_keys::Model>, CoreError> {
    fetch_page(
        db,
        scope.select::<api_keys::Entity>(),
        api_keys::Column::Id,
        page,
        |k| k.id.to_string(),
    )
    .await
}

/// Revokes a key (idempotent). Only integrator-wide scopes may revoke.
pub async fn revoke(db: &Db, scope: &Scope, id: &ApiKeyId) -> Result<api_keys::Model, CoreError> {
    if !scope.is_integrator_wide() {
        return Err(CoreError::Forbidden {
            reason: Forbidden::InsufficientScope,
            message: "only integrator-wide keys can revoke API keys".into(),
        });
    }
    let row = scope.find::<api_keys::Entity>(db, id).await?;
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    let mut active = row.into_active_model();
    active.revoked_at = Set(Some(clock::now()));
    let revoked = active.update(db).await?;
    db.changed(Stale::Keys).await;
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_and_prefix() {
        let prefix = format!("pk_test_{}", random_string(PREFIX_RANDOM_LEN));
        let key = format!("{prefix}_{}", random_string(SECRET_LEN));
        assert_eq!(split_prefix(&key), Some(prefix.as_str()));
        assert_eq!(split_prefix("pk_test_short_abc"), None);
        assert_eq!(
            split_prefix("sk_test_abcdefgh_0123456789abcdefghijkmnopqrstuv"),
            None
        );
        assert_eq!(split_prefix(""), None);
        assert_ne!(hash(&key), hash(&format!("{key}x")));
        assert_eq!(hash(&key).len(), 64);
    }
}
