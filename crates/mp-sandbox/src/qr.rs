//! In-store QR orders (reference 6): v2 PUT/GET/DELETE and the legacy
//! `/mpmobile/instore/qr/...` POST. Sponsors are stored and echoed.

use crate::auth::{Principal, principal};
use crate::errors::{ApiError, ApiResult, Shape, parse_json_object};
use crate::ids;
use crate::sandbox::Sandbox;
use crate::state::QrOrder;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

fn e(code: &str, msg: &str) -> ApiError {
    ApiError::classic(400, code, msg)
}

fn collector(p: &Principal, user: &str) -> Result<u64, ApiError> {
    match user.parse::<u64>() {
        Ok(u) if u == p.user_id => Ok(u),
        _ => Err(e(
            "invalid_collectorId",
            "collector id is not valid for this token",
        )),
    }
}

fn pos_exists(sb: &Sandbox, user: u64, ext_pos: &str) -> bool {
    sb.lock()
        .pos
        .values()
        .any(|p| p.user_id == user && p.external_id == ext_pos)
}

fn validate_v2(b: &Value) -> Result<(), ApiError> {
    let ext = b
        .get("external_reference")
        .and_then(Value::as_str)
        .unwrap_or("");
    if ext.is_empty()
        || ext.len() > 64
        || !ext
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(e(
            "invalid_external_reference",
            "external_reference is invalid",
        ));
    }
    let total = b
        .get("total_amount")
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0)
        .ok_or_else(|| e("invalid_total_amount", "total_amount is invalid"))?;
    let items = b
        .get("items")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| e("invalid_items", "items are required"))?;
    let mut sum = 0.0;
    for it in items {
        let unit = it
            .get("unit_price")
            .and_then(Value::as_f64)
            .ok_or_else(|| e("invalid_items.unit_price", "unit_price is invalid"))?;
        let qty = it
            .get("quantity")
            .and_then(Value::as_f64)
            .ok_or_else(|| e("invalid_items.quantity", "quantity is invalid"))?;
        if it
            .get("title")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(e("invalid_items.title", "title is required"));
        }
        sum += it
            .get("total_amount")
            .and_then(Value::as_f64)
            .unwrap_or(unit * qty);
    }
    if (sum - total).abs() > 0.005 {
        return Err(e(
            "invalid_total_amount",
            "total_amount must equal the sum of the items",
        ));
    }
    if let Some(s) = b.get("sponsor")
        && !s.get("id").is_some_and(Value::is_number)
    {
        return Err(e("invalid_sponsor.id", "sponsor.id must be a number"));
    }
    Ok(())
}

pub async fn put_v2(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let (user, _store, ext_pos) = path.into_inner();
    put_common(&sb, &p, &user, &ext_pos, &body)
}

pub async fn put_v2_nostore(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let (user, ext_pos) = path.into_inner();
    put_common(&sb, &p, &user, &ext_pos, &body)
}

fn put_common(sb: &Sandbox, p: &Principal, user: &str, ext_pos: &str, body: &[u8]) -> ApiResult {
    let user = collector(p, user)?;
    if !pos_exists(sb, user, ext_pos) {
        return Err(e("invalid_externalPosId", "external_pos_id does not exist"));
    }
    let mut b = parse_json_object(body, Shape::Classic)?;
    validate_v2(&b)?;
    b["in_store_order_id"] = json!(ids::uuid());
    b["date_created"] = json!(sb.clock.now().to_rfc3339());
    let order = QrOrder {
        body: b,
        client_id: p.client_id.clone(),
    };
    sb.lock()
        .qr_orders
        .insert((user, ext_pos.to_string()), order);
    Ok(HttpResponse::NoContent().finish())
}

pub async fn get_v2(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let (user, ext_pos) = path.into_inner();
    let user = collector(&p, &user)?;
    let st = sb.lock();
    let o = st.qr_orders.get(&(user, ext_pos)).ok_or_else(|| {
        ApiError::classic(
            404,
            "point_of_sale_in_store_order_not_found",
            "There is no order for this point of sale",
        )
    })?;
    Ok(HttpResponse::Ok().json(&o.body))
}

pub async fn delete_v2(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let (user, ext_pos) = path.into_inner();
    let user = collector(&p, &user)?;
    match sb.lock().qr_orders.remove(&(user, ext_pos)) {
        Some(_) => Ok(HttpResponse::NoContent().finish()),
        None => Err(ApiError::classic(
            404,
            "point_of_sale_in_store_order_not_found",
            "There is no order for this point of sale",
        )),
    }
}

/// Legacy `POST /mpmobile/instore/qr/{user_id}/{external_id}`.
pub async fn post_legacy(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let (user, ext_pos) = path.into_inner();
    let user = collector(&p, &user)?;
    if !pos_exists(&sb, user, &ext_pos) {
        return Err(e("invalid_externalPosId", "external_id does not exist"));
    }
    let b = parse_json_object(&body, Shape::Classic)?;
    let items = b
        .get("items")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| e("invalid_items", "items are required"))?;
    let total: f64 = items
        .iter()
        .map(|i| {
            i.get("unit_price").and_then(Value::as_f64).unwrap_or(0.0)
                * i.get("quantity").and_then(Value::as_f64).unwrap_or(1.0)
        })
        .sum();
    let sponsor = match b.get("sponsor_id") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) => s
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| e("invalid_sponsor_id", "sponsor_id is invalid"))?,
        Some(Value::Number(n)) => Value::Number(n.clone()),
        Some(_) => return Err(e("invalid_sponsor_id", "sponsor_id is invalid")),
    };
    let now = sb.clock.now();
    let id = { sb.lock().next_id() };
    let out = json!({
        "id": id, "status": "opened", "external_reference": b.get("external_reference"),
        "preference_id": format!("{user}-{}", ids::uuid()), "payments": [], "shipments": [],
        "collector": {"id": user}, "collector_id": user, "sponsor_id": sponsor,
        "notification_url": b.get("notification_url"), "items": items, "total_amount": total,
        "date_created": now.to_rfc3339(), "last_updated": now.to_rfc3339(), "order_status": "payment_required",
    });
    let order = QrOrder {
        body: out.clone(),
        client_id: p.client_id.clone(),
    };
    sb.lock().qr_orders.insert((user, ext_pos), order);
    Ok(HttpResponse::Ok().json(out))
}
