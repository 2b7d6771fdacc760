//! Stores (reference 5.1): `/users/{user_id}/stores…` and `/stores/{id}`. Classic shape.

use crate::auth::principal;
use crate::errors::{ApiError, ApiResult, Shape, parse_json_object};
use crate::sandbox::Sandbox;
use crate::state::{State, Store};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;

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

fn e(key: &str, msg: impl Into<String>) -> ApiError {
    ApiError::classic_key(400, key, msg)
}

pub fn store_json(s: &Store, created_key: &str) -> Value {
    let loc = &s.location;
    let text = |k: &str| loc.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let address_line = format!(
        "{} {}, {}, {}.",
        text("street_name"),
        text("street_number"),
        text("city_name"),
        text("state_name")
    );
    let mut location = loc.clone();
    location["address_line"] = json!(address_line);
    let mut v = json!({"id": s.id, "name": s.name, "business_hours": s.business_hours,
                       "location": location, "external_id": s.external_id});
    v[created_key] = json!(s.date_created.to_rfc3339());
    v
}

fn check_hhmm(s: Option<&Value>) -> bool {
    s.and_then(Value::as_str).is_some_and(|t| {
        let b = t.as_bytes();
        b.len() == 5
            && b[2] == b':'
            && t[..2].parse::<u8>().is_ok_and(|h| h < 24)
            && t[3..].parse::<u8>().is_ok_and(|m| m < 60)
    })
}

/// Validates a create/update body; returns (name, external_id, location, hours).
fn validate(b: &Value) -> Result<(String, Option<String>, Value, Value), ApiError> {
    const KEYS: &[&str] = &["name", "external_id", "business_hours", "location"];
    if let Some(k) = b
        .as_object()
        .and_then(|o| o.keys().find(|k| !KEYS.contains(&k.as_str())))
    {
        return Err(e("UNKNOWN_FIELD", format!("unknown field {k}")));
    }
    let name = b
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| e("INVALID_NAME", "name is required"))?;
    let external_id = match b.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 60 => Some(s.clone()),
        Some(_) => {
            return Err(e(
                "VALIDATION_ERROR",
                "external_id must be a string of at most 60 characters",
            ));
        }
    };
    let hours = b.get("business_hours").cloned().unwrap_or(json!({}));
    let Some(h) = hours.as_object() else {
        return Err(e(
            "INVALID_BUSINESS_HOURS",
            "business_hours must be an object",
        ));
    };
    for (day, ranges) in h {
        if !DAYS.contains(&day.as_str()) {
            return Err(e("INVALID_DAY", format!("invalid day {day}")));
        }
        let ok = ranges.as_array().is_some_and(|r| {
            r.len() <= 4
                && r.iter()
                    .all(|x| check_hhmm(x.get("open")) && check_hhmm(x.get("close")))
        });
        if !ok {
            return Err(e(
                "INVALID_BUSINESS_HOURS",
                format!("invalid business hours for {day}"),
            ));
        }
    }
    let loc = b
        .get("location")
        .ok_or_else(|| e("INVALID_LOCATION", "location is required"))?;
    if !loc.is_object() {
        return Err(e("INVALID_LOCATION", "location must be an object"));
    }
    let s = |k: &str| {
        loc.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    };
    s("street_name").ok_or_else(|| e("INVALID_STREET_NAME", "street_name is required"))?;
    s("street_number")
        .ok_or_else(|| e("INVALID_STREET_NUMBER", "street_number must be a string"))?;
    s("city_name").ok_or_else(|| e("INVALID_CITY_NAME", "city_name is required"))?;
    s("state_name").ok_or_else(|| e("INVALID_STATE_NAME", "state_name is required"))?;
    if loc.get("reference").is_some_and(|r| !r.is_string()) {
        return Err(e("INVALID_REFERENCE", "reference must be a string"));
    }
    for k in ["latitude", "longitude"] {
        if !loc.get(k).is_some_and(Value::is_number) {
            return Err(e("INVALID_LOCATION", format!("{k} must be a number")));
        }
    }
    Ok((name.to_string(), external_id, loc.clone(), hours))
}

fn own_user(p: &crate::auth::Principal, user_id: &str) -> Result<u64, ApiError> {
    let id = user_id
        .parse::<u64>()
        .map_err(|_| e("INVALID_USER_ID", "invalid user id"))?;
    if id != p.user_id {
        return Err(ApiError::classic(
            403,
            "forbidden",
            "user_id is not your account",
        ));
    }
    Ok(id)
}

