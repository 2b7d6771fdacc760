//! Stores (reference §5.1): `POST /users/{user_id}/stores`,
//! `GET /users/{user_id}/stores/search`, `GET /stores/{id}`,
//! `PUT|DELETE /users/{user_id}/stores/{id}`. Classic errors whose
//! documented `errorKey` is `error` and `cause[0].code`.
//!
//! `user_id` is a seller's Mercado Pago user id in the key's scope; ids are
//! Mercado Pago's. Changes go to Mercado Pago with the seller's token and
//! are mirrored (`platform_core::mp_registry`), so the dashboard, the native
//! API and Puente's terminal placement see them at once; reads come from the
//! mirror.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::{sellers, stores};
use platform_core::mercadopago::{BusinessHours, StoreLocation, StoreRequest, TimeRange};
use platform_core::mp_registry;
use serde_json::{Map, Value, json};

use super::error::{MpError, Shape};
use super::{actor, caller, idem, registry_ctx, state};
use crate::idempotency::Done;
use crate::state::AppState;

const S: Shape = Shape::Classic;
const DAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{user_id}/stores", web::post().to(create))
        .route("/users/{user_id}/stores/search", web::get().to(search))
        .route("/users/{user_id}/stores/{id}", web::put().to(update))
        .route("/users/{user_id}/stores/{id}", web::delete().to(delete))
        .route("/stores/{id}", web::get().to(get));
}

fn key_error(key: &str, message: impl Into<String>) -> MpError {
    MpError::classic_key(400, key, message)
}

fn not_found(id: &str) -> MpError {
    MpError::classic(404, "not_found", format!("store {id} not found"))
}

/// A classic error from Mercado Pago with its key in `cause` too.
pub(super) fn keyed(mut e: MpError) -> MpError {
    if e.body["cause"].as_array().is_some_and(Vec::is_empty)
        && let (Some(code), Some(message)) = (e.body["error"].as_str(), e.body["message"].as_str())
    {
        e.body["cause"] = json!([{"code": code, "description": message}]);
    }
    e
}

fn mirror(e: platform_core::mp_registry::MirrorError) -> MpError {
    keyed(MpError::from_mirror(S, e))
}

fn core(e: platform_core::CoreError) -> MpError {
    MpError::from_core(S, e)
}

/// A Mercado Pago id as JSON: a number when it is one.
pub(super) fn mp_id(id: Option<&str>) -> Value {
    match id {
        Some(s) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(s)),
        None => Value::Null,
    }
}

fn date(d: chrono::DateTime<chrono::Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A store as Mercado Pago shows it; `created_key` is `date_created`, or
/// `date_creation` in search results (§5.1).
fn store_json(s: &stores::Model, created_key: &str) -> Value {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let address_line = format!(
        "{} {}, {}, {}.",
        text(&s.street_name),
        text(&s.street_number),
        text(&s.city_name),
        text(&s.state_name)
    );
    let hours = s
        .business_hours
        .as_deref()
        .and_then(|h| serde_json::from_str::<Value>(h).ok())
        .unwrap_or_else(|| json!({}));
    let mut v = json!({
        "id": mp_id(s.mp_store_id.as_deref()),
        "name": s.name,
        "business_hours": hours,
        "location": {
            "street_number": s.street_number, "street_name": s.street_name,
            "city_name": s.city_name, "state_name": s.state_name,
            "latitude": s.latitude, "longitude": s.longitude,
            "reference": s.reference, "address_line": address_line,
        },
        "external_id": s.external_id,
    });
    v[created_key] = json!(date(s.created_at));
    v
}

fn user_id(raw: &str) -> Result<i64, MpError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| key_error("INVALID_USER_ID", "invalid user id"))
}

/// The seller of the scope with this Mercado Pago user id; any other user
/// (another tenant's, or nobody's) is "not your account", as at Mercado Pago.
async fn seller(
    state: &AppState,
    caller_scope: &platform_core::tenancy::Scope,
    raw: &str,
) -> Result<sellers::Model, MpError> {
    let id = user_id(raw)?;
    mp_registry::seller_by_mp_user(&state.db, caller_scope, id)
        .await
        .map_err(core)?
        .ok_or_else(|| MpError::classic(403, "forbidden", "user_id is not your account"))
}

