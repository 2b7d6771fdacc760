//! Puente intents in Mercado Pago's shapes: an Orders API order (§3.1–3.2,
//! statuses §3.6) and a legacy payment intent (§2.3–2.4, states §2.9).

use chrono::SecondsFormat;
use platform_core::CoreError;
use platform_core::entities::{mp_order_details, payment_intents, refunds, sellers, terminals};
use platform_core::id::PaymentIntentId;
use platform_core::mercadopago::Amount;
use platform_core::states::{CancelState, IntentStatus, RefundStatus, Site};
use platform_core::tenancy::unscoped;
use platform_core::{accounts, order_details, refunds as refund_svc};
use serde_json::{Value, json};

use super::ids;
use crate::state::AppState;

/// What an order shows besides the intent row.
pub struct Ctx {
    pub device_id: String,
    pub user_id: Option<i64>,
    pub site: Option<Site>,
    /// Refunds not failed, oldest first.
    pub refunds: Vec<refunds::Model>,
    /// The integrator's Mercado Pago application (`integration_data.application_id`).
    pub application_id: Option<String>,
    pub details: Option<mp_order_details::Model>,
}

pub async fn ctx(state: &AppState, i: &payment_intents::Model) -> Result<Ctx, CoreError> {
    let terminal = unscoped::<terminals::Entity>(&state.db, &i.terminal_id).await?;
    let seller = unscoped::<sellers::Entity>(&state.db, &i.seller_id).await?;
    let refunds = refund_svc::not_failed_of(&state.db, i).await?;
    let application_id = accounts::integrator(&state.db, &i.integrator_id)
        .await?
        .and_then(|g| g.mp_client_id);
    let details = order_details::find(&state.db, &i.id).await?;
    Ok(Ctx {
        refunds,
        application_id,
        details,
        device_id: terminal.map(|t| t.device_id).unwrap_or_default(),
        user_id: seller.as_ref().map(|s| s.mp_user_id),
        site: seller.map(|s| s.site_id),
    })
}

fn country(site: Site) -> &'static str {
    match site {
        Site::Mla => "ARG",
        Site::Mlb => "BRA",
        Site::Mlm => "MEX",
        Site::Mlc => "CHL",
        Site::Mco => "COL",
        Site::Mpe => "PER",
        Site::Mlu => "URY",
    }
}

fn money(cents: i64) -> String {
    Amount::from_cents(cents)
        .map(Amount::to_decimal_string)
        .unwrap_or_else(|_| "0.00".into())
}

