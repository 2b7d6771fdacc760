//! The OpenAPI 3.1 document of the native API, generated from the request
//! and response types (`utoipa::ToSchema`, `IntoParams`) and the operation
//! list below. `GET /openapi.json` serves it and `/docs` renders it; the
//! committed copy (`openapi/openapi.json`) is checked against it by
//! `tests/it/openapi.rs` (`PUENTE_BLESS=1` rewrites it).
//!
//! Conventions every operation shares (the bearer scheme, 401/429/500/503,
//! 403 on every write for read-only keys,
//! strict response objects) are applied once, in [`document`].

pub mod errors;
mod payments;
mod registry;
mod reports;
pub mod schemas;
mod webhooks;

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi};

/// The operations, one line each: a new route is added here (and its
/// function in the module of its area); `tests/it/openapi.rs` fails while a
/// `/v1` route of the code is missing from this list, or the other way.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Puente POS API",
        version = "1.0.0",
        description = "Tenant-scoped API for POS software and integrators: charge on Mercado Pago \
            Point terminals, follow the result, refund, and automate onboarding.\n\n\
            Authenticate with `Authorization: Bearer pk_…`; a key sees only its own scope \
            (integrator, seller, store or POS), and another tenant's objects answer 404. \
            Errors are JSON `{code, message, details?}` with a stable `code` (the `ErrorCode` \
            values). Every response carries `X-Request-Id`. Amounts are integer minor units. \
            Creates take an `Idempotency-Key`: a retry with the same key and body gets the \
            stored answer, marked `Idempotent-Replayed: true`."
    ),
    paths(
        payments::create_payment_intent,
        payments::list_payment_intents,
        payments::stream_payment_intents,
        payments::get_payment_intent,
        payments::list_payment_intent_events,
        payments::cancel_payment_intent,
        payments::create_refund,
        payments::list_refunds,
        payments::put_qr_order,
        payments::get_qr_order,
        payments::delete_qr_order,
        registry::list_sellers,
        registry::get_seller,
        registry::list_stores,
        registry::get_store,
        registry::list_pos,
        registry::get_pos,
        registry::list_terminals,
        registry::get_terminal,
        registry::set_terminal_mode,
        registry::create_onboarding_link,
        registry::list_onboarding_links,
        registry::revoke_onboarding_link,
        registry::create_api_key,
        registry::list_api_keys,
        registry::revoke_api_key,
        webhooks::create_webhook_endpoint,
        webhooks::list_webhook_endpoints,
        webhooks::get_webhook_endpoint,
        webhooks::update_webhook_endpoint,
        webhooks::delete_webhook_endpoint,
        webhooks::rotate_webhook_secret,
        webhooks::list_webhook_deliveries,
        webhooks::replay_webhook_endpoint,
        webhooks::get_webhook_delivery,
        webhooks::replay_webhook_delivery,
        reports::get_report_summary,
        reports::get_daily_report,
        reports::export_payment_intents,
        reports::export_refunds,
        reports::export_webhook_deliveries,
    ),
    components(schemas(schemas::ErrorOut)),
    tags(
        (name = "Payment intents", description = "Charge on a terminal and follow the outcome: long-poll (`wait`), server-sent events or webhooks."),
        (name = "Refunds", description = "Total or partial refunds of processed intents."),
        (name = "QR orders", description = "The order shown by a POS's QR code."),
        (name = "Sellers", description = "The Mercado Pago accounts linked to the integrator."),
        (name = "Stores", description = "Sellers' stores."),
        (name = "POS", description = "Points of sale in a store."),
        (name = "Terminals", description = "Point card terminals and their operating mode."),
        (name = "Onboarding links", description = "Links a seller opens to connect their account."),
        (name = "API keys", description = "Keys for POS software and automation, narrowed to a scope."),
        (name = "Webhooks", description = "Signed notifications to the integrator's systems, their deliveries and replays."),
        (name = "Reports", description = "Figures for a period (volume, refunds, approval rate, rankings), daily totals and CSV exports."),
    ),
)]
struct ApiDoc;

/// The `Idempotency-Key` header of the creates.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// 1–255 visible ASCII characters, unique per request you mean once (an
    /// order id, a UUID). A retry with the same key and body gets the first
    /// answer; the same key with another body is `idempotency_key_reused`.
    #[serde(rename = "Idempotency-Key")]
    #[param(max_length = 255, min_length = 1)]
    #[allow(dead_code)] // Describes the header; the handlers read it raw.
    idempotency_key: Option<String>,
}

/// Fields a response object may leave out (`skip_serializing_if`); every
/// other field of a response schema is required.
const OMITTABLE: &[(&str, &str)] = &[("Error", "details"), ("WebhookDelivery", "attempts")];

/// Request bodies: their optional fields stay optional.
fn is_request_schema(name: &str) -> bool {
    name.ends_with("In")
}

/// The whole document as JSON, with the shared conventions applied.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    doc["components"]["securitySchemes"] = json!({
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "A Puente API key (`pk_test_…` or `pk_live_…`). The roles listed on an \
                operation are the key scopes that may call it: `integrator` (every seller), \
                `seller`, `store` or `pos` (narrowed to that object and what is under it)."
        }
    });
    doc["security"] = json!([{ "apiKey": [] }]);
    add_common_responses(&mut doc);
    make_responses_strict(&mut doc);
    doc
}

/// The committed form: pretty, with a final newline. Built once.
pub fn document_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document()).expect("the document serialises");
        text.push('\n');
        text
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn add_common_responses(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let mut rate_limited = error_response("`rate_limited`: too many requests for this key");
    rate_limited["headers"] = json!({
        "Retry-After": {
            "description": "Seconds to wait before the next request",
            "schema": { "type": "integer", "minimum": 1 }
        }
    });
    let common = [
        (
            "400",
            error_response("`invalid_query`, `invalid_path`: a parameter has the wrong type"),
        ),
        (
            "401",
            error_response(
                "`missing_api_key`, `invalid_api_key`, `api_key_revoked`, `api_key_expired`",
            ),
        ),
        ("429", rate_limited),
        (
            "500",
            error_response("`internal_error` (logged with the request id)"),
        ),
        (
            "503",
            error_response(
                "`database_unavailable`, `upstream_unavailable`: retry (with the same Idempotency-Key)",
            ),
        ),
    ];
    let read_only = error_response(
        "`insufficient_scope`: a read-only key may only send `GET` requests (or the key's scope does not reach this)",
    );
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            for (status, response) in &common {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| response.clone());
            }
            // Every write refuses a read-only key (`api::auth`).
            if method != "get" && method != "head" {
                responses
                    .entry("403".to_owned())
                    .or_insert_with(|| read_only.clone());
            }
        }
    }
}

/// Response objects: every field is required (the server always writes it,
/// `null` when empty) and no other field is allowed, so a field added to or
/// dropped from a handler without its schema fails the API tests.
fn make_responses_strict(doc: &mut Value) {
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if is_request_schema(name) || name == "ErrorCode" {
            continue;
        }
        let Some(properties) = schema["properties"].as_object() else {
            continue;
        };
        let required: Vec<Value> = properties
            .keys()
            .filter(|field| !OMITTABLE.contains(&(name.as_str(), field.as_str())))
            .map(|field| Value::from(field.as_str()))
            .collect();
        schema["required"] = Value::Array(required);
        schema["additionalProperties"] = Value::Bool(false);
    }
}