fn check_hhmm(v: Option<&Value>) -> Option<String> {
    let t = v?.as_str()?;
    let b = t.as_bytes();
    (b.len() == 5
        && b[2] == b':'
        && t[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && t[3..].parse::<u8>().is_ok_and(|m| m < 60))
    .then(|| t.to_owned())
}

/// Validates a create/update body (the same shape, §5.1).
fn parse(o: &Map<String, Value>) -> Result<StoreRequest, MpError> {
    const KEYS: &[&str] = &["name", "external_id", "business_hours", "location"];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(key_error("UNKNOWN_FIELD", format!("unknown field {k}")));
    }
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 100)
        .ok_or_else(|| key_error("INVALID_NAME", "name is required, at most 100 characters"))?;
    let external_id = match o.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 60 => Some(s.clone()),
        Some(_) => {
            return Err(key_error(
                "VALIDATION_ERROR",
                "external_id must be a string of at most 60 characters",
            ));
        }
    };
    let business_hours = match o.get("business_hours") {
        None | Some(Value::Null) => None,
        Some(Value::Object(h)) => {
            let mut out = BusinessHours::new();
            for (day, ranges) in h {
                if !DAYS.contains(&day.as_str()) {
                    return Err(key_error("INVALID_DAY", format!("invalid day {day}")));
                }
                let bad = || {
                    key_error(
                        "INVALID_BUSINESS_HOURS",
                        format!("invalid business hours for {day}"),
                    )
                };
                let list = ranges.as_array().filter(|r| r.len() <= 4).ok_or_else(bad)?;
                let mut parsed = Vec::with_capacity(list.len());
                for r in list {
                    match (check_hhmm(r.get("open")), check_hhmm(r.get("close"))) {
                        (Some(open), Some(close)) => parsed.push(TimeRange { open, close }),
                        _ => return Err(bad()),
                    }
                }
                out.insert(day.clone(), parsed);
            }
            Some(out)
        }
        Some(_) => {
            return Err(key_error(
                "INVALID_BUSINESS_HOURS",
                "business_hours must be an object",
            ));
        }
    };
    let loc = match o.get("location") {
        Some(Value::Object(l)) => l,
        Some(_) => return Err(key_error("INVALID_LOCATION", "location must be an object")),
        None => return Err(key_error("INVALID_LOCATION", "location is required")),
    };
    let text = |k: &str, key: &str| -> Result<String, MpError> {
        loc.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.chars().count() <= 100)
            .map(str::to_owned)
            .ok_or_else(|| key_error(key, format!("location.{k} is required: a string")))
    };
    let street_name = text("street_name", "INVALID_STREET_NAME")?;
    let street_number = text("street_number", "INVALID_STREET_NUMBER")?;
    let city_name = text("city_name", "INVALID_CITY_NAME")?;
    let state_name = text("state_name", "INVALID_STATE_NAME")?;
    let reference = match loc.get("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.chars().count() <= 200 => Some(r.clone()),
        Some(_) => return Err(key_error("INVALID_REFERENCE", "reference must be a string")),
    };
    let coordinate = |k: &str, max: f64| {
        loc.get(k)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite() && v.abs() <= max)
            .ok_or_else(|| key_error("INVALID_LOCATION", format!("location.{k} must be a number")))
    };
    let latitude = coordinate("latitude", 90.0)?;
    let longitude = coordinate("longitude", 180.0)?;
    if let Some(k) = loc.keys().find(|k| {
        ![
            "street_name",
            "street_number",
            "city_name",
            "state_name",
            "reference",
            "latitude",
            "longitude",
        ]
        .contains(&k.as_str())
    }) {
        return Err(key_error(
            "UNKNOWN_FIELD",
            format!("unknown field location.{k}"),
        ));
    }
    Ok(StoreRequest {
        name: name.to_owned(),
        external_id,
        business_hours,
        location: Some(StoreLocation {
            street_number: Some(street_number),
            street_name: Some(street_name),
            city_name: Some(city_name),
            state_name: Some(state_name),
            latitude: Some(latitude),
            longitude: Some(longitude),
            reference,
            address_line: None,
        }),
    })
}

