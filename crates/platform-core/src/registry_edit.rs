//! The dashboard's changes to a seller's registry: stores and POS created or
//! edited, a terminal's operating mode switched. Mercado Pago is asked first;
//! the local row changes only when it accepted, so a refused change (shown
//! with Mercado Pago's own message on the form) leaves everything as it was.

use crate::clock;
use crate::db::Db;
use crate::lookups::Stale;
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};

use crate::audit::{self, Actor};
use crate::crypto::Keyring;
use crate::entities::{pos, stores, terminals};
use crate::id::{PosId, SellerId, StoreId};
use crate::mercadopago::{self as mp, MpClient, OperatingMode as MpMode, TerminalSetup};
use crate::registry::{RegistryError, SellerAccess, note_upstream_failure, seller_access};
use crate::states::{OperatingMode, UpstreamApi};
use crate::tenancy::Scope;

/// A store form, as typed (strings: every input is accepted and checked here).
#[derive(Debug, Clone, Default)]
pub struct StoreForm {
    pub name: String,
    pub external_id: String,
    pub street_name: String,
    pub street_number: String,
    pub city_name: String,
    pub state_name: String,
    pub latitude: String,
    pub longitude: String,
    pub reference: String,
}

#[derive(Debug, Clone, Default)]
pub struct PosForm {
    pub name: String,
    pub external_id: String,
    pub category: String,
    pub fixed_amount: bool,
}

/// What an edit talks to: the database, the keys, Mercado Pago.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub keyring: &'a Keyring,
    pub mp: &'a MpClient,
}

/// A local rule a registry form field breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRule {
    /// Required, at most 100 characters.
    Required100,
    TooLong60,
    TooLong200,
    LatitudeInvalid,
    LongitudeInvalid,
    NumberInvalid,
    /// A terminal can be set to PDV or STANDALONE only.
    ModeInvalid,
}

impl FieldRule {
    /// The stable code the API reports for the rule.
    pub fn code(self) -> &'static str {
        match self {
            Self::Required100 => "required_100",
            Self::TooLong60 => "too_long_60",
            Self::TooLong200 => "too_long_200",
            Self::LatitudeInvalid => "latitude_invalid",
            Self::LongitudeInvalid => "longitude_invalid",
            Self::NumberInvalid => "number_invalid",
            Self::ModeInvalid => "mode_invalid",
        }
    }
}

/// One field that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub rule: FieldRule,
}

/// Field-level problems found before asking Mercado Pago.
pub type FieldErrors = Vec<FieldProblem>;

fn problem(field: &'static str, rule: FieldRule) -> FieldProblem {
    FieldProblem { field, rule }
}

/// A point of sale form, checked.
struct PosFields {
    name: String,
    external_id: Option<String>,
    category: Option<u32>,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn coordinate(s: &str, max: f64) -> Option<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && v.abs() <= max)
}

/// Local checks only for what Mercado Pago cannot be asked about (types,
/// lengths); its own rules come back as its errors.
pub fn check_store(f: &StoreForm) -> Result<mp::StoreRequest, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(problem("name", FieldRule::Required100));
    }
    if f.external_id.trim().chars().count() > 60 {
        errors.push(problem("external_id", FieldRule::TooLong60));
    }
    for (field, v) in [
        ("street_name", &f.street_name),
        ("street_number", &f.street_number),
        ("city_name", &f.city_name),
        ("state_name", &f.state_name),
    ] {
        if v.trim().is_empty() || v.trim().chars().count() > 100 {
            errors.push(problem(field, FieldRule::Required100));
        }
    }
    let lat = coordinate(&f.latitude, 90.0);
    let lng = coordinate(&f.longitude, 180.0);
    if lat.is_none() {
        errors.push(problem("latitude", FieldRule::LatitudeInvalid));
    }
    if lng.is_none() {
        errors.push(problem("longitude", FieldRule::LongitudeInvalid));
    }
    if f.reference.chars().count() > 200 {
        errors.push(problem("reference", FieldRule::TooLong200));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(mp::StoreRequest {
        name: name.to_owned(),
        external_id: opt(&f.external_id),
        business_hours: None,
        location: Some(mp::StoreLocation {
            street_number: opt(&f.street_number),
            street_name: opt(&f.street_name),
            city_name: opt(&f.city_name),
            state_name: opt(&f.state_name),
            latitude: lat,
            longitude: lng,
            reference: opt(&f.reference),
            address_line: None,
        }),
    })
}

