//! Route table: one module per area.

mod assets;
pub(crate) mod health;
mod home;
mod openapi;
mod reference;

use actix_web::web;

/// The public listener's routes. `/metrics` and `/readyz` are left out when
/// they are served on their own listener (`PUENTE_METRICS_ADDR`); `/healthz`
/// stays (it says only that the process answers).
pub fn configure(cfg: &mut web::ServiceConfig, ops_here: bool) {
    assets::configure(cfg);
    health::configure_liveness(cfg);
    if ops_here {
        health::configure_readiness(cfg);
        crate::metrics::configure(cfg);
    }
    home::configure(cfg);
    openapi::configure(cfg);
    reference::configure(cfg);
    crate::api::configure(cfg);
    crate::notifications::configure(cfg);
    crate::onboarding::configure(cfg);
    crate::dashboard::configure(cfg);
}
