//! `/app/audit`: who did what, newest first.

use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::audit;
use platform_core::entities::audit_log;
use platform_core::paging::{Page, PageRequest};
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{ok, urlencode, when};
use super::session::Auth;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct Query {
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "dash/audit.html")]
struct AuditPage {
    c: Chrome,
    rows: Page<audit_log::Model>,
    action: String,
    target: String,
    filter_query: String,
}

impl AuditPage {
    fn when(&self, e: &audit_log::Model) -> String {
        when(&e.created_at)
    }
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    let action: String = q.action.trim().chars().take(60).collect();
    let target: String = q.target.trim().chars().take(60).collect();
    let rows = audit::list(
        &state.db,
        &auth.scope,
        Some(&action),
        Some(&target),
        &PageRequest::new(q.before.as_deref(), Some(50)),
    )
    .await
    .page(auth.lang)?;
    let page = AuditPage {
        c: Chrome::new(&auth, &state, "audit"),
        rows,
        filter_query: format!(
            "action={}&target={}",
            urlencode(&action),
            urlencode(&target)
        ),
        action,
        target,
    };
    ok(&page, auth.lang)
}