fn check_pos(f: &PosForm) -> Result<PosFields, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(problem("name", FieldRule::Required100));
    }
    let ext = f.external_id.trim();
    if ext.is_empty() || ext.chars().count() > 100 {
        errors.push(problem("external_id", FieldRule::Required100));
    }
    let category = match f.category.trim() {
        "" => None,
        c => match c.parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(problem("category", FieldRule::NumberInvalid));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PosFields {
        name: name.to_owned(),
        external_id: opt(ext),
        category,
    })
}

/// Why a form was not saved.
#[derive(Debug)]
pub enum EditError {
    Fields(FieldErrors),
    Registry(RegistryError),
}

impl From<RegistryError> for EditError {
    fn from(e: RegistryError) -> Self {
        EditError::Registry(e)
    }
}

impl From<crate::CoreError> for EditError {
    fn from(e: crate::CoreError) -> Self {
        EditError::Registry(e.into())
    }
}

impl From<sea_orm::DbErr> for EditError {
    fn from(e: sea_orm::DbErr) -> Self {
        EditError::Registry(e.into())
    }
}

async fn upstream<T>(
    db: &crate::db::Db,
    access: &SellerAccess,
    res: Result<T, mp::MpError>,
) -> Result<T, EditError> {
    match res {
        Ok(v) => Ok(v),
        Err(e) => {
            note_upstream_failure(db, &access.seller, &e).await?;
            Err(EditError::Registry(e.into()))
        }
    }
}

fn mp_numeric_id(id: &Option<String>) -> Result<u64, EditError> {
    id.as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| EditError::Registry(RegistryError::NotLinked))
}

