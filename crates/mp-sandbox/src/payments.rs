//! The Payments API view of what terminals and QR buyers paid:
//! `GET /v1/payments/{id}`, `GET /v1/payments/search` and the refunds
//! (`/v1/payments/{id}/refunds`).
//! A payment of an Orders API order is refunded through its order, so both
//! views always agree.

use crate::auth::{header, principal};
use crate::errors::{ApiError, ApiResult, Shape, parse_json_opt};
use crate::model::Order;
use crate::sandbox::Sandbox;
use crate::state::State;
use crate::terminal_sim;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const S: Shape = Shape::Classic;

fn err(status: u16, error: &str, msg: &str) -> ApiError {
    ApiError::classic(status, error, msg)
}

fn not_found() -> ApiError {
    err(404, "not_found", "Payment not found")
}

fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

/// Records a payment (a terminal charge or a QR buyer's) in the Payments API view.
pub fn insert(st: &mut State, id: u64, mut payment: Value) {
    payment["id"] = json!(id);
    payment["refunds"] = json!([]);
    payment["transaction_amount_refunded"] = json!(0.0);
    st.payments.insert(id, payment);
}

/// Adds an approved refund of `amount_cents` to a payment; a refund of what
/// is left makes it `refunded`. Returns the refund.
pub fn record_refund(
    st: &mut State,
    payment_id: u64,
    refund_id: u64,
    amount_cents: i64,
    now: DateTime<Utc>,
) -> Option<Value> {
    let p = st.payments.get_mut(&payment_id)?;
    let amount = amount_cents as f64 / 100.0;
    let collector = p["collector_id"].to_string();
    let refund = refund_json(refund_id, payment_id, &collector, amount_cents, now);
    if let Some(list) = p["refunds"].as_array_mut() {
        list.push(refund.clone());
    } else {
        p["refunds"] = json!([refund.clone()]);
    }
    let total = p["transaction_amount"].as_f64().unwrap_or(0.0);
    let refunded = p["transaction_amount_refunded"].as_f64().unwrap_or(0.0) + amount;
    p["transaction_amount_refunded"] = json!(refunded);
    if cents(refunded) >= cents(total) {
        p["status"] = json!("refunded");
        p["status_detail"] = json!("refunded");
    } else {
        p["status_detail"] = json!("partially_refunded");
    }
    Some(refund)
}

/// A refund as the Payments API shows it (approved at once).
fn refund_json(
    refund_id: u64,
    payment_id: u64,
    collector: &str,
    amount_cents: i64,
    at: DateTime<Utc>,
) -> Value {
    let amount = amount_cents as f64 / 100.0;
    json!({
        "id": refund_id, "payment_id": payment_id, "amount": amount, "metadata": {},
        "source": {"id": collector, "type": "collector"},
        "date_created": at.to_rfc3339(), "unique_sequence_number": null,
        "refund_mode": "standard", "adjustment_amount": 0, "status": "approved",
        "reason": null, "labels": [], "amount_refunded_to_payer": amount,
        "partition_details": [], "external_refund_id": null,
    })
}

/// An order's payment as the Payments API shows it, from the order: its
/// `reference_id` is the payment id, its refunds are the order's refunds.
fn order_payment(o: &Order, id: u64) -> Value {
    let p = &o.payment;
    let (method, ptype, installments) = p.method.clone().unwrap_or_default();
    let (status, detail) = match p.paid_cents {
        None => ("rejected", "cc_rejected_other_reason"),
        Some(_) if p.refunded_cents >= p.amount_cents => ("refunded", "refunded"),
        Some(_) if p.refunded_cents > 0 => ("approved", "partially_refunded"),
        Some(_) => ("approved", "accredited"),
    };
    let collector = o.user_id.to_string();
    let refunds: Vec<Value> = o
        .refunds
        .iter()
        .map(|r| {
            let rid = r.reference_id.parse().unwrap_or_default();
            refund_json(rid, id, &collector, r.amount_cents, r.at)
        })
        .collect();
    json!({
        "id": id, "status": status, "status_detail": detail,
        "transaction_amount": p.amount_cents as f64 / 100.0, "currency_id": o.currency,
        "payment_type_id": ptype, "payment_method_id": method, "installments": installments,
        "collector_id": o.user_id, "external_reference": o.external_reference,
        "date_created": p.charged_at.map(|t| t.to_rfc3339()),
        "order": {"id": o.id, "type": "point_order"},
        "point_of_interaction": {"type": "POINT", "device_id": o.terminal_id},
        "refunds": refunds,
        "transaction_amount_refunded": p.refunded_cents as f64 / 100.0,
    })
}

