//! Points of sale: classic `/pos` (reference 5.2, classic shape with errorKeys)
//! and `/v2/pos` (reference 5.3, `{"errors":[…]}` shape, X-Idempotency-Key).

use crate::auth::{header, principal};
use crate::errors::{ApiError, ApiResult, Shape, parse_json_object};
use crate::sandbox::Sandbox;
use crate::state::{Pos, State};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;

fn ek(key: &str, msg: impl Into<String>) -> ApiError {
    ApiError::classic_key(400, key, msg)
}

fn qr(sb: &Sandbox, p: &Pos) -> Value {
    let base = format!("{}/sandbox/qr/{}", sb.base_url, p.id);
    json!({"image": format!("{base}/{}.png", p.uuid), "template_document": format!("{base}/template_{}.pdf", p.uuid),
           "template_image": format!("{base}/template_{}.png", p.uuid)})
}

fn pos_json(sb: &Sandbox, p: &Pos, v2: bool) -> Value {
    let mut v = json!({
        "id": p.id, "status": "active", "date_created": p.date_created.to_rfc3339(),
        "date_last_updated": p.date_last_updated.to_rfc3339(), "uuid": p.uuid, "user_id": p.user_id,
        "name": p.name, "fixed_amount": p.fixed_amount, "store_id": p.store_id.to_string(),
        "external_store_id": p.external_store_id, "external_id": p.external_id,
    });
    if let Some(c) = &p.category {
        v["category"] = c.clone();
    }
    if let Some(u) = &p.url {
        v["url"] = json!(u);
    }
    if v2 {
        let mut q = qr(sb, p);
        q["uuid"] = json!(p.uuid);
        q["qr_code"] = json!(format!(
            "00020101021243650016COM.MERCADOLIBRE0201306364{}",
            p.uuid
        ));
        v["qr_response"] = q;
    } else {
        v["qr"] = qr(sb, p);
    }
    v
}

fn alnum(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Resolves `store_id` / `external_store_id` to one of the user's stores.
fn resolve_store(
    st: &State,
    user: u64,
    store_id: Option<u64>,
    ext: Option<&str>,
) -> Result<u64, &'static str> {
    let by_ext = ext.map(|x| {
        st.stores
            .values()
            .find(|s| s.user_id == user && s.external_id.as_deref() == Some(x))
            .map(|s| s.id)
    });
    match (store_id, by_ext) {
        (Some(id), Some(Some(e))) if id == e => Ok(id),
        (Some(_), Some(Some(_))) => Err("EXTERNAL_STORE_ID_NOT_MATCH"),
        (_, Some(None)) => Err("INEXISTENT_EXTERNAL_STORE_ID"),
        (Some(id), None) => st
            .stores
            .get(&id)
            .filter(|s| s.user_id == user)
            .map(|s| s.id)
            .ok_or("INVALID_STORE_ID"),
        (None, Some(Some(e))) => Ok(e),
        (None, None) => Err("INVALID_STORE_ID"),
    }
}

// ---- classic /pos ----

pub async fn create(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ek("MISSING_BODY", "body is required"));
    }
    let b = parse_json_object(&body, Shape::Classic)?;
    const KEYS: &[&str] = &[
        "name",
        "fixed_amount",
        "store_id",
        "external_store_id",
        "external_id",
        "category",
        "url",
    ];
    if let Some(k) = b
        .as_object()
        .and_then(|o| o.keys().find(|k| !KEYS.contains(&k.as_str())))
    {
        return Err(ek("UNKNOWN_FIELD_EXCEPTION", format!("unknown field {k}")));
    }
    let name = b
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ek("INVALID_NAME", "name is required"))?;
    if name.chars().count() >= 45 {
        return Err(ek(
            "NAME_TOO_LONG",
            "name must be shorter than 45 characters",
        ));
    }
    let fixed = match b.get("fixed_amount") {
        None => false,
        Some(Value::Bool(f)) => *f,
        Some(_) => return Err(ek("INVALID_FIXED_AMOUNT", "fixed_amount must be a boolean")),
    };
    let category = match b.get("category") {
        None | Some(Value::Null) => None,
        Some(c @ Value::Number(n))
            if n.as_u64()
                .is_some_and(|m| (1000..=9999).contains(&m) || m > 100_000) =>
        {
            Some(c.clone())
        }
        Some(Value::Number(_)) => return Err(ek("UNKNOWN_MCC", "unknown MCC category")),
        Some(_) => return Err(ek("INVALID_CATEGORY", "category must be a number")),
    };
    let store_id = match b.get("store_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| ek("INVALID_STORE_ID", "invalid store_id"))?,
        ),
    };
    let ext_store = match b.get("external_store_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ek("INVALID_EXTERNAL_STORE_ID", "invalid external_store_id")),
    };
    let ext = b
        .get("external_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ek("INVALID_EXTERNAL_ID", "external_id is required"))?;
    if !alnum(ext) {
        return Err(ek(
            "INVALID_EXTERNAL_ID",
            "external_id must be alphanumeric",
        ));
    }
    if ext.len() >= 40 {
        return Err(ek(
            "EXTERNAL_ID_TOO_LONG",
            "external_id must be shorter than 40 characters",
        ));
    }
    let url = match b.get("url") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if u.starts_with("http://") || u.starts_with("https://") => {
            if u.len() > 500 {
                return Err(ek("URL_TOO_LONG", "url is too long"));
            }
            if !fixed {
                return Err(ek("FIXED_AMOUNT_FALSE", "url requires fixed_amount=true"));
            }
            Some(u.clone())
        }
        Some(_) => return Err(ek("INVALID_URL", "invalid url")),
    };
    let now = sb.clock.now();
    let mut st = sb.lock();
    let store = resolve_store(&st, p.user_id, store_id, ext_store.as_deref())
        .map_err(|k| ek(k, "the store does not exist or does not match"))?;
    if st
        .pos
        .values()
        .any(|x| x.user_id == p.user_id && x.external_id == ext)
    {
        return Err(ApiError::classic_key(
            409,
            "conflict",
            "A pos with the same EXTERNAL_ID already exists",
        ));
    }
    let id = st.create_pos(p.user_id, store, name, ext, fixed, category, url, now);
    Ok(HttpResponse::Ok().json(pos_json(&sb, &st.pos[&id], false)))
}

