//! Sign-up, login, logout and the language switch.

use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use platform_core::CoreError;
use platform_core::accounts::{self, NewIntegrator};
use platform_core::audit::{self, Actor};
use platform_core::config::Signup;
use platform_core::error::Invalid;
use platform_core::secret::SecretString;
use platform_core::sessions::{self, LoginError};
use serde::Deserialize;

use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, see_other};
use super::lang::{LANG_COOKIE, Lang, Tr};
use super::session::{self as sess, Auth};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    t: Tr,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
    /// Whether to offer the sign-up page (`PUENTE_SIGNUP`).
    signup_open: bool,
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupPage {
    t: Tr,
    csrf: String,
    form: SignupForm,
    errors: FieldErrors,
    /// A message for the whole form (too many sign-ups).
    form_error: Option<&'static str>,
}

fn signup_open(state: &AppState) -> bool {
    state.settings.signup == Signup::Open
}

/// Sign-ups are off (`PUENTE_SIGNUP=closed`): the pages do not exist.
fn signup_allowed(state: &AppState, lang: Lang) -> Result<(), PageError> {
    if signup_open(state) {
        Ok(())
    } else {
        Err(PageError::not_found(lang))
    }
}

/// The sign-up throttle's key: the client network (IPv6 by /64).
fn signup_network(req: &HttpRequest) -> String {
    let ip = sess::client_ip(req).unwrap_or_default();
    format!("signup:{}", platform_core::sessions::throttle_net(&ip))
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize, Default, Clone)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

fn html(
    status: actix_web::http::StatusCode,
    body: String,
    cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if let Some(c) = cookie {
        res.cookie(c);
    }
    res.body(body)
}

fn render(t: &impl Template, lang: Lang) -> Result<String, PageError> {
    t.render().map_err(|e| {
        tracing::error!(error = %e, "template");
        PageError::internal(lang)
    })
}

pub async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of_request(&req);
    let (csrf, cookie) = sess::anon_csrf(&state, &req);
    let page = LoginPage {
        t: Tr(lang),
        csrf,
        next: sess::safe_next(&q.next).to_owned(),
        email: String::new(),
        error: None,
        signup_open: signup_open(&state),
    };
    Ok(html(
        actix_web::http::StatusCode::OK,
        render(&page, lang)?,
        cookie,
    ))
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of_request(&req);
    sess::check_anon_csrf(&req, &form.csrf, lang)?;
    let t = Tr(lang);
    let ip = sess::client_ip(&req);
    let password = SecretString::from(form.password.clone());
    let refuse = |status, msg: String| -> Result<HttpResponse, PageError> {
        let page = LoginPage {
            t,
            csrf: form.csrf.clone(),
            next: sess::safe_next(&form.next).to_owned(),
            email: form.email.chars().take(254).collect(),
            error: Some(msg),
            signup_open: signup_open(&state),
        };
        Ok(html(status, render(&page, lang)?, None))
    };
    match sessions::login(
        &state.db,
        &state.password_checks,
        &form.email,
        &password,
        ip.as_deref(),
    )
    .await
    {
        Ok((token, session)) => {
            let _ = audit::record(
                &state.db,
                &session.user.integrator_id,
                &Actor::user(&session.user.id, ip),
                "user.logged_in",
                Some(audit::Target::User(&session.user.id)),
                None,
            )
            .await;
            let mut res = see_other(sess::safe_next(&form.next));
            res.add_cookie(&sess::session_cookie(&state, token.into_exposed()))
                .map_err(|_| PageError::internal(lang))?;
            Ok(res)
        }
        Err(LoginError::BadCredentials) => refuse(
            actix_web::http::StatusCode::UNAUTHORIZED,
            t.get("login.bad_credentials").to_owned(),
        ),
        Err(LoginError::Throttled { retry_after }) => refuse(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            t.with(
                "login.throttled",
                &retry_after.as_secs().div_ceil(60).to_string(),
            ),
        ),
        Err(LoginError::Core(e)) => Err(PageError::from_core(e, lang)),
    }
}

