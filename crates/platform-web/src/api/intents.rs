//! `/v1/payment-intents`: create (idempotent), get (optionally waiting for a
//! final state), list, cancel, history, and a live stream.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::payment_intents;
use platform_core::id::{PaymentIntentId, TerminalId};
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::intents::{self, CancelAsk, IntentFilter, IntentView, NewIntent, Origin};
use platform_core::states::{EventSource, IntentStatus};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
use crate::idempotency::Done;
use crate::intent_wait::{self, CancelAnswer};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/payment-intents", web::post().to(create))
        .route("/v1/payment-intents", web::get().to(list))
        .route(
            "/v1/payment-intents/stream",
            web::get().to(super::stream::intents),
        )
        .route("/v1/payment-intents/{id}", web::get().to(get))
        .route("/v1/payment-intents/{id}/events", web::get().to(history))
        .route("/v1/payment-intents/{id}/cancel", web::post().to(cancel));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PaymentIntentPaymentIn)]
pub(crate) struct PaymentIn {
    /// `credit_card`, `debit_card` or `qr`; absent = the buyer chooses.
    #[serde(rename = "type")]
    payment_type: Option<String>,
    installments: Option<i32>,
    installments_cost: Option<String>,
}

/// The create body. `sponsor` is accepted and ignored on purpose: Puente
/// always sends the integrator's own sponsor id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PaymentIntentIn)]
pub(crate) struct IntentIn {
    terminal_id: String,
    /// Minor units (centavos), within the seller's site limits.
    amount: i64,
    description: Option<String>,
    external_reference: Option<String>,
    #[serde(default)]
    print_on_terminal: bool,
    payment: Option<PaymentIn>,
    /// Accepted and ignored: the integrator's own sponsor id is sent.
    #[serde(default, rename = "sponsor_id")]
    _sponsor_id: Option<serde_json::Value>,
}

async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let (state_ref, caller_ref, raw_ref) = (&state, &caller, &raw);
    idempotent::run(&state, &caller, &req, &raw, |record| async move {
        let (state, caller, raw) = (state_ref, caller_ref, raw_ref);
        let input: IntentIn = body::parse(raw)?;
        let payment = input.payment.unwrap_or(PaymentIn {
            payment_type: None,
            installments: None,
            installments_cost: None,
        });
        let new = NewIntent {
            amount: input.amount,
            description: input.description,
            external_reference: input.external_reference,
            print_on_terminal: input.print_on_terminal,
            payment_type: payment.payment_type,
            installments: payment.installments,
            installments_cost: payment.installments_cost,
        };
        // The stored response commits with the intent: a lost commit
        // acknowledgement cannot turn the POS's retry into a second intent.
        let render = |i: &payment_intents::Model| StoredResponse::created(&view_of(i));
        let completion =
            Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
        let origin = Origin {
            api_key_id: Some(caller.key_id()),
            source: EventSource::Api,
        };
        let terminal_id = TerminalId::parse_or_not_found(&input.terminal_id)?;
        let intent = intents::create(
            &state.db,
            &caller.scope,
            &terminal_id,
            new,
            origin,
            completion.as_ref(),
        )
        .await?
        .publish(&state.queue)
        .await;
        Ok(Done::created(
            StatusCode::CREATED,
            view_of(&intent),
            &intent.id,
        ))
    })
    .await
}

fn view_of(intent: &payment_intents::Model) -> serde_json::Value {
    serde_json::to_value(IntentView::from(intent)).unwrap_or_default()
}

/// The cancel body; empty is `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelIn {
    /// Also cancel an intent the terminal already holds (Mercado Pago asks
    /// the terminal; it may still finish the payment).
    #[serde(default)]
    at_terminal: bool,
}

