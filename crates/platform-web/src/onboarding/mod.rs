//! Seller onboarding over Mercado Pago OAuth, as the seller sees it:
//! `/onboard/{token}` says who is asking and why, its form sends the browser
//! to Mercado Pago, and `/oauth/callback` finishes and shows the outcome.
//! Every failure has its own page; none leaves anything half-done (see
//! `platform_core::onboarding`).
//!
//! The OAuth `state` is bound to the browser that set out: leaving for
//! Mercado Pago sets a cookie holding it, and the callback is refused
//! without that cookie. A callback URL made in someone else's browser (to
//! link the victim's session to the attacker's account, or the reverse)
//! does nothing.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use platform_core::onboarding::{self, Callback, OnboardingError};
use serde::Deserialize;

use crate::dashboard::forms::render;
use crate::dashboard::headers::security_headers;
use crate::dashboard::lang::{Lang, Tr};
use crate::dashboard::session::{
    anon_csrf, check_anon_csrf, client_ip, constant_time_eq, secure_cookies,
};
use crate::dashboard::settings::redirect_url;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/onboard")
            .wrap(security_headers())
            .route("/{token}", web::get().to(landing))
            .route("/{token}", web::post().to(go)),
    )
    .service(
        web::resource("/oauth/callback")
            .wrap(security_headers())
            .route(web::get().to(callback)),
    );
}

#[derive(Template)]
#[template(path = "onboard/landing.html")]
struct Landing {
    t: Tr,
    integrator: String,
    label: Option<String>,
    relink: bool,
    csrf: String,
    token: String,
}

#[derive(Template)]
#[template(path = "onboard/result.html")]
struct ResultPage {
    t: Tr,
    ok: bool,
    code: &'static str,
    title: &'static str,
    text: &'static str,
    integrator: String,
    nickname: String,
    terminals: usize,
}

