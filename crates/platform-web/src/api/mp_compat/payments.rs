//! Payments API (reference §2.7, §8): `GET /v1/payments/{id}`,
//! `GET /v1/payments/search`, `GET|POST /v1/payments/{id}/refunds`,
//! `GET /v1/payments/{id}/refunds/{refund_id}`, for payments Puente knows
//! (`platform_core::mp_payments`): a terminal payment of an intent in the
//! key's scope (the legacy upstream's payment id, or the `reference_id` of an
//! Orders API payment) or a QR order's. Any other id, another tenant's
//! included, is Mercado Pago's 404.
//!
//! Reads answer Mercado Pago's own payment, read with the payment's seller's
//! token (Puente holds no copy of a payment), with the POS's own
//! `external_reference` (upstream, a terminal payment carries Puente's
//! intent id). A QR payment Mercado Pago already serves is found before its
//! notification has been processed (`mp_payments::adopt_qr_payment`).
//!
//! A terminal payment's refund is a Puente refund (`platform_core::refunds`,
//! as `POST /v1/orders/{id}/refund` makes): queued for the worker, which
//! sends it with the refund id as idempotency key; the request waits
//! (bounded) for Mercado Pago's answer. A QR payment's is made at Mercado
//! Pago at once with its seller's token and audited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::{payment_intents, refunds as refund_rows};
use platform_core::error::Invalid;
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::mercadopago::Amount;
use platform_core::mp_payments::{self, KnownPayment, PaymentSearch, ReadError};
use platform_core::refunds;
use platform_core::states::RefundStatus;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::error::{MpError, Shape};
use super::{caller, idem, ids, state};
use crate::idempotency::Done;
use crate::state::AppState;

const S: Shape = Shape::Classic;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/payments/search", web::get().to(search))
        .route("/v1/payments/{id}", web::get().to(get))
        .route("/v1/payments/{id}/refunds", web::get().to(list_refunds))
        // The official Node SDK's PaymentRefund.list asks with a trailing
        // slash (mercadopago 3.6.1, dist/clients/paymentRefund/list), and
        // Mercado Pago serves it.
        .route("/v1/payments/{id}/refunds/", web::get().to(list_refunds))
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
    let known = match mp_payments::find(&state.db, &caller.scope, id)
        .await
        .map_err(core)?
    {
        Some(k) => k,
        // Mercado Pago serves a QR payment as soon as the buyer paid.
        None => {
            mp_payments::adopt_qr_payment(&state.db, &state.keyring, &state.mp, &caller.scope, id)
                .await
                .map_err(read_error)?
                .ok_or_else(not_found)?
        }
    };
    Ok((caller, known))
}

/// Mercado Pago's payment as the POS knows it: with the POS's own
/// `external_reference` (a terminal payment carries Puente's intent id
/// upstream, so that notifications always match).
fn as_the_pos_sees_it(mut payment: Value, known: &KnownPayment) -> Value {
    if let Some(p) = payment.as_object_mut() {
        p.insert("external_reference".into(), json!(known.pos_reference()));
    }
    payment
}

async fn read_payment(
    state: &AppState,
    known: &KnownPayment,
    id: String,
) -> Result<Value, MpError> {
    let payment = mp_payments::read(
        &state.db,
        &state.keyring,
        &state.mp,
        known,
        |mp, token| async move { mp.payment_json(&token, &id).await },
    )
    .await
    .map_err(read_error)?;
    Ok(as_the_pos_sees_it(payment, known))
}

async fn get(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let (_, known) = find(&state, &req, &path).await?;
    let payment = read_payment(&state, &known, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(payment))
}

fn bad(message: impl Into<String>) -> MpError {
    MpError::classic(400, "bad_request", message)
}

