//! JSON views of orders and their payments (reference 3.1/3.2 shapes).

use crate::model::{Order, OrderPayment};
use crate::sites::cents_to_decimal;
use serde_json::{Value, json};

pub fn payment_json(p: &OrderPayment) -> Value {
    let mut v = json!({"id": p.id, "amount": p.amount, "status": p.status, "status_detail": p.status_detail});
    if let Some(paid) = p.paid_cents {
        v["paid_amount"] = json!(cents_to_decimal(paid));
    }
    if p.refunded_cents > 0 {
        v["refunded_amount"] = json!(cents_to_decimal(p.refunded_cents));
    }
    if let Some(r) = &p.reference_id {
        v["reference_id"] = json!(r);
        v["reference"] = json!({"id": r});
    }
    if let Some((id, t, n)) = &p.method {
        v["payment_method"] = json!({"id": id, "type": t, "installments": n});
    }
    v
}

pub fn order_json(o: &Order) -> Value {
    let mut point = json!({"terminal_id": o.terminal_id, "print_on_terminal": o.print_on_terminal});
    if let (Some(p), Some(extra)) = (point.as_object_mut(), o.point_extra.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    let mut config = json!({"point": point});
    if !o.payment_method_cfg.is_null() {
        config["payment_method"] = o.payment_method_cfg.clone();
    }
    let mut tx = json!({"payments": [payment_json(&o.payment)]});
    if !o.refunds.is_empty() {
        tx["refunds"] = json!(
            o.refunds
                .iter()
                .map(|r| json!({
            "id": r.id, "transaction_id": r.transaction_id, "reference_id": r.reference_id,
            "amount": cents_to_decimal(r.amount_cents), "status": r.status}))
                .collect::<Vec<_>>()
        );
    }
    let paid = o.payment.paid_cents.unwrap_or(0);
    json!({
        "id": o.id, "type": "point", "user_id": o.user_id.to_string(),
        "external_reference": o.external_reference, "description": o.description,
        "expiration_time": o.expiration_time, "processing_mode": "automatic",
        "country_code": o.country_code, "currency": o.currency,
        "integration_data": o.integration_data,
        "status": o.status.as_str(), "status_detail": o.status_detail,
        "total_amount": o.payment.amount, "total_paid_amount": cents_to_decimal(paid),
        "created_date": o.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "last_updated_date": o.updated.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "config": config, "transactions": tx,
    })
}