fn failure_page(t: Tr, e: &OnboardingError) -> (StatusCode, ResultPage) {
    use OnboardingError::*;
    let status = match e {
        LinkNotFound | StateUnknown => StatusCode::NOT_FOUND,
        LinkExpired | LinkUsed | LinkRevoked | StateReused | StateExpired => StatusCode::GONE,
        Denied => StatusCode::OK,
        LinkedElsewhere | AlreadyLinked | WrongAccount => StatusCode::CONFLICT,
        ExchangeFailed | UnsupportedSite | AppNotConfigured | StateOtherBrowser => {
            StatusCode::BAD_REQUEST
        }
        UpstreamDown => StatusCode::BAD_GATEWAY,
        Core(err) => {
            tracing::error!(error = %err, "onboarding failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let (title, text) = message_keys(e);
    let page = ResultPage {
        t,
        ok: false,
        code: e.code(),
        title: t.get(title),
        text: t.get(text),
        integrator: String::new(),
        nickname: String::new(),
        terminals: 0,
    };
    (status, page)
}

/// The page's (title, text) message keys: `onboard.<code>.title` / `.text`.
/// Exhaustive, so a new refusal cannot ship without its words.
fn message_keys(e: &OnboardingError) -> (&'static str, &'static str) {
    use OnboardingError::*;
    macro_rules! keys {
        ($($variant:ident => $code:literal),* $(,)?) => {
            match e {
                $($variant => (
                    concat!("onboard.", $code, ".title"),
                    concat!("onboard.", $code, ".text"),
                ),)*
                Core(_) => ("onboard.internal_error.title", "onboard.internal_error.text"),
            }
        };
    }
    keys!(
        LinkNotFound => "link_not_found",
        LinkExpired => "link_expired",
        LinkUsed => "link_used",
        LinkRevoked => "link_revoked",
        AppNotConfigured => "app_not_configured",
        Denied => "denied",
        StateUnknown => "state_unknown",
        StateReused => "state_reused",
        StateExpired => "state_expired",
        StateOtherBrowser => "state_other_browser",
        ExchangeFailed => "exchange_failed",
        UpstreamDown => "upstream_down",
        LinkedElsewhere => "linked_elsewhere",
        AlreadyLinked => "already_linked",
        WrongAccount => "wrong_account",
        UnsupportedSite => "unsupported_site",
    )
}

/// Onboarding pages post to Mercado Pago's authorization host as well.
fn with_csp(mut res: HttpResponse, state: &AppState) -> HttpResponse {
    let auth = state.mp.auth_base();
    let origin = auth.origin().ascii_serialization();
    let csp = crate::dashboard::headers::DASHBOARD_CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    );
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&csp) {
        res.headers_mut()
            .insert(actix_web::http::header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

async fn landing(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, crate::dashboard::errors::PageError> {
    let lang = Lang::of_request(&req);
    let t = Tr(lang);
    match onboarding::open_link(&state.db, &path).await {
        Ok(open) => {
            let (csrf, cookie) = anon_csrf(&state, &req);
            let page = Landing {
                t,
                integrator: open.integrator.name,
                label: open.link.label,
                relink: open.link.seller_id.is_some(),
                csrf,
                token: path.into_inner(),
            };
            let mut res = render(StatusCode::OK, &page, lang)?;
            if let Some(c) = cookie {
                let _ = res.add_cookie(&c);
            }
            Ok(with_csp(res, &state))
        }
        Err(e) => {
            let (status, page) = failure_page(t, &e);
            render(status, &page, lang)
        }
    }
}

#[derive(Deserialize, Default)]
struct GoForm {
    #[serde(default)]
    csrf: String,
}

async fn go(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<GoForm>,
) -> Result<HttpResponse, crate::dashboard::errors::PageError> {
    let lang = Lang::of_request(&req);
    check_anon_csrf(&req, &form.csrf, lang)?;
    match onboarding::begin(
        &state.db,
        &state.keyring,
        &state.mp,
        &path,
        &redirect_url(&state),
    )
    .await
    {
        Ok(url) => {
            let mut res = HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, url.as_str()))
                .finish();
            if let Some(s) = state_of(&url) {
                let _ = res.add_cookie(&state_cookie(&state, s));
            }
            Ok(res)
        }
        Err(e) => {
            let (status, page) = failure_page(Tr(lang), &e);
            render(status, &page, lang)
        }
    }
}

/// Holds the `state` of the attempt this browser set out on. `Lax`: the
/// callback is a top-level navigation from Mercado Pago's site.
const STATE_COOKIE: &str = "puente_oauth_state";

fn state_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
}

fn state_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let ttl = platform_core::onboarding::STATE_TTL.num_seconds();
    Cookie::build(STATE_COOKIE, value)
        .path("/oauth/callback")
        .http_only(true)
        .secure(secure_cookies(state))
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(ttl))
        .finish()
}

/// Whether this browser set out on the attempt named by `state`.
fn same_browser(req: &HttpRequest, state: &str) -> bool {
    req.cookie(STATE_COOKIE)
        .is_some_and(|c| constant_time_eq(c.value().as_bytes(), state.as_bytes()))
}

#[derive(Deserialize, Default)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, crate::dashboard::errors::PageError> {
    let lang = Lang::of_request(&req);
    let t = Tr(lang);
    let q = q.into_inner();
    if let Some(s) = &q.state
        && !same_browser(&req, s)
    {
        let e = OnboardingError::StateOtherBrowser;
        tracing::info!(code = e.code(), "onboarding callback refused");
        let (status, page) = failure_page(t, &e);
        return render(status, &page, lang);
    }
    let cb = Callback {
        state: q.state,
        code: q.code,
        error: q.error,
    };
    let done = onboarding::complete(
        &state.db,
        &state.keyring,
        &state.mp,
        &redirect_url(&state),
        cb,
        client_ip(&req),
    )
    .await;
    match done {
        Ok(linked) => {
            let page = ResultPage {
                t,
                ok: true,
                code: if linked.relinked {
                    "relinked"
                } else {
                    "linked"
                },
                title: t.get("onboard.success.title"),
                text: t.get("onboard.success.text"),
                integrator: linked.integrator_name,
                nickname: linked.seller.nickname,
                terminals: linked.terminals,
            };
            render(StatusCode::OK, &page, lang)
        }
        Err(e) => {
            tracing::info!(code = e.code(), "onboarding callback refused");
            let (status, page) = failure_page(t, &e);
            render(status, &page, lang)
        }
    }
}