fn find_own<'a>(st: &'a State, user: u64, id: &str) -> Option<&'a Pos> {
    id.parse::<u64>()
        .ok()
        .and_then(|id| st.pos.get(&id))
        .filter(|p| p.user_id == user)
}

pub async fn search(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult {
    search_impl(&sb, &req, &q, false)
}

fn search_impl(
    sb: &Sandbox,
    req: &HttpRequest,
    q: &HashMap<String, String>,
    v2: bool,
) -> ApiResult {
    let shape = if v2 { Shape::Orders } else { Shape::Classic };
    let p = principal(sb, req, shape)?;
    let st = sb.lock();
    let all: Vec<&Pos> = st
        .pos
        .values()
        .filter(|x| x.user_id == p.user_id)
        .filter(|x| q.get("external_id").is_none_or(|e| &x.external_id == e))
        .filter(|x| {
            q.get("external_store_id")
                .is_none_or(|e| x.external_store_id.as_ref() == Some(e))
        })
        .filter(|x| {
            q.get("store_id")
                .is_none_or(|e| &x.store_id.to_string() == e)
        })
        .filter(|x| {
            q.get("category")
                .is_none_or(|e| x.category.as_ref().is_some_and(|c| &c.to_string() == e))
        })
        .collect();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let offset = q
        .get("offset")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let results: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|x| pos_json(sb, x, v2))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"paging": {"total": all.len(), "offset": offset, "limit": limit}, "results": results})))
}

pub async fn get(sb: web::Data<Sandbox>, req: HttpRequest, path: web::Path<String>) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let st = sb.lock();
    let x = find_own(&st, p.user_id, &path)
        .ok_or_else(|| ApiError::classic(404, "not_found", "pos not found"))?;
    Ok(HttpResponse::Ok().json(pos_json(&sb, x, false)))
}

pub async fn update(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    update_impl(&sb, &req, &path, &body, false)
}

fn update_impl(sb: &Sandbox, req: &HttpRequest, id: &str, body: &[u8], v2: bool) -> ApiResult {
    let shape = if v2 { Shape::Orders } else { Shape::Classic };
    let p = principal(sb, req, shape)?;
    let b = parse_json_object(body, shape)?;
    let bad = |k: &str, m: &str| {
        if v2 {
            ApiError::orders(400, "bad_request", m)
        } else {
            ek(k, m)
        }
    };
    let now = sb.clock.now();
    let mut st = sb.lock();
    let pid = find_own(&st, p.user_id, id).map(|x| x.id).ok_or_else(|| {
        ApiError::of(
            shape,
            404,
            if v2 { "pos_not_found" } else { "not_found" },
            "pos not found",
        )
    })?;
    if let Some(n) = b.get("name") {
        let n = n
            .as_str()
            .filter(|n| !n.trim().is_empty() && n.chars().count() < 45)
            .ok_or_else(|| bad("INVALID_NAME", "invalid name"))?;
        st.pos.get_mut(&pid).expect("exists").name = n.to_string();
    }
    if let Some(f) = b.get("fixed_amount") {
        let f = f
            .as_bool()
            .ok_or_else(|| bad("INVALID_FIXED_AMOUNT", "fixed_amount must be a boolean"))?;
        st.pos.get_mut(&pid).expect("exists").fixed_amount = f;
    }
    if let Some(c) = b.get("category") {
        if !c.is_number() && !c.is_null() {
            return Err(bad("INVALID_CATEGORY", "category must be a number"));
        }
        st.pos.get_mut(&pid).expect("exists").category = (!c.is_null()).then(|| c.clone());
    }
    if let Some(u) = b.get("url") {
        st.pos.get_mut(&pid).expect("exists").url = u.as_str().map(String::from);
    }
    let x = st.pos.get_mut(&pid).expect("exists");
    x.date_last_updated = now;
    Ok(HttpResponse::Ok().json(pos_json(sb, x, v2)))
}