async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    // The SDKs send one on every POST; Mercado Pago does not require it here.
    let key = idem::key(&req, S, false)?;
    let (state_ref, caller_ref, raw_ref, req_ref) = (&state, &caller, &raw, &req);
    let outcome = idem::run(
        &state,
        &caller,
        &req,
        &raw,
        S,
        key.as_deref(),
        |_| async move {
            let (state, caller, raw, req) = (state_ref, caller_ref, raw_ref, req_ref);
            let seller = seller(state, &caller.scope, &path).await?;
            // A key narrowed to a store or POS cannot reach a new store.
            if caller.scope.store_id().is_some() {
                return Err(MpError::classic(
                    403,
                    "forbidden",
                    "a key narrowed to a store or POS cannot create stores",
                ));
            }
            let body = parse(&super::json_object(raw, S)?)?;
            let saved = mp_registry::create_store(
                registry_ctx(state),
                &caller.scope,
                &seller,
                &body,
                &actor(req, caller),
            )
            .await
            .map_err(mirror)?;
            Ok(Done::created(
                StatusCode::CREATED,
                store_json(&saved, "date_created"),
                &saved.id,
            ))
        },
    )
    .await?;
    super::answer(outcome)
}

async fn get(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    if path.parse::<u64>().is_err() {
        return Err(key_error("INVALID_STORE_ID", "invalid store id"));
    }
    let store = mp_registry::store_by_mp_id(&state.db, &caller.scope, &path)
        .await
        .map_err(core)?
        .ok_or_else(|| not_found(&path))?;
    Ok(HttpResponse::Ok().json(store_json(&store, "date_created")))
}

/// The seller's store `id` in the scope; another seller's or tenant's is not found.
async fn own_store(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    seller: &sellers::Model,
    id: &str,
) -> Result<stores::Model, MpError> {
    if id.parse::<u64>().is_err() {
        return Err(key_error("INVALID_STORE_ID", "invalid store id"));
    }
    mp_registry::store_by_mp_id(&state.db, scope, id)
        .await
        .map_err(core)?
        .filter(|s| s.seller_id == seller.id)
        .ok_or_else(|| not_found(id))
}

async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let (user, id) = path.into_inner();
    let seller = seller(&state, &caller.scope, &user).await?;
    let store = own_store(&state, &caller.scope, &seller, &id).await?;
    let body = parse(&super::json_object(&raw, S)?)?;
    let saved = mp_registry::update_store(
        registry_ctx(&state),
        &caller.scope,
        store,
        &body,
        &actor(&req, &caller),
    )
    .await
    .map_err(mirror)?;
    Ok(HttpResponse::Ok().json(store_json(&saved, "date_created")))
}

async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let (user, id) = path.into_inner();
    let user_number = user_id(&user)?;
    let id_number = id
        .parse::<u64>()
        .map_err(|_| key_error("INVALID_STORE_ID", "invalid store id"))?;
    // §5.1: a user id that is not the token's is 401 unauthorized_scopes.
    let mismatch = || {
        MpError::classic_key(
            401,
            "unauthorized_scopes",
            format!("Mismatch between user id {user_number} and store id {id_number}"),
        )
    };
    let seller = mp_registry::seller_by_mp_user(&state.db, &caller.scope, user_number)
        .await
        .map_err(core)?
        .ok_or_else(mismatch)?;
    let store = mp_registry::store_by_mp_id(&state.db, &caller.scope, &id)
        .await
        .map_err(core)?
        .ok_or_else(|| not_found(&id))?;
    if store.seller_id != seller.id {
        return Err(mismatch());
    }
    mp_registry::delete_store(
        registry_ctx(&state),
        &caller.scope,
        store,
        &actor(&req, &caller),
    )
    .await
    .map_err(mirror)?;
    Ok(HttpResponse::Ok().json(json!({"store": id_number, "user": user_number})))
}

async fn search(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let seller = seller(&state, &caller.scope, &path).await?;
    let limit = match query.get("limit") {
        None => 30,
        Some(l) => l
            .parse::<u64>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| key_error("INVALID_LIMIT", "invalid limit"))?,
    };
    let offset = match query.get("offset") {
        None => 0,
        Some(o) => o
            .parse::<u64>()
            .map_err(|_| key_error("INVALID_OFFSET", "invalid offset"))?,
    };
    let external_id = query.get("external_id").map(String::as_str);
    if external_id.is_some_and(|x| x.is_empty() || x.chars().count() > 60) {
        return Err(key_error("INVALID_EXTERNAL_ID", "invalid external_id"));
    }
    let (rows, total) = mp_registry::search_stores(
        &state.db,
        &caller.scope,
        &seller.id,
        external_id,
        offset,
        limit,
    )
    .await
    .map_err(core)?;
    if external_id.is_some() && total == 0 {
        return Err(MpError::classic_key(
            404,
            "store_not_found",
            "store not found",
        ));
    }
    let results: Vec<Value> = rows
        .iter()
        .map(|s| store_json(s, "date_creation"))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "paging": {"total": total, "offset": offset, "limit": limit},
        "results": results,
    })))
}
