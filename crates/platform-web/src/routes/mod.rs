//! Route table: one module per area.

mod assets;
pub(crate) mod health;
mod home;
mod openapi;
mod reference;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    assets::configure(cfg);
    health::configure(cfg);
    crate::metrics::configure(cfg);
    home::configure(cfg);
    openapi::configure(cfg);
    reference::configure(cfg);
    crate::api::configure(cfg);
    crate::notifications::configure(cfg);
    crate::onboarding::configure(cfg);
    crate::dashboard::configure(cfg);
}
