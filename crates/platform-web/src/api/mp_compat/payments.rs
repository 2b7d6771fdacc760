//! Payments API (reference §2.7, §8): `GET /v1/payments/{id}`,
//! `GET|POST /v1/payments/{id}/refunds`, `GET /v1/payments/{id}/refunds/{refund_id}`,
//! for payments Puente knows (`platform_core::mp_payments`): a terminal
//! payment of an intent in the key's scope (the legacy upstream's payment
//! id, or the `reference_id` of an Orders API payment) or a paid QR order's.
//! Any other id, another tenant's included, is Mercado Pago's 404.
//!
//! Reads answer Mercado Pago's own payment, read with the payment's seller's
//! token (Puente holds no copy of a payment). A refund is a Puente refund
//! (`platform_core::refunds`, as `POST /v1/orders/{id}/refund` makes): queued
//! for the worker, which sends it with the refund id as idempotency key;
//! the request waits (bounded) for Mercado Pago's answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::{payment_intents, refunds as refund_rows};
use platform_core::error::Invalid;
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::mercadopago::Amount;
use platform_core::mp_payments::{self, KnownPayment, ReadError};
use platform_core::refunds;
use platform_core::states::RefundStatus;
use serde_json::{Value, json};

use super::error::{MpError, Shape};
use super::{caller, idem, ids, state};
use crate::idempotency::Done;
use crate::state::AppState;

const S: Shape = Shape::Classic;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/payments/{id}", web::get().to(get))
        .route("/v1/payments/{id}/refunds", web::get().to(list_refunds))
        .route("/v1/payments/{id}/refunds", web::post().to(refund))
        .route(
            "/v1/payments/{id}/refunds/{refund_id}",
            web::get().to(get_refund),
        );
}

fn not_found() -> MpError {
    MpError::classic(404, "not_found", "Payment not found")
}

fn core(e: platform_core::CoreError) -> MpError {
    MpError::from_core(S, e)
}

fn read_error(e: ReadError) -> MpError {
    match e {
        ReadError::Upstream(up) => MpError::from_upstream(S, up),
        ReadError::Core(c) => core(c),
    }
}

async fn find(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<(crate::api::auth::ApiCaller, KnownPayment), MpError> {
    let caller = caller(req, S).await?;
    let known = mp_payments::find(&state.db, &caller.scope, id)
        .await
        .map_err(core)?
        .ok_or_else(not_found)?;
    Ok((caller, known))
}

async fn get(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let (_, known) = find(&state, &req, &path).await?;
    let id = path.into_inner();
    let payment = mp_payments::read(
        &state.db,
        &state.keyring,
        &state.mp,
        &known,
        |mp, token| async move { mp.payment_json(&token, &id).await },
    )
    .await
    .map_err(read_error)?;
    Ok(HttpResponse::Ok().json(payment))
}

async fn list_refunds(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let (_, known) = find(&state, &req, &path).await?;
    let id = path.into_inner();
    let list = mp_payments::read(
        &state.db,
        &state.keyring,
        &state.mp,
        &known,
        |mp, token| async move { mp.payment_refunds_json(&token, &id, None).await },
    )
    .await
    .map_err(read_error)?;
    Ok(HttpResponse::Ok().json(list))
}

async fn get_refund(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let (payment_id, refund_id) = path.into_inner();
    let (_, known) = find(&state, &req, &payment_id).await?;
    if refund_id.is_empty() || !refund_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MpError::classic(404, "not_found", "Refund not found"));
    }
    // A refund Puente made whose Mercado Pago id is not a Payments API id
    // (an Orders API refund): answered as Puente rendered it.
    if let KnownPayment::Intent(intent) = &known {
        let mine = refunds::not_failed_of(&state.db, intent)
            .await
            .map_err(core)?;
        if let Some(r) = mine.iter().find(|r| {
            refund_number(r, None).to_string() == refund_id
                && r.upstream_id.as_deref() != Some(refund_id.as_str())
        }) {
            let collector = collector(&state, intent).await?;
            return Ok(HttpResponse::Ok().json(refund_json(r, &payment_id, collector)));
        }
    }
    let one = mp_payments::read(
        &state.db,
        &state.keyring,
        &state.mp,
        &known,
        |mp, token| async move {
            mp.payment_refunds_json(&token, &payment_id, Some(&refund_id))
                .await
        },
    )
    .await
    .map_err(|e| match e {
        ReadError::Upstream(platform_core::mercadopago::MpError::Api { status: 404, .. }) => {
            MpError::classic(404, "not_found", "Refund not found")
        }
        other => read_error(other),
    })?;
    Ok(HttpResponse::Ok().json(one))
}

/// The Payments API's number for a Puente refund: Mercado Pago's when it is
/// a number (the legacy upstream), the `reference_id` it reported for an
/// Orders API refund, else one derived from the refund id.
fn refund_number(
    r: &refund_rows::Model,
    references: Option<&serde_json::Map<String, Value>>,
) -> i64 {
    let upstream = r.upstream_id.as_deref();
    upstream
        .and_then(|u| u.parse::<i64>().ok())
        .or_else(|| {
            references
                .zip(upstream)
                .and_then(|(m, u)| m.get(u))
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
        })
        .unwrap_or_else(|| ids::id_number(r.id.as_str()))
}

