//! An integrator's webhook endpoints, managed through a [`Scope`].
//!
//! Only integrator-wide scopes change endpoints (`insufficient_scope`
//! otherwise); a narrowed scope finds none, so their ids are "not found".

use crate::db::Db;
use crate::error::{Conflict, Forbidden, Invalid};
use chrono::{DateTime, Duration, Utc};
use reqwest::Url;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use super::signing;
use super::ssrf::SsrfGuard;
use crate::config::Settings;
use crate::crypto::{Aad, Keyring};
use crate::entities::{sellers, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::error::CoreError;
use crate::events::EVENT_TYPES;
use crate::id::{SellerId, WebhookEndpointId};
use crate::idempotency::Completion;
use crate::secret::SecretString;
use crate::states::{DeliveryStatus, EndpointStatus};
use crate::tenancy::Scope;

pub use webhook_endpoints::Model as Endpoint;

pub const TABLE: &str = "webhook_endpoints";
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// Endpoints per integrator.
pub const MAX_ENDPOINTS: usize = 50;

/// What an endpoint URL may be.
#[derive(Debug, Clone)]
pub struct UrlRules {
    /// Plain `http://` accepted (sandbox mode); otherwise `https://` only.
    pub allow_http: bool,
    /// IP-literal URLs are checked against the SSRF lists when saved (names
    /// are checked at every delivery, since DNS answers change).
    pub guard: SsrfGuard,
}

impl UrlRules {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            allow_http: settings.sandbox_mode(),
            guard: SsrfGuard::new(settings.webhook_allow_cidrs.clone()),
        }
    }

    /// Checks a URL and returns it normalised.
    pub fn check(&self, raw: &str) -> Result<String, CoreError> {
        let bad = |m: String| CoreError::invalid(Invalid::Url, m);
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(bad("url is required".into()));
        }
        if raw.len() > MAX_URL_LEN {
            return Err(bad(format!("url is longer than {MAX_URL_LEN} characters")));
        }
        let url = Url::parse(raw).map_err(|e| bad(format!("`{raw}` is not a URL ({e})")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(bad("url must use https://".into())),
            other => return Err(bad(format!("url scheme `{other}` is not http(s)"))),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("url has no host".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "url must not contain a user name or password; authenticate with the signature"
                    .into(),
            ));
        }
        if url.fragment().is_some() {
            return Err(bad("url must not contain a #fragment".into()));
        }
        self.guard
            .check_url(&url)
            .map_err(|e| CoreError::invalid(Invalid::UrlNotAllowed, e.to_string()))?;
        Ok(url.to_string())
    }
}

/// A new endpoint.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    /// Event types to receive; empty = all.
    pub event_types: Vec<String>,
    /// Only events of this seller (`sel_…`); `None` = all sellers. As sent:
    /// checked here, where a malformed id is refused as an unknown one is.
    pub seller_id: Option<String>,
}

/// A change to an endpoint; `None` leaves a field as it is, and for the
/// nullable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub seller_id: Option<Option<String>>,
    pub enabled: Option<bool>,
}

fn require_integrator_wide(scope: &Scope, what: &str) -> Result<(), CoreError> {
    if scope.is_integrator_wide() {
        Ok(())
    } else {
        Err(CoreError::Forbidden {
            reason: Forbidden::InsufficientScope,
            message: format!("only integrator-wide keys can {what} webhook endpoints"),
        })
    }
}

/// Validates and normalises an event filter (sorted, no duplicates).
pub fn check_event_types(types: &[String]) -> Result<String, CoreError> {
    let mut out: Vec<&str> = Vec::with_capacity(types.len());
    for t in types {
        let t = t.trim();
        let Some(known) = EVENT_TYPES.iter().find(|k| **k == t) else {
            return Err(CoreError::Invalid {
                reason: Invalid::EventType,
                message: format!(
                    "`{t}` is not an event type; use one of: {}",
                    EVENT_TYPES.join(", ")
                ),
            });
        };
        if !out.contains(known) {
            out.push(known);
        }
    }
    out.sort_unstable();
    Ok(serde_json::to_string(&out).unwrap_or_else(|_| "[]".into()))
}

/// The event filter of a stored endpoint.
pub fn event_types(ep: &Endpoint) -> Vec<String> {
    serde_json::from_str(&ep.event_types).unwrap_or_default()
}