/// The query of `GET /v1/payments/search`, as far as Puente answers it:
/// `external_reference` (the POS's own), `sort=date_created` with
/// `criteria`, `limit` (1–1000, at most 100 per page here) and `offset`.
/// Anything else is refused, not ignored: a filter Puente did not apply
/// would answer payments the POS did not ask for.
fn parse_search(q: &HashMap<String, String>) -> Result<PaymentSearch<'_>, MpError> {
    if let Some(k) = ["range", "begin_date", "end_date"]
        .into_iter()
        .find(|k| q.contains_key(*k))
    {
        return Err(bad(format!(
            "date ranges ({k}) are not supported by Puente's payment search: search by external_reference"
        )));
    }
    const KNOWN: &[&str] = &["external_reference", "limit", "offset", "sort", "criteria"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!(
            "Puente's payment search filters by external_reference only; {k} is not supported"
        )));
    }
    let limit = match q.get("limit") {
        None => 30,
        Some(l) => l
            .parse::<u64>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| bad("limit must be between 1 and 1000"))?
            .min(mp_payments::SEARCH_MAX_LIMIT),
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(o) => o
            .parse::<u64>()
            .ok()
            .filter(|o| *o <= mp_payments::SEARCH_MAX_OFFSET)
            .ok_or_else(|| {
                bad(format!(
                    "offset must be an integer between 0 and {}",
                    mp_payments::SEARCH_MAX_OFFSET
                ))
            })?,
    };
    match q.get("sort").map(String::as_str) {
        None | Some("date_created") => {}
        Some("date_approved" | "date_last_updated" | "id") => {
            return Err(bad("Puente's payment search sorts by date_created only"));
        }
        Some(_) => {
            return Err(bad(
                "sort must be date_created, date_approved, date_last_updated or id",
            ));
        }
    }
    let newest_first = match q.get("criteria").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad("criteria must be asc or desc")),
    };
    Ok(PaymentSearch {
        external_reference: q.get("external_reference").map(String::as_str),
        newest_first,
        offset,
        limit,
    })
}

/// `GET /v1/payments/search`: the scope's payments Puente knows, each as
/// Mercado Pago shows it (read with its seller's token), `{paging, results}`.
async fn search(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    use futures_util::{StreamExt, TryStreamExt};
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let q = parse_search(&query)?;
    if let Some(reference) = q.external_reference {
        // A QR order's payment Mercado Pago already has is found at once.
        mp_payments::adopt_qr_payments_by_reference(
            &state.db,
            &state.keyring,
            &state.mp,
            &caller.scope,
            reference,
        )
        .await
        .map_err(read_error)?;
    }
    let page = mp_payments::search(&state.db, &caller.scope, &q)
        .await
        .map_err(core)?;
    let state_ref = &state;
    let results: Vec<Value> = futures_util::stream::iter(page.payments)
        .map(|(id, known)| async move { read_payment(state_ref, &known, id).await })
        .buffered(8)
        .try_collect()
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "paging": {"total": page.total, "limit": q.limit, "offset": q.offset},
        "results": results,
    })))
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
    let intent = match known {
        KnownPayment::Intent(intent) => intent,
        KnownPayment::Qr(order) => {
            return refund_qr(&state, &caller, &req, &raw, key, &order, &payment_id).await;
        }
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

/// A QR payment's refund: made at Mercado Pago at once, with the seller's
/// token and an idempotency key derived from the request's own record (a
/// retried request is the same refund there), audited as the API key's;
/// Mercado Pago's refund (or refusal) as it answered.
async fn refund_qr(
    state: &AppState,
    caller: &crate::api::auth::ApiCaller,
    req: &HttpRequest,
    raw: &[u8],
    key: Option<String>,
    order: &platform_core::entities::qr_orders::Model,
    payment_id: &str,
) -> Result<HttpResponse, MpError> {
    let outcome = idem::run(
        state,
        caller,
        req,
        raw,
        S,
        key.as_deref(),
        |record| async move {
            let amount = parse_amount(raw)?
                .map(Amount::from_cents)
                .transpose()
                .map_err(|e| bad(e.to_string()))?;
            let upstream_key: String = match record {
                Some(r) => r.as_str().chars().take(64).collect(),
                None => uuid::Uuid::new_v4().to_string(),
            };
            let refund = mp_payments::refund_qr_payment(
                &state.db,
                &state.keyring,
                &state.mp,
                order,
                payment_id,
                amount,
                &upstream_key,
                &super::actor(req, caller),
            )
            .await
            .map_err(read_error)?;
            let id = refund["id"].to_string();
            Ok(Done::created(StatusCode::CREATED, refund, &id))
        },
    )
    .await?;
    super::answer(outcome)
}
