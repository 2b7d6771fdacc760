//! `/v1/pos/{id}/qr-order`: the order shown by a POS's QR code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::qr_orders as qr_rows;
use platform_core::id::PosId;
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::qr_orders::{self, NewQrOrder, QrOrderView};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
use crate::idempotency::Done;
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
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let (state_ref, caller_ref, raw_ref, path_ref) = (&state, &caller, &raw, &path);
    idempotent::run(&state, &caller, &req, &raw, |record| async move {
        let (state, caller, raw, path) = (state_ref, caller_ref, raw_ref, path_ref);
        let input: QrOrderIn = body::parse(raw)?;
        let new = NewQrOrder {
            title: input.title,
            description: input.description,
            total_amount: input.total_amount,
            external_reference: input.external_reference,
            expires_in_minutes: input.expires_in_minutes,
        };
        let view_of =
            |r: &qr_rows::Model| serde_json::to_value(QrOrderView::from(r)).unwrap_or_default();
        let render = |r: &qr_rows::Model| StoredResponse::created(&view_of(r));
        let completion =
            Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
        let pos_id = PosId::parse_or_not_found(path)?;
        let row = qr_orders::create(
            &state.db,
            &state.keyring,
            &state.mp,
            &caller.scope,
            &pos_id,
            new,
            completion.as_ref(),
        )
        .await?;
        Ok(Done::created(StatusCode::CREATED, view_of(&row), &row.id))
    })
    .await
}

async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pos_id = PosId::parse_or_not_found(&path)?;
    let row = qr_orders::current(&state.db, &caller.scope, &pos_id).await?;
    Ok(HttpResponse::Ok().json(QrOrderView::from(&row)))
}

async fn delete(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pos_id = PosId::parse_or_not_found(&path)?;
    qr_orders::delete(&state.db, &state.keyring, &state.mp, &caller.scope, &pos_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
