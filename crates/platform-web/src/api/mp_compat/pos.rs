//! Points of sale: classic `/pos` (reference §5.2; classic errors with
//! their `errorKey`) and `/v2/pos` (§5.3; `{"errors":[…]}`, a required
//! `X-Idempotency-Key` whose reuse with another body is a 400, a delete
//! answering 204 and 200 on a replay).
//!
//! POS are created in a store of the key's scope (by Mercado Pago's
//! `store_id` or the store's `external_store_id`) at Mercado Pago with the
//! seller's token and mirrored (`platform_core::mp_registry`); reads come
//! from the mirror.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::{pos, stores};
use platform_core::id::{SellerId, StoreId};
use platform_core::mercadopago::{PosRequest, PosV2Request};
use platform_core::mp_registry::{self, NewPos, PosQuery};
use platform_core::tenancy::Scope;
use serde_json::{Map, Value, json};

use super::error::{MpError, Shape};
use super::stores::{keyed, mp_id};
use super::{actor, caller, idem, registry_ctx, state};
use crate::idempotency::Done;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pos", web::post().to(create))
        .route("/pos", web::get().to(search_classic))
        .route("/pos/{id}", web::get().to(get_classic))
        .route("/pos/{id}", web::put().to(update_classic))
        .route("/pos/{id}", web::delete().to(delete_classic))
        .route("/v2/pos", web::post().to(create_v2))
        .route("/v2/pos", web::get().to(search_v2))
        .route("/v2/pos/{id}", web::get().to(get_v2))
        .route("/v2/pos/{id}", web::patch().to(update_v2))
        .route("/v2/pos/{id}", web::delete().to(delete_v2));
}

/// Which API a request came through: its envelope and its view of a POS.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Classic,
    V2,
}

impl Api {
    fn shape(self) -> Shape {
        match self {
            Api::Classic => Shape::Classic,
            Api::V2 => Shape::Orders,
        }
    }

    /// A refusal of the request's content, in this API's words.
    fn bad(self, key: &str, message: impl Into<String>) -> MpError {
        match self {
            Api::Classic => MpError::classic_key(400, key, message),
            Api::V2 => MpError::orders(400, "bad_request", message),
        }
    }

    fn not_found(self) -> MpError {
        match self {
            Api::Classic => MpError::classic(404, "not_found", "pos not found"),
            Api::V2 => MpError::orders(404, "pos_not_found", "pos not found"),
        }
    }

    fn core(self, e: platform_core::CoreError) -> MpError {
        MpError::from_core(self.shape(), e)
    }

    fn mirror(self, e: platform_core::mp_registry::MirrorError) -> MpError {
        let e = MpError::from_mirror(self.shape(), e);
        match self {
            Api::Classic => keyed(e),
            Api::V2 => e,
        }
    }
}

