//! Terminals API (reference §3.7): `GET /terminals/v1/list`,
//! `PATCH /terminals/v1/setup`; and the device listing and mode switch the
//! legacy API shares.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::accounts;
use platform_core::audit::Actor;
use platform_core::entities::terminals;
use platform_core::registry::{self, DeviceFilter, RegistryError};
use platform_core::registry_edit::{self, EditError};
use platform_core::states::{OperatingMode, UpstreamApi};
use platform_core::tenancy::Scope;
use serde_json::{Value, json};

use super::error::{MpError, Shape};
use super::{caller, state};
use crate::api::auth::ApiCaller;
use crate::state::AppState;

const S: Shape = Shape::Orders;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/terminals/v1/list", web::get().to(list))
        .route("/terminals/v1/setup", web::patch().to(setup));
}

/// A page of the scope's terminals as Mercado Pago lists them
/// (`store_id` / `pos_id` are Mercado Pago's ids), and the total.
pub async fn devices(
    state: &AppState,
    scope: &Scope,
    store_id: Option<&str>,
    pos_id: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Value>, u64), platform_core::CoreError> {
    let found = registry::devices(
        &state.db,
        scope,
        DeviceFilter {
            mp_store_id: store_id,
            mp_pos_id: pos_id,
        },
        offset,
        limit,
    )
    .await?;
    let (store_map, pos_map) = (&found.stores, &found.pos);
    let list = found
        .terminals
        .iter()
        .map(|t| {
            let store = t.store_id.as_ref().and_then(|s| store_map.get(s));
            let pos = t.pos_id.as_ref().and_then(|p| pos_map.get(p));
            let mp_pos = pos.and_then(|p| p.mp_pos_id.clone());
            json!({
                "id": t.device_id,
                "pos_id": mp_pos.as_deref().map(|p| p.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(p))),
                "store_id": store.and_then(|s| s.mp_store_id.clone()),
                "external_pos_id": pos.map(|p| p.external_id.clone()),
                "operating_mode": t.operating_mode.as_str(),
            })
        })
        .collect();
    Ok((list, found.total))
}

/// Reads `limit`/`offset` (and filters) of a listing.
pub fn paging(
    q: &HashMap<String, String>,
    shape: Shape,
    max_limit: u64,
) -> Result<(u64, u64), MpError> {
    let bad = |name: &str| {
        let (code, msg) = match shape {
            Shape::Orders => (
                "property_value",
                format!("{name} must be a non-negative integer"),
            ),
            Shape::Classic => (
                "bad_request",
                format!("query param {name} has an invalid format"),
            ),
        };
        MpError::of(shape, 400, code, msg)
    };
    let limit = match q.get("limit") {
        None => max_limit,
        Some(v) => match v.parse::<u64>() {
            Ok(0) | Err(_) => return Err(bad("limit")),
            // Larger values are clamped, as Mercado Pago does (§3.7).
            Ok(n) => n.min(max_limit),
        },
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => v.parse::<u64>().map_err(|_| bad("offset"))?,
    };
    Ok((limit, offset))
}

async fn list(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let (limit, offset) = paging(&query, S, 50)?;
    if let Some(p) = query.get("pos_id")
        && p.parse::<i64>().is_err()
    {
        return Err(MpError::orders(
            400,
            "property_value",
            "pos_id must be a number",
        ));
    }
    let (list, total) = devices(
        &state,
        &caller.scope,
        query.get("store_id").map(String::as_str),
        query.get("pos_id").map(String::as_str),
        offset,
        limit,
    )
    .await
    .map_err(|e| MpError::from_core(S, e))?;
    Ok(HttpResponse::Ok().json(json!({
        "data": {"terminals": list},
        "paging": {"total": total, "offset": offset, "limit": limit},
    })))
}

