//! `/app/test-sellers` (sandbox mode only): makes a test seller account on
//! the sandbox, with terminals, and an onboarding link to link it through
//! the real OAuth flow (its nickname and password log in on the sandbox's
//! authorization page).

use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::onboarding::{self, NewLink};
use platform_core::permissions::Permission;
use platform_core::states::Site;
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, invalid, ok, render};
use super::links::link_url;
use super::session::Auth;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/test_sellers.html")]
struct TestSellersPage {
    c: Chrome,
    sites: &'static [Site],
    site: String,
    terminals: String,
    errors: FieldErrors,
    error: Option<String>,
    created: Option<Created>,
    /// The sandbox console, which lists every test account's nickname and
    /// password (the authorization page asks for them).
    console_url: String,
}

struct Created {
    nickname: String,
    password: String,
    user_id: String,
    url: String,
    qr_svg: String,
}

#[derive(Deserialize, Default)]
pub struct Form {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    terminals: String,
}

fn sandbox_only(state: &AppState, auth: &Auth) -> Result<String, PageError> {
    match (&state.sandbox_url, state.settings.sandbox_mode()) {
        (Some(url), true) => Ok(url.clone()),
        _ => Err(PageError::not_found(auth.lang)),
    }
}

fn page(auth: &Auth, state: &AppState) -> TestSellersPage {
    TestSellersPage {
        console_url: state
            .sandbox_url
            .as_deref()
            .map(|u| format!("{}/sandbox", u.trim_end_matches('/')))
            .unwrap_or_default(),
        c: Chrome::new(auth, state, "test_sellers"),
        sites: Site::ALL,
        site: "MLB".into(),
        terminals: "1".into(),
        errors: FieldErrors::default(),
        error: None,
        created: None,
    }
}

pub async fn show(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, PageError> {
    sandbox_only(&state, &auth)?;
    ok(&page(&auth, &state), auth.lang)
}

pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<Form>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let sandbox = sandbox_only(&state, &auth)?;
    auth.check_csrf(&form.csrf)?;
    let mut p = page(&auth, &state);
    p.site = form.site.chars().take(3).collect();
    p.terminals = form.terminals.chars().take(3).collect();
    let site = Site::parse(form.site.trim());
    let count = form
        .terminals
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= 5);
    if site.is_none() {
        p.errors.push("site", "test.site_invalid");
    }
    if count.is_none() {
        p.errors.push("terminals", "test.terminals_invalid");
    }
    let app = platform_core::integrator_app::view(&state.db, &auth.scope)
        .await
        .page(auth.lang)?;
    let Some(client_id) = app.client_id.filter(|_| app.has_client_secret) else {
        p.error = Some(auth.t().get("links.app_missing").to_owned());
        return invalid(&p, auth.lang);
    };
    let (Some(site), Some(count)) = (site, count) else {
        return invalid(&p, auth.lang);
    };
    let account =
        match crate::sandbox_accounts::create(&sandbox, &client_id, site, count, None).await {
            Ok(a) => a,
            Err(msg) => {
                tracing::warn!(error = %msg, "sandbox test seller");
                p.error = Some(auth.t().get("upstream.down").to_owned());
                return render(actix_web::http::StatusCode::BAD_GATEWAY, &p, auth.lang);
            }
        };
    let label = format!("{} ({})", account.nickname, site.as_str());
    let (_, token) = onboarding::create_link(
        &state.db,
        &auth.scope,
        &auth.actor(),
        NewLink {
            label,
            ttl_hours: 24,
            seller_id: None,
        },
        None,
    )
    .await
    .page(auth.lang)?;
    let url = link_url(&state, token.expose_secret());
    p.created = Some(Created {
        qr_svg: super::qr::svg(&url),
        url,
        nickname: account.nickname,
        password: account.password,
        user_id: account.user_id,
    });
    ok(&p, auth.lang)
}
