//! Puente's domain: tenancy, encrypted secrets, the store/POS/terminal
//! registry, payment intents, and storage on SQLite or PostgreSQL.
//!
//! Nothing here speaks HTTP to clients (that is `platform-web`) or consumes
//! queues (that is `platform-worker`); a committed change only names the
//! messages it owes ([`effects::Effects`]), published after the commit.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod crypto;
pub mod db;
pub mod effects;
pub mod entities;
pub mod error;
pub mod events;
pub mod exports;
pub mod fleet;
pub mod id;
pub mod idempotency;
pub mod integrator_app;
pub mod intents;
pub mod jobs;
pub mod keys;
pub mod linked_sellers;
pub mod lookups;
pub mod mercadopago;
pub mod mp_payments;
pub mod mp_registry;
pub mod notifications;
pub mod onboarding;
pub mod order_details;
pub mod paging;
pub mod password;
pub mod permissions;
pub mod qr_orders;
pub mod refunds;
pub mod registry;
pub mod registry_edit;
pub mod reports;
pub mod retention;
pub mod secret;
pub mod sellers;
pub mod sessions;
pub mod states;
pub mod team;
pub mod tenancy;
pub mod tokens;
pub mod upstream;
pub mod webhooks;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use error::CoreError;
