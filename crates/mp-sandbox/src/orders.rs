//! Orders API for Point (reference 3): create, get, cancel, refund, simulate events.

use crate::auth::{header, principal};
use crate::errors::{ApiError, ApiResult, Shape, parse_json_object, parse_json_opt};
use crate::model::*;
use crate::order_validation::validate_create;
pub use crate::order_view::{OrderView, order_json};
use crate::sandbox::Sandbox;
use crate::sites::{cents_to_decimal, decimal_to_cents};
use crate::work::Work;
use crate::{ids, terminal_sim};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

const S: Shape = Shape::Orders;

fn err(status: u16, code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::orders(status, code, msg)
}

fn require_idem(req: &HttpRequest) -> Result<String, ApiError> {
    let key = header(req, "x-idempotency-key").ok_or_else(|| {
        err(
            400,
            "empty_required_header",
            "The header X-Idempotency-Key is required",
        )
    })?;
    if key.len() > 64 {
        return Err(err(
            400,
            "property_value",
            "X-Idempotency-Key must be at most 64 characters",
        ));
    }
    Ok(key)
}

pub async fn create(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let key = require_idem(&req)?;
    let b = parse_json_object(&body, S)?;
    let body_digest = crate::state::digest(&b);
    let now = sb.clock.now();
    let mut st = sb.lock();
    match st.idem_lookup_digest(p.user_id, "orders", &key, body_digest, now) {
        Ok(Some((_, resp))) => {
            // Replay: the original resource, as it is now.
            let id = resp["id"].as_str().unwrap_or_default().to_string();
            let v = st.orders.get(&id).map(order_json).unwrap_or(resp);
            return Ok(HttpResponse::Created().json(v));
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
    let v = validate_create(b)?;
    let owner = st.terminals.get(&v.terminal_id).map(|t| t.user_id);
    if owner != Some(p.user_id) {
        return Err(err(
            403,
            "forbidden_checking_terminal_owner",
            "The terminal does not belong to the user",
        ));
    }
    let user = st
        .users
        .get(&p.user_id)
        .cloned()
        .ok_or_else(|| err(401, "unauthorized", "user not found"))?;
    if v.cents > user.site.max_cents {
        return Err(err(
            400,
            "property_value",
            format!(
                "amount must be at most {}",
                cents_to_decimal(user.site.max_cents)
            ),
        ));
    }
    if st.terminal_busy(&v.terminal_id).is_some() {
        return Err(err(
            409,
            "already_queued_order_for_terminal",
            "The terminal already has a queued order. Finish or cancel it first",
        ));
    }
    let mut integration_data = v.integration_data;
    integration_data["application_id"] = json!(p.client_id);
    let raw = |v: &Value| {
        serde_json::value::to_raw_value(v).map_err(|_| err(400, "bad_request", "invalid body"))
    };
    let integration_data = raw(&integration_data)?;
    let payment_method_cfg = match &v.payment_method_cfg {
        Value::Null => None,
        cfg => Some(raw(cfg)?),
    };
    let id = format!("ORD{}", ids::ulid(now));
    let next = terminal_sim::initial_step(&st, &v.terminal_id, now);
    let order = Order {
        id: id.clone(),
        user_id: p.user_id,
        client_id: p.client_id.clone(),
        external_reference: v.external_reference,
        description: v.description,
        expiration_time: v.expiration_time,
        expires_at: now + chrono::Duration::seconds(v.expiration_secs),
        country_code: user.site.country_code.to_string(),
        currency: user.site.currency.to_string(),
        integration_data,
        status: OrderStatus::Created,
        status_detail: "created".into(),
        created: now,
        updated: now,
        terminal_id: v.terminal_id,
        print_on_terminal: v.print_on_terminal,
        point_extra: v.point_extra,
        payment_method_cfg,
        payment: OrderPayment {
            id: format!("PAY{}", ids::ulid(now)),
            amount: v.amount,
            amount_cents: v.cents,
            status: "created".into(),
            status_detail: "created".into(),
            paid_cents: None,
            refunded_cents: 0,
            method: None,
            reference_id: None,
            charged_at: None,
        },
        refunds: vec![],
        version: 1,
        next_step_at: next,
        forced: None,
        cancel_requested: false,
        idem_key: key.clone(),
        marks: Marks::default(),
    };
    let out = HttpResponse::Created().json(OrderView(&order));
    st.orders.insert(id.clone(), order);
    st.touch(&Work::Order(id.clone()), now);
    // A replay answers the order as it is then: the key only needs its id.
    let replay = json!({"id": id});
    st.idem_store_digest(p.user_id, "orders", &key, body_digest, 201, &replay, now);
    drop(st);
    sb.kick();
    Ok(out)
}

fn check_id(id: &str, code: &str) -> Result<(), ApiError> {
    match id.strip_prefix("ORD") {
        Some(rest) if ids::is_ulid(rest) => Ok(()),
        _ => Err(err(400, code, "invalid order id")),
    }
}

fn not_found() -> ApiError {
    err(404, "order_not_found", "Order not found.")
}

pub async fn get(sb: web::Data<Sandbox>, req: HttpRequest, path: web::Path<String>) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    check_id(&path, "invalid_path_param")?;
    let st = sb.lock();
    match st.orders.get(path.as_str()) {
        Some(o) if o.user_id == p.user_id => Ok(HttpResponse::Ok().json(OrderView(o))),
        _ => Err(not_found()),
    }
}

pub async fn search(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    let mut list: Vec<&Order> = st
        .orders
        .values()
        .filter(|o| o.user_id == p.user_id)
        .filter(|o| {
            q.get("external_reference")
                .is_none_or(|e| o.external_reference.as_deref() == Some(e))
        })
        .filter(|o| q.get("status").is_none_or(|s| o.status.as_str() == s))
        .collect();
    list.sort_by_key(|o| o.created);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let offset = q
        .get("offset")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let data: Vec<Value> = list
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| order_json(o))
        .collect();
    Ok(HttpResponse::Ok().json(
        json!({"data": data, "paging": {"total": list.len(), "offset": offset, "limit": limit}}),
    ))
}

