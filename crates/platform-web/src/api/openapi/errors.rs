//! Every error `code` the native API can answer, with what it means.
//!
//! The codes are `&'static str`s spread over the handlers and the core; this
//! list is what the document's `ErrorCode` enum is built from.
//! `tests/it/openapi.rs` scans the sources for codes and fails on one missing
//! here, and every API test rejects a response whose code is not listed.

pub const CODES: &[(&str, &str)] = &[
    // The request itself.
    ("invalid_json", "The body is not valid JSON."),
    (
        "invalid_body",
        "The body does not match the operation's shape, or a field breaks a rule (see `details`).",
    ),
    ("invalid_query", "A query parameter has the wrong type."),
    ("invalid_path", "A path parameter is not valid."),
    (
        "unsupported_media_type",
        "Send the body as `application/json`.",
    ),
    ("payload_too_large", "The request body is too large."),
    (
        "route_not_found",
        "No operation answers this method and path.",
    ),
    (
        "invalid_limit",
        "`limit` is outside the page size the list allows.",
    ),
    (
        "invalid_status",
        "The `status` filter is not one of the documented values.",
    ),
    (
        "invalid_link_status",
        "`link_status` is linked, needs_reconnect or unlinked.",
    ),
    ("invalid_wait", "`wait` is limited to 60 seconds."),
    ("invalid_since", "`since` is in the future."),
    (
        "invalid_period",
        "A report's `from` is after its `to`, or the period is over 366 days.",
    ),
    // Authentication, scopes, rate limits.
    ("missing_api_key", "No `Authorization: Bearer pk_…` header."),
    ("invalid_api_key", "The API key is not valid."),
    ("api_key_revoked", "The API key was revoked."),
    ("api_key_expired", "The API key has expired."),
    (
        "insufficient_scope",
        "The operation needs an integrator-wide key, the key cannot grant what is asked, or the key is read-only and the request is not a `GET`.",
    ),
    (
        "rate_limited",
        "Too many requests for this API key; see `Retry-After`.",
    ),
    (
        "not_found",
        "No such object in the key's scope (another tenant's objects are never found).",
    ),
    // Idempotency.
    (
        "invalid_idempotency_key",
        "`Idempotency-Key` must be 1–255 visible ASCII characters.",
    ),
    (
        "idempotency_key_reused",
        "The `Idempotency-Key` was used before with a different request.",
    ),
    (
        "idempotency_request_in_progress",
        "A request with this `Idempotency-Key` is still running; retry later.",
    ),
    // Payment intents.
    (
        "amount_out_of_range",
        "The amount is outside the limits of the seller's site.",
    ),
    (
        "invalid_description",
        "The description is too long or not printable.",
    ),
    (
        "invalid_external_reference",
        "The external reference has characters Mercado Pago rejects.",
    ),
    (
        "invalid_payment_type",
        "`payment.type` is credit_card, debit_card or qr.",
    ),
    (
        "invalid_installments",
        "Installments are only for credit cards, within the site's limits.",
    ),
    (
        "invalid_installments_cost",
        "`payment.installments_cost` is buyer or seller.",
    ),
    (
        "terminal_busy",
        "The terminal has an open intent (`details` names it).",
    ),
    (
        "terminal_not_integrated",
        "The terminal is not in PDV mode.",
    ),
    (
        "seller_not_linked",
        "The seller must be linked (again) first.",
    ),
    (
        "intent_not_cancelable",
        "The intent is already final (a canceled one answers 200).",
    ),
    (
        "intent_at_terminal",
        "The terminal holds the intent; send `at_terminal: true` to ask the terminal to cancel it.",
    ),
    (
        "cancel_refused",
        "Mercado Pago refused the cancel (`details.upstream_code` says why).",
    ),
    (
        "cancel_pending",
        "Mercado Pago has not answered the cancel yet; it stays requested and is retried.",
    ),
    (
        "concurrent_update",
        "The object changed at the same time; retry.",
    ),
    // Refunds.
    (
        "intent_not_refundable",
        "Only processed intents can be refunded.",
    ),
    (
        "invalid_refund_amount",
        "The amount is more than what is still refundable, or not positive.",
    ),
    // QR orders.
    ("invalid_title", "The QR order title is empty or too long."),
    (
        "invalid_expiry",
        "The expiry is in the past or too far ahead.",
    ),
    (
        "store_without_external_id",
        "The POS's store has no external id at Mercado Pago.",
    ),
    // API keys.
    ("invalid_name", "The name is empty or too long."),
    (
        "missing_scope_target",
        "A seller, store or POS key needs `scope_id`.",
    ),
    (
        "unexpected_scope_target",
        "An integrator-wide key takes no `scope_id`.",
    ),
    // Onboarding links and sellers.
    ("link_not_open", "The onboarding link is no longer open."),
    ("already_unlinked", "The seller is already unlinked."),
    // Webhook endpoints and deliveries.
    (
        "invalid_url",
        "The endpoint URL is not a valid http(s) URL.",
    ),
    (
        "url_not_allowed",
        "The endpoint URL points somewhere Puente does not deliver to.",
    ),
    (
        "invalid_event_type",
        "An event type is not one Puente sends.",
    ),
    (
        "invalid_seller",
        "The seller is not one of the integrator's.",
    ),
    (
        "too_many_endpoints",
        "The integrator has the most endpoints allowed.",
    ),
    ("delivery_pending", "The delivery is still being attempted."),
    (
        "endpoint_disabled",
        "The endpoint is disabled; enable it before replaying.",
    ),
    // Mercado Pago and the server.
    (
        "upstream_rejected",
        "Mercado Pago refused the request (`details.upstream_code`).",
    ),
    (
        "upstream_unavailable",
        "Mercado Pago is not answering now; retry.",
    ),
    (
        "refresh_in_progress",
        "The seller's credentials are being refreshed; retry.",
    ),
    (
        "application_not_configured",
        "The integrator's Mercado Pago application is not set up.",
    ),
    (
        "database_unavailable",
        "The database could not complete the request; retry.",
    ),
    (
        "internal_error",
        "Internal error (logged with the request id).",
    ),
    // Account and settings rules, shared with the dashboard's forms.
    ("invalid_email", "The email address is not valid."),
    ("email_taken", "The email address is already registered."),
    ("weak_password", "The password is too short."),
    (
        "invalid_sponsor_id",
        "The sponsor id is not a Mercado Pago user id.",
    ),
    (
        "sponsor_id_invalid",
        "The sponsor id is not a Mercado Pago user id.",
    ),
    (
        "client_id_invalid",
        "The Mercado Pago client id is not valid.",
    ),
    (
        "client_secret_required",
        "The Mercado Pago client secret is required.",
    ),
    ("secret_invalid", "The stored secret could not be used."),
    (
        "client_id_taken",
        "Another integrator already uses this Mercado Pago client id.",
    ),
    (
        "client_credentials_rejected",
        "Mercado Pago refused this client id and client secret.",
    ),
    (
        "user_id_mismatch",
        "An mp-connect notification's body names another seller than its signed `data.id`.",
    ),
    (
        "invalid_signature",
        "The notification's signature does not verify.",
    ),
    // Field rules named in an `invalid_body` message (`field: code`).
    (
        "label_invalid",
        "An onboarding link's label is over 120 characters or holds control characters.",
    ),
    (
        "ttl_invalid",
        "An onboarding link's `expires_in_hours` is not one of 1, 24, 72 or 168.",
    ),
    (
        "invalid_enabled",
        "A webhook endpoint's `enabled` is neither true nor false.",
    ),
    // The dashboard's team rules (core reasons; the API does not manage
    // users, so it never answers these).
    (
        "insufficient_role",
        "The dashboard user's role does not have the permission.",
    ),
    (
        "owner_only",
        "Only an owner may grant the owner role or change or remove an owner.",
    ),
    ("last_owner", "The integrator needs at least one owner."),
    ("invitation_expired", "The team invitation has expired."),
    ("invitation_used", "The team invitation was already used."),
    ("invitation_revoked", "The team invitation was revoked."),
];

pub fn codes() -> impl Iterator<Item = &'static str> {
    CODES.iter().map(|(code, _)| *code)
}