/// The seller's payment, or a 404 (another seller's payment does not exist).
fn own(st: &State, user_id: u64, id: &str) -> Result<(u64, Value), ApiError> {
    let id = id.parse::<u64>().map_err(|_| not_found())?;
    let view = match st.payments.get(&id) {
        Some(p) => Some(p.clone()),
        None => st
            .order_payments
            .get(&id)
            .and_then(|o| st.orders.get(o))
            .map(|o| order_payment(o, id)),
    };
    view.filter(|p| p["collector_id"].as_u64() == Some(user_id))
        .map(|p| (id, p))
        .ok_or_else(not_found)
}

pub async fn get(sb: web::Data<Sandbox>, req: HttpRequest, path: web::Path<String>) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    let (_, v) = own(&st, p.user_id, &path)?;
    Ok(HttpResponse::Ok().json(v))
}

/// `GET /v1/payments/search`: the seller's payments, `{paging, results}`.
/// Any other query key filters on the payment's top-level field of that name
/// (`external_reference`, `status`, `payment_type_id`, …); `sort` (a date
/// field or `id`) with `criteria` `asc` (default) or `desc`; `limit` 1–1000
/// (default 30) and `offset`. Date ranges (`range`, `begin_date`, `end_date`)
/// are refused rather than ignored.
pub async fn search(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let bad = |m: &str| err(400, "bad_request", m);
    if ["range", "begin_date", "end_date"]
        .iter()
        .any(|k| q.contains_key(*k))
    {
        return Err(bad(
            "date ranges are not supported by the sandbox's payment search",
        ));
    }
    let limit = match q.get("limit") {
        None => 30,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| bad("limit must be between 1 and 1000"))?,
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(o) => o
            .parse::<usize>()
            .map_err(|_| bad("offset must be a non-negative integer"))?,
    };
    let sort = q.get("sort").map_or("date_created", String::as_str);
    if !["date_created", "date_approved", "date_last_updated", "id"].contains(&sort) {
        return Err(bad(
            "sort must be date_created, date_approved, date_last_updated or id",
        ));
    }
    let desc = match q.get("criteria").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad("criteria must be asc or desc")),
    };
    const PAGING: &[&str] = &["limit", "offset", "sort", "criteria"];
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let st = sb.lock();
    // Orders' payments are shown from their orders.
    let of_orders: Vec<Value> = st
        .order_payments
        .iter()
        .filter_map(|(id, order)| {
            let o = st.orders.get(order).filter(|o| o.user_id == p.user_id)?;
            Some(order_payment(o, *id))
        })
        .collect();
    let mut all: Vec<&Value> = st
        .payments
        .values()
        .chain(&of_orders)
        .filter(|v| v["collector_id"].as_u64() == Some(p.user_id))
        .filter(|v| {
            q.iter()
                .filter(|(k, _)| !PAGING.contains(&k.as_str()))
                .all(|(k, want)| v.get(k).and_then(text).as_deref() == Some(want.as_str()))
        })
        .collect();
    // RFC 3339 strings of one clock sort as time; ties (and `id`) by id.
    all.sort_by(|a, b| {
        let key = |v: &Value| (text(&v[sort]).unwrap_or_default(), v["id"].as_u64());
        if sort == "id" {
            a["id"].as_u64().cmp(&b["id"].as_u64())
        } else {
            key(a).cmp(&key(b))
        }
    });
    if desc {
        all.reverse();
    }
    let results: Vec<&Value> = all.iter().skip(offset).take(limit).copied().collect();
    Ok(HttpResponse::Ok().json(json!({
        "paging": {"total": all.len(), "limit": limit, "offset": offset},
        "results": results,
    })))
}

