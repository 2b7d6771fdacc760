//! The store / POS / terminal registry of each seller, mirrored from Mercado
//! Pago: a full sync (at linking and on demand) and the dashboard's edits,
//! which go upstream first and are stored only once Mercado Pago accepted them.

use crate::db::Db;
use std::collections::HashMap;

use crate::clock;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::audit::{self, Actor};
use crate::crypto::{Aad, Keyring};
use crate::entities::{integrators, pos, seller_credentials, sellers, stores, terminals};
use crate::error::CoreError;
use crate::id::{IntegratorId, PosId, SellerId, StoreId, TerminalId};
use crate::lookups::{Charging, Stale};
use crate::mercadopago::{self as mp, MpClient, MpError, walk_pages};
use crate::paging::{Page, PageRequest, fetch_page};
use crate::secret::SecretString;
use crate::states::{LinkStatus, OperatingMode, UpstreamApi};
use crate::tenancy::{Scope, TenantEntity};

/// Everything Mercado Pago says a seller has, fetched before any write.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub stores: Vec<mp::Store>,
    pub pos: Vec<mp::Pos>,
    pub terminals: Vec<mp::Terminal>,
}

/// Why a registry operation did not happen. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the seller is not linked")]
    NotLinked,
    /// Mercado Pago refused the change; its code and message go on the form.
    #[error("Mercado Pago: {message}")]
    Upstream {
        code: Option<String>,
        message: String,
        retryable: bool,
    },
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<sea_orm::DbErr> for RegistryError {
    fn from(e: sea_orm::DbErr) -> Self {
        RegistryError::Core(e.into())
    }
}

impl From<MpError> for RegistryError {
    fn from(e: MpError) -> Self {
        let retryable = e.is_retryable();
        let (code, message) = match &e {
            MpError::Api { code, message, .. } | MpError::Unauthorized { code, message } => {
                (code.clone(), message.clone())
            }
            other => (None, other.to_string()),
        };
        RegistryError::Upstream {
            code,
            message,
            retryable,
        }
    }
}

pub async fn fetch_snapshot(
    mp: &MpClient,
    token: &SecretString,
    mp_user_id: u64,
    api: UpstreamApi,
) -> Result<Snapshot, MpError> {
    let stores = walk_pages(50, |offset, limit| async move {
        let q = mp::StoreSearch {
            limit: Some(limit),
            offset: Some(offset),
            ..Default::default()
        };
        let page = mp.search_stores(token, mp_user_id, &q).await?;
        Ok((page.results, page.paging))
    })
    .await?;
    let pos = walk_pages(50, |offset, limit| async move {
        let q = mp::PosSearch {
            limit: Some(limit),
            offset: Some(offset),
            ..Default::default()
        };
        let page = mp.search_pos(token, &q).await?;
        Ok((page.results, page.paging))
    })
    .await?;
    let terminals = match api {
        UpstreamApi::Orders => mp.list_all_terminals(token, &Default::default()).await?,
        UpstreamApi::Legacy => mp.list_all_devices(token, &Default::default()).await?,
    };
    Ok(Snapshot {
        stores,
        pos,
        terminals,
    })
}

fn local_mode(m: Option<mp::OperatingMode>) -> OperatingMode {
    match m {
        Some(mp::OperatingMode::Pdv) => OperatingMode::Pdv,
        Some(mp::OperatingMode::Standalone) => OperatingMode::Standalone,
        _ => OperatingMode::Undefined,
    }
}

/// The model part of a device id: `PAX_A910__SMARTPOS123` → `PAX_A910`.
fn model_of(device_id: &str) -> Option<String> {
    device_id.split_once("__").map(|(m, _)| m.to_owned())
}

/// How much of a seller's registry a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncCounts {
    pub stores: usize,
    pub pos: usize,
    pub terminals: usize,
}