fn date(d: chrono::DateTime<chrono::Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

const FAILURE_DETAILS: &[&str] = &[
    "failed",
    "bad_filled_card_data",
    "high_risk",
    "rejected_by_issuer",
    "required_call_for_authorize",
    "max_attempts_exceeded",
    "card_disabled",
    "insufficient_amount",
    "amount_limit_exceeded",
    "processing_error",
    "invalid_installments",
    "in_review",
];

/// Puente status → (order status, order detail, payment status, payment detail).
/// `queued` (not yet at Mercado Pago) looks like `created`.
pub fn order_status(
    i: &payment_intents::Model,
) -> (&'static str, &'static str, &'static str, String) {
    let detail = i.status_detail.as_deref().unwrap_or("");
    // Mercado Pago shows a cancel only while the terminal decides on it.
    let cancel_requested = matches!(
        i.cancel_state,
        Some(CancelState::Requested | CancelState::Accepted)
    );
    match i.status {
        IntentStatus::Queued | IntentStatus::Created => {
            ("created", "created", "created", "created".into())
        }
        IntentStatus::AtTerminal => {
            let d = if cancel_requested {
                "cancellation_requested"
            } else {
                "at_terminal"
            };
            ("at_terminal", "at_terminal", "at_terminal", d.into())
        }
        IntentStatus::Processed => ("processed", "processed", "processed", "accredited".into()),
        IntentStatus::Failed => {
            let d = match detail {
                d if FAILURE_DETAILS.contains(&d) => d,
                "rejected" => "rejected_by_issuer",
                _ => "failed",
            };
            ("failed", "failed", "failed", d.into())
        }
        IntentStatus::Canceled => {
            let d = match detail {
                "canceled_by_api" | "canceled_on_terminal" => detail,
                _ => "canceled",
            };
            ("canceled", "canceled", "canceled", d.into())
        }
        IntentStatus::Expired => ("expired", "expired", "expired", "expired".into()),
        IntentStatus::ActionRequired => {
            let d = match detail {
                "check_on_terminal" => "check_on_terminal",
                _ => "waiting_payment",
            };
            (
                "action_required",
                "action_required",
                "action_required",
                d.into(),
            )
        }
        IntentStatus::Refunded => ("refunded", "refunded", "refunded", "refunded".into()),
    }
}

/// Puente statuses an Orders API status filter means.
pub fn statuses_for_order_status(s: &str) -> Option<Vec<IntentStatus>> {
    use IntentStatus::*;
    Some(match s {
        "created" => vec![Queued, Created],
        "at_terminal" => vec![AtTerminal],
        "processed" => vec![Processed],
        "failed" => vec![Failed],
        "canceled" => vec![Canceled],
        "expired" => vec![Expired],
        "action_required" => vec![ActionRequired],
        "refunded" => vec![Refunded],
        _ => return None,
    })
}

/// The order Mercado Pago's `GET /v1/orders/{id}` would return.
pub fn order_json(i: &payment_intents::Model, c: &Ctx) -> Value {
    let (mut status, mut status_detail, mut pay_status, mut pay_detail) = order_status(i);
    let amount = money(i.amount);
    let refunded: i64 = c
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Succeeded)
        .map(|r| r.amount)
        .sum();
    if i.status == IntentStatus::Processed && refunded > 0 {
        // A partial refund keeps the order processed (§3.4).
        (status, status_detail, pay_status) = ("processed", "partially_refunded", "processed");
        pay_detail = "partially_refunded".into();
    }
    let mut payment = json!({
        "id": ids::payment_id(&i.id),
        "amount": amount,
        "status": pay_status,
        "status_detail": pay_detail,
    });
    if matches!(i.status, IntentStatus::Processed | IntentStatus::Refunded) {
        payment["paid_amount"] = json!(amount);
    }
    if i.status == IntentStatus::Refunded {
        payment["refunded_amount"] = json!(amount);
    } else if refunded > 0 {
        payment["refunded_amount"] = json!(money(refunded));
    }
    let d = c.details.as_ref();
    // Mercado Pago's payment reference: reported by the Orders upstream, or
    // the legacy upstream's numeric payment id.
    let reference = d.and_then(|d| d.reference_id.clone()).or_else(|| {
        i.mp_payment_id
            .clone()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
    });
    if let Some(r) = &reference {
        payment["reference_id"] = json!(r);
    }
    let brand = d.and_then(|d| d.payment_method_id.clone());
    if i.payment_type.is_some() || brand.is_some() {
        let mut pm = json!({"installments": i.installments.unwrap_or(1)});
        if let Some(t) = &i.payment_type {
            pm["type"] = json!(t);
        }
        if let Some(b) = brand {
            pm["id"] = json!(b);
        }
        payment["payment_method"] = pm;
    }
    if i.status == IntentStatus::Failed
        && let (Some(code), Some(message)) = (&i.last_error_code, &i.last_error_message)
    {
        // A failure Mercado Pago reported after the create (a refused
        // dispatch): its reason, so the POS is not left with a bare `failed`.
        payment["errors"] = json!([{"code": code, "message": message}]);
    }
    let mut config = json!({"point": {
        "terminal_id": c.device_id,
        "print_on_terminal": if i.print_on_terminal { "seller_ticket" } else { "no_ticket" },
    }});
    if let Some(t) = i
        .payment_type
        .as_deref()
        .filter(|t| *t == "credit_card" || *t == "debit_card")
    {
        config["payment_method"] = json!({"default_type": t});
    }
    let mut transactions = json!({"payments": [payment]});
    if !c.refunds.is_empty() {
        let list: Vec<Value> = c
            .refunds
            .iter()
            .map(|r| {
                let mut v = json!({
                    "id": ids::refund_id(&r.id),
                    "transaction_id": ids::payment_id(&i.id),
                    "amount": money(r.amount),
                    "status": if r.status == RefundStatus::Succeeded { "processed" } else { "processing" },
                });
                if let Some(reference) = refund_reference(r, d) {
                    v["reference_id"] = json!(reference);
                }
                v
            })
            .collect();
        transactions["refunds"] = json!(list);
    }
    let mut integration = json!({"sponsor": {"id": i.sponsor_id}});
    if let Some(a) = &c.application_id {
        integration["application_id"] = json!(a);
    }
    if let Some(p) = d.and_then(|d| d.platform_id.as_ref()) {
        integration["platform_id"] = json!(p);
    }
    if let Some(g) = d.and_then(|d| d.mp_integrator_id.as_ref()) {
        integration["integrator_id"] = json!(g);
    }
    let paid = if matches!(i.status, IntentStatus::Processed | IntentStatus::Refunded) {
        i.amount
    } else {
        0
    };
    json!({
        "id": ids::order_id(&i.id),
        "type": "point",
        "user_id": c.user_id.map(|u| u.to_string()),
        "external_reference": i.external_reference,
        "description": i.description,
        // What the POS asked for (forwarded), else Mercado Pago's default.
        "expiration_time": d.and_then(|d| d.expiration_time.clone()).unwrap_or_else(|| "PT15M".into()),
        "processing_mode": "automatic",
        "country_code": c.site.map(country),
        "currency": i.currency,
        "integration_data": integration,
        "total_amount": amount,
        "total_paid_amount": money(paid),
        "status": status,
        "status_detail": status_detail,
        "created_date": date(i.created_at),
        "last_updated_date": date(i.updated_at),
        "config": config,
        "transactions": transactions,
    })
}