/// Cancels an intent and answers as Mercado Pago did: 200 once canceled,
/// 202 when the terminal was asked to cancel (the outcome follows as a
/// status change), 409 when it cannot be canceled, 504 when Mercado Pago
/// has not answered yet (the cancel stays requested and is retried).
async fn cancel(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let input: CancelIn = if raw.iter().all(u8::is_ascii_whitespace) {
        CancelIn::default()
    } else {
        body::parse(&raw)?
    };
    let intent_id = PaymentIntentId::parse_or_not_found(&path)?;
    let ask = CancelAsk {
        intent_id: &intent_id,
        at_terminal: input.at_terminal,
        source: EventSource::Api,
    };
    match intent_wait::cancel(&state, &caller.scope, ask).await? {
        CancelAnswer::Canceled(i) => Ok(HttpResponse::Ok().json(IntentView::from(&i))),
        CancelAnswer::Accepted(i) => Ok(HttpResponse::Accepted().json(IntentView::from(&i))),
        CancelAnswer::AtTerminal(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "intent_at_terminal",
            "the terminal already holds the payment intent; send {\"at_terminal\": true} to ask the terminal to cancel it",
        )),
        CancelAnswer::Refused { code, message, .. } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "cancel_refused",
            format!("Mercado Pago refused the cancel: {message}"),
        )
        .with_details(json!({"upstream_code": code}))),
        // Asked again (a POS retrying after a 504 `cancel_pending`) once it is
        // canceled: the cancel is done, and the answer says so.
        CancelAnswer::Final(i) if i.status == IntentStatus::Canceled => {
            Ok(HttpResponse::Ok().json(IntentView::from(&i)))
        }
        CancelAnswer::Final(i) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "intent_not_cancelable",
            format!(
                "the payment intent is {}; only queued, created or at_terminal intents can be canceled",
                i.status
            ),
        )),
        CancelAnswer::Pending(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "cancel_pending",
            "Mercado Pago has not answered the cancel yet; it stays requested and its outcome will be reported (webhook, stream, GET)",
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GetQuery {
    /// Seconds to wait for a final state (long-poll), 0–60.
    wait: Option<u64>,
}

pub const MAX_WAIT_SECS: u64 = 60;

async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    query: web::Query<GetQuery>,
) -> Result<HttpResponse, ApiError> {
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::bad_request(
            "invalid_wait",
            format!("wait is limited to {MAX_WAIT_SECS} seconds"),
        ));
    }
    let intent_id = PaymentIntentId::parse_or_not_found(&path)?;
    let intent = intent_wait::until(
        &state,
        &caller.scope,
        &intent_id,
        Duration::from_secs(wait),
        |i| i.status.is_final(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(IntentView::from(&intent)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// One status (`queued`, `processed`, …).
    status: Option<String>,
    seller_id: Option<String>,
    terminal_id: Option<String>,
    external_reference: Option<String>,
    created_after: Option<chrono::DateTime<chrono::Utc>>,
    created_before: Option<chrono::DateTime<chrono::Utc>>,
    /// The previous page's `next_cursor`.
    starting_after: Option<String>,
    /// 1–100, default 20.
    limit: Option<u64>,
}

async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(IntentStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_status", format!("unknown status `{s}`"))
        })?),
    };
    let limit = q.limit.unwrap_or(20);
    if !(1..=intents::MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1–{}", intents::MAX_PAGE),
        ));
    }
    let filter = IntentFilter {
        status,
        seller_id: q.seller_id,
        terminal_id: q.terminal_id,
        external_reference: q.external_reference,
        created_after: q.created_after,
        created_before: q.created_before,
    };
    let (rows, has_more) = intents::list(
        &state.db,
        &caller.scope,
        &filter,
        q.starting_after.as_deref(),
        limit,
    )
    .await?;
    let next = if has_more {
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    let data: Vec<IntentView> = rows.iter().map(IntentView::from).collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "object": "list", "data": data, "has_more": has_more, "next_cursor": next })))
}

async fn history(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let intent_id = PaymentIntentId::parse_or_not_found(&path)?;
    let events = intents::history(&state.db, &caller.scope, &intent_id).await?;
    let data: Vec<_> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "source": e.source,
                "detail": e.detail,
                "created_at": e.created_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data })))
}
