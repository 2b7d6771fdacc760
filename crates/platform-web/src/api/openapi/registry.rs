//! Operations on the registry (sellers, stores, POS, terminals), onboarding
//! links and API keys; handlers in `api/registry.rs`, `api/automation.rs`
//! and `api/keys.rs`.

#![allow(dead_code)]

use crate::api::automation::{LinkIn, ListQuery as LinkListQuery, ModeIn};
use crate::api::keys::{KeyIn, KeyOut};
use crate::api::registry::PageQuery;

use super::schemas::{
    ErrorOut, KeyCreatedOut, KeyListOut, LinkCreatedOut, LinkPageOut, PosOut, PosPageOut,
    SellerOut, SellerPageOut, StoreOut, StorePageOut, TerminalModeOut, TerminalOut,
    TerminalPageOut,
};

/// One `list_*`/`get_*` pair per registry object.
macro_rules! registry_object {
    ($list:ident, $get:ident, $tag:literal, $path:literal, $list_id:literal, $get_id:literal,
     $page:ty, $one:ty, $filters:literal) => {
        #[utoipa::path(
            get, path = $path, tag = $tag, operation_id = $list_id,
            summary = concat!("List ", $tag, ", newest first"),
            description = concat!("Cursor pagination: pass `next_cursor` as `starting_after` \
                while `has_more` is true. Filters: ", $filters, "."),
            params(PageQuery),
            responses(
                (status = 200, description = "One page", body = $page),
                (status = 400, description = "`invalid_query`, `invalid_limit`, `invalid_link_status`", body = ErrorOut),
            ),
            security(("apiKey" = ["integrator", "seller", "store", "pos"])),
        )]
        fn $list() {}

        #[utoipa::path(
            get, path = concat!($path, "/{id}"), tag = $tag, operation_id = $get_id,
            summary = concat!("Get one of the ", $tag),
            params(("id" = String, Path, description = "The object's id")),
            responses(
                (status = 200, description = "The object", body = $one),
                (status = 404, description = "`not_found`", body = ErrorOut),
            ),
            security(("apiKey" = ["integrator", "seller", "store", "pos"])),
        )]
        fn $get() {}
    };
}

registry_object!(
    list_sellers,
    get_seller,
    "Sellers",
    "/v1/sellers",
    "listSellers",
    "getSeller",
    SellerPageOut,
    SellerOut,
    "`link_status`"
);
registry_object!(
    list_stores,
    get_store,
    "Stores",
    "/v1/stores",
    "listStores",
    "getStore",
    StorePageOut,
    StoreOut,
    "`seller_id`"
);
registry_object!(
    list_pos,
    get_pos,
    "POS",
    "/v1/pos",
    "listPos",
    "getPos",
    PosPageOut,
    PosOut,
    "`seller_id`, `store_id`"
);
registry_object!(
    list_terminals,
    get_terminal,
    "Terminals",
    "/v1/terminals",
    "listTerminals",
    "getTerminal",
    TerminalPageOut,
    TerminalOut,
    "`seller_id`, `store_id`, `pos_id`"
);

#[utoipa::path(
    patch, path = "/v1/terminals/{id}", tag = "Terminals",
    operation_id = "setTerminalMode",
    summary = "Switch a terminal between PDV and STANDALONE",
    description = "Changed at Mercado Pago, then here. Restart the terminal for the change to \
        take effect.",
    request_body = ModeIn,
    params(("id" = String, Path, description = "The terminal's id (`trm_…`)")),
    responses(
        (status = 200, description = "The terminal, in its new mode", body = TerminalModeOut),
        (status = 400, description = "`invalid_json`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`seller_not_linked`", body = ErrorOut),
        (status = 422, description = "`invalid_body` (`details` lists the fields), `upstream_rejected`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn set_terminal_mode() {}

#[utoipa::path(
    post, path = "/v1/onboarding-links", tag = "Onboarding links",
    operation_id = "createOnboardingLink",
    summary = "Create a link a seller opens to connect their Mercado Pago account",
    request_body = LinkIn,
    params(super::IdempotencyKey),
    responses(
        (status = 201, description = "The link with its URL, shown once", body = LinkCreatedOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 400, description = "`invalid_json`, `invalid_idempotency_key`", body = ErrorOut),
        (status = 403, description = "`insufficient_scope`: only integrator-wide keys", body = ErrorOut),
        (status = 404, description = "`not_found`: the seller to re-link", body = ErrorOut),
        (status = 409, description = "`idempotency_request_in_progress`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `idempotency_key_reused`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn create_onboarding_link() {}

#[utoipa::path(
    get, path = "/v1/onboarding-links", tag = "Onboarding links",
    operation_id = "listOnboardingLinks",
    summary = "List onboarding links, newest first",
    params(LinkListQuery),
    responses(
        (status = 200, description = "One page", body = LinkPageOut),
        (status = 400, description = "`invalid_query`", body = ErrorOut),
        (status = 403, description = "`insufficient_scope`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn list_onboarding_links() {}

#[utoipa::path(
    delete, path = "/v1/onboarding-links/{id}", tag = "Onboarding links",
    operation_id = "revokeOnboardingLink",
    summary = "Revoke an open onboarding link",
    params(("id" = String, Path, description = "The link's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "`insufficient_scope`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
        (status = 409, description = "`link_not_open`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn revoke_onboarding_link() {}

#[utoipa::path(
    post, path = "/v1/api-keys", tag = "API keys",
    operation_id = "createApiKey",
    summary = "Create an API key, shown once",
    description = "The new key has the mode of the key that creates it and at most its scope.",
    request_body = KeyIn,
    params(super::IdempotencyKey),
    responses(
        (status = 201, description = "The key with its secret", body = KeyCreatedOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 400, description = "`invalid_json`, `invalid_idempotency_key`", body = ErrorOut),
        (status = 403, description = "`insufficient_scope`", body = ErrorOut),
        (status = 404, description = "`not_found`: the scope target", body = ErrorOut),
        (status = 409, description = "`idempotency_request_in_progress`", body = ErrorOut),
        (status = 422, description = "`invalid_body`, `invalid_name`, `invalid_expiry`, `missing_scope_target`, `unexpected_scope_target`, `idempotency_key_reused`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn create_api_key() {}

#[utoipa::path(
    get, path = "/v1/api-keys", tag = "API keys",
    operation_id = "listApiKeys",
    summary = "List the API keys within the key's scope",
    responses((status = 200, description = "Every key", body = KeyListOut)),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn list_api_keys() {}

#[utoipa::path(
    delete, path = "/v1/api-keys/{id}", tag = "API keys",
    operation_id = "revokeApiKey",
    summary = "Revoke an API key",
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The revoked key", body = KeyOut),
        (status = 403, description = "`insufficient_scope`", body = ErrorOut),
        (status = 404, description = "`not_found`", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn revoke_api_key() {}