/// Writes a snapshot: upserts by Mercado Pago id, removes what vanished
/// upstream.
pub async fn apply_snapshot(
    db: &impl ConnectionTrait,
    integrator_id: &IntegratorId,
    seller_id: &SellerId,
    snap: &Snapshot,
) -> Result<SyncCounts, CoreError> {
    let now = clock::now();
    let existing_stores = stores::Entity::find()
        .filter(stores::Column::SellerId.eq(seller_id))
        .all(db)
        .await?;
    let mut store_ids: Vec<(String, StoreId)> = Vec::new(); // (mp id, local id)
    for s in &snap.stores {
        let mp_id = s.id.to_string();
        let loc = s.location.clone().unwrap_or_default();
        let found = existing_stores
            .iter()
            .find(|e| e.mp_store_id.as_deref() == Some(mp_id.as_str()));
        let mut row = match found {
            Some(e) => e.clone().into_active_model(),
            None => stores::ActiveModel {
                id: Set(StoreId::new()),
                integrator_id: Set(integrator_id.clone()),
                seller_id: Set(seller_id.clone()),
                mp_store_id: Set(Some(mp_id.clone())),
                created_at: Set(now),
                ..Default::default()
            },
        };
        row.name = Set(s.name.clone().unwrap_or_else(|| mp_id.clone()));
        row.external_id = Set(s.external_id.clone());
        row.street_name = Set(loc.street_name);
        row.street_number = Set(loc.street_number);
        row.city_name = Set(loc.city_name);
        row.state_name = Set(loc.state_name);
        row.latitude = Set(loc.latitude);
        row.longitude = Set(loc.longitude);
        row.reference = Set(loc.reference);
        if let Some(hours) = crate::mp_registry::hours_json(s.business_hours.as_ref()) {
            row.business_hours = Set(Some(hours));
        }
        row.updated_at = Set(now);
        let saved = if found.is_some() {
            row.update(db).await?
        } else {
            row.insert(db).await?
        };
        store_ids.push((mp_id, saved.id));
    }
    let local_store = |mp_id: Option<&mp::MpId>| {
        mp_id.and_then(|m| {
            store_ids
                .iter()
                .find(|(k, _)| k == m.as_str())
                .map(|(_, v)| v.clone())
        })
    };
    for gone in existing_stores.iter().filter(|e| {
        e.mp_store_id
            .as_ref()
            .is_some_and(|m| !store_ids.iter().any(|(k, _)| k == m))
    }) {
        stores::Entity::delete_by_id(gone.id.clone())
            .exec(db)
            .await?;
    }

    let existing_pos = pos::Entity::find()
        .filter(pos::Column::SellerId.eq(seller_id))
        .all(db)
        .await?;
    let mut pos_ids: Vec<(String, PosId, StoreId)> = Vec::new(); // (mp id, local id, local store)
    for p in &snap.pos {
        let Some(store_id) = local_store(p.store_id.as_ref()) else {
            continue; // A POS without a known store cannot be placed.
        };
        let mp_id = p.id.to_string();
        let found = existing_pos
            .iter()
            .find(|e| e.mp_pos_id.as_deref() == Some(mp_id.as_str()));
        let mut row = match found {
            Some(e) => e.clone().into_active_model(),
            None => pos::ActiveModel {
                id: Set(PosId::new()),
                integrator_id: Set(integrator_id.clone()),
                seller_id: Set(seller_id.clone()),
                mp_pos_id: Set(Some(mp_id.clone())),
                created_at: Set(now),
                ..Default::default()
            },
        };
        row.store_id = Set(store_id.clone());
        row.external_id = Set(p.external_id.clone().unwrap_or_default());
        row.name = Set(p.name.clone().unwrap_or_else(|| mp_id.clone()));
        row.category = Set(p.category.map(|c| c as i64));
        row.fixed_amount = Set(p.fixed_amount.unwrap_or(false));
        if let Some(qr) = crate::mp_registry::qr_json(p) {
            row.qr = Set(Some(qr));
        }
        row.updated_at = Set(now);
        let saved = if found.is_some() {
            row.update(db).await?
        } else {
            row.insert(db).await?
        };
        pos_ids.push((mp_id, saved.id, store_id));
    }
    for gone in existing_pos.iter().filter(|e| {
        e.mp_pos_id
            .as_ref()
            .is_some_and(|m| !pos_ids.iter().any(|(k, _, _)| k == m))
    }) {
        pos::Entity::delete_by_id(gone.id.clone()).exec(db).await?;
    }

    let existing_terminals = terminals::Entity::find()
        .filter(terminals::Column::SellerId.eq(seller_id))
        .all(db)
        .await?;
    for t in &snap.terminals {
        let placed = t.pos_id.as_ref().and_then(|m| {
            pos_ids
                .iter()
                .find(|(k, _, _)| k == m.as_str())
                .map(|(_, p, s)| (p.clone(), s.clone()))
        });
        let found = existing_terminals.iter().find(|e| e.device_id == t.id);
        let mut row = match found {
            Some(e) => e.clone().into_active_model(),
            None => terminals::ActiveModel {
                id: Set(TerminalId::new()),
                integrator_id: Set(integrator_id.clone()),
                seller_id: Set(seller_id.clone()),
                device_id: Set(t.id.clone()),
                created_at: Set(now),
                ..Default::default()
            },
        };
        row.model = Set(model_of(&t.id));
        row.pos_id = Set(placed.as_ref().map(|p| p.0.clone()));
        row.store_id = Set(placed
            .map(|p| p.1)
            .or_else(|| local_store(t.store_id.as_ref())));
        row.operating_mode = Set(local_mode(t.operating_mode));
        row.updated_at = Set(now);
        if found.is_some() {
            row.update(db).await?;
        } else {
            row.insert(db).await?;
        }
    }
    for gone in existing_terminals
        .iter()
        .filter(|e| !snap.terminals.iter().any(|t| t.id == e.device_id))
    {
        terminals::Entity::delete_by_id(gone.id.clone())
            .exec(db)
            .await?;
    }
    Ok(SyncCounts {
        stores: store_ids.len(),
        pos: pos_ids.len(),
        terminals: snap.terminals.len(),
    })
}

