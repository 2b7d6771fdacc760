//! CSV exports for reporting tools and accountants: `GET
//! /v1/exports/payment-intents.csv`, `/v1/exports/refunds.csv`,
//! `/v1/exports/webhook-deliveries.csv` and `/v1/reports/daily.csv`, with
//! the list filters as query parameters, streamed in the key's scope.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform_core::exports::{DeliveryFilter, ExportKind, RefundFilter};
use platform_core::intents::IntentFilter;
use platform_core::states::{DeliveryStatus, IntentStatus, RefundStatus};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::ApiCaller;
use super::reports::SummaryParams;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/exports/payment-intents.csv",
        web::get().to(payment_intents),
    )
    .route("/v1/exports/refunds.csv", web::get().to(refunds))
    .route(
        "/v1/exports/webhook-deliveries.csv",
        web::get().to(webhook_deliveries),
    )
    .route("/v1/reports/daily.csv", web::get().to(daily));
}

fn status<T>(value: Option<&str>, parse: fn(&str) -> Option<T>) -> Result<Option<T>, ApiError> {
    match value {
        None => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| {
            ApiError::bad_request("invalid_status", format!("unknown status `{s}`"))
        }),
    }
}

/// The filters of `GET /v1/payment-intents`, without the paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct IntentExportQuery {
    /// One status (`queued`, `processed`, …).
    status: Option<String>,
    seller_id: Option<String>,
    terminal_id: Option<String>,
    external_reference: Option<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
}

async fn payment_intents(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<IntentExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let filter = IntentFilter {
        status: status(q.status.as_deref(), IntentStatus::parse)?,
        seller_id: q.seller_id,
        terminal_id: q.terminal_id,
        external_reference: q.external_reference,
        created_after: q.created_after,
        created_before: q.created_before,
    };
    let kind = ExportKind::PaymentIntents(filter);
    Ok(crate::csv_download::respond(&state, &caller.scope, kind).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RefundExportQuery {
    /// `queued`, `pending`, `succeeded` or `failed`.
    status: Option<String>,
    seller_id: Option<String>,
    payment_intent_id: Option<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
}

async fn refunds(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<RefundExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let filter = RefundFilter {
        status: status(q.status.as_deref(), RefundStatus::parse)?,
        seller_id: q.seller_id,
        intent_id: q.payment_intent_id,
        created_after: q.created_after,
        created_before: q.created_before,
    };
    Ok(crate::csv_download::respond(&state, &caller.scope, ExportKind::Refunds(filter)).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryExportQuery {
    endpoint_id: Option<String>,
    /// `pending`, `succeeded` or `dead`.
    status: Option<String>,
    /// One event type (`payment_intent.processed`, …).
    event_type: Option<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
}

async fn webhook_deliveries(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<DeliveryExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let filter = DeliveryFilter {
        endpoint_id: q.endpoint_id,
        status: status(q.status.as_deref(), DeliveryStatus::parse)?,
        event_type: q.event_type,
        created_after: q.created_after,
        created_before: q.created_before,
    };
    let kind = ExportKind::WebhookDeliveries(filter);
    Ok(crate::csv_download::respond(&state, &caller.scope, kind).await?)
}

async fn daily(
    state: web::Data<AppState>,
    caller: ApiCaller,
    params: web::Query<SummaryParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_inner().query()?;
    Ok(crate::csv_download::respond(&state, &caller.scope, ExportKind::Daily(query)).await?)
}