fn date(d: chrono::DateTime<chrono::Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What a POS view needs besides its row.
struct Owners {
    stores: HashMap<StoreId, stores::Model>,
    users: HashMap<SellerId, i64>,
}

async fn owners(state: &AppState, rows: &[pos::Model]) -> Result<Owners, platform_core::CoreError> {
    let stores =
        mp_registry::stores_by_ids(&state.db, rows.iter().map(|p| p.store_id.clone()).collect())
            .await?;
    let users = mp_registry::sellers_by_ids(
        &state.db,
        rows.iter().map(|p| p.seller_id.clone()).collect(),
    )
    .await?
    .into_iter()
    .map(|(id, s)| (id, s.mp_user_id))
    .collect();
    Ok(Owners { stores, users })
}

/// A POS as Mercado Pago shows it: the classic `qr`, or v2's `qr_response`.
fn pos_json(p: &pos::Model, o: &Owners, api: Api) -> Value {
    let store = o.stores.get(&p.store_id);
    let qr: Map<String, Value> =
        p.qr.as_deref()
            .and_then(|q| serde_json::from_str(q).ok())
            .unwrap_or_default();
    let pick = |keys: &[&str]| -> Value {
        Value::Object(
            keys.iter()
                .filter_map(|k| qr.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect(),
        )
    };
    let mut v = json!({
        "id": mp_id(p.mp_pos_id.as_deref()),
        "status": "active",
        "date_created": date(p.created_at),
        "date_last_updated": date(p.updated_at),
        "uuid": qr.get("uuid"),
        "user_id": o.users.get(&p.seller_id),
        "name": p.name,
        "fixed_amount": p.fixed_amount,
        "store_id": store.and_then(|s| s.mp_store_id.clone()),
        "external_store_id": store.and_then(|s| s.external_id.clone()),
        "external_id": p.external_id,
    });
    if let Some(c) = p.category {
        v["category"] = json!(c);
    }
    match api {
        Api::Classic => v["qr"] = pick(&["image", "template_document", "template_image"]),
        Api::V2 => {
            v["qr_response"] = pick(&[
                "uuid",
                "image",
                "template_document",
                "template_image",
                "qr_code",
            ])
        }
    }
    v
}

async fn render(state: &AppState, p: &pos::Model, api: Api) -> Result<Value, MpError> {
    let o = owners(state, std::slice::from_ref(p))
        .await
        .map_err(|e| api.core(e))?;
    Ok(pos_json(p, &o, api))
}

fn alnum(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The store a create names, in the scope: by Mercado Pago's `store_id`,
/// by `external_store_id`, or both (which must agree). Another tenant's
/// store, or one a POS key cannot see, is one that does not exist.
async fn resolve_store(
    state: &AppState,
    scope: &Scope,
    store_id: Option<&str>,
    external_store_id: Option<&str>,
    api: Api,
) -> Result<stores::Model, MpError> {
    let by_id = match store_id {
        Some(id) => Some(
            mp_registry::store_by_mp_id(&state.db, scope, id)
                .await
                .map_err(|e| api.core(e))?,
        ),
        None => None,
    };
    let by_ext = match external_store_id {
        Some(x) => {
            let found = mp_registry::stores_by_external_id(&state.db, scope, x)
                .await
                .map_err(|e| api.core(e))?;
            if found.len() > 1 && by_id.is_none() {
                return Err(api.bad(
                    "INVALID_EXTERNAL_STORE_ID",
                    "external_store_id names stores of several sellers: send store_id, or use a key narrowed to the seller",
                ));
            }
            Some(found)
        }
        None => None,
    };
    let missing = || match api {
        Api::Classic => MpError::classic_key(400, "INVALID_STORE_ID", "the store does not exist"),
        Api::V2 => MpError::orders(404, "store_not_found", "store not found"),
    };
    match (by_id, by_ext) {
        (Some(Some(s)), Some(ext)) => {
            if ext.iter().any(|e| e.id == s.id) {
                Ok(s)
            } else {
                Err(match api {
                    Api::Classic => MpError::classic_key(
                        400,
                        "EXTERNAL_STORE_ID_NOT_MATCH",
                        "store_id and external_store_id do not match",
                    ),
                    Api::V2 => MpError::orders(
                        400,
                        "invalid_external_store_id",
                        "store_id and external_store_id do not match",
                    ),
                })
            }
        }
        (Some(Some(s)), None) => Ok(s),
        (None, Some(mut ext)) if !ext.is_empty() => Ok(ext.remove(0)),
        (None, Some(_)) if api == Api::Classic => Err(MpError::classic_key(
            400,
            "INEXISTENT_EXTERNAL_STORE_ID",
            "no store has this external_store_id",
        )),
        _ => Err(missing()),
    }
}

/// The classic create body (§5.2), checked.
struct ClassicIn {
    req: PosRequest,
    store_id: Option<String>,
    external_store_id: Option<String>,
}

fn parse_classic(o: &Map<String, Value>) -> Result<ClassicIn, MpError> {
    let bad = |k: &str, m: &str| MpError::classic_key(400, k, m);
    const KEYS: &[&str] = &[
        "name",
        "fixed_amount",
        "store_id",
        "external_store_id",
        "external_id",
        "category",
        "url",
    ];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(
            "UNKNOWN_FIELD_EXCEPTION",
            &format!("unknown field {k}"),
        ));
    }
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("INVALID_NAME", "name is required"))?;
    if name.chars().count() >= 45 {
        return Err(bad(
            "NAME_TOO_LONG",
            "name must be shorter than 45 characters",
        ));
    }
    let fixed_amount = match o.get("fixed_amount") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(f)) => *f,
        Some(_) => {
            return Err(bad(
                "INVALID_FIXED_AMOUNT",
                "fixed_amount must be a boolean",
            ));
        }
    };
    let category = match o.get("category") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .ok_or_else(|| bad("UNKNOWN_MCC", "unknown MCC category"))?,
        ),
        Some(_) => return Err(bad("INVALID_CATEGORY", "category must be a number")),
    };
    let store_id = match o.get("store_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .map(|n| n.to_string())
                .or_else(|| {
                    v.as_str()
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .map(str::to_owned)
                })
                .ok_or_else(|| bad("INVALID_STORE_ID", "invalid store_id"))?,
        ),
    };
    let external_store_id = match o.get("external_store_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            return Err(bad(
                "INVALID_EXTERNAL_STORE_ID",
                "invalid external_store_id",
            ));
        }
    };
    if store_id.is_none() && external_store_id.is_none() {
        return Err(bad(
            "INVALID_STORE_ID",
            "store_id or external_store_id is required",
        ));
    }
    let external_id = o
        .get("external_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("INVALID_EXTERNAL_ID", "external_id is required"))?;
    if !alnum(external_id) {
        return Err(bad(
            "INVALID_EXTERNAL_ID",
            "external_id must be alphanumeric",
        ));
    }
    if external_id.len() >= 40 {
        return Err(bad(
            "EXTERNAL_ID_TOO_LONG",
            "external_id must be shorter than 40 characters",
        ));
    }
    let url = parse_url(o, fixed_amount)?;
    Ok(ClassicIn {
        req: PosRequest {
            name: name.to_owned(),
            fixed_amount: Some(fixed_amount),
            store_id: None,
            external_store_id: external_store_id.clone(),
            external_id: Some(external_id.to_owned()),
            category,
            url,
        },
        store_id,
        external_store_id,
    })
}