/// Creates (store = None) or edits a store of the seller.
pub async fn save_store(
    ctx: Ctx<'_>,
    scope: &Scope,
    seller_id: &SellerId,
    store: Option<stores::Model>,
    form: &StoreForm,
    actor: &Actor,
) -> Result<stores::Model, EditError> {
    let Ctx { db, keyring, mp } = ctx;
    let req = check_store(form).map_err(EditError::Fields)?;
    let access = seller_access(db, keyring, scope, seller_id).await?;
    let saved = match &store {
        None => {
            mp.create_store(&access.token, access.mp_user_id, &req)
                .await
        }
        Some(s) => {
            let id = mp_numeric_id(&s.mp_store_id)?;
            mp.update_store(&access.token, access.mp_user_id, id, &req)
                .await
        }
    };
    let remote = upstream(db, &access, saved).await?;
    let now = clock::now();
    let loc = req.location.clone().unwrap_or_default();
    let is_new = store.is_none();
    let mut row = match store {
        Some(s) => s.into_active_model(),
        None => stores::ActiveModel {
            id: Set(StoreId::new()),
            integrator_id: Set(scope.integrator_id().clone()),
            seller_id: Set(seller_id.clone()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.mp_store_id = Set(Some(remote.id.to_string()));
    row.name = Set(req.name.clone());
    row.external_id = Set(req.external_id.clone());
    row.street_name = Set(loc.street_name);
    row.street_number = Set(loc.street_number);
    row.city_name = Set(loc.city_name);
    row.state_name = Set(loc.state_name);
    row.latitude = Set(loc.latitude);
    row.longitude = Set(loc.longitude);
    row.reference = Set(loc.reference);
    if let Some(hours) = crate::mp_registry::hours_json(remote.business_hours.as_ref()) {
        row.business_hours = Set(Some(hours));
    }
    row.updated_at = Set(now);
    let txn = db.begin_write().await?;
    let saved = if is_new {
        row.insert(&txn).await?
    } else {
        row.update(&txn).await?
    };
    let action = if is_new {
        "store.created"
    } else {
        "store.updated"
    };
    audit::record(
        &txn,
        &saved.integrator_id,
        actor,
        action,
        Some(audit::Target::Store(&saved.id)),
        Some(saved.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Creates (existing = None) or edits a POS in `store`.
pub async fn save_pos(
    ctx: Ctx<'_>,
    scope: &Scope,
    store: &stores::Model,
    existing: Option<pos::Model>,
    form: &PosForm,
    actor: &Actor,
) -> Result<pos::Model, EditError> {
    let Ctx { db, keyring, mp } = ctx;
    let PosFields {
        name,
        external_id,
        category,
    } = check_pos(form).map_err(EditError::Fields)?;
    let access = seller_access(db, keyring, scope, &store.seller_id).await?;
    let store_mp = mp_numeric_id(&store.mp_store_id)?;
    let req = mp::PosRequest {
        name: name.clone(),
        fixed_amount: Some(form.fixed_amount),
        store_id: Some(store_mp),
        external_store_id: None,
        external_id: external_id.clone(),
        category,
        url: None,
    };
    let res = match &existing {
        None => mp.create_pos(&access.token, &req).await,
        Some(p) => {
            let id = mp_numeric_id(&p.mp_pos_id)?;
            // The external id and store of a POS are fixed upstream.
            let edit = mp::PosRequest {
                store_id: None,
                external_id: None,
                ..req.clone()
            };
            mp.update_pos(&access.token, id, &edit).await
        }
    };
    let remote = upstream(db, &access, res).await?;
    let now = clock::now();
    let is_new = existing.is_none();
    let mut row = match existing {
        Some(p) => p.into_active_model(),
        None => pos::ActiveModel {
            id: Set(PosId::new()),
            integrator_id: Set(store.integrator_id.clone()),
            seller_id: Set(store.seller_id.clone()),
            store_id: Set(store.id.clone()),
            external_id: Set(external_id.unwrap_or_default()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.mp_pos_id = Set(Some(remote.id.to_string()));
    row.name = Set(name);
    row.category = Set(category.map(i64::from));
    row.fixed_amount = Set(form.fixed_amount);
    if let Some(qr) = crate::mp_registry::qr_json(&remote) {
        row.qr = Set(Some(qr));
    }
    row.updated_at = Set(now);
    let txn = db.begin_write().await?;
    let saved = if is_new {
        row.insert(&txn).await?
    } else {
        row.update(&txn).await?
    };
    let action = if is_new { "pos.created" } else { "pos.updated" };
    audit::record(
        &txn,
        &saved.integrator_id,
        actor,
        action,
        Some(audit::Target::Pos(&saved.id)),
        Some(saved.name.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Switches a terminal between PDV and STANDALONE (it must restart to apply).
pub async fn set_terminal_mode(
    ctx: Ctx<'_>,
    scope: &Scope,
    terminal: terminals::Model,
    mode: OperatingMode,
    api: UpstreamApi,
    actor: &Actor,
) -> Result<terminals::Model, EditError> {
    let Ctx { db, keyring, mp } = ctx;
    let wanted = match mode {
        OperatingMode::Pdv => MpMode::Pdv,
        OperatingMode::Standalone => MpMode::Standalone,
        OperatingMode::Undefined => {
            return Err(EditError::Fields(vec![problem(
                "mode",
                FieldRule::ModeInvalid,
            )]));
        }
    };
    let access = seller_access(db, keyring, scope, &terminal.seller_id).await?;
    let res = match api {
        UpstreamApi::Orders => mp
            .setup_terminals(
                &access.token,
                &[TerminalSetup {
                    id: terminal.device_id.clone(),
                    operating_mode: wanted,
                }],
            )
            .await
            .map(drop),
        UpstreamApi::Legacy => mp
            .set_device_operating_mode(&access.token, &terminal.device_id, wanted)
            .await
            .map(drop),
    };
    upstream(db, &access, res).await?;
    let before = terminal.operating_mode;
    let mut row = terminal.into_active_model();
    row.operating_mode = Set(mode);
    row.updated_at = Set(clock::now());
    let txn = db.begin_write().await?;
    let saved = row.update(&txn).await?;
    audit::record(
        &txn,
        &saved.integrator_id,
        actor,
        "terminal.mode_changed",
        Some(audit::Target::Terminal(&saved.id)),
        Some(format!("{} {before} → {mode}", saved.device_id)),
    )
    .await?;
    crate::events::emit(
        &txn,
        &saved.integrator_id,
        Some(&saved.seller_id),
        "terminal.mode_changed",
        &serde_json::json!({
            "terminal_id": saved.id, "device_id": saved.device_id,
            "from": before, "to": mode, "restart_required": true,
        }),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    Ok(saved)
}