pub async fn signup_form(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of_request(&req);
    signup_allowed(&state, lang)?;
    let (csrf, cookie) = sess::anon_csrf(&state, &req);
    let page = SignupPage {
        t: Tr(lang),
        csrf,
        form: SignupForm::default(),
        errors: FieldErrors::default(),
        form_error: None,
    };
    Ok(html(
        actix_web::http::StatusCode::OK,
        render(&page, lang)?,
        cookie,
    ))
}

pub async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of_request(&req);
    signup_allowed(&state, lang)?;
    sess::check_anon_csrf(&req, &form.csrf, lang)?;
    let mut errors = FieldErrors::default();
    let mut form_error = None;
    let mut status = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    let network = signup_network(&req);
    let company = form.company.trim();
    if company.is_empty() || company.chars().count() > 120 {
        errors.push("company", "signup.company_invalid");
    }
    if form.name.trim().is_empty() || form.name.chars().count() > 120 {
        errors.push("name", "signup.name_invalid");
    }
    if accounts::normalize_email(&form.email).is_err() {
        errors.push("email", "signup.email_invalid");
    }
    if form.password.chars().count() < platform_core::password::MIN_PASSWORD_LEN
        || form.password.len() > 200
    {
        errors.push("password", "signup.password_short");
    } else if form.password != form.password2 {
        errors.push("password2", "signup.password_mismatch");
    }
    // The slot is taken before the account is made, so sign-ups sent at
    // once cannot pass the limit together.
    if errors.is_empty() && state.signup_limiter.check(&network).await.is_err() {
        form_error = Some("signup.too_many");
        status = actix_web::http::StatusCode::TOO_MANY_REQUESTS;
    } else if errors.is_empty() {
        let created = accounts::create_integrator(
            &state.db,
            &state.keyring,
            NewIntegrator {
                name: company.to_owned(),
                owner_email: form.email.clone(),
                owner_name: form.name.trim().to_owned(),
                owner_password: SecretString::from(form.password.clone()),
                mp_app: None,
                is_demo: false,
            },
        )
        .await;
        match created {
            Ok((org, user)) => {
                let ip = sess::client_ip(&req);
                audit::record(
                    &state.db,
                    &org.id,
                    &Actor::user(&user.id, ip.clone()),
                    "integrator.signed_up",
                    Some(audit::Target::Integrator(&org.id)),
                    None,
                )
                .await
                .page(lang)?;
                let (token, _) = sessions::open(&state.db, user, ip.as_deref())
                    .await
                    .page(lang)?;
                let mut res = see_other("/app/settings");
                res.add_cookie(&sess::session_cookie(&state, token.into_exposed()))
                    .map_err(|_| PageError::internal(lang))?;
                return Ok(res);
            }
            Err(CoreError::Conflict { .. }) => errors.push("email", "signup.email_taken"),
            Err(CoreError::Invalid { reason, .. }) => errors.push(
                "email",
                if reason == Invalid::Email {
                    "signup.email_invalid"
                } else {
                    "signup.password_short"
                },
            ),
            Err(e) => return Err(PageError::from_core(e, lang)),
        }
    }
    let mut shown = form.into_inner();
    shown.password.clear();
    shown.password2.clear();
    let page = SignupPage {
        t: Tr(lang),
        csrf: shown.csrf.clone(),
        form: shown,
        errors,
        form_error,
    };
    Ok(html(status, render(&page, lang)?, None))
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    auth.check_csrf(&form.csrf)?;
    sessions::logout(&state.db, &auth.session.id)
        .await
        .page(auth.lang)?;
    let mut res = see_other("/app/login");
    res.add_cookie(&sess::expired_session_cookie(&state))
        .map_err(|_| PageError::internal(auth.lang))?;
    Ok(res)
}

pub async fn switch_lang(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    let mut res = see_other(sess::safe_next(&q.next));
    if let Some(lang) = Lang::parse(&path) {
        let cookie = Cookie::build(LANG_COOKIE, lang.code())
            .path("/")
            .secure(state.settings.public_url.scheme() == "https")
            .same_site(actix_web::cookie::SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish();
        let _ = res.add_cookie(&cookie);
    }
    res
}
