//! `/app`: the integrator's start page, and `/`, which leads to it.

use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::audit;
use platform_core::entities::audit_log;
use platform_core::paging::PageRequest;
use platform_core::states::LinkStatus;
use platform_core::{integrator_app, registry, sellers};

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{ok, when};
use super::session::Auth;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/overview.html")]
struct Overview {
    c: Chrome,
    org_name: String,
    app_configured: bool,
    linked: u64,
    reconnect: u64,
    terminals: u64,
    recent: Vec<audit_log::Model>,
}

impl Overview {
    fn when(&self, e: &audit_log::Model) -> String {
        when(&e.created_at)
    }
}

pub async fn page(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, PageError> {
    let lang = auth.lang;
    let db = &state.db;
    let app = integrator_app::view(db, &auth.scope).await.page(lang)?;
    let count = |status: LinkStatus| sellers::count_with_status(db, &auth.scope, status);
    let linked = count(LinkStatus::Linked).await.page(lang)?;
    let reconnect = count(LinkStatus::NeedsReconnect).await.page(lang)?;
    let terminals = registry::terminal_count(db, &auth.scope).await.page(lang)?;
    let recent = audit::list(db, &auth.scope, None, None, &PageRequest::first(8))
        .await
        .page(lang)?;
    let page = Overview {
        c: Chrome::new(&auth, &state, "home"),
        org_name: app.name,
        app_configured: app.client_id.is_some() && app.has_client_secret,
        linked,
        reconnect,
        terminals,
        recent: recent.items,
    };
    ok(&page, lang)
}