/// Switches a terminal of the caller's scope between PDV and STANDALONE
/// through Mercado Pago (`registry_edit::set_terminal_mode`, as the
/// dashboard does), recorded in the audit log as the API key's action.
pub async fn set_mode(
    state: &AppState,
    req: &HttpRequest,
    caller: &ApiCaller,
    terminal: terminals::Model,
    mode: OperatingMode,
    shape: Shape,
) -> Result<terminals::Model, MpError> {
    let integrator = accounts::integrator(&state.db, caller.scope.integrator_id())
        .await
        .map_err(|e| MpError::from_core(shape, e))?;
    let api = integrator
        .map(|i| i.upstream_api)
        .unwrap_or(UpstreamApi::Orders);
    let actor = Actor::api_key(
        caller.key_id(),
        crate::client_ip::client_ip(req).map(|ip| ip.to_string()),
    );
    let ctx = registry_edit::Ctx {
        db: &state.db,
        keyring: &state.keyring,
        mp: &state.mp,
    };
    registry_edit::set_terminal_mode(ctx, &caller.scope, terminal, mode, api, &actor)
        .await
        .map_err(|e| match e {
            EditError::Fields(_) => MpError::of(
                shape,
                400,
                "property_value",
                "operating_mode must be PDV or STANDALONE",
            ),
            EditError::Registry(RegistryError::NotLinked) => MpError::of(
                shape,
                409,
                "seller_not_linked",
                "the seller is not linked; reconnect it first",
            ),
            EditError::Registry(RegistryError::Upstream {
                code,
                message,
                retryable,
            }) => {
                let status = if retryable { 502 } else { 400 };
                MpError::of(
                    shape,
                    status,
                    code.as_deref().unwrap_or("upstream_error"),
                    message,
                )
            }
            EditError::Registry(RegistryError::Core(c)) => MpError::from_core(shape, c),
        })
}

pub fn parse_mode(v: Option<&Value>, shape: Shape) -> Result<OperatingMode, MpError> {
    match v.and_then(Value::as_str).and_then(OperatingMode::parse) {
        Some(m @ (OperatingMode::Pdv | OperatingMode::Standalone)) => Ok(m),
        _ => Err(MpError::of(
            shape,
            400,
            match shape {
                Shape::Orders => "property_value",
                Shape::Classic => "bad_request",
            },
            "operating_mode must be PDV or STANDALONE",
        )),
    }
}

async fn setup(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let body: Value = serde_json::from_slice(&raw)
        .map_err(|_| MpError::orders(400, "invalid_payload", "the body is not valid JSON"))?;
    let items = match body.get("terminals") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(_) => {
            return Err(MpError::orders(
                400,
                "property_value",
                "terminals must be a non-empty array",
            ));
        }
        None => {
            return Err(MpError::orders(
                400,
                "required_properties",
                "property terminals is required",
            ));
        }
    };
    if let Some(k) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "terminals"))
    {
        return Err(MpError::orders(
            400,
            "unsupported_properties",
            format!("property {k} is not supported"),
        ));
    }
    // Check everything before changing anything.
    let mut wanted = Vec::with_capacity(items.len());
    for item in items {
        let id = item.get("id").and_then(Value::as_str).ok_or_else(|| {
            MpError::orders(400, "required_properties", "each terminal needs an id")
        })?;
        let mode = parse_mode(item.get("operating_mode"), S)?;
        let terminal = super::terminal_by_device(&state, &caller.scope, id)
            .await
            .map_err(|e| MpError::from_core(S, e))?
            .ok_or_else(|| MpError::orders(404, "not_found", format!("terminal {id} not found")))?;
        wanted.push((terminal, mode));
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (terminal, mode) in wanted {
        let saved = set_mode(&state, &req, &caller, terminal, mode, S).await?;
        out.push(json!({"id": saved.device_id, "operating_mode": saved.operating_mode.as_str()}));
    }
    Ok(HttpResponse::Ok().json(json!({"terminals": out})))
}
