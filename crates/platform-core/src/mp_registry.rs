//! The registry as Mercado Pago's stores and POS APIs show it (§5.1–5.3),
//! for the compatible surface: sellers by their Mercado Pago user id, stores
//! and POS by Mercado Pago's ids, searches of the mirror, and creates, edits
//! and deletes that go to Mercado Pago first with the seller's token (as
//! `registry_edit` does for the dashboard) and are mirrored only once it
//! accepted them. Every read takes the caller's scope; a row outside it is
//! not found.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::audit::{self, Actor};
use crate::clock;
use crate::entities::{pos, sellers, stores, terminals};
use crate::error::CoreError;
use crate::id::{PosId, SellerId, StoreId};
use crate::lookups::Stale;
use crate::mercadopago::{self as mp, MpError};
use crate::registry::{RegistryError, SellerAccess, note_upstream_failure, seller_access};
use crate::registry_edit::Ctx;
use crate::tenancy::Scope;

/// A store's `business_hours` as stored (JSON text), when Mercado Pago sent them.
pub fn hours_json(hours: Option<&mp::BusinessHours>) -> Option<String> {
    hours.and_then(|h| serde_json::to_string(h).ok())
}

/// A POS's QR as stored (JSON text): the classic `qr` or v2 `qr_response`
/// object, with the POS's `uuid`.
pub fn qr_json(p: &mp::Pos) -> Option<String> {
    let mut qr = match (&p.qr_response, &p.qr) {
        (Some(serde_json::Value::Object(o)), _) | (None, Some(serde_json::Value::Object(o))) => {
            o.clone()
        }
        _ => serde_json::Map::new(),
    };
    if let Some(u) = &p.uuid {
        qr.entry("uuid").or_insert_with(|| u.clone().into());
    }
    (!qr.is_empty()).then(|| serde_json::Value::Object(qr).to_string())
}

/// Why a change did not happen. Nothing changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("the seller is not linked")]
    NotLinked,
    /// Mercado Pago refused or failed; its answer, as is.
    #[error(transparent)]
    Upstream(MpError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<sea_orm::DbErr> for MirrorError {
    fn from(e: sea_orm::DbErr) -> Self {
        MirrorError::Core(e.into())
    }
}

impl From<RegistryError> for MirrorError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotLinked => MirrorError::NotLinked,
            RegistryError::Core(c) => MirrorError::Core(c),
            RegistryError::Upstream { message, .. } => {
                MirrorError::Core(CoreError::Internal(message))
            }
        }
    }
}

async fn upstream<T>(
    db: &crate::db::Db,
    access: &SellerAccess,
    res: Result<T, MpError>,
) -> Result<T, MirrorError> {
    match res {
        Ok(v) => Ok(v),
        Err(e) => {
            note_upstream_failure(db, &access.seller, &e).await?;
            Err(MirrorError::Upstream(e))
        }
    }
}

// ---- reads ----

/// The seller of the scope with this Mercado Pago user id. A store or POS
/// scope reaches its own seller only.
pub async fn seller_by_mp_user(
    db: &impl ConnectionTrait,
    scope: &Scope,
    mp_user_id: i64,
) -> Result<Option<sellers::Model>, CoreError> {
    let found = Scope::integrator(scope.integrator_id().clone())
        .select::<sellers::Entity>()
        .filter(sellers::Column::MpUserId.eq(mp_user_id))
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .find(|s| scope.seller_id().is_none_or(|own| *own == s.id)))
}

/// The seller a row found through the scope belongs to.
pub async fn seller_of(
    db: &impl ConnectionTrait,
    seller_id: &SellerId,
) -> Result<sellers::Model, CoreError> {
    sellers::Entity::find_by_id(seller_id.clone())
        .one(db)
        .await?
        .ok_or(CoreError::NotFound { kind: "seller" })
}

/// The scope's store with this Mercado Pago store id.
pub async fn store_by_mp_id(
    db: &impl ConnectionTrait,
    scope: &Scope,
    mp_store_id: &str,
) -> Result<Option<stores::Model>, CoreError> {
    Ok(scope
        .select::<stores::Entity>()
        .filter(stores::Column::MpStoreId.eq(mp_store_id))
        .one(db)
        .await?)
}

/// The scope's stores with this external id (one per seller at most).
pub async fn stores_by_external_id(
    db: &impl ConnectionTrait,
    scope: &Scope,
    external_id: &str,
) -> Result<Vec<stores::Model>, CoreError> {
    Ok(scope
        .select::<stores::Entity>()
        .filter(stores::Column::ExternalId.eq(external_id))
        .all(db)
        .await?)
}

