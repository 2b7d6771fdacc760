//! `/v1/pos/{id}/qr-order`: the order shown by a POS's QR code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::qr_orders::{self, NewQrOrder, QrOrderView};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/pos/{id}/qr-order", web::put().to(put))
        .route("/v1/pos/{id}/qr-order", web::get().to(get))
        .route("/v1/pos/{id}/qr-order", web::delete().to(delete));
}

/// The body. `sponsor` is accepted and ignored: Puente sends the integrator's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QrOrderIn {
    title: String,
    description: Option<String>,
    /// Minor units.
    total_amount: i64,
    external_reference: Option<String>,
    expires_in_minutes: Option<i64>,
    /// Accepted and ignored.
    #[serde(default, rename = "sponsor")]
    _sponsor: Option<serde_json::Value>,
}

/// Creates or replaces the POS's QR order at Mercado Pago (201).
async fn put(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    idempotent::run(&state, &caller, &req, &raw, |_| async {
        let input: QrOrderIn = body::parse(&raw)?;
        let new = NewQrOrder {
            title: input.title,
            description: input.description,
            total_amount: input.total_amount,
            external_reference: input.external_reference,
            expires_in_minutes: input.expires_in_minutes,
        };
        let row = qr_orders::create(
            &state.db,
            &state.keyring,
            &state.mp,
            &caller.scope,
            &path,
            new,
        )
        .await?;
        let view = serde_json::to_value(QrOrderView::from(&row)).unwrap_or_default();
        Ok((StatusCode::CREATED, view, Some(row.id)))
    })
    .await
}

async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = qr_orders::current(&state.db, &caller.scope, &path).await?;
    Ok(HttpResponse::Ok().json(QrOrderView::from(&row)))
}

async fn delete(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    qr_orders::delete(&state.db, &state.keyring, &state.mp, &caller.scope, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