fn refund_json(r: &refund_rows::Model, payment_id: &str, collector: i64) -> Value {
    refund_view(r, refund_number(r, None), payment_id, collector)
}

/// The Mercado Pago user id of the intent's seller (the refund's `source`).
async fn collector(state: &AppState, intent: &payment_intents::Model) -> Result<i64, MpError> {
    Ok(
        platform_core::mp_registry::seller_of(&state.db, &intent.seller_id)
            .await
            .map_err(core)?
            .mp_user_id,
    )
}

/// A refund as the Payments API shows it.
fn refund_view(r: &refund_rows::Model, id: i64, payment_id: &str, collector: i64) -> Value {
    let amount = r.amount as f64 / 100.0;
    let status = match r.status {
        RefundStatus::Succeeded => "approved",
        RefundStatus::Failed => "rejected",
        RefundStatus::Queued | RefundStatus::Pending => "in_process",
    };
    json!({
        "id": id,
        "payment_id": payment_id.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(payment_id)),
        "amount": amount,
        "metadata": {},
        "source": {"id": collector.to_string(), "name": null, "type": "collector"},
        "date_created": r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "unique_sequence_number": null,
        "refund_mode": "standard",
        "adjustment_amount": 0,
        "status": status,
        "reason": null,
        "labels": [],
        "amount_refunded_to_payer": amount,
        "partition_details": [],
        "external_refund_id": null,
    })
}

/// `{}` or no body: what is left; `{"amount": 10.5}`: that much.
fn parse_amount(raw: &[u8]) -> Result<Option<i64>, MpError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let o = super::json_object(raw, S)?;
    if let Some(k) = o.keys().find(|k| k.as_str() != "amount") {
        return Err(MpError::classic(
            400,
            "bad_request",
            format!("unknown field {k}"),
        ));
    }
    match o.get("amount") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let text = n.to_string();
            let text = text.strip_suffix(".0").unwrap_or(&text);
            Amount::parse_decimal(text)
                .ok()
                .map(Amount::cents)
                .filter(|c| *c > 0)
                .map(Some)
                .ok_or_else(|| {
                    MpError::classic(
                        400,
                        "bad_request",
                        "amount must be positive, with up to 2 decimals",
                    )
                })
        }
        Some(_) => Err(MpError::classic(
            400,
            "bad_request",
            "amount must be a number",
        )),
    }
}

async fn refund(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let (caller, known) = find(&state, &req, &path).await?;
    let raw = super::read_body(payload, S).await?;
    let key = idem::key(&req, S, false)?;
    let payment_id = path.into_inner();
    let KnownPayment::Intent(intent) = known else {
        return Err(MpError::classic(
            403,
            "forbidden",
            "Puente refunds terminal payments; refund a QR payment in Mercado Pago",
        ));
    };
    let collector = collector(&state, &intent).await?;
    let (state_ref, caller_ref, raw_ref, intent_ref, pid) =
        (&state, &caller, &raw, &intent, &payment_id);
    let outcome = idem::run(
        &state,
        &caller,
        &req,
        &raw,
        S,
        key.as_deref(),
        |record| async move {
            let (state, caller, raw, intent) = (state_ref, caller_ref, raw_ref, intent_ref);
            let amount = parse_amount(raw)?;
            // Committed with the refund: a retry after a lost acknowledgement
            // replays instead of refunding twice; the final answer replaces it.
            let stored = |r: &refund_rows::Model| StoredResponse {
                status: 201,
                body: refund_json(r, pid, collector).to_string(),
            };
            let completion =
                Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&stored));
            let made = refunds::create(
                &state.db,
                &caller.scope,
                &intent.id,
                amount,
                completion.as_ref(),
            )
            .await
            .map_err(|e| match e {
                platform_core::CoreError::Invalid {
                    reason: Invalid::RefundAmount,
                    message,
                } => MpError::classic(400, "bad_request", message),
                platform_core::CoreError::Conflict { message, .. } => {
                    MpError::classic(400, "bad_request", message)
                }
                other => core(other),
            })?;
            let made = made.publish(&state.queue).await;
            let settled =
                super::orders::wait_refund(state, &caller.scope, &made.id, &intent.id).await?;
            if settled.status == RefundStatus::Failed {
                let refused = MpError::classic(
                    400,
                    "bad_request",
                    settled
                        .last_error_message
                        .unwrap_or_else(|| "Mercado Pago refused the refund".into()),
                );
                if let Some(record_id) = record.as_ref() {
                    platform_core::idempotency::complete(
                        &state.db,
                        &state.keyring,
                        record_id,
                        refused.status.as_u16(),
                        &refused.body.to_string(),
                        Some(made.id.as_str()),
                    )
                    .await
                    .map_err(core)?;
                }
                return Err(refused);
            }
            let references = platform_core::order_details::find(&state.db, &intent.id)
                .await
                .map_err(core)?
                .and_then(|d| d.refund_references)
                .and_then(|j| serde_json::from_str::<serde_json::Map<String, Value>>(&j).ok());
            let number = refund_number(&settled, references.as_ref());
            Ok(Done::created(
                StatusCode::CREATED,
                refund_view(&settled, number, pid, collector),
                &settled.id,
            ))
        },
    )
    .await?;
    super::answer(outcome)
}