fn parse_url(o: &Map<String, Value>, fixed_amount: bool) -> Result<Option<String>, MpError> {
    let bad = |k: &str, m: &str| MpError::classic_key(400, k, m);
    match o.get("url") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(u)) if u.starts_with("https://") || u.starts_with("http://") => {
            if u.len() > 500 {
                return Err(bad("URL_TOO_LONG", "url is too long"));
            }
            if !fixed_amount {
                return Err(bad("FIXED_AMOUNT_FALSE", "url requires fixed_amount=true"));
            }
            Ok(Some(u.clone()))
        }
        Some(_) => Err(bad("INVALID_URL", "invalid url")),
    }
}

async fn create(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, Shape::Classic).await?;
    let raw = super::read_body(payload, Shape::Classic).await?;
    let key = idem::key(&req, Shape::Classic, false)?;
    let (state_ref, caller_ref, raw_ref, req_ref) = (&state, &caller, &raw, &req);
    let outcome = idem::run(
        &state,
        &caller,
        &req,
        &raw,
        Shape::Classic,
        key.as_deref(),
        |_| async move {
            let (state, caller, raw, req) = (state_ref, caller_ref, raw_ref, req_ref);
            if raw.iter().all(u8::is_ascii_whitespace) {
                return Err(MpError::classic_key(
                    400,
                    "MISSING_BODY",
                    "body is required",
                ));
            }
            let input = parse_classic(&super::json_object(raw, Shape::Classic)?)?;
            let store = resolve_store(
                state,
                &caller.scope,
                input.store_id.as_deref(),
                input.external_store_id.as_deref(),
                Api::Classic,
            )
            .await?;
            let mut body = input.req;
            body.store_id = store.mp_store_id.as_deref().and_then(|s| s.parse().ok());
            let saved = mp_registry::create_pos(
                registry_ctx(state),
                &caller.scope,
                &store,
                NewPos::Classic(body),
                &actor(req, caller),
            )
            .await
            .map_err(|e| Api::Classic.mirror(e))?;
            let view = render(state, &saved, Api::Classic).await?;
            Ok(Done::created(StatusCode::OK, view, &saved.id))
        },
    )
    .await?;
    super::answer(outcome)
}

