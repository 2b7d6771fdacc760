//! Terminals API (reference 3.7): list and operating-mode setup.

use crate::auth::principal;
use crate::errors::{ApiError, ApiResult, Shape, parse_json_object};
use crate::model::OperatingMode;
use crate::point_legacy::list_terminals;
use crate::sandbox::Sandbox;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;

const S: Shape = Shape::Orders;

pub async fn list(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    let (terminals, total, offset, limit) = list_terminals(&st, p.user_id, &q, S)?;
    Ok(HttpResponse::Ok().json(json!({"data": {"terminals": terminals}, "paging": {"total": total, "offset": offset, "limit": limit}})))
}

pub async fn setup(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let b = parse_json_object(&body, S)
        .map_err(|_| ApiError::orders(400, "invalid_payload", "invalid JSON payload"))?;
    if let Some(k) = b
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "terminals"))
    {
        return Err(ApiError::orders(
            400,
            "unsupported_properties",
            format!("property {k} is not supported"),
        ));
    }
    let items = match b.get("terminals") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(_) => {
            return Err(ApiError::orders(
                400,
                "property_value",
                "terminals must be a non-empty list",
            ));
        }
        None => {
            return Err(ApiError::orders(
                400,
                "required_properties",
                "terminals is required",
            ));
        }
    };
    let mut wanted = vec![];
    for t in &items {
        let id = t.get("id").and_then(Value::as_str).ok_or_else(|| {
            ApiError::orders(400, "required_properties", "terminals[].id is required")
        })?;
        let mode = t
            .get("operating_mode")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::orders(
                    400,
                    "required_properties",
                    "terminals[].operating_mode is required",
                )
            })?;
        let mode = OperatingMode::parse_settable(mode).ok_or_else(|| {
            ApiError::orders(
                400,
                "property_value",
                "operating_mode must be PDV or STANDALONE",
            )
        })?;
        wanted.push((id.to_string(), mode));
    }
    let mut st = sb.lock();
    let site_ok = st
        .users
        .get(&p.user_id)
        .is_some_and(|u| u.site.terminals_setup);
    if !site_ok {
        return Err(ApiError::orders(
            400,
            "unsupported_site",
            "Only AR, BR, CL and MX are supported",
        ));
    }
    for (id, mode) in &wanted {
        let t = st
            .terminals
            .get(id)
            .filter(|t| t.user_id == p.user_id)
            .ok_or_else(|| {
                ApiError::orders(404, "not_found", format!("terminal {id} not found"))
            })?;
        if !st.stores.contains_key(&t.store_id) || !st.pos.contains_key(&t.pos_id) {
            return Err(ApiError::orders(
                403,
                "store_pos_not_found",
                "The terminal needs a store and a POS first",
            ));
        }
        if *mode == OperatingMode::Pdv {
            let clash = st.terminals.values().any(|o| {
                o.id != *id && o.pos_id == t.pos_id && o.operating_mode == OperatingMode::Pdv
            }) || wanted.iter().any(|(o, m)| {
                o != id
                    && *m == OperatingMode::Pdv
                    && st.terminals.get(o).is_some_and(|x| x.pos_id == t.pos_id)
            });
            if clash {
                return Err(ApiError::orders(
                    412,
                    "precondition_failed",
                    "Only one pos-store with PDV mode ON or SUSPENDED is allowed",
                ));
            }
        }
    }
    for (id, mode) in &wanted {
        if let Some(t) = st.terminals.get_mut(id) {
            t.operating_mode = *mode;
        }
    }
    let out: Vec<Value> = wanted
        .iter()
        .map(|(id, m)| json!({"id": id, "operating_mode": m.as_str()}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"terminals": out})))
}
