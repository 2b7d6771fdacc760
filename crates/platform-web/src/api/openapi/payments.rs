//! Operations on payment intents, their refunds and POS QR orders.
//!
//! Each function only carries its operation's description; the handlers
//! live in `api/intents.rs`, `api/refunds.rs`, `api/qr.rs` and
//! `api/stream.rs`. 401, 429, 500 and 503 are added to every operation by
//! `super::common_responses`.

#![allow(dead_code)]

use crate::api::intents::{CancelIn, GetQuery, IntentIn, ListQuery};
use crate::api::qr::QrOrderIn;
use crate::api::refunds::RefundIn;
use crate::api::stream::StreamQuery;

use super::schemas::{
    ErrorOut, EventListOut, IntentOut, IntentPageOut, QrOrderOut, RefundListOut, RefundOut,
};

#[utoipa::path(
    post, path = "/v1/payment-intents", tag = "Payment intents",
    operation_id = "createPaymentIntent",
    summary = "Create a payment intent on a terminal",
    description = "Queued at once (`status: queued`); the worker sends it to Mercado Pago and the \
        terminal shows it. Follow it with `GET /v1/payment-intents/{id}?wait=30`, the stream or a \
        webhook. Amounts are integer minor units; the sponsor is always the integrator's own.",
    request_body = IntentIn,
    params(super::IdempotencyKey),
    responses(
        (status = 201, description = "Created, status `queued`", body = IntentOut,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same Idempotency-Key"))),
        (status = 400, description = "`invalid_json`, `invalid_idempotency_key`", body = ErrorOut),
        (status = 404, description = "`not_found`: the terminal is not in the key's scope", body = ErrorOut),
        (status = 409, description = "`terminal_busy` (`details.intent_id` names the open intent), `seller_not_linked`, `terminal_not_integrated`, `idempotency_request_in_progress`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `amount_out_of_range`, `invalid_description`, `invalid_external_reference`, `invalid_payment_type`, `invalid_installments`, `invalid_installments_cost`, `idempotency_key_reused`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn create_payment_intent() {}

#[utoipa::path(
    get, path = "/v1/payment-intents", tag = "Payment intents",
    operation_id = "listPaymentIntents",
    summary = "List payment intents, newest first",
    description = "Cursor pagination: pass the page's `next_cursor` as `starting_after` while \
        `has_more` is true.",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = IntentPageOut),
        (status = 400, description = "`invalid_query`, `invalid_status`, `invalid_limit`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn list_payment_intents() {}

#[utoipa::path(
    get, path = "/v1/payment-intents/stream", tag = "Payment intents",
    operation_id = "streamPaymentIntents",
    summary = "Live changes of the key's intents (server-sent events)",
    description = "`text/event-stream`: for every change of an intent in the key's scope, a frame \
        `id: <updated_at in ms>`, `event: payment_intent.updated`, `data: <the PaymentIntent as \
        JSON>`. A `: keep-alive` comment every 15 s keeps proxies open. The stream never ends by \
        itself.",
    params(StreamQuery),
    responses(
        (status = 200, description = "The stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid_query`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn stream_payment_intents() {}

#[utoipa::path(
    get, path = "/v1/payment-intents/{id}", tag = "Payment intents",
    operation_id = "getPaymentIntent",
    summary = "Get a payment intent, optionally waiting for its outcome",
    description = "Long-poll: with `wait=N` the answer comes as soon as the intent is final \
        (`processed`, `failed`, `canceled`, `expired`, `refunded`) or after N seconds with its \
        current state, whichever is first.",
    params(("id" = String, Path, description = "The intent's id (`pi_…`)"), GetQuery),
    responses(
        (status = 200, description = "The intent", body = IntentOut),
        (status = 400, description = "`invalid_query`, `invalid_wait`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn get_payment_intent() {}

#[utoipa::path(
    get, path = "/v1/payment-intents/{id}/events", tag = "Payment intents",
    operation_id = "listPaymentIntentEvents",
    summary = "An intent's status history, oldest first",
    params(("id" = String, Path, description = "The intent's id")),
    responses(
        (status = 200, description = "Every status change", body = EventListOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn list_payment_intent_events() {}

#[utoipa::path(
    post, path = "/v1/payment-intents/{id}/cancel", tag = "Payment intents",
    operation_id = "cancelPaymentIntent",
    summary = "Cancel a payment intent",
    description = "Answered from Mercado Pago's own answer: 200 once canceled (an intent not yet \
        sent is canceled at once; asking again once it is canceled, as after a 504, answers 200 \
        too); 202 when the terminal holds it and was asked to cancel \
        (`at_terminal: true`; the outcome follows as a status change, or the payment if the \
        buyer was faster, flagged `requires_attention`); 409 when it cannot be canceled; 504 \
        `cancel_pending` while Mercado Pago has not answered (the cancel stays requested).",
    params(("id" = String, Path, description = "The intent's id")),
    request_body(content = CancelIn, description = "Optional; empty means `{}`"),
    responses(
        (status = 200, description = "Canceled", body = IntentOut),
        (status = 202, description = "The terminal was asked to cancel; it decides", body = IntentOut),
        (status = 400, description = "`invalid_json`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`intent_at_terminal`, `cancel_refused`, `intent_not_cancelable`, `concurrent_update`", body = ErrorOut),
        (status = 422, description = "`invalid_body`: `at_terminal` is not a boolean, or an unknown field", body = ErrorOut),
        (status = 504, description = "`cancel_pending`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn cancel_payment_intent() {}

#[utoipa::path(
    post, path = "/v1/payment-intents/{id}/refunds", tag = "Refunds",
    operation_id = "createRefund",
    summary = "Refund a processed intent, totally or partly",
    description = "Queued (202); the worker sends it and the refund, then the intent, change \
        status (`refund.succeeded`, `payment_intent.refunded`).",
    request_body = RefundIn,
    params(("id" = String, Path, description = "The intent's id"), super::IdempotencyKey),
    responses(
        (status = 202, description = "Queued", body = RefundOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 400, description = "`invalid_json`, `invalid_idempotency_key`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`intent_not_refundable`, `idempotency_request_in_progress`, `concurrent_update`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `invalid_refund_amount`, `idempotency_key_reused`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn create_refund() {}

#[utoipa::path(
    get, path = "/v1/payment-intents/{id}/refunds", tag = "Refunds",
    operation_id = "listRefunds",
    summary = "An intent's refunds",
    params(("id" = String, Path, description = "The intent's id")),
    responses(
        (status = 200, description = "Every refund of the intent", body = RefundListOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn list_refunds() {}

#[utoipa::path(
    put, path = "/v1/pos/{id}/qr-order", tag = "QR orders",
    operation_id = "putQrOrder",
    summary = "Show an order on the POS's QR code (creates or replaces it)",
    request_body = QrOrderIn,
    params(("id" = String, Path, description = "The POS's id (`pos_…`)"), super::IdempotencyKey),
    responses(
        (status = 201, description = "The order, at Mercado Pago", body = QrOrderOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 400, description = "`invalid_json`, `invalid_idempotency_key`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`seller_not_linked`, `store_without_external_id`, `idempotency_request_in_progress`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `invalid_title`, `amount_out_of_range`, `invalid_external_reference`, `invalid_expiry`, `upstream_rejected`, `idempotency_key_reused`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn put_qr_order() {}

#[utoipa::path(
    get, path = "/v1/pos/{id}/qr-order", tag = "QR orders",
    operation_id = "getQrOrder",
    summary = "The POS's current QR order",
    params(("id" = String, Path, description = "The POS's id")),
    responses(
        (status = 200, description = "The order", body = QrOrderOut),
        (status = 404, description = "`not_found`: no such POS, or no order on it", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn get_qr_order() {}

#[utoipa::path(
    delete, path = "/v1/pos/{id}/qr-order", tag = "QR orders",
    operation_id = "deleteQrOrder",
    summary = "Take the order off the POS's QR code",
    params(("id" = String, Path, description = "The POS's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`seller_not_linked`", body = ErrorOut),
        (status = 422, description = "`upstream_rejected`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn delete_qr_order() {}
