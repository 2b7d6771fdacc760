//! The integration tests of this crate, in one binary (one link on a
//! small CI machine instead of one per file). Each module is what was a
//! test file; `cargo nextest run -p platform-web --test it <module>::` runs one.

mod api_intents;
mod api_mp_compat;
mod api_mp_compat_more;
mod api_webhooks;
mod common;
mod dashboard;
mod dashboard_forms;
mod dashboard_newcomer;
mod dashboard_team;
mod dashboard_webhooks;
mod fleet;
mod openapi;
mod reports;
mod security;