/// A refund's `reference_id`: reported by the Orders upstream (by its
/// `REF…` id), or the legacy upstream's numeric refund id.
fn refund_reference(r: &refunds::Model, d: Option<&mp_order_details::Model>) -> Option<String> {
    let upstream = r.upstream_id.as_deref()?;
    let reported = d
        .and_then(|d| d.refund_references.as_deref())
        .and_then(|j| serde_json::from_str::<serde_json::Map<String, Value>>(j).ok())
        .and_then(|m| m.get(upstream).and_then(Value::as_str).map(str::to_owned));
    reported.or_else(|| {
        upstream
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| upstream.to_owned())
    })
}

/// Puente status → the legacy API's upper-case state (§2.9).
pub fn legacy_state(i: &payment_intents::Model) -> &'static str {
    match i.status {
        IntentStatus::Queued | IntentStatus::Created => "OPEN",
        IntentStatus::AtTerminal => "ON_TERMINAL",
        IntentStatus::Processed | IntentStatus::Refunded => "FINISHED",
        IntentStatus::Failed => match i.status_detail.as_deref() {
            Some("error" | "processing_error") => "ERROR",
            _ => "FINISHED",
        },
        IntentStatus::Canceled => "CANCELED",
        IntentStatus::Expired => "ABANDONED",
        IntentStatus::ActionRequired => "CONFIRMATION_REQUIRED",
    }
}

/// A payment id as the legacy API writes it: always an integer (typed SDKs
/// decode it so); Mercado Pago's own when it is one, else derived from the intent.
fn payment_ref(intent_id: &PaymentIntentId, p: &str) -> Value {
    Value::from(
        p.parse::<i64>()
            .unwrap_or_else(|_| ids::payment_number(intent_id)),
    )
}

/// The legacy payment intent; `with_state` false for the create response
/// (which has no `state`, §2.3).
pub fn legacy_json(i: &payment_intents::Model, device_id: &str, with_state: bool) -> Value {
    let mut payment = serde_json::Map::new();
    if let Some(t) = &i.payment_type {
        payment.insert("type".into(), json!(t));
    }
    if let Some(n) = i.installments {
        payment.insert("installments".into(), json!(n));
    }
    if let Some(c) = &i.installments_cost {
        payment.insert("installments_cost".into(), json!(c));
    }
    if with_state && let Some(p) = &i.mp_payment_id {
        payment.insert("id".into(), payment_ref(&i.id, p));
        let state = match i.status {
            IntentStatus::Processed | IntentStatus::Refunded => "approved",
            _ => "rejected",
        };
        payment.insert("state".into(), json!(state));
    }
    let mut additional = json!({"print_on_terminal": i.print_on_terminal});
    if let Some(r) = &i.external_reference {
        additional["external_reference"] = json!(r);
    }
    let mut v = json!({
        "id": ids::legacy_id(&i.id),
        "device_id": device_id,
        "amount": i.amount,
        "payment": payment,
        "additional_info": additional,
    });
    if let Some(d) = &i.description {
        v["description"] = json!(d);
    }
    if with_state {
        v["state"] = json!(legacy_state(i));
    }
    v
}