/// One offset page of a seller's stores in the scope, oldest first, and the total.
pub async fn search_stores(
    db: &impl ConnectionTrait,
    scope: &Scope,
    seller_id: &SellerId,
    external_id: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<stores::Model>, u64), CoreError> {
    let mut q = scope
        .select::<stores::Entity>()
        .filter(stores::Column::SellerId.eq(seller_id));
    if let Some(x) = external_id {
        q = q.filter(stores::Column::ExternalId.eq(x));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(stores::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Stores by Puente id, for the views of POS already found through a scope.
pub async fn stores_by_ids(
    db: &impl ConnectionTrait,
    ids: Vec<StoreId>,
) -> Result<HashMap<StoreId, stores::Model>, CoreError> {
    Ok(stores::Entity::find()
        .filter(stores::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect())
}

/// Sellers by Puente id, for the views of rows already found through a scope.
pub async fn sellers_by_ids(
    db: &impl ConnectionTrait,
    ids: Vec<SellerId>,
) -> Result<HashMap<SellerId, sellers::Model>, CoreError> {
    Ok(sellers::Entity::find()
        .filter(sellers::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect())
}

/// The scope's POS with this Mercado Pago POS id.
pub async fn pos_by_mp_id(
    db: &impl ConnectionTrait,
    scope: &Scope,
    mp_pos_id: &str,
) -> Result<Option<pos::Model>, CoreError> {
    Ok(scope
        .select::<pos::Entity>()
        .filter(pos::Column::MpPosId.eq(mp_pos_id))
        .one(db)
        .await?)
}

/// The POS of a seller in the scope with this external id.
pub async fn pos_by_external_id(
    db: &impl ConnectionTrait,
    scope: &Scope,
    seller_id: &SellerId,
    external_id: &str,
) -> Result<Option<pos::Model>, CoreError> {
    Ok(scope
        .select::<pos::Entity>()
        .filter(pos::Column::SellerId.eq(seller_id))
        .filter(pos::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// `GET /pos` filters, by Mercado Pago's ids (all optional).
#[derive(Debug, Clone, Default)]
pub struct PosQuery {
    pub external_id: Option<String>,
    /// Puente ids of the stores `store_id` / `external_store_id` named.
    pub store_ids: Option<Vec<StoreId>>,
    pub category: Option<i64>,
}

/// One offset page of the scope's POS, oldest first, and the total.
pub async fn search_pos(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: &PosQuery,
    offset: u64,
    limit: u64,
) -> Result<(Vec<pos::Model>, u64), CoreError> {
    let mut q = scope.select::<pos::Entity>();
    if let Some(x) = &f.external_id {
        q = q.filter(pos::Column::ExternalId.eq(x.as_str()));
    }
    if let Some(ids) = &f.store_ids {
        q = q.filter(pos::Column::StoreId.is_in(ids.clone()));
    }
    if let Some(c) = f.category {
        q = q.filter(pos::Column::Category.eq(c));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(pos::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

// ---- writes ----

fn mp_number(id: Option<&str>) -> Result<u64, MirrorError> {
    id.and_then(|s| s.parse().ok())
        .ok_or(MirrorError::NotLinked)
}

fn store_row(row: &mut stores::ActiveModel, remote: &mp::Store, req: &mp::StoreRequest) {
    let loc = remote
        .location
        .clone()
        .or_else(|| req.location.clone())
        .unwrap_or_default();
    let sent = req.location.clone().unwrap_or_default();
    row.mp_store_id = Set(Some(remote.id.to_string()));
    row.name = Set(remote.name.clone().unwrap_or_else(|| req.name.clone()));
    row.external_id = Set(remote
        .external_id
        .clone()
        .or_else(|| req.external_id.clone()));
    // Mercado Pago's read-back may carry only `address_line`: keep the parts sent.
    row.street_name = Set(loc.street_name.or(sent.street_name));
    row.street_number = Set(loc.street_number.or(sent.street_number));
    row.city_name = Set(loc.city_name.or(sent.city_name));
    row.state_name = Set(loc.state_name.or(sent.state_name));
    row.latitude = Set(loc.latitude.or(sent.latitude));
    row.longitude = Set(loc.longitude.or(sent.longitude));
    row.reference = Set(loc.reference.or(sent.reference));
    row.business_hours = Set(hours_json(
        remote
            .business_hours
            .as_ref()
            .or(req.business_hours.as_ref()),
    ));
    row.updated_at = Set(clock::now());
}

/// Creates a store of `seller` at Mercado Pago, then in the mirror.
pub async fn create_store(
    ctx: Ctx<'_>,
    scope: &Scope,
    seller: &sellers::Model,
    req: &mp::StoreRequest,
    actor: &Actor,
) -> Result<stores::Model, MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, &seller.id).await?;
    let res = mp.create_store(&access.token, access.mp_user_id, req).await;
    let remote = upstream(db, &access, res).await?;
    let mut row = stores::ActiveModel {
        id: Set(StoreId::new()),
        integrator_id: Set(seller.integrator_id.clone()),
        seller_id: Set(seller.id.clone()),
        created_at: Set(clock::now()),
        ..Default::default()
    };
    store_row(&mut row, &remote, req);
    let txn = db.begin_write().await?;
    let saved = row.insert(&txn).await?;
    audit::record(
        &txn,
        &saved.integrator_id,
        actor,
        "store.created",
        Some(audit::Target::Store(&saved.id)),
        Some(saved.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Replaces a store's fields at Mercado Pago (same body as create), then in the mirror.
pub async fn update_store(
    ctx: Ctx<'_>,
    scope: &Scope,
    store: stores::Model,
    req: &mp::StoreRequest,
    actor: &Actor,
) -> Result<stores::Model, MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, &store.seller_id).await?;
    let id = mp_number(store.mp_store_id.as_deref())?;
    let res = mp
        .update_store(&access.token, access.mp_user_id, id, req)
        .await;
    let remote = upstream(db, &access, res).await?;
    let mut row = store.into_active_model();
    store_row(&mut row, &remote, req);
    let txn = db.begin_write().await?;
    let saved = row.update(&txn).await?;
    audit::record(
        &txn,
        &saved.integrator_id,
        actor,
        "store.updated",
        Some(audit::Target::Store(&saved.id)),
        Some(saved.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Deletes a store at Mercado Pago, then from the mirror with its POS
/// (terminals stay, without a store or POS, until the next sync places them).
pub async fn delete_store(
    ctx: Ctx<'_>,
    scope: &Scope,
    store: stores::Model,
    actor: &Actor,
) -> Result<(), MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, &store.seller_id).await?;
    let id = mp_number(store.mp_store_id.as_deref())?;
    let res = mp.delete_store(&access.token, access.mp_user_id, id).await;
    upstream(db, &access, res).await?;
    let txn = db.begin_write().await?;
    terminals::Entity::update_many()
        .col_expr(terminals::Column::StoreId, Expr::value(None::<String>))
        .col_expr(terminals::Column::PosId, Expr::value(None::<String>))
        .filter(terminals::Column::StoreId.eq(store.id.clone()))
        .exec(&txn)
        .await?;
    pos::Entity::delete_many()
        .filter(pos::Column::StoreId.eq(store.id.clone()))
        .exec(&txn)
        .await?;
    stores::Entity::delete_by_id(store.id.clone())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &store.integrator_id,
        actor,
        "store.deleted",
        Some(audit::Target::Store(&store.id)),
        Some(store.name.clone()),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    Ok(())
}

/// A POS to create, through the classic API or `/v2/pos` (whose
/// idempotency key Mercado Pago requires).
pub enum NewPos<'a> {
    Classic(mp::PosRequest),
    V2 {
        req: mp::PosV2Request,
        idempotency_key: &'a str,
    },
}

fn pos_row(row: &mut pos::ActiveModel, remote: &mp::Pos) {
    row.mp_pos_id = Set(Some(remote.id.to_string()));
    if let Some(n) = &remote.name {
        row.name = Set(n.clone());
    }
    if let Some(c) = remote.category {
        row.category = Set(i64::try_from(c).ok());
    }
    if let Some(f) = remote.fixed_amount {
        row.fixed_amount = Set(f);
    }
    if let Some(qr) = qr_json(remote) {
        row.qr = Set(Some(qr));
    }
    row.updated_at = Set(clock::now());
}

/// Creates a POS in `store` at Mercado Pago, then in the mirror.
pub async fn create_pos(
    ctx: Ctx<'_>,
    scope: &Scope,
    store: &stores::Model,
    new: NewPos<'_>,
    actor: &Actor,
) -> Result<pos::Model, MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, &store.seller_id).await?;
    let (res, name, external_id, category, fixed) = match &new {
        NewPos::Classic(req) => (
            mp.create_pos(&access.token, req).await,
            req.name.clone(),
            req.external_id.clone().unwrap_or_default(),
            req.category.map(i64::from),
            req.fixed_amount.unwrap_or(false),
        ),
        NewPos::V2 {
            req,
            idempotency_key,
        } => (
            mp.create_pos_v2(&access.token, req, idempotency_key).await,
            req.name.clone().unwrap_or_else(|| req.external_id.clone()),
            req.external_id.clone(),
            None,
            false,
        ),
    };
    let remote = upstream(db, &access, res).await?;
    let now = clock::now();
    let mut row = pos::ActiveModel {
        id: Set(PosId::new()),
        integrator_id: Set(store.integrator_id.clone()),
        seller_id: Set(store.seller_id.clone()),
        store_id: Set(store.id.clone()),
        external_id: Set(remote.external_id.clone().unwrap_or(external_id)),
        name: Set(name),
        category: Set(category),
        fixed_amount: Set(fixed),
        created_at: Set(now),
        ..Default::default()
    };
    pos_row(&mut row, &remote);
    let txn = db.begin_write().await?;
    let saved = row.insert(&txn).await?;
    audit::record(
        &txn,
        &saved.integrator_id,
        actor,
        "pos.created",
        Some(audit::Target::Pos(&saved.id)),
        Some(saved.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Changes a POS's name, fixed amount or category at Mercado Pago, then in the mirror.
pub async fn update_pos(
    ctx: Ctx<'_>,
    scope: &Scope,
    pos: pos::Model,
    req: &mp::PosRequest,
    actor: &Actor,
) -> Result<pos::Model, MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, &pos.seller_id).await?;
    let id = mp_number(pos.mp_pos_id.as_deref())?;
    let res = mp.update_pos(&access.token, id, req).await;
    let remote = upstream(db, &access, res).await?;
    let mut row = pos.into_active_model();
    pos_row(&mut row, &remote);
    let txn = db.begin_write().await?;
    let saved = row.update(&txn).await?;
    audit::record(
        &txn,
        &saved.integrator_id,
        actor,
        "pos.updated",
        Some(audit::Target::Pos(&saved.id)),
        Some(saved.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Deletes a POS at Mercado Pago (classic, or `/v2/pos` with its key), then
/// from the mirror (its terminals stay, without a POS).
pub async fn delete_pos(
    ctx: Ctx<'_>,
    scope: &Scope,
    pos: pos::Model,
    idempotency_key: Option<&str>,
    actor: &Actor,
) -> Result<(), MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, &pos.seller_id).await?;
    let id = mp_number(pos.mp_pos_id.as_deref())?;
    let res = match idempotency_key {
        Some(key) => mp.delete_pos_v2(&access.token, id, key).await,
        None => mp.delete_pos(&access.token, id).await,
    };
    upstream(db, &access, res).await?;
    let txn = db.begin_write().await?;
    terminals::Entity::update_many()
        .col_expr(terminals::Column::PosId, Expr::value(None::<String>))
        .filter(terminals::Column::PosId.eq(pos.id.clone()))
        .exec(&txn)
        .await?;
    pos::Entity::delete_by_id(pos.id.clone()).exec(&txn).await?;
    audit::record(
        &txn,
        &pos.integrator_id,
        actor,
        "pos.deleted",
        Some(audit::Target::Pos(&pos.id)),
        Some(pos.name.clone()),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    Ok(())
}

// ---- integrator settings (§2.8) ----

/// The legacy API's integrator settings of a seller's account, read with
/// the seller's token.
pub async fn integrator_settings(
    ctx: Ctx<'_>,
    scope: &Scope,
    seller_id: &SellerId,
) -> Result<mp::IntegratorSettings, MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, seller_id).await?;
    let res = mp.get_integrator_settings(&access.token).await;
    upstream(db, &access, res).await
}

/// Sets the channels of the seller's device alerts at Mercado Pago.
pub async fn set_device_event_channels(
    ctx: Ctx<'_>,
    scope: &Scope,
    seller_id: &SellerId,
    channels: &[String],
    actor: &Actor,
) -> Result<(), MirrorError> {
    let Ctx { db, keyring, mp } = ctx;
    let access = seller_access(db, keyring, scope, seller_id).await?;
    let res = mp.set_device_event_channels(&access.token, channels).await;
    upstream(db, &access, res).await?;
    audit::record(
        db,
        scope.integrator_id(),
        actor,
        "seller.device_alerts_changed",
        Some(audit::Target::Seller(seller_id)),
        Some(channels.join(", ")),
    )
    .await?;
    Ok(())
}
