//! `/v1/payment-intents/{id}/refunds`: total or partial refunds.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::refunds as refund_rows;
use platform_core::id::PaymentIntentId;
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::refunds::{self, RefundView};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
use crate::idempotency::Done;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/payment-intents/{id}/refunds", web::post().to(create))
        .route("/v1/payment-intents/{id}/refunds", web::get().to(list));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundIn {
    /// Minor units; omitted = everything still refundable.
    amount: Option<i64>,
}

/// Queues a refund (202); the worker sends it and the refund, then the
/// intent, change status (`refund.succeeded`, `payment_intent.refunded`).
async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let (state_ref, caller_ref, raw_ref, path_ref) = (&state, &caller, &raw, &path);
    idempotent::run(&state, &caller, &req, &raw, |record| async move {
        let (state, caller, raw, path) = (state_ref, caller_ref, raw_ref, path_ref);
        let input: RefundIn = body::parse(raw)?;
        // The stored response commits with the refund (see intents' create).
        let view_of =
            |r: &refund_rows::Model| serde_json::to_value(RefundView::from(r)).unwrap_or_default();
        let render = |r: &refund_rows::Model| StoredResponse {
            status: StatusCode::ACCEPTED.as_u16(),
            body: view_of(r).to_string(),
        };
        let completion =
            Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
        let intent_id = PaymentIntentId::parse_or_not_found(path)?;
        let refund = refunds::create(
            &state.db,
            &caller.scope,
            &intent_id,
            input.amount,
            completion.as_ref(),
        )
        .await?
        .publish(&state.queue)
        .await;
        Ok(Done::created(
            StatusCode::ACCEPTED,
            view_of(&refund),
            &refund.id,
        ))
    })
    .await
}

async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let intent_id = PaymentIntentId::parse_or_not_found(&path)?;
    let rows = refunds::list_for_intent(&state.db, &caller.scope, &intent_id).await?;
    let data: Vec<RefundView> = rows.iter().map(RefundView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data, "has_more": false })))
}
