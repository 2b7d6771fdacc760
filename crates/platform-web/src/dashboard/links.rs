//! `/app/links`: onboarding links to send to sellers.

use platform_core::clock;
use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use platform_core::entities::onboarding_links;
use platform_core::error::Invalid;
use platform_core::id::{OnboardingLinkId, SellerId};
use platform_core::onboarding::{self, LINK_TTL_CHOICES, NewLink};
use platform_core::paging::{Page, PageRequest};
use platform_core::permissions::Permission;
use platform_core::states::OnboardingLinkStatus;
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, invalid, ok, see_other, when};
use super::intents::nicknames;
use super::session::Auth;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/links.html")]
struct LinksPage {
    c: Chrome,
    links: Page<onboarding_links::Model>,
    label: String,
    ttl_choices: &'static [i64],
    ttl: i64,
    errors: FieldErrors,
    app_configured: bool,
    /// Seller id → nickname, for the links that were used.
    names: HashMap<SellerId, String>,
}

impl LinksPage {
    fn seller_name<'a>(&'a self, id: &'a SellerId) -> &'a str {
        self.names.get(id).map_or(id.as_str(), String::as_str)
    }
    fn status(&self, l: &onboarding_links::Model) -> &'static str {
        match onboarding::effective_status(l, clock::now()) {
            OnboardingLinkStatus::Open => "link.status_open",
            OnboardingLinkStatus::Used => "link.status_used",
            OnboardingLinkStatus::Expired => "link.status_expired",
            OnboardingLinkStatus::Revoked => "link.status_revoked",
        }
    }
    fn is_open(&self, l: &onboarding_links::Model) -> bool {
        onboarding::effective_status(l, clock::now()) == OnboardingLinkStatus::Open
    }
    fn when(&self, t: &chrono::DateTime<Utc>) -> String {
        when(t)
    }
}

#[derive(Template)]
#[template(path = "dash/link_created.html")]
pub struct LinkCreatedPage {
    pub c: Chrome,
    pub url: String,
    pub qr_svg: String,
    pub label: String,
    pub expires: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    before: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    ttl_hours: String,
}

async fn render_list(
    state: &AppState,
    auth: &Auth,
    before: Option<&str>,
    label: String,
    ttl: i64,
    errors: FieldErrors,
) -> Result<LinksPage, PageError> {
    let links = onboarding::list_links(&state.db, &auth.scope, &PageRequest::new(before, None))
        .await
        .page(auth.lang)?;
    let app = platform_core::integrator_app::view(&state.db, &auth.scope)
        .await
        .page(auth.lang)?;
    let names = nicknames(
        state,
        auth,
        links.items.iter().filter_map(|l| l.seller_id.as_ref()),
    )
    .await?;
    Ok(LinksPage {
        c: Chrome::new(auth, state, "links"),
        names,
        links,
        label,
        ttl_choices: LINK_TTL_CHOICES,
        ttl,
        errors,
        app_configured: app.client_id.is_some() && app.has_client_secret,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let page = render_list(
        &state,
        &auth,
        q.before.as_deref(),
        String::new(),
        168,
        FieldErrors::default(),
    )
    .await?;
    ok(&page, auth.lang)
}

pub fn link_url(state: &AppState, token: &str) -> String {
    state
        .settings
        .public_url
        .join(&format!("onboard/{token}"))
        .map(|u| u.to_string())
        .unwrap_or_default()
}

/// Shows a new link once: its token is not stored, so this is the only time
/// the URL can be seen (as with API keys). The page answers the POST itself,
/// so the token never sits in a redirect URL or the browser history.
pub fn created_page(
    state: &AppState,
    auth: &Auth,
    link: &onboarding_links::Model,
    token: &str,
) -> LinkCreatedPage {
    let url = link_url(state, token);
    LinkCreatedPage {
        c: Chrome::new(auth, state, "links"),
        qr_svg: super::qr::svg(&url),
        url,
        label: link.label.clone().unwrap_or_default(),
        expires: when(&link.expires_at),
    }
}

pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    auth.check_csrf(&form.csrf)?;
    let new = NewLink {
        label: form.label.clone(),
        ttl_hours: form.ttl_hours.trim().parse().unwrap_or(-1),
        seller_id: None,
    };
    let problems = onboarding::validate_link(&new);
    if !problems.is_empty() {
        let mut errors = FieldErrors::default();
        for reason in problems {
            errors.push(
                reason.field(),
                if reason == Invalid::LinkTtl {
                    "link.ttl_invalid"
                } else {
                    "link.label_invalid"
                },
            );
        }
        let label = form.label.chars().take(200).collect();
        let page = render_list(&state, &auth, None, label, 168, errors).await?;
        return invalid(&page, auth.lang);
    }
    let (link, token) = onboarding::create_link(&state.db, &auth.scope, &auth.actor(), new, None)
        .await
        .page(auth.lang)?;
    ok(
        &created_page(&state, &auth, &link, token.expose_secret()),
        auth.lang,
    )
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    auth.check_csrf(&form.csrf)?;
    let link_id = OnboardingLinkId::parse_or_not_found(&path).page(auth.lang)?;
    onboarding::revoke_link(&state.db, &auth.scope, &auth.actor(), &link_id)
        .await
        .page(auth.lang)?;
    Ok(see_other("/app/links?done=link_revoked"))
}