/// The `/v2/pos` create body (§5.3), checked.
fn parse_v2(o: &Map<String, Value>) -> Result<(PosV2Request, Option<String>), MpError> {
    let bad = |m: String| MpError::orders(400, "bad_request", m);
    const KEYS: &[&str] = &["name", "store_id", "external_store_id", "external_id"];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(format!("unknown field {k}")));
    }
    let store_id = match o.get("store_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(s.clone())
        }
        Some(Value::Number(_)) => {
            return Err(bad("store_id expected string, but got number".into()));
        }
        Some(_) => return Err(bad("store_id must be a string of digits".into())),
    };
    let external_store_id = match o.get("external_store_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 60 => Some(s.clone()),
        Some(_) => {
            return Err(MpError::orders(
                400,
                "invalid_external_store_id",
                "external_store_id must be a string of at most 60 characters",
            ));
        }
    };
    if store_id.is_none() && external_store_id.is_none() {
        return Err(bad("store_id or external_store_id is required".into()));
    }
    let external_id = o.get("external_id").and_then(Value::as_str).unwrap_or("");
    if !alnum(external_id) || external_id.len() > 40 {
        return Err(bad("external_id does not meet the expected format".into()));
    }
    let name = match o.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(bad("name expected string".into())),
    };
    if let Some(n) = &name {
        let ok = !n.is_empty()
            && n.chars().count() <= 45
            && !n.starts_with(' ')
            && !n.ends_with(' ')
            && n.chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == ' ');
        if !ok {
            return Err(bad("name does not meet the expected format".into()));
        }
    }
    Ok((
        PosV2Request {
            name,
            store_id: store_id.clone(),
            external_store_id,
            external_id: external_id.to_owned(),
        },
        store_id,
    ))
}

/// `/v2/pos`'s key: required, 1–64 characters (§5.3).
fn v2_key(req: &HttpRequest) -> Result<String, MpError> {
    match idem::key(req, Shape::Orders, false)? {
        Some(k) => Ok(k),
        None => Err(MpError::orders(
            400,
            "bad_request",
            "Missing X-Idempotency-Key header",
        )),
    }
}

/// The key Puente sends upstream: derived from the idempotency record, so
/// a retry of the same request is the same request at Mercado Pago.
fn upstream_key(record: Option<&str>, fallback: &str) -> String {
    let k = record.unwrap_or(fallback);
    k.chars().take(64).collect()
}