pub async fn cancel(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let key = require_idem(&req)?;
    check_id(&path, "bad_request")?;
    let now = sb.clock.now();
    let allow_at_terminal = header(&req, "x-allow-cancelable-status")
        .is_some_and(|v| v.eq_ignore_ascii_case("at_terminal"));
    let mut st = sb.lock();
    let marker = json!({"cancel": path.as_str()});
    match st.idem_lookup(p.user_id, "orders_cancel", &key, &marker, now) {
        Ok(Some((status, _))) => {
            let o = st
                .orders
                .get(path.as_str())
                .map(order_json)
                .unwrap_or(Value::Null);
            return Ok(HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
            )
            .json(o));
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
    let o = st
        .orders
        .get(path.as_str())
        .filter(|o| o.user_id == p.user_id)
        .cloned()
        .ok_or_else(not_found)?;
    let status = match o.status {
        OrderStatus::Created => {
            terminal_sim::finish_order(
                &mut st,
                &o.id,
                OrderStatus::Canceled,
                Some("canceled_by_api"),
                now,
            );
            200
        }
        OrderStatus::AtTerminal if allow_at_terminal => {
            let card = st.steps.card;
            let x = st.orders.get_mut(&o.id).expect("exists");
            x.cancel_requested = true;
            x.payment.status_detail = "cancellation_requested".into();
            x.version += 1;
            x.updated = now;
            // The terminal honours the request at its next step.
            x.next_step_at = Some(now + chrono::Duration::from_std(card).unwrap_or_default());
            st.touch(&Work::Order(o.id.clone()), now);
            202
        }
        OrderStatus::Canceled => {
            return Err(err(
                409,
                "order_already_canceled",
                "The order is already canceled",
            ));
        }
        _ => {
            return Err(err(
                409,
                "cannot_cancel_order",
                format!(
                    "The order cannot be canceled in status {}",
                    o.status.as_str()
                ),
            ));
        }
    };
    st.idem_store(
        p.user_id,
        "orders_cancel",
        &key,
        marker,
        status,
        Value::Null,
        now,
    );
    let out = order_json(&st.orders[&o.id]);
    drop(st);
    sb.kick();
    Ok(
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
            .json(out),
    )
}

pub async fn refund(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let key = require_idem(&req)?;
    check_id(&path, "invalid_path_param")?;
    let b = parse_json_opt(&body, S)?;
    let now = sb.clock.now();
    let mut st = sb.lock();
    let marker = json!({"refund": path.as_str(), "body": b});
    match st.idem_lookup(p.user_id, "orders_refund", &key, &marker, now) {
        Ok(Some((status, _))) => {
            let o = st
                .orders
                .get(path.as_str())
                .map(order_json)
                .unwrap_or(Value::Null);
            return Ok(HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
            )
            .json(o));
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
    let o = st
        .orders
        .get(path.as_str())
        .filter(|o| o.user_id == p.user_id)
        .cloned()
        .ok_or_else(not_found)?;
    match o.status {
        OrderStatus::Processed => {}
        OrderStatus::Refunded => {
            return Err(err(
                409,
                "order_already_refunded",
                "The order is already refunded",
            ));
        }
        _ => {
            return Err(err(
                409,
                "cannot_refund_order",
                format!(
                    "The order cannot be refunded in status {}",
                    o.status.as_str()
                ),
            ));
        }
    }
    let remaining = o.payment.paid_cents.unwrap_or(0) - o.payment.refunded_cents;
    let cents = match b.as_ref().and_then(|b| b.get("transactions")) {
        None => remaining,
        Some(Value::Array(txs)) if txs.len() == 1 => {
            let t = &txs[0];
            if t.get("id").and_then(Value::as_str) != Some(o.payment.id.as_str()) {
                return Err(err(404, "transaction_not_found", "Transaction not found"));
            }
            let amount = t
                .get("amount")
                .and_then(Value::as_str)
                .and_then(decimal_to_cents);
            match amount {
                Some(c) if c > 0 && c <= remaining => c,
                Some(c) if c > remaining => {
                    return Err(err(
                        400,
                        "refund_amount_exceeds",
                        "The refund amount exceeds the available amount",
                    ));
                }
                _ => {
                    return Err(err(
                        400,
                        "property_value",
                        "transactions[0].amount must be a positive decimal string",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(err(
                400,
                "unsupported_partially_refunds",
                "Exactly one transaction can be refunded",
            ));
        }
    };
    terminal_sim::add_refund(&mut st, &o.id, cents, now);
    st.idem_store(
        p.user_id,
        "orders_refund",
        &key,
        marker,
        201,
        Value::Null,
        now,
    );
    let out = order_json(&st.orders[&o.id]);
    drop(st);
    sb.kick();
    Ok(HttpResponse::Created().json(out))
}

const FAILED_DETAILS: &[&str] = &[
    "bad_filled_card_data",
    "required_call_for_authorize",
    "card_disabled",
    "high_risk",
    "insufficient_amount",
    "invalid_installments",
    "max_attempts_exceeded",
    "rejected_other_reason",
    "processing_error",
];

/// `POST /v1/orders/{id}/events`: force an outcome (sandbox simulation, 204).
pub async fn events(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    if check_id(&path, "bad_request").is_err() {
        return Err(err(400, "bad_request", "order id is not valid"));
    }
    let b = parse_json_object(&body, S).map_err(|_| err(400, "bad_request", "invalid body"))?;
    let status = b
        .get("status")
        .and_then(Value::as_str)
        .and_then(OrderStatus::parse)
        .filter(|s| !matches!(s, OrderStatus::Created | OrderStatus::AtTerminal))
        .ok_or_else(|| {
            err(
                400,
                "bad_request",
                "status must be processed, failed, canceled, expired, refunded or action_required",
            )
        })?;
    let detail = b
        .get("status_detail")
        .and_then(Value::as_str)
        .map(String::from);
    match (status, detail.as_deref()) {
        (OrderStatus::Processed, Some(d)) if d != "accredited" => {
            return Err(err(
                400,
                "bad_request",
                "status_detail for processed must be accredited",
            ));
        }
        (OrderStatus::Failed, Some(d)) if !FAILED_DETAILS.contains(&d) => {
            return Err(err(400, "bad_request", "unknown status_detail for failed"));
        }
        _ => {}
    }
    let method_type = b
        .get("payment_method_type")
        .and_then(Value::as_str)
        .map(String::from);
    if method_type
        .as_deref()
        .is_some_and(|t| t != "credit_card" && t != "debit_card")
    {
        return Err(err(
            400,
            "bad_request",
            "payment_method_type must be credit_card or debit_card",
        ));
    }
    let now = sb.clock.now();
    let mut st = sb.lock();
    let pickup = st.steps.pickup;
    let o = st
        .orders
        .get_mut(path.as_str())
        .filter(|o| o.user_id == p.user_id)
        .ok_or_else(not_found)?;
    let legal = match status {
        OrderStatus::Refunded => o.status == OrderStatus::Processed,
        _ => o.status.is_active(),
    };
    if !legal {
        return Err(err(
            400,
            "bad_request",
            format!(
                "cannot move an order from {} to {}",
                o.status.as_str(),
                status.as_str()
            ),
        ));
    }
    o.forced = Some(ForcedOrder {
        status,
        status_detail: detail,
        method_type,
        method_id: b
            .get("payment_method_id")
            .and_then(Value::as_str)
            .map(String::from),
        installments: b
            .get("installments")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
    });
    o.next_step_at = Some(if o.status == OrderStatus::Created {
        now + chrono::Duration::from_std(pickup).unwrap_or_default()
    } else {
        now
    });
    st.touch(&Work::Order(path.into_inner()), now);
    drop(st);
    sb.kick();
    Ok(HttpResponse::NoContent().finish())
}