pub async fn delete(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let mut st = sb.lock();
    let id = find_own(&st, p.user_id, &path)
        .map(|x| x.id)
        .ok_or_else(|| ApiError::classic(404, "not_found", "pos not found"))?;
    st.pos.remove(&id);
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

// ---- /v2/pos ----

fn v2e(status: u16, code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::orders(status, code, msg)
}

fn idem_key(req: &HttpRequest) -> Result<String, ApiError> {
    header(req, "x-idempotency-key")
        .filter(|k| k.len() <= 64)
        .ok_or_else(|| v2e(400, "bad_request", "Missing X-Idempotency-Key header"))
}

pub async fn v2_create(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    let p = principal(&sb, &req, Shape::Orders)?;
    let key = idem_key(&req)?;
    let b = parse_json_object(&body, Shape::Orders)
        .map_err(|_| v2e(400, "bad_request", "invalid JSON body"))?;
    let now = sb.clock.now();
    let mut st = sb.lock();
    match st.idem_lookup(p.user_id, "v2pos", &key, &b, now) {
        Ok(Some((status, resp))) => {
            return Ok(HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
            )
            .json(resp));
        }
        Ok(None) => {}
        Err(()) => {
            return Err(v2e(
                400,
                "idempotency_key_already_used",
                "The idempotency key was already used with a different request",
            ));
        }
    }
    let store_id = match b.get("store_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|c| c.is_ascii_digit()) =>
        {
            s.parse::<u64>().ok()
        }
        Some(Value::String(_)) => {
            return Err(v2e(
                400,
                "bad_request",
                "store_id must be a string of digits",
            ));
        }
        Some(Value::Number(_)) => {
            return Err(v2e(
                400,
                "bad_request",
                "store_id expected string, but got number",
            ));
        }
        Some(_) => return Err(v2e(400, "bad_request", "store_id expected string")),
    };
    let ext_store = match b.get("external_store_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 60 => Some(s.clone()),
        Some(_) => {
            return Err(v2e(
                400,
                "invalid_external_store_id",
                "external_store_id must be a string of at most 60 characters",
            ));
        }
    };
    let ext = b.get("external_id").and_then(Value::as_str).unwrap_or("");
    if !alnum(ext) || ext.len() > 40 {
        return Err(v2e(
            400,
            "bad_request",
            "external_id does not meet the expected format",
        ));
    }
    let name = match b.get("name") {
        None | Some(Value::Null) => ext.to_string(),
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err(v2e(400, "bad_request", "name expected string")),
    };
    let name_ok = name.chars().count() <= 45
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == ' ');
    if name.is_empty() || !name_ok {
        return Err(v2e(
            400,
            "bad_request",
            "name does not meet the expected format",
        ));
    }
    let store = match resolve_store(&st, p.user_id, store_id, ext_store.as_deref()) {
        Ok(s) => s,
        Err("EXTERNAL_STORE_ID_NOT_MATCH") => {
            return Err(v2e(
                400,
                "invalid_external_store_id",
                "store_id and external_store_id do not match",
            ));
        }
        Err(_) => return Err(v2e(404, "store_not_found", "store not found")),
    };
    if st
        .pos
        .values()
        .any(|x| x.user_id == p.user_id && x.external_id == ext)
    {
        return Err(v2e(
            409,
            "pos_already_exists",
            "A pos with the same external_id already exists",
        ));
    }
    let id = st.create_pos(p.user_id, store, &name, ext, false, None, None, now);
    let out = pos_json(&sb, &st.pos[&id], true);
    st.idem_store(p.user_id, "v2pos", &key, b, 201, out.clone(), now);
    Ok(HttpResponse::Created().json(out))
}

pub async fn v2_search(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult {
    search_impl(&sb, &req, &q, true)
}

pub async fn v2_get(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Orders)?;
    let st = sb.lock();
    let x = find_own(&st, p.user_id, &path)
        .ok_or_else(|| v2e(404, "pos_not_found", "pos not found"))?;
    Ok(HttpResponse::Ok().json(pos_json(&sb, x, true)))
}

pub async fn v2_patch(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    update_impl(&sb, &req, &path, &body, true)
}

pub async fn v2_delete(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Orders)?;
    let key = idem_key(&req)?;
    let now = sb.clock.now();
    let mut st = sb.lock();
    let marker = json!({"delete": path.as_str()});
    match st.idem_lookup(p.user_id, "v2pos_delete", &key, &marker, now) {
        Ok(Some(_)) => return Ok(HttpResponse::Ok().finish()),
        Ok(None) => {}
        Err(()) => {
            return Err(v2e(
                400,
                "idempotency_key_already_used",
                "The idempotency key was already used with a different request",
            ));
        }
    }
    let id = find_own(&st, p.user_id, &path)
        .map(|x| x.id)
        .ok_or_else(|| v2e(404, "pos_not_found", "pos not found"))?;
    st.pos.remove(&id);
    st.idem_store(
        p.user_id,
        "v2pos_delete",
        &key,
        marker,
        204,
        Value::Null,
        now,
    );
    Ok(HttpResponse::NoContent().finish())
}