async fn create_v2(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, Shape::Orders).await?;
    let raw = super::read_body(payload, Shape::Orders).await?;
    let key = v2_key(&req)?;
    let (state_ref, caller_ref, raw_ref, req_ref, key_ref) = (&state, &caller, &raw, &req, &key);
    let outcome = idem::run_as(
        &state,
        &caller,
        &req,
        &raw,
        Shape::Orders,
        400,
        Some(&key),
        |record| async move {
            let (state, caller, raw, req) = (state_ref, caller_ref, raw_ref, req_ref);
            let o = super::json_object(raw, Shape::Orders)?;
            let (body, store_id) = parse_v2(&o)?;
            let store = resolve_store(
                state,
                &caller.scope,
                store_id.as_deref(),
                body.external_store_id.as_deref(),
                Api::V2,
            )
            .await?;
            let mut body = body;
            body.store_id = store.mp_store_id.clone();
            let upstream = upstream_key(record.as_ref().map(|r| r.as_str()), key_ref);
            let saved = mp_registry::create_pos(
                registry_ctx(state),
                &caller.scope,
                &store,
                NewPos::V2 {
                    req: body,
                    idempotency_key: &upstream,
                },
                &actor(req, caller),
            )
            .await
            .map_err(|e| Api::V2.mirror(e))?;
            let view = render(state, &saved, Api::V2).await?;
            Ok(Done::created(StatusCode::CREATED, view, &saved.id))
        },
    )
    .await?;
    super::answer(outcome)
}

async fn search(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    api: Api,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, api.shape()).await?;
    let number = |name: &str| -> Result<Option<u64>, MpError> {
        query
            .get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    api.bad(
                        "bad_request",
                        format!("query param {name} has an invalid format"),
                    )
                })
            })
            .transpose()
    };
    let limit = number("limit")?.unwrap_or(50).clamp(1, 1000);
    let offset = number("offset")?.unwrap_or(0);
    let category = number("category")?.and_then(|c| i64::try_from(c).ok());
    let mut f = PosQuery {
        external_id: query.get("external_id").cloned(),
        store_ids: None,
        category,
    };
    if let Some(id) = query.get("store_id") {
        let found = mp_registry::store_by_mp_id(&state.db, &caller.scope, id)
            .await
            .map_err(|e| api.core(e))?;
        f.store_ids = Some(found.into_iter().map(|s| s.id).collect());
    }
    if let Some(x) = query.get("external_store_id") {
        let found: Vec<StoreId> = mp_registry::stores_by_external_id(&state.db, &caller.scope, x)
            .await
            .map_err(|e| api.core(e))?
            .into_iter()
            .map(|s| s.id)
            .collect();
        f.store_ids = Some(match f.store_ids {
            Some(ids) => ids.into_iter().filter(|i| found.contains(i)).collect(),
            None => found,
        });
    }
    let (rows, total) = mp_registry::search_pos(&state.db, &caller.scope, &f, offset, limit)
        .await
        .map_err(|e| api.core(e))?;
    let o = owners(&state, &rows).await.map_err(|e| api.core(e))?;
    let results: Vec<Value> = rows.iter().map(|p| pos_json(p, &o, api)).collect();
    Ok(HttpResponse::Ok().json(json!({
        "paging": {"total": total, "offset": offset, "limit": limit},
        "results": results,
    })))
}

async fn search_classic(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    search(req, query, Api::Classic).await
}

async fn search_v2(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    search(req, query, Api::V2).await
}

async fn find(state: &AppState, scope: &Scope, id: &str, api: Api) -> Result<pos::Model, MpError> {
    if id.parse::<u64>().is_err() {
        return Err(api.not_found());
    }
    mp_registry::pos_by_mp_id(&state.db, scope, id)
        .await
        .map_err(|e| api.core(e))?
        .ok_or_else(|| api.not_found())
}

async fn get(req: HttpRequest, id: &str, api: Api) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, api.shape()).await?;
    let p = find(&state, &caller.scope, id, api).await?;
    Ok(HttpResponse::Ok().json(render(&state, &p, api).await?))
}

async fn get_classic(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    get(req, &path, Api::Classic).await
}

async fn get_v2(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    get(req, &path, Api::V2).await
}