/// A linked seller and its decrypted access token.
pub struct SellerAccess {
    pub seller: sellers::Model,
    pub token: SecretString,
    pub mp_user_id: u64,
}

/// The seller (inside `scope`) with a usable token, or `NotLinked`.
pub async fn seller_access(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    scope: &Scope,
    seller_id: &SellerId,
) -> Result<SellerAccess, RegistryError> {
    let seller = scope.find::<sellers::Entity>(db, seller_id).await?;
    if seller.link_status != LinkStatus::Linked {
        return Err(RegistryError::NotLinked);
    }
    let cred = scope
        .select::<seller_credentials::Entity>()
        .filter(seller_credentials::Column::SellerId.eq(seller_id))
        .one(db)
        .await?
        .ok_or(RegistryError::NotLinked)?;
    let token = keyring
        .open(
            &cred.access_token,
            Aad::new("seller_credentials", "access_token", cred.id.as_str()),
        )
        .map_err(CoreError::from)?;
    Ok(SellerAccess {
        mp_user_id: seller.mp_user_id as u64,
        seller,
        token,
    })
}

/// A 401 from Mercado Pago means the seller revoked us: flag it for re-linking.
pub async fn note_upstream_failure(
    db: &Db,
    seller: &sellers::Model,
    err: &MpError,
) -> Result<(), CoreError> {
    if matches!(err, MpError::Unauthorized { .. })
        && seller.link_status.can_become(LinkStatus::NeedsReconnect)
    {
        sellers::Entity::update_many()
            .col_expr(
                sellers::Column::LinkStatus,
                sea_orm::sea_query::Expr::value(LinkStatus::NeedsReconnect.as_str()),
            )
            .filter(sellers::Column::Id.eq(seller.id.clone()))
            .exec(db)
            .await?;
        db.changed(Stale::Charging).await;
    }
    Ok(())
}