fn check_description(d: Option<String>) -> Result<Option<String>, CoreError> {
    let d = d.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if d.as_ref()
        .is_some_and(|s| s.chars().count() > MAX_DESCRIPTION_LEN)
    {
        return Err(CoreError::invalid(
            Invalid::Description,
            format!("description is longer than {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    Ok(d)
}

async fn check_seller(
    db: &impl ConnectionTrait,
    scope: &Scope,
    seller_id: Option<String>,
) -> Result<Option<SellerId>, CoreError> {
    let Some(id) = seller_id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let found = match SellerId::parse(&id) {
        Ok(seller_id) => scope.find::<sellers::Entity>(db, &seller_id).await,
        Err(_) => Err(CoreError::NotFound {
            kind: SellerId::KIND,
        }),
    };
    match found {
        Ok(row) => Ok(Some(row.id)),
        Err(CoreError::NotFound { .. }) => Err(CoreError::invalid(
            Invalid::Seller,
            format!("seller `{id}` not found"),
        )),
        Err(e) => Err(e),
    }
}

fn seal_secret(
    keyring: &Keyring,
    column: &str,
    id: &WebhookEndpointId,
    secret: &SecretString,
) -> String {
    keyring.seal(secret, Aad::new(TABLE, column, id.as_str()))
}

/// Creates an endpoint. The secret is returned this once and stored sealed.
pub async fn create(
    db: &Db,
    keyring: &Keyring,
    scope: &Scope,
    rules: &UrlRules,
    new: NewEndpoint,
    now: DateTime<Utc>,
    completion: Option<&Completion<'_, (Endpoint, SecretString)>>,
) -> Result<(Endpoint, SecretString), CoreError> {
    require_integrator_wide(scope, "create")?;
    let url = rules.check(&new.url)?;
    let description = check_description(new.description)?;
    let event_types = check_event_types(&new.event_types)?;
    let seller_id = check_seller(db, scope, new.seller_id).await?;
    let existing = scope
        .select::<webhook_endpoints::Entity>()
        .all(db)
        .await?
        .len();
    if existing >= MAX_ENDPOINTS {
        return Err(CoreError::conflict(
            Conflict::TooManyEndpoints,
            format!("an integrator can have at most {MAX_ENDPOINTS} webhook endpoints"),
        ));
    }
    let id = WebhookEndpointId::new();
    let secret = signing::generate_secret();
    let row = webhook_endpoints::ActiveModel {
        id: Set(id.clone()),
        integrator_id: Set(scope.integrator_id().clone()),
        url: Set(url),
        description: Set(description),
        event_types: Set(event_types),
        seller_id: Set(seller_id),
        secret: Set(seal_secret(keyring, "secret", &id, &secret)),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        status: Set(EndpointStatus::Enabled),
        disabled_reason: Set(None),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let txn = db.begin_write().await?;
    let row = row.insert(&txn).await?;
    let created = (row, secret);
    crate::idempotency::complete_with(completion, &txn, &created, id.as_str()).await?;
    txn.commit().await?;
    Ok(created)
}

/// The scope's endpoints, newest first.
pub async fn list(db: &impl ConnectionTrait, scope: &Scope) -> Result<Vec<Endpoint>, CoreError> {
    Ok(scope
        .select::<webhook_endpoints::Entity>()
        .order_by_desc(webhook_endpoints::Column::Id)
        .all(db)
        .await?)
}

pub async fn get(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: &WebhookEndpointId,
) -> Result<Endpoint, CoreError> {
    scope.find::<webhook_endpoints::Entity>(db, id).await
}

/// Applies a patch; nothing changes if any field is invalid.
pub async fn update(
    db: &Db,
    scope: &Scope,
    rules: &UrlRules,
    id: &WebhookEndpointId,
    patch: EndpointPatch,
    now: DateTime<Utc>,
) -> Result<Endpoint, CoreError> {
    let txn = db.begin_write().await?;
    let row = get(&txn, scope, id).await?;
    require_integrator_wide(scope, "change")?;
    let mut am = row.clone().into_active_model();
    if let Some(url) = patch.url {
        am.url = Set(rules.check(&url)?);
    }
    if let Some(d) = patch.description {
        am.description = Set(check_description(d)?);
    }
    if let Some(types) = patch.event_types {
        am.event_types = Set(check_event_types(&types)?);
    }
    if let Some(seller) = patch.seller_id {
        am.seller_id = Set(check_seller(&txn, scope, seller).await?);
    }
    match patch.enabled {
        Some(true) if row.status == EndpointStatus::Disabled => {
            am.status = Set(EndpointStatus::Enabled);
            am.disabled_reason = Set(None);
            am.failing_since = Set(None);
        }
        Some(false) if row.status == EndpointStatus::Enabled => {
            am.status = Set(EndpointStatus::Disabled);
            am.disabled_reason = Set(Some("disabled by the integrator".into()));
            settle_pending(&txn, &row.id, "endpoint disabled", now).await?;
        }
        _ => {}
    }
    am.updated_at = Set(now);
    let saved = am.update(&txn).await?;
    txn.commit().await?;
    Ok(saved)
}

/// Enables or disables an endpoint.
pub async fn set_enabled(
    db: &Db,
    scope: &Scope,
    rules: &UrlRules,
    id: &WebhookEndpointId,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<Endpoint, CoreError> {
    let patch = EndpointPatch {
        enabled: Some(enabled),
        ..Default::default()
    };
    update(db, scope, rules, id, patch, now).await
}

/// Marks every pending delivery of an endpoint dead (it will not be sent;
/// it can be replayed once the endpoint is enabled again).
pub(crate) async fn settle_pending(
    db: &impl ConnectionTrait,
    endpoint_id: &WebhookEndpointId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, CoreError> {
    let res = webhook_deliveries::Entity::update_many()
        .col_expr(
            webhook_deliveries::Column::Status,
            sea_orm::sea_query::Expr::value(DeliveryStatus::Dead.as_str()),
        )
        .col_expr(
            webhook_deliveries::Column::LastError,
            sea_orm::sea_query::Expr::value(reason),
        )
        .col_expr(
            webhook_deliveries::Column::NextAttemptAt,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_deliveries::Column::CompletedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            webhook_deliveries::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(webhook_deliveries::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// A new secret; the old one keeps signing (as a second signature) for
/// [`ROTATION_OVERLAP_HOURS`]. Returns the new secret, shown this once.
pub async fn rotate_secret(
    db: &Db,
    keyring: &Keyring,
    scope: &Scope,
    id: &WebhookEndpointId,
    now: DateTime<Utc>,
) -> Result<(Endpoint, SecretString), CoreError> {
    let txn = db.begin_write().await?;
    let row = get(&txn, scope, id).await?;
    require_integrator_wide(scope, "rotate secrets of")?;
    let current = keyring.open(&row.secret, Aad::new(TABLE, "secret", row.id.as_str()))?;
    let fresh = signing::generate_secret();
    let mut am = row.clone().into_active_model();
    am.secret = Set(seal_secret(keyring, "secret", &row.id, &fresh));
    am.previous_secret = Set(Some(seal_secret(
        keyring,
        "previous_secret",
        &row.id,
        &current,
    )));
    am.previous_secret_expires_at = Set(Some(now + Duration::hours(ROTATION_OVERLAP_HOURS)));
    am.updated_at = Set(now);
    let saved = am.update(&txn).await?;
    txn.commit().await?;
    Ok((saved, fresh))
}

/// Deletes an endpoint with its deliveries and their attempt log (the
/// events stay).
pub async fn delete(db: &Db, scope: &Scope, id: &WebhookEndpointId) -> Result<(), CoreError> {
    let txn = db.begin_write().await?;
    let row = get(&txn, scope, id).await?;
    require_integrator_wide(scope, "delete")?;
    webhook_attempts::Entity::delete_many()
        .filter(webhook_attempts::Column::EndpointId.eq(&row.id))
        .exec(&txn)
        .await?;
    webhook_deliveries::Entity::delete_many()
        .filter(webhook_deliveries::Column::EndpointId.eq(&row.id))
        .exec(&txn)
        .await?;
    scope
        .delete::<webhook_endpoints::Entity>(&txn, &row.id)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// The secrets that sign a message sent at `now`: the current one, then the
/// previous one while its overlap lasts.
pub fn signing_secrets(
    keyring: &Keyring,
    ep: &Endpoint,
    now: DateTime<Utc>,
) -> Result<Vec<SecretString>, CoreError> {
    let mut out = vec![keyring.open(&ep.secret, Aad::new(TABLE, "secret", ep.id.as_str()))?];
    if let (Some(prev), Some(until)) = (&ep.previous_secret, ep.previous_secret_expires_at)
        && now < until
    {
        out.push(keyring.open(prev, Aad::new(TABLE, "previous_secret", ep.id.as_str()))?);
    }
    Ok(out)
}
