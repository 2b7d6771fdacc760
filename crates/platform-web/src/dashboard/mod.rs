//! The integrator dashboard under `/app` (askama templates in `templates/`).
//!
//! Every page takes an [`session::Auth`] (logged-in user, scoped to their
//! integrator), reads and writes only through that `Scope` (another
//! integrator's id in a URL is a 404 page), and every form carries the
//! session's CSRF token, is validated here, and on bad input is shown again
//! with its errors and changes nothing.

mod api_keys;
mod audit_page;
mod auth_pages;
mod charts;
pub mod chrome;
mod deliveries;
pub mod errors;
mod exports;
pub mod forms;
pub mod headers;
mod intent_form;
mod intents;
mod invite;
pub mod lang;
pub(crate) mod links;
mod live;
mod messages;
mod once;
mod overview;
mod qr;
mod refunds;
mod registry_forms;
mod sellers;
pub mod session;
pub mod settings;
mod team;
mod terminals;
mod test_sellers;
mod webhook_endpoint;
mod webhooks;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/app")
            .wrap(headers::security_headers())
            .route("", web::get().to(overview::page))
            .route("/", web::get().to(overview::page))
            .route("/login", web::get().to(auth_pages::login_form))
            .route("/login", web::post().to(auth_pages::login))
            .route("/signup", web::get().to(auth_pages::signup_form))
            .route("/signup", web::post().to(auth_pages::signup))
            .route("/logout", web::post().to(auth_pages::logout))
            .route("/lang/{code}", web::get().to(auth_pages::switch_lang))
            .route("/settings", web::get().to(settings::page))
            .route("/settings", web::post().to(settings::save))
            .route("/links", web::get().to(links::list))
            .route("/links", web::post().to(links::create))
            .route("/links/{id}/revoke", web::post().to(links::revoke))
            .route("/sellers", web::get().to(sellers::list))
            .route("/sellers/{id}", web::get().to(sellers::detail))
            .route("/sellers/{id}/sync", web::post().to(sellers::sync))
            .route("/sellers/{id}/unlink", web::post().to(sellers::unlink))
            .route("/sellers/{id}/relink", web::post().to(sellers::relink))
            .route(
                "/sellers/{id}/stores/new",
                web::get().to(registry_forms::new_store),
            )
            .route(
                "/sellers/{id}/stores/new",
                web::post().to(registry_forms::create_store),
            )
            .route(
                "/stores/{id}/edit",
                web::get().to(registry_forms::edit_store),
            )
            .route(
                "/stores/{id}/edit",
                web::post().to(registry_forms::update_store),
            )
            .route(
                "/stores/{id}/pos/new",
                web::get().to(registry_forms::new_pos),
            )
            .route(
                "/stores/{id}/pos/new",
                web::post().to(registry_forms::create_pos),
            )
            .route("/pos/{id}/edit", web::get().to(registry_forms::edit_pos))
            .route("/pos/{id}/edit", web::post().to(registry_forms::update_pos))
            .route("/terminals", web::get().to(terminals::list))
            .route("/terminals/{id}", web::get().to(terminals::detail))
            .route("/terminals/{id}/mode", web::post().to(terminals::set_mode))
            .route("/intents", web::get().to(intents::list))
            .route("/intents", web::post().to(intent_form::create))
            .route("/intents/new", web::get().to(intent_form::new_form))
            .route("/intents/export.csv", web::get().to(intents::export))
            .route("/refunds/export.csv", web::get().to(exports::refunds))
            .route("/reports/daily.csv", web::get().to(exports::daily))
            .route("/intents/stream", web::get().to(live::intents))
            .route("/intents/{id}", web::get().to(intents::detail))
            .route("/intents/{id}/cancel", web::post().to(intents::cancel))
            .route("/intents/{id}/refunds", web::post().to(refunds::create))
            .route("/api-keys", web::get().to(api_keys::list))
            .route("/api-keys", web::post().to(api_keys::create))
            .route("/api-keys/{id}/revoke", web::post().to(api_keys::revoke))
            .route("/webhooks", web::get().to(webhooks::list))
            .route("/webhooks", web::post().to(webhooks::create))
            .route("/webhooks/{id}", web::get().to(webhook_endpoint::detail))
            .route(
                "/webhooks/{id}/deliveries.csv",
                web::get().to(exports::deliveries),
            )
            .route("/webhooks/{id}", web::post().to(webhook_endpoint::update))
            .route(
                "/webhooks/{id}/enabled",
                web::post().to(webhook_endpoint::set_enabled),
            )
            .route(
                "/webhooks/{id}/rotate",
                web::post().to(webhook_endpoint::rotate),
            )
            .route(
                "/webhooks/{id}/delete",
                web::post().to(webhook_endpoint::delete),
            )
            .route(
                "/webhooks/{id}/replay",
                web::post().to(webhook_endpoint::replay_since),
            )
            .route("/deliveries/{id}", web::get().to(deliveries::detail))
            .route(
                "/deliveries/{id}/replay",
                web::post().to(deliveries::replay),
            )
            .route("/test-sellers", web::get().to(test_sellers::show))
            .route("/test-sellers", web::post().to(test_sellers::create))
            .route("/audit", web::get().to(audit_page::list))
            .route("/team", web::get().to(team::page))
            .route("/team/invitations", web::post().to(team::invite))
            .route(
                "/team/invitations/{id}/revoke",
                web::post().to(team::revoke_invitation),
            )
            .route("/team/members/{id}/role", web::post().to(team::change_role))
            .route("/team/members/{id}/remove", web::post().to(team::remove))
            .route("/invite/{token}", web::get().to(invite::form))
            .route("/invite/{token}", web::post().to(invite::accept))
            .default_service(web::to(not_found)),
    );
}

async fn not_found(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, errors::PageError> {
    Err(errors::PageError::not_found(lang::Lang::of_request(&req)))
}