/// Re-reads everything from Mercado Pago and replaces the local mirror.
pub async fn sync_seller(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    seller_id: &SellerId,
    api: UpstreamApi,
    actor: &Actor,
) -> Result<SyncCounts, RegistryError> {
    let access = seller_access(db, keyring, scope, seller_id).await?;
    let snap = match fetch_snapshot(mp, &access.token, access.mp_user_id, api).await {
        Ok(s) => s,
        Err(e) => {
            note_upstream_failure(db, &access.seller, &e).await?;
            return Err(e.into());
        }
    };
    let txn = db.begin_write().await?;
    let counts = apply_snapshot(&txn, scope.integrator_id(), seller_id, &snap).await?;
    audit::record(
        &txn,
        scope.integrator_id(),
        actor,
        "seller.synced",
        Some(audit::Target::Seller(seller_id)),
        Some(format!(
            "{} stores, {} POS, {} terminals",
            counts.stores, counts.pos, counts.terminals
        )),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    Ok(counts)
}

// Reads of the mirror, for the API, the compatible surface, the dashboard
// and the worker. Tenant reads take the caller's scope.

/// The terminal of the scope with this Mercado Pago device id.
pub async fn terminal_by_device(
    db: &impl ConnectionTrait,
    scope: &Scope,
    device_id: &str,
) -> Result<Option<terminals::Model>, CoreError> {
    Ok(scope
        .select::<terminals::Entity>()
        .filter(terminals::Column::DeviceId.eq(device_id))
        .one(db)
        .await?)
}

/// The filters of the API's registry lists; each list applies the ones that
/// fit its objects and ignores the others. The ids are search terms as the
/// caller typed them (text): one that names nothing matches nothing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub seller_id: Option<String>,
    pub store_id: Option<String>,
    pub pos_id: Option<String>,
    /// Sellers only; the caller has checked it names a [`LinkStatus`].
    pub link_status: Option<String>,
}

/// One page of `E` in the scope, newest first: rows older than
/// `starting_after`, at most `limit`, and whether there are more.
async fn list_newest_first<E: TenantEntity>(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filters: &[(E::Column, Option<&String>)],
    starting_after: Option<&str>,
    limit: u64,
) -> Result<(Vec<E::Model>, bool), CoreError>
where
    E::Model: Sync,
{
    let mut select = scope.select::<E>();
    for (column, value) in filters {
        if let Some(v) = value {
            select = select.filter(column.eq(v.as_str()));
        }
    }
    if let Some(after) = starting_after {
        select = select.filter(E::id_column().lt(after));
    }
    let mut rows = select
        .order_by_desc(E::id_column())
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, has_more))
}

/// The scope's sellers, by `link_status`.
pub async fn list_sellers(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: &ListFilter,
    starting_after: Option<&str>,
    limit: u64,
) -> Result<(Vec<sellers::Model>, bool), CoreError> {
    let filters = [(sellers::Column::LinkStatus, f.link_status.as_ref())];
    list_newest_first::<sellers::Entity>(db, scope, &filters, starting_after, limit).await
}

/// The scope's stores, by `seller_id`.
pub async fn list_stores(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: &ListFilter,
    starting_after: Option<&str>,
    limit: u64,
) -> Result<(Vec<stores::Model>, bool), CoreError> {
    let filters = [(stores::Column::SellerId, f.seller_id.as_ref())];
    list_newest_first::<stores::Entity>(db, scope, &filters, starting_after, limit).await
}

/// The scope's POS, by `seller_id` and `store_id`.
pub async fn list_pos(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: &ListFilter,
    starting_after: Option<&str>,
    limit: u64,
) -> Result<(Vec<pos::Model>, bool), CoreError> {
    let filters = [
        (pos::Column::SellerId, f.seller_id.as_ref()),
        (pos::Column::StoreId, f.store_id.as_ref()),
    ];
    list_newest_first::<pos::Entity>(db, scope, &filters, starting_after, limit).await
}

/// The scope's terminals, by `seller_id`, `store_id` and `pos_id`.
pub async fn list_terminals(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: &ListFilter,
    starting_after: Option<&str>,
    limit: u64,
) -> Result<(Vec<terminals::Model>, bool), CoreError> {
    let filters = [
        (terminals::Column::SellerId, f.seller_id.as_ref()),
        (terminals::Column::StoreId, f.store_id.as_ref()),
        (terminals::Column::PosId, f.pos_id.as_ref()),
    ];
    list_newest_first::<terminals::Entity>(db, scope, &filters, starting_after, limit).await
}

