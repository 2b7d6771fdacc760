//! `/v1/payment-intents/{id}/refunds`: total or partial refunds.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::jobs;
use platform_core::refunds::{self, RefundView};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
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
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (state_ref, caller_ref, raw_ref, path_ref) = (&state, &caller, &raw, &path);
    idempotent::run(&state, &caller, &req, &raw, |record| async move {
        let (state, caller, raw, path) = (state_ref, caller_ref, raw_ref, path_ref);
        let input: RefundIn = body::parse(raw)?;
        // The stored response commits with the refund (see intents' create).
        let respond = |r: &platform_core::entities::refunds::Model| {
            serde_json::to_value(RefundView::from(r))
                .unwrap_or_default()
                .to_string()
        };
        let idempotent = record.as_deref().map(|record_id| {
            (
                platform_core::idempotency::Completion {
                    keyring: &state.keyring,
                    record_id,
                },
                202,
                &respond as &refunds::RenderRefund,
            )
        });
        let refund =
            refunds::create_with(&state.db, &caller.scope, path, input.amount, idempotent).await?;
        if let Err(e) = state.queue.publish(jobs::REFUND_DISPATCH, &refund.id).await {
            tracing::warn!(error = %e, refund = %refund.id, "could not queue the refund; the reconciler will");
        }
        let view = serde_json::to_value(RefundView::from(&refund)).unwrap_or_default();
        Ok((StatusCode::ACCEPTED, view, Some(refund.id)))
    })
    .await
}

async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = refunds::list_for_intent(&state.db, &caller.scope, &path).await?;
    let data: Vec<RefundView> = rows.iter().map(RefundView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data, "has_more": false })))
}