fn ext_taken(st: &State, user: u64, ext: &Option<String>, except: Option<u64>) -> bool {
    ext.as_ref().is_some_and(|x| {
        st.stores
            .values()
            .any(|s| s.user_id == user && s.external_id.as_ref() == Some(x) && Some(s.id) != except)
    })
}

pub async fn create(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let user = own_user(&p, &path)?;
    let b = parse_json_object(&body, S)?;
    let (name, ext, loc, hours) = validate(&b)?;
    let now = sb.clock.now();
    let mut st = sb.lock();
    if ext_taken(&st, user, &ext, None) {
        return Err(e(
            "VALIDATION_ERROR",
            "a store with the same external_id already exists",
        ));
    }
    let id = st.create_store(user, &name, ext, loc, hours, now);
    Ok(HttpResponse::Created().json(store_json(&st.stores[&id], "date_created")))
}

pub async fn get(sb: web::Data<Sandbox>, req: HttpRequest, path: web::Path<String>) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    let id = path
        .parse::<u64>()
        .map_err(|_| e("INVALID_STORE_ID", "invalid store id"))?;
    match st.stores.get(&id) {
        Some(s) if s.user_id == p.user_id => {
            Ok(HttpResponse::Ok().json(store_json(s, "date_created")))
        }
        _ => Err(ApiError::classic(
            404,
            "not_found",
            format!("store {id} not found"),
        )),
    }
}

pub async fn update(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let (user, id) = path.into_inner();
    let user = own_user(&p, &user)?;
    let id = id
        .parse::<u64>()
        .map_err(|_| e("INVALID_STORE_ID", "invalid store id"))?;
    let b = parse_json_object(&body, S)?;
    let (name, ext, loc, hours) = validate(&b)?;
    let mut st = sb.lock();
    if st.stores.get(&id).is_none_or(|s| s.user_id != user) {
        return Err(ApiError::classic(
            404,
            "not_found",
            format!("store {id} not found"),
        ));
    }
    if ext_taken(&st, user, &ext, Some(id)) {
        return Err(e(
            "VALIDATION_ERROR",
            "a store with the same external_id already exists",
        ));
    }
    let s = st.stores.get_mut(&id).expect("checked");
    s.name = name;
    s.external_id = ext.clone();
    s.location = loc;
    s.business_hours = hours;
    let out = store_json(s, "date_created");
    for pos in st.pos.values_mut().filter(|p| p.store_id == id) {
        pos.external_store_id = ext.clone();
    }
    Ok(HttpResponse::Ok().json(out))
}

pub async fn delete(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let (user, id) = path.into_inner();
    let user = user
        .parse::<u64>()
        .map_err(|_| e("INVALID_USER_ID", "invalid user id"))?;
    let id = id
        .parse::<u64>()
        .map_err(|_| e("INVALID_STORE_ID", "invalid store id"))?;
    if user != p.user_id {
        return Err(ApiError::classic(
            401,
            "unauthorized_scopes",
            format!("Mismatch between user id {user} and store id {id}"),
        ));
    }
    let mut st = sb.lock();
    match st.stores.get(&id) {
        Some(s) if s.user_id == user => {}
        Some(_) => {
            return Err(ApiError::classic(
                401,
                "unauthorized_scopes",
                format!("Mismatch between user id {user} and store id {id}"),
            ));
        }
        None => {
            return Err(ApiError::classic(
                404,
                "not_found",
                format!("store {id} not found"),
            ));
        }
    }
    st.stores.remove(&id);
    Ok(HttpResponse::Ok().json(json!({"store": id, "user": user})))
}

pub async fn search(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let user = own_user(&p, &path)?;
    let limit = match q.get("limit") {
        None => 30,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| e("INVALID_LIMIT", "invalid limit"))?,
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(o) => o
            .parse::<usize>()
            .map_err(|_| e("INVALID_OFFSET", "invalid offset"))?,
    };
    if q.get("external_id")
        .is_some_and(|x| x.is_empty() || x.len() > 60)
    {
        return Err(e("INVALID_EXTERNAL_ID", "invalid external_id"));
    }
    let st = sb.lock();
    let all: Vec<&Store> = st
        .stores
        .values()
        .filter(|s| {
            s.user_id == user
                && q.get("external_id")
                    .is_none_or(|x| s.external_id.as_ref() == Some(x))
        })
        .collect();
    if q.contains_key("external_id") && all.is_empty() {
        return Err(ApiError::classic(404, "store_not_found", "store not found"));
    }
    let results: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| store_json(s, "date_creation"))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"paging": {"total": all.len(), "offset": offset, "limit": limit}, "results": results})))
}