/// An edit: name, fixed amount, category, url (the store and external id
/// of a POS are fixed at Mercado Pago).
async fn update(
    req: HttpRequest,
    id: &str,
    payload: web::Payload,
    api: Api,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, api.shape()).await?;
    let raw = super::read_body(payload, api.shape()).await?;
    let p = find(&state, &caller.scope, id, api).await?;
    let o = super::json_object(&raw, api.shape())?;
    if let Some(k) = o
        .keys()
        .find(|k| !["name", "fixed_amount", "category", "url"].contains(&k.as_str()))
    {
        return Err(api.bad(
            "UNKNOWN_FIELD_EXCEPTION",
            format!("field {k} cannot be changed"),
        ));
    }
    let name = match o.get("name") {
        None | Some(Value::Null) => p.name.clone(),
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() < 45 => {
            n.trim().to_owned()
        }
        Some(_) => return Err(api.bad("INVALID_NAME", "invalid name")),
    };
    let fixed_amount = match o.get("fixed_amount") {
        None | Some(Value::Null) => p.fixed_amount,
        Some(Value::Bool(f)) => *f,
        Some(_) => return Err(api.bad("INVALID_FIXED_AMOUNT", "fixed_amount must be a boolean")),
    };
    let category = match o.get("category") {
        None => p.category.and_then(|c| u32::try_from(c).ok()),
        Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .ok_or_else(|| api.bad("UNKNOWN_MCC", "unknown MCC category"))?,
        ),
        Some(_) => return Err(api.bad("INVALID_CATEGORY", "category must be a number")),
    };
    let url = parse_url(&o, fixed_amount).map_err(|e| match api {
        Api::Classic => e,
        Api::V2 => MpError::orders(
            400,
            "bad_request",
            e.body["message"].as_str().unwrap_or("invalid url"),
        ),
    })?;
    let body = PosRequest {
        name,
        fixed_amount: Some(fixed_amount),
        store_id: None,
        external_store_id: None,
        external_id: None,
        category,
        url,
    };
    let saved = mp_registry::update_pos(
        registry_ctx(&state),
        &caller.scope,
        p,
        &body,
        &actor(&req, &caller),
    )
    .await
    .map_err(|e| api.mirror(e))?;
    Ok(HttpResponse::Ok().json(render(&state, &saved, api).await?))
}

async fn update_classic(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    update(req, &path, payload, Api::Classic).await
}

async fn update_v2(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    update(req, &path, payload, Api::V2).await
}

async fn delete_classic(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, Shape::Classic).await?;
    let p = find(&state, &caller.scope, &path, Api::Classic).await?;
    let id = mp_id(p.mp_pos_id.as_deref());
    mp_registry::delete_pos(
        registry_ctx(&state),
        &caller.scope,
        p,
        None,
        &actor(&req, &caller),
    )
    .await
    .map_err(|e| Api::Classic.mirror(e))?;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /v2/pos/{id}`: 204, and 200 when the same key is sent again (§5.3).
async fn delete_v2(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, Shape::Orders).await?;
    let key = v2_key(&req)?;
    let (state_ref, caller_ref, req_ref, key_ref, id) =
        (&state, &caller, &req, &key, path.as_str());
    let outcome = idem::run_as(
        &state,
        &caller,
        &req,
        b"",
        Shape::Orders,
        400,
        Some(&key),
        |record| async move {
            let (state, caller, req) = (state_ref, caller_ref, req_ref);
            let p = find(state, &caller.scope, id, Api::V2).await?;
            let upstream = upstream_key(record.as_ref().map(|r| r.as_str()), key_ref);
            mp_registry::delete_pos(
                registry_ctx(state),
                &caller.scope,
                p,
                Some(&upstream),
                &actor(req, caller),
            )
            .await
            .map_err(|e| Api::V2.mirror(e))?;
            Ok(Done::new(StatusCode::NO_CONTENT, Value::Null))
        },
    )
    .await?;
    match outcome {
        idem::Outcome::Fresh(..) => Ok(HttpResponse::NoContent().finish()),
        idem::Outcome::Replay(status, body) => match idem::replay_error(status, body) {
            Some(e) => Err(e),
            None => Ok(HttpResponse::Ok().finish()),
        },
    }
}
