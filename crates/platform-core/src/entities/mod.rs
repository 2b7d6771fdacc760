//! sea-orm entities, one module per table (schema in `migrations/`).
//!
//! Entities are plain rows. Tenant data is read and written through
//! `crate::tenancy::Scope`, never by querying these directly from handlers.

pub mod api_keys;
pub mod audit_log;
pub mod events;
pub mod idempotency_keys;
pub mod inbound_notifications;
pub mod integrators;
pub mod invitations;
pub mod mp_order_details;
pub mod oauth_states;
pub mod onboarding_links;
pub mod payment_intent_events;
pub mod payment_intents;
pub mod pos;
pub mod qr_orders;
pub mod refunds;
pub mod seller_credentials;
pub mod sellers;
pub mod stores;
pub mod terminals;
pub mod users;
pub mod webhook_attempts;
pub mod webhook_deliveries;
pub mod webhook_endpoints;

/// Every encrypted column, for `puente keys rotate`: (table, column).
pub const ENCRYPTED_COLUMNS: &[(&str, &str)] = &[
    ("integrators", "mp_client_secret"),
    ("integrators", "mp_webhook_secret"),
    ("seller_credentials", "access_token"),
    ("seller_credentials", "refresh_token"),
    ("oauth_states", "pkce_verifier"),
    ("webhook_endpoints", "secret"),
    ("webhook_endpoints", "previous_secret"),
    ("idempotency_keys", "response_body"),
];
