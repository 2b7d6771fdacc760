//! Operations on webhook endpoints and deliveries; handlers in
//! `api/webhooks.rs`. Integrator-wide keys only.

#![allow(dead_code)]

use crate::api::webhooks::{
    DeliveriesQuery, DeliveryOut, EndpointIn, EndpointOut, EndpointPatchIn, ReplayIn,
};

use super::schemas::{
    DeliveryPageOut, EndpointDeletedOut, EndpointListOut, EndpointSecretOut, ErrorOut, ReplayOut,
};

#[utoipa::path(
    post, path = "/v1/webhook-endpoints", tag = "Webhooks",
    operation_id = "createWebhookEndpoint",
    summary = "Create a webhook endpoint; its signing secret is shown once",
    request_body = EndpointIn,
    params(super::IdempotencyKey),
    responses(
        (status = 201, description = "The endpoint with its secret", body = EndpointSecretOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 400, description = "`invalid_json`, `invalid_idempotency_key`", body = ErrorOut),
        (status = 403, description = "`insufficient_scope`", body = ErrorOut),
        (status = 409, description = "`too_many_endpoints`, `idempotency_request_in_progress`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `invalid_url`, `url_not_allowed`, `invalid_description`, `invalid_event_type`, `invalid_seller`, `idempotency_key_reused`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn create_webhook_endpoint() {}

#[utoipa::path(
    get, path = "/v1/webhook-endpoints", tag = "Webhooks",
    operation_id = "listWebhookEndpoints",
    summary = "List webhook endpoints",
    responses(
        (status = 200, description = "Every endpoint", body = EndpointListOut),
        (status = 403, description = "`insufficient_scope`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn list_webhook_endpoints() {}

#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{id}", tag = "Webhooks",
    operation_id = "getWebhookEndpoint",
    summary = "Get a webhook endpoint",
    params(("id" = String, Path, description = "The endpoint's id (`we_…`)")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn get_webhook_endpoint() {}

#[utoipa::path(
    patch, path = "/v1/webhook-endpoints/{id}", tag = "Webhooks",
    operation_id = "updateWebhookEndpoint",
    summary = "Change a webhook endpoint",
    description = "All fields or none: a bad field changes nothing. `null` clears `description` \
        and `seller_id`.",
    request_body = EndpointPatchIn,
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointOut),
        (status = 400, description = "`invalid_json`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `invalid_url`, `url_not_allowed`, `invalid_description`, `invalid_event_type`, `invalid_seller`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn update_webhook_endpoint() {}

#[utoipa::path(
    delete, path = "/v1/webhook-endpoints/{id}", tag = "Webhooks",
    operation_id = "deleteWebhookEndpoint",
    summary = "Delete a webhook endpoint with its deliveries",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "Deleted", body = EndpointDeletedOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn delete_webhook_endpoint() {}

#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "Webhooks",
    operation_id = "rotateWebhookSecret",
    summary = "A new signing secret, shown once; the previous one signs for 24 h more",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint with its new secret", body = EndpointSecretOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn rotate_webhook_secret() {}

#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{id}/deliveries", tag = "Webhooks",
    operation_id = "listWebhookDeliveries",
    summary = "An endpoint's deliveries, newest first",
    description = "Cursor pagination: pass `next_cursor` as `before` while `has_more` is true.",
    params(("id" = String, Path, description = "The endpoint's id"), DeliveriesQuery),
    responses(
        (status = 200, description = "One page", body = DeliveryPageOut),
        (status = 400, description = "`invalid_query`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 422, description = "`invalid_limit`, `invalid_status`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn list_webhook_deliveries() {}

#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{id}/replay", tag = "Webhooks",
    operation_id = "replayWebhookEndpoint",
    summary = "Send again every dead delivery created since a time",
    request_body = ReplayIn,
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 202, description = "Queued again", body = ReplayOut),
        (status = 400, description = "`invalid_json`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`endpoint_disabled`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `invalid_since`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn replay_webhook_endpoint() {}

#[utoipa::path(
    get, path = "/v1/webhook-deliveries/{id}", tag = "Webhooks",
    operation_id = "getWebhookDelivery",
    summary = "A delivery with its attempts",
    params(("id" = String, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn get_webhook_delivery() {}

#[utoipa::path(
    post, path = "/v1/webhook-deliveries/{id}/replay", tag = "Webhooks",
    operation_id = "replayWebhookDelivery",
    summary = "Send a finished delivery again",
    params(("id" = String, Path, description = "The delivery's id")),
    responses(
        (status = 202, description = "Queued again", body = DeliveryOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`delivery_pending`, `endpoint_disabled`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn replay_webhook_delivery() {}
