//! The POS-facing API (`/v1/…`, JSON) and the Mercado Pago-compatible surface.
//!
//! Every handler takes an [`auth::ApiCaller`], which authenticates the API
//! key and carries the tenant scope; all reads go through that scope.

pub mod auth;
mod automation;
mod body;
mod idempotent;
pub(crate) mod intents;
mod keys;
mod mp_compat;
pub mod openapi;
mod qr;
pub mod rate_limit;
mod refunds;
mod registry;
mod reports;
mod stream;
mod webhooks;

use actix_web::web;

pub(crate) use mp_compat::unknown_route as mp_unknown_route;

pub fn configure(cfg: &mut web::ServiceConfig) {
    intents::configure(cfg);
    automation::configure(cfg);
    keys::configure(cfg);
    mp_compat::configure(cfg);
    registry::configure(cfg);
    refunds::configure(cfg);
    qr::configure(cfg);
    reports::configure(cfg);
    webhooks::configure(cfg);
}
