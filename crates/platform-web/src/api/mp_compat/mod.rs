//! The Mercado Pago-compatible surface: Mercado Pago's own paths, bodies,
//! responses and error shapes (Orders API type point, legacy Point
//! Integration API, Terminals API), served with a Puente API key as the
//! Bearer token. A POS written against Mercado Pago with an official SDK
//! switches to Puente by changing the base URL and the token.
//!
//! Behind it is the native domain: a terminal is looked up by its Mercado
//! Pago device id within the key's scope, orders and payment intents are
//! Puente intents (`platform_core::intents`: site rules, the terminal lock,
//! the integrator's sponsor, events and webhooks), dispatched by the worker.
//! See docs/mp-compat.md.

mod error;
mod idem;
mod ids;
mod integrator;
mod oauth;
mod orders;
mod payments;
mod point;
mod pos;
mod qr;
mod stores;
mod terminals;
mod users;
mod view;

use actix_web::{FromRequest, HttpRequest, web};
use platform_core::CoreError;
use platform_core::entities::{payment_intents, terminals as terminal_rows};
use platform_core::id::PaymentIntentId;
use platform_core::tenancy::Scope;
use platform_core::{intents, registry};

use self::error::{MpError, Shape};
use super::auth::ApiCaller;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    orders::configure(cfg);
    integrator::configure(cfg);
    point::configure(cfg);
    terminals::configure(cfg);
    users::configure(cfg);
    stores::configure(cfg);
    pos::configure(cfg);
    qr::configure(cfg);
    payments::configure(cfg);
    oauth::configure(cfg);
}

/// Path segments that belong to Mercado Pago's API families; an unknown route
/// under one of them is Mercado Pago's 404, not Puente's.
const MP_PREFIXES: &[&str] = &[
    "/v1/orders",
    "/v1/payments",
    "/point",
    "/terminals/v1",
    "/users",
    "/stores",
    "/pos",
    "/v2/pos",
    "/instore",
    "/mpmobile",
    "/oauth/token",
    "/merchant_orders",
];

/// Mercado Pago's answer to a route it does not serve (the classic shape,
/// as the sandbox answers), for paths of its API families.
pub fn unknown_route(req: &HttpRequest) -> Option<actix_web::HttpResponse> {
    use actix_web::ResponseError;
    let path = req.path();
    MP_PREFIXES
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
        .then(|| MpError::classic(404, "not_found", "resource not found").error_response())
}

/// Authenticates the request's API key, with errors in `shape`.
async fn caller(req: &HttpRequest, shape: Shape) -> Result<ApiCaller, MpError> {
    ApiCaller::extract(req)
        .await
        .map_err(|e| MpError::from_auth(shape, e))
}

/// The body, read once the caller is known (`api::body`), with this
/// surface's errors.
async fn read_body(payload: web::Payload, shape: Shape) -> Result<web::Bytes, MpError> {
    use super::body::{MAX_BODY, Unreadable, read_raw};
    read_raw(payload).await.map_err(|e| match e {
        Unreadable::TooLarge => MpError::of(
            shape,
            413,
            "payload_too_large",
            format!("the request body is larger than {} KiB", MAX_BODY / 1024),
        ),
        Unreadable::Broken(why) => MpError::of(
            shape,
            400,
            "bad_request",
            format!("the body could not be read: {why}"),
        ),
    })
}

/// The API key as the actor of an audited change.
fn actor(req: &HttpRequest, caller: &ApiCaller) -> platform_core::audit::Actor {
    platform_core::audit::Actor::api_key(
        caller.key_id(),
        crate::client_ip::client_ip(req).map(|ip| ip.to_string()),
    )
}

/// What a registry change talks to.
fn registry_ctx(state: &AppState) -> platform_core::registry_edit::Ctx<'_> {
    platform_core::registry_edit::Ctx {
        db: &state.db,
        keyring: &state.keyring,
        mp: &state.mp,
    }
}

/// A JSON body that must be an object, in this family's words.
fn json_object(
    raw: &[u8],
    shape: Shape,
) -> Result<serde_json::Map<String, serde_json::Value>, MpError> {
    match serde_json::from_slice::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(o)) => Ok(o),
        Ok(_) => Err(MpError::of(
            shape,
            400,
            "bad_request",
            "the body must be a JSON object",
        )),
        Err(e) => Err(MpError::of(
            shape,
            400,
            "bad_request",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// An API's write answered as its idempotency runner produced it: the
/// first answer, or the stored one of a repeat (errors again as errors).
fn answer(outcome: idem::Outcome) -> Result<actix_web::HttpResponse, MpError> {
    match outcome {
        idem::Outcome::Fresh(status, body) => Ok(respond(status, body)),
        idem::Outcome::Replay(status, body) => match idem::replay_error(status, body.clone()) {
            Some(e) => Err(e),
            None => Ok(respond(status, body)),
        },
    }
}

/// A JSON answer; `null` with 204 is an empty one.
fn respond(
    status: actix_web::http::StatusCode,
    body: serde_json::Value,
) -> actix_web::HttpResponse {
    if status == actix_web::http::StatusCode::NO_CONTENT {
        actix_web::HttpResponse::NoContent().finish()
    } else {
        actix_web::HttpResponse::build(status).json(body)
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, MpError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| MpError::orders(500, "internal_error", "no state"))
}

/// The terminal with this Mercado Pago device id, if it is in the scope.
async fn terminal_by_device(
    state: &AppState,
    scope: &Scope,
    device_id: &str,
) -> Result<Option<terminal_rows::Model>, CoreError> {
    registry::terminal_by_device(&state.db, scope, device_id).await
}

/// An intent of the scope by Puente's id, or by its Mercado Pago id.
async fn intent_in_scope(
    state: &AppState,
    scope: &Scope,
    puente_id: Option<PaymentIntentId>,
    raw: &str,
) -> Result<Option<payment_intents::Model>, CoreError> {
    if let Some(id) = puente_id {
        match scope.find::<payment_intents::Entity>(&state.db, &id).await {
            Ok(i) => return Ok(Some(i)),
            Err(CoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    intents::find_by_upstream_in(&state.db, scope, raw).await
}
