//! Route table: every path the sandbox serves.

use crate::errors::ApiError;
use crate::sandbox::Sandbox;
use crate::{
    accounts, faults, helpers, oauth, orders, pages, payments, point_legacy as pl, pos, qr, qr_pay,
    stores, terminals,
};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, ResponseError, web};

/// Mounts the sandbox on an actix `ServiceConfig`.
pub fn configure(cfg: &mut web::ServiceConfig, sandbox: web::Data<Sandbox>) {
    cfg.app_data(sandbox)
        .app_data(web::PayloadConfig::new(1 << 20))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::classic(400, "bad_request", format!("invalid query: {e}")).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|e, _| {
            ApiError::classic(400, "bad_request", format!("invalid path: {e}")).into()
        }))
        .service(
            web::scope("")
                .wrap(from_fn(faults::middleware))
                // Orders, Terminals and Payments first: the hot path of every
                // benchmark. Actix tries routes in order and each dynamic one
                // before the match costs a regex run (~2,500 instructions).
                // Orders + Terminals
                .route("/v1/orders", web::post().to(orders::create))
                .route("/v1/orders", web::get().to(orders::search))
                .route("/v1/orders/{id}", web::get().to(orders::get))
                .route("/v1/orders/{id}/cancel", web::post().to(orders::cancel))
                .route("/v1/orders/{id}/refund", web::post().to(orders::refund))
                .route("/v1/orders/{id}/events", web::post().to(orders::events))
                .route("/terminals/v1/list", web::get().to(terminals::list))
                .route("/terminals/v1/setup", web::patch().to(terminals::setup))
                // Payments API (terminal and QR payments) and their refunds
                .route("/v1/payments/search", web::get().to(payments::search))
                .route("/v1/payments/{id}", web::get().to(payments::get))
                .route(
                    "/v1/payments/{id}/refunds",
                    web::get().to(payments::list_refunds),
                )
                // The official Node SDK's PaymentRefund.list asks for the list with a
                // trailing slash (mercadopago 3.6.1, dist/clients/paymentRefund/list).
                .route(
                    "/v1/payments/{id}/refunds/",
                    web::get().to(payments::list_refunds),
                )
                .route(
                    "/v1/payments/{id}/refunds",
                    web::post().to(payments::create_refund),
                )
                .route(
                    "/v1/payments/{id}/refunds/{refund_id}",
                    web::get().to(payments::get_refund),
                )
                // OAuth
                .route("/authorization", web::get().to(pages::authorization_get))
                .route("/authorization", web::post().to(pages::authorization_post))
                .route("/oauth/token", web::post().to(oauth::token))
                // Accounts
                .route("/users/me", web::get().to(accounts::me))
                .route("/users/test_user", web::post().to(accounts::test_user))
                .route("/users/test", web::post().to(accounts::test))
                // Stores
                .route(
                    "/users/{user_id}/stores/search",
                    web::get().to(stores::search),
                )
                .route("/users/{user_id}/stores", web::post().to(stores::create))
                .route(
                    "/users/{user_id}/stores/{id}",
                    web::put().to(stores::update),
                )
                .route(
                    "/users/{user_id}/stores/{id}",
                    web::delete().to(stores::delete),
                )
                .route("/stores/{id}", web::get().to(stores::get))
                // POS
                .route("/pos", web::post().to(pos::create))
                .route("/pos", web::get().to(pos::search))
                .route("/pos/{id}", web::get().to(pos::get))
                .route("/pos/{id}", web::put().to(pos::update))
                .route("/pos/{id}", web::delete().to(pos::delete))
                .route("/v2/pos", web::post().to(pos::v2_create))
                .route("/v2/pos", web::get().to(pos::v2_search))
                .route("/v2/pos/{id}", web::get().to(pos::v2_get))
                .route("/v2/pos/{id}", web::patch().to(pos::v2_patch))
                .route("/v2/pos/{id}", web::delete().to(pos::v2_delete))
                // Point legacy Integration API
                .route("/point/integration-api/devices", web::get().to(pl::devices))
                .route(
                    "/point/integration-api/devices/{device}",
                    web::patch().to(pl::patch_device),
                )
                .route(
                    "/point/integration-api/devices/{device}/payment-intents",
                    web::post().to(pl::create_intent),
                )
                .route(
                    "/point/integration-api/devices/{device}/payment-intents/{id}",
                    web::delete().to(pl::cancel_intent),
                )
                .route(
                    "/point/integration-api/payment-intents/events",
                    web::get().to(pl::intent_events),
                )
                .route(
                    "/point/integration-api/payment-intents/{id}",
                    web::get().to(pl::get_intent),
                )
                .route(
                    "/point/integration-api/payment-intents/{id}/events",
                    web::get().to(pl::intent_last_event),
                )
                .route(
                    "/point/integration-api/devices/{device}/refund",
                    web::post().to(pl::create_refund),
                )
                .route(
                    "/point/integration-api/devices/{device}/refund/{id}",
                    web::delete().to(pl::cancel_refund),
                )
                .route(
                    "/point/integration-api/refund/{id}",
                    web::get().to(pl::get_refund),
                )
                .route(
                    "/point/integration-api/integrator",
                    web::get().to(pl::get_integrator),
                )
                .route(
                    "/point/integration-api/integrator",
                    web::patch().to(pl::patch_integrator),
                )
                // QR in-store
                .route(
                    "/instore/qr/seller/collectors/{user_id}/stores/{store}/pos/{pos}/orders",
                    web::put().to(qr::put_v2),
                )
                .route(
                    "/instore/qr/seller/collectors/{user_id}/pos/{pos}/orders",
                    web::put().to(qr::put_v2_nostore),
                )
                .route(
                    "/instore/qr/seller/collectors/{user_id}/pos/{pos}/orders",
                    web::get().to(qr::get_v2),
                )
                .route(
                    "/instore/qr/seller/collectors/{user_id}/pos/{pos}/orders",
                    web::delete().to(qr::delete_v2),
                )
                .route(
                    "/mpmobile/instore/qr/{user_id}/{external_id}",
                    web::post().to(qr::post_legacy),
                )
                // Test helpers
                .route("/sandbox", web::get().to(pages::console))
                .route(
                    "/sandbox/ui/terminals/{id}/{action}",
                    web::post().to(pages::console_action),
                )
                .route(
                    "/sandbox/applications",
                    web::post().to(helpers::create_application),
                )
                .route(
                    "/sandbox/applications/{client_id}",
                    web::get().to(helpers::get_application),
                )
                .route(
                    "/sandbox/applications/{client_id}",
                    web::patch().to(helpers::patch_application),
                )
                .route("/sandbox/sellers", web::post().to(helpers::create_seller))
                .route(
                    "/sandbox/sellers/{user_id}",
                    web::get().to(helpers::get_seller),
                )
                .route(
                    "/sandbox/sellers/{user_id}/tokens",
                    web::post().to(helpers::issue_tokens),
                )
                .route(
                    "/sandbox/sellers/{user_id}/revoke",
                    web::post().to(helpers::revoke),
                )
                .route(
                    "/sandbox/sellers/{user_id}/deauthorize",
                    web::post().to(helpers::deauthorize),
                )
                .route("/sandbox/authorize", web::post().to(helpers::authorize))
                .route(
                    "/sandbox/terminals/{id}",
                    web::get().to(helpers::terminal_get),
                )
                .route(
                    "/sandbox/terminals/{id}",
                    web::patch().to(helpers::terminal_patch),
                )
                .route(
                    "/sandbox/terminals/{id}/{action}",
                    web::post().to(helpers::terminal_action),
                )
                .route("/sandbox/charges", web::get().to(helpers::charges))
                .route("/sandbox/stats", web::get().to(helpers::stats))
                .route("/sandbox/qr/pay", web::post().to(qr_pay::pay))
                .route(
                    "/sandbox/notifications",
                    web::get().to(helpers::notifications),
                )
                .route(
                    "/sandbox/notifications/{id}/resend",
                    web::post().to(helpers::notification_resend),
                )
                .route("/sandbox/faults", web::post().to(helpers::add_fault))
                .route("/sandbox/faults", web::get().to(helpers::list_faults))
                .route("/sandbox/faults", web::delete().to(helpers::clear_faults))
                .route(
                    "/sandbox/faults/{id}",
                    web::delete().to(helpers::delete_fault),
                )
                .route("/sandbox/clock", web::get().to(helpers::clock_get))
                .route(
                    "/sandbox/clock/advance",
                    web::post().to(helpers::clock_advance),
                )
                .default_service(web::to(not_found)),
        );
}

async fn not_found() -> HttpResponse {
    ApiError::not_found_route().error_response()
}
