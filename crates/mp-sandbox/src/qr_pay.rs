//! `POST /sandbox/qr/pay`: a buyer scans a POS's QR and pays its current
//! order, as the Mercado Pago app would. The payment appears in the Payments
//! API, the order leaves the POS, and the application that created the order
//! receives a signed `payment` notification (reference 4.2).

use crate::errors::{ApiError, ApiResult, Shape, parse_json_opt};
use crate::sandbox::Sandbox;
use crate::{notify, payments};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

fn bad(status: u16, msg: &str) -> ApiError {
    ApiError::classic(status, "bad_request", msg)
}

/// A v2 order's sponsor is `sponsor.id`, a legacy one's `sponsor_id`.
fn sponsor(order: &Value) -> Value {
    order
        .pointer("/sponsor/id")
        .or_else(|| order.get("sponsor_id"))
        .cloned()
        .unwrap_or(Value::Null)
}

pub async fn pay(sb: web::Data<Sandbox>, body: web::Bytes) -> ApiResult {
    let b = parse_json_opt(&body, Shape::Classic)?.unwrap_or(json!({}));
    let user = b
        .get("user_id")
        .and_then(|u| u.as_u64().or_else(|| u.as_str()?.parse().ok()))
        .ok_or_else(|| bad(400, "user_id is required"))?;
    let ext_pos = b
        .get("external_pos_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(400, "external_pos_id is required"))?
        .to_string();
    let approved = match b.get("outcome").and_then(Value::as_str) {
        None | Some("approved") => true,
        Some("rejected") => false,
        Some(_) => return Err(bad(400, "outcome must be approved or rejected")),
    };
    let now = sb.clock.now();
    let mut st = sb.lock();
    let key = (user, ext_pos.clone());
    let order = st.qr_orders.get(&key).cloned().ok_or_else(|| {
        ApiError::classic(
            404,
            "point_of_sale_in_store_order_not_found",
            "There is no order for this point of sale",
        )
    })?;
    let currency = st
        .users
        .get(&user)
        .map(|u| u.site.currency)
        .unwrap_or("BRL");
    let pos = st
        .pos
        .values()
        .find(|p| p.user_id == user && p.external_id == ext_pos)
        .map(|p| (p.id, p.store_id));
    let payment_id = 100_000_000_000 + crate::ids::random_u64() % 900_000_000_000;
    let merchant_order = st.next_id();
    let o = &order.body;
    let view = json!({
        "status": if approved { "approved" } else { "rejected" },
        "status_detail": if approved { "accredited" } else { "cc_rejected_other_reason" },
        "transaction_amount": o.get("total_amount").and_then(Value::as_f64).unwrap_or(0.0),
        "currency_id": currency, "payment_type_id": "account_money",
        "payment_method_id": "account_money", "installments": 1, "collector_id": user,
        "external_reference": o.get("external_reference"), "sponsor_id": sponsor(o),
        "date_created": now.to_rfc3339(), "date_approved": approved.then(|| now.to_rfc3339()),
        "order": {"id": merchant_order, "type": "mercadopago"},
        "pos_id": pos.map(|p| p.0.to_string()), "store_id": pos.map(|p| p.1.to_string()),
        "point_of_interaction": {"type": "INSTORE"},
    });
    payments::insert(&mut st, payment_id, view);
    // A QR payment is finished at once: it is kept for the retention window.
    st.retained.payments.push(now, payment_id);
    if approved {
        // A paid order leaves the POS: the QR shows nothing until the next one.
        st.qr_orders.remove(&key);
    }
    let notification_id = st.next_id();
    let notice = json!({
        "id": notification_id, "live_mode": true, "type": "payment",
        "date_created": now.to_rfc3339(), "user_id": user, "api_version": "v1",
        "action": "payment.created", "application_id": order.client_id,
        "data": {"id": payment_id.to_string()},
    });
    notify::enqueue(
        &mut st,
        &order.client_id,
        user,
        "payment",
        &payment_id.to_string(),
        notice.to_string(),
        now,
    );
    drop(st);
    sb.kick();
    Ok(HttpResponse::Created().json(json!({
        "payment_id": payment_id,
        "status": if approved { "approved" } else { "rejected" },
        "external_reference": o.get("external_reference"),
    })))
}