/// Terminals as Mercado Pago lists them: by its store and POS ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceFilter<'a> {
    pub mp_store_id: Option<&'a str>,
    pub mp_pos_id: Option<&'a str>,
}

/// A page of devices with the stores and POS they name (by Puente id).
#[derive(Debug, Clone, Default)]
pub struct Devices {
    pub terminals: Vec<terminals::Model>,
    pub stores: HashMap<StoreId, stores::Model>,
    pub pos: HashMap<PosId, pos::Model>,
    /// How many terminals match in all.
    pub total: u64,
}

/// One offset page of the scope's terminals by device id, and the total.
pub async fn devices(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: DeviceFilter<'_>,
    offset: u64,
    limit: u64,
) -> Result<Devices, CoreError> {
    let mut q = scope.select::<terminals::Entity>();
    if let Some(s) = f.mp_store_id {
        let ids: Vec<StoreId> = scope
            .select::<stores::Entity>()
            .filter(stores::Column::MpStoreId.eq(s))
            .all(db)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        q = q.filter(terminals::Column::StoreId.is_in(ids));
    }
    if let Some(p) = f.mp_pos_id {
        let ids: Vec<PosId> = scope
            .select::<pos::Entity>()
            .filter(pos::Column::MpPosId.eq(p))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        q = q.filter(terminals::Column::PosId.is_in(ids));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(terminals::Column::DeviceId)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    let store_ids: Vec<StoreId> = rows.iter().filter_map(|t| t.store_id.clone()).collect();
    let pos_ids: Vec<PosId> = rows.iter().filter_map(|t| t.pos_id.clone()).collect();
    let stores = stores::Entity::find()
        .filter(stores::Column::Id.is_in(store_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let pos = pos::Entity::find()
        .filter(pos::Column::Id.is_in(pos_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    Ok(Devices {
        terminals: rows,
        stores,
        pos,
        total,
    })
}

/// The dashboard's terminal list filters; all optional (the seller id as
/// typed: one that names nothing matches nothing).
#[derive(Debug, Clone, Default)]
pub struct TerminalFilter {
    pub seller_id: Option<String>,
    pub mode: Option<OperatingMode>,
    /// Part of the device id.
    pub device_id_contains: Option<String>,
}

/// A page of the scope's terminals, newest first.
pub async fn terminals_page(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: &TerminalFilter,
    page: &PageRequest,
) -> Result<Page<terminals::Model>, CoreError> {
    let mut query = scope.select::<terminals::Entity>();
    if let Some(seller) = &f.seller_id {
        query = query.filter(terminals::Column::SellerId.eq(seller.as_str()));
    }
    if let Some(m) = f.mode {
        query = query.filter(terminals::Column::OperatingMode.eq(m.as_str()));
    }
    if let Some(text) = &f.device_id_contains {
        query = query.filter(terminals::Column::DeviceId.contains(text.as_str()));
    }
    fetch_page(db, query, terminals::Column::Id, page, |m| m.id.to_string()).await
}

/// The scope's terminals with these ids.
pub async fn terminals_by_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: Vec<TerminalId>,
) -> Result<Vec<terminals::Model>, CoreError> {
    Ok(scope
        .select::<terminals::Entity>()
        .filter(terminals::Column::Id.is_in(ids))
        .all(db)
        .await?)
}

/// How many terminals the scope has.
pub async fn terminal_count(db: &impl ConnectionTrait, scope: &Scope) -> Result<u64, CoreError> {
    Ok(scope.select::<terminals::Entity>().count(db).await?)
}

/// The scope's stores by name, at most `limit`.
pub async fn stores_by_name(
    db: &impl ConnectionTrait,
    scope: &Scope,
    limit: u64,
) -> Result<Vec<stores::Model>, CoreError> {
    Ok(scope
        .select::<stores::Entity>()
        .order_by_asc(stores::Column::Name)
        .limit(limit)
        .all(db)
        .await?)
}

/// The scope's POS by name, at most `limit`.
pub async fn pos_by_name(
    db: &impl ConnectionTrait,
    scope: &Scope,
    limit: u64,
) -> Result<Vec<pos::Model>, CoreError> {
    Ok(scope
        .select::<pos::Entity>()
        .order_by_asc(pos::Column::Name)
        .limit(limit)
        .all(db)
        .await?)
}

/// The scope's terminals by device id, at most `limit`.
pub async fn terminals_by_device(
    db: &impl ConnectionTrait,
    scope: &Scope,
    limit: u64,
) -> Result<Vec<terminals::Model>, CoreError> {
    Ok(scope
        .select::<terminals::Entity>()
        .order_by_asc(terminals::Column::DeviceId)
        .limit(limit)
        .all(db)
        .await?)
}

/// What the dashboard may charge on: the scope's linked sellers, and their
/// terminals in PDV or STANDALONE mode by device id (at most `limit`).
#[derive(Debug, Clone, Default)]
pub struct Chargeable {
    pub sellers: Vec<sellers::Model>,
    pub terminals: Vec<terminals::Model>,
}

/// The dashboard's payment form choices (see [`Chargeable`]).
pub async fn chargeable(
    db: &impl ConnectionTrait,
    scope: &Scope,
    limit: u64,
) -> Result<Chargeable, CoreError> {
    let sellers = scope
        .select::<sellers::Entity>()
        .filter(sellers::Column::LinkStatus.eq(LinkStatus::Linked.as_str()))
        .all(db)
        .await?;
    let terminals = scope
        .select::<terminals::Entity>()
        .filter(terminals::Column::OperatingMode.is_in([
            OperatingMode::Pdv.as_str(),
            OperatingMode::Standalone.as_str(),
        ]))
        .filter(terminals::Column::SellerId.is_in(sellers.iter().map(|s| s.id.clone())))
        .order_by_asc(terminals::Column::DeviceId)
        .limit(limit)
        .all(db)
        .await?;
    Ok(Chargeable { sellers, terminals })
}

/// What charging on `terminal_id` needs (the terminal, its seller and
/// integrator), from the process's lookups when they have it; `None` for
/// a terminal that does not exist. Not scoped: for the worker, which holds
/// an intent's terminal id. See [`charging_in`] for a caller's scope.
pub async fn charging(
    db: &Db,
    terminal_id: &TerminalId,
) -> Result<Option<std::sync::Arc<Charging>>, CoreError> {
    let lookups = db.lookups();
    if let Some(found) = lookups.charging(terminal_id) {
        return Ok(Some(found));
    }
    let ticket = lookups.ticket(Stale::Charging);
    // One statement: the terminal with its seller and integrator.
    let Some((terminal, seller, integrator)) = terminals::Entity::find_by_id(terminal_id.clone())
        .find_also_related(sellers::Entity)
        .find_also_related(integrators::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let seller = seller.ok_or(CoreError::NotFound { kind: "seller" })?;
    let integrator = integrator.ok_or(CoreError::NotFound { kind: "integrator" })?;
    Ok(Some(lookups.keep_charging(
        ticket,
        Charging {
            terminal,
            seller,
            integrator,
        },
    )))
}

/// As [`charging`], for a terminal of `scope` (a terminal outside it is not
/// found, exactly like one that does not exist).
pub async fn charging_in(
    db: &Db,
    scope: &Scope,
    terminal_id: &TerminalId,
) -> Result<std::sync::Arc<Charging>, CoreError> {
    let not_found = CoreError::NotFound {
        kind: terminals::Entity::KIND,
    };
    let found = charging(db, terminal_id).await?.ok_or(not_found)?;
    let t = &found.terminal;
    if !scope.contains(
        &t.integrator_id,
        Some(&t.seller_id),
        t.store_id.as_ref(),
        t.pos_id.as_ref(),
    ) {
        return Err(CoreError::NotFound {
            kind: terminals::Entity::KIND,
        });
    }
    Ok(found)
}