pub async fn list_refunds(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    let (_, v) = own(&st, p.user_id, &path)?;
    Ok(HttpResponse::Ok().json(v.get("refunds").cloned().unwrap_or(json!([]))))
}

pub async fn get_refund(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let (pid, rid) = path.into_inner();
    let st = sb.lock();
    let (_, v) = own(&st, p.user_id, &pid)?;
    v["refunds"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|r| rid.parse::<u64>().ok() == r["id"].as_u64())
        })
        .map(|r| HttpResponse::Ok().json(r))
        .ok_or_else(|| err(404, "not_found", "Refund not found"))
}

/// `POST /v1/payments/{id}/refunds`: no body (or no `amount`) refunds what is left.
pub async fn create_refund(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let body = parse_json_opt(&body, S)?.unwrap_or(json!({}));
    let requested = match body.get("amount") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(a) if a > 0.0 && (a * 100.0 - (a * 100.0).round()).abs() < 1e-6 => Some(cents(a)),
            _ => {
                return Err(err(
                    400,
                    "bad_request",
                    "amount must be positive, with up to 2 decimals",
                ));
            }
        },
        Some(_) => return Err(err(400, "bad_request", "amount must be a number")),
    };
    let now = sb.clock.now();
    let mut st = sb.lock();
    let (pid, pay) = own(&st, p.user_id, &path)?;
    // The Payments API honours `X-Idempotency-Key`: the same key and body
    // answer the refund made the first time, another body is refused.
    let key = header(&req, "x-idempotency-key");
    let scoped = json!({"payment": pid, "body": body});
    if let Some(key) = &key {
        match st.idem_lookup(p.user_id, "payment_refunds", key, &scoped, now) {
            Ok(Some((status, resp))) => {
                return Ok(HttpResponse::build(
                    actix_web::http::StatusCode::from_u16(status)
                        .unwrap_or(actix_web::http::StatusCode::CREATED),
                )
                .json(resp));
            }
            Ok(None) => {}
            Err(()) => {
                return Err(err(
                    409,
                    "idempotency_key_already_used",
                    "The idempotency key was already used with a different request",
                ));
            }
        }
    }
    let refundable = pay["status"] == "approved";
    if !refundable {
        return Err(err(
            400,
            "bad_request",
            "Payment status does not allow refunds",
        ));
    }
    let total = cents(pay["transaction_amount"].as_f64().unwrap_or(0.0));
    let done = cents(pay["transaction_amount_refunded"].as_f64().unwrap_or(0.0));
    let amount = requested.unwrap_or(total - done);
    if amount <= 0 || done + amount > total {
        return Err(err(
            400,
            "bad_request",
            "The amount to refund exceeds the amount available",
        ));
    }
    // An order's payment is refunded through the order (its view, its webhook).
    let refund = match pay["order"]["type"].as_str() {
        Some("point_order") => {
            let order_id = pay["order"]["id"].as_str().unwrap_or_default().to_string();
            terminal_sim::add_refund(&mut st, &order_id, amount, now)
                .and_then(|_| own(&st, p.user_id, &pid.to_string()).ok())
                .and_then(|(_, v)| v["refunds"].as_array()?.last().cloned())
        }
        _ => {
            let rid = st.next_id();
            record_refund(&mut st, pid, rid, amount, now)
        }
    };
    let refund = refund.ok_or_else(not_found)?;
    if let Some(key) = &key {
        st.idem_store(
            p.user_id,
            "payment_refunds",
            key,
            scoped,
            201,
            refund.clone(),
            now,
        );
    }
    drop(st);
    sb.kick();
    Ok(HttpResponse::Created().json(refund))
}
