//! Integrator settings of the legacy Integration API (reference §2.8):
//! `GET /point/integration-api/integrator` and `PATCH` with
//! `{"event_channel_devices":["email"]}` (204): the device e-mail alerts of
//! the account the token is. A key narrowed to a seller (or its store or
//! POS) stands for that seller's account: read and changed at Mercado Pago
//! with the seller's token (`platform_core::mp_registry`). An
//! integrator-wide key is no one account: 403, as `GET /users/me` answers.

use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::mp_registry;
use serde_json::Value;

use super::error::{MpError, Shape};
use super::{actor, caller, registry_ctx, state};
use crate::api::auth::ApiCaller;

const S: Shape = Shape::Classic;
const PATH: &str = "/point/integration-api/integrator";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(get))
        .route(PATH, web::patch().to(patch));
}

fn seller_id(caller: &ApiCaller) -> Result<platform_core::id::SellerId, MpError> {
    caller
        .scope
        .seller_id()
        .cloned()
        .ok_or_else(|| {
            MpError::classic(
                403,
                "forbidden",
                "an integrator-wide key is not one Mercado Pago account: use a key narrowed to a seller, store or POS",
            )
        })
}

async fn get(req: HttpRequest) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let seller = seller_id(&caller)?;
    let settings = mp_registry::integrator_settings(registry_ctx(&state), &caller.scope, &seller)
        .await
        .map_err(|e| MpError::from_mirror(S, e))?;
    Ok(HttpResponse::Ok().json(settings))
}

async fn patch(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let seller = seller_id(&caller)?;
    let body = super::json_object(&raw, S)?;
    if let Some(k) = body.keys().find(|k| k.as_str() != "event_channel_devices") {
        return Err(MpError::classic(
            400,
            "bad_request",
            format!("unknown field {k}"),
        ));
    }
    let channels: Vec<String> = body
        .get("event_channel_devices")
        .and_then(Value::as_array)
        .filter(|a| a.iter().all(|c| c.as_str() == Some("email")))
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| {
            MpError::classic(
                400,
                "bad_request",
                "event_channel_devices must be a list of \"email\"",
            )
        })?;
    mp_registry::set_device_event_channels(
        registry_ctx(&state),
        &caller.scope,
        &seller,
        &channels,
        &actor(&req, &caller),
    )
    .await
    .map_err(|e| MpError::from_mirror(S, e))?;
    Ok(HttpResponse::NoContent().finish())
}
