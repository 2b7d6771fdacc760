//! `/app/invite/{token}` (public): the page an invitation's link opens. The
//! invitee picks their name, e-mail and password and is logged in as the new
//! member. A used, revoked or expired link says so and changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use platform_core::CoreError;
use platform_core::error::{Conflict, Invalid};
use platform_core::team::{self, AcceptIn};
use serde::Deserialize;

use super::errors::PageError;
use super::forms::{FieldErrors, see_other};
use super::lang::{Lang, Tr};
use super::session as sess;
use super::team::role_key;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "auth/invite.html")]
struct InvitePage {
    t: Tr,
    csrf: String,
    token: String,
    integrator: String,
    role: &'static str,
    name: String,
    email: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The form field and message of a rule the form breaks.
fn field_error(reason: Invalid) -> (&'static str, &'static str) {
    match reason {
        Invalid::Name => ("name", "invite.name_invalid"),
        Invalid::Email => ("email", "invite.email_invalid"),
        _ => ("password", "invite.password_short"),
    }
}

/// A link that cannot be used, as its own page.
fn closed_page(e: CoreError, lang: Lang) -> PageError {
    let text = match e {
        CoreError::Conflict { reason, .. } => match reason {
            Conflict::InvitationUsed => "invite.used_text",
            Conflict::InvitationRevoked => "invite.revoked_text",
            Conflict::InvitationExpired => "invite.expired_text",
            _ => return PageError::from_core(CoreError::conflict(reason, ""), lang),
        },
        other => return PageError::from_core(other, lang),
    };
    PageError::new(StatusCode::GONE, lang, "invite.closed", text)
}

fn html(
    status: StatusCode,
    page: &InvitePage,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(|_| PageError::internal(lang))?;
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if let Some(c) = cookie {
        res.cookie(c);
    }
    Ok(res.body(body))
}

pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of_request(&req);
    let open = team::open_invitation(&state.db, &path)
        .await
        .map_err(|e| closed_page(e, lang))?;
    let (csrf, cookie) = sess::anon_csrf(&state, &req);
    let page = InvitePage {
        t: Tr(lang),
        csrf,
        token: path.into_inner(),
        integrator: open.integrator_name,
        role: Tr(lang).get(role_key(open.invitation.role)),
        name: String::new(),
        email: String::new(),
        errors: FieldErrors::default(),
    };
    html(StatusCode::OK, &page, cookie, lang)
}

pub async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of_request(&req);
    sess::check_anon_csrf(&req, &form.csrf, lang)?;
    let open = team::open_invitation(&state.db, &path)
        .await
        .map_err(|e| closed_page(e, lang))?;
    let new = AcceptIn {
        name: form.name.clone(),
        email: form.email.clone(),
        password: form.password.clone().into(),
    };
    let mut errors = FieldErrors::default();
    if form.password.len() > 200 {
        let (field, key) = field_error(Invalid::WeakPassword);
        errors.push(field, key);
    }
    for reason in team::validate_accept(&new) {
        let (field, key) = field_error(reason);
        errors.push(field, key);
    }
    if errors.is_empty() {
        let ip = sess::client_ip(&req);
        match team::accept(&state.db, &path, new, ip.as_deref()).await {
            Ok((token, _)) => {
                let mut res = see_other("/app");
                res.add_cookie(&sess::session_cookie(&state, token.into_exposed()))
                    .map_err(|_| PageError::internal(lang))?;
                return Ok(res);
            }
            Err(CoreError::Conflict {
                reason: Conflict::EmailTaken,
                ..
            }) => errors.push("email", "invite.email_taken"),
            Err(CoreError::Invalid { reason, .. }) => {
                let (field, key) = field_error(reason);
                errors.push(field, key);
            }
            Err(e) => return Err(closed_page(e, lang)),
        }
    }
    let page = InvitePage {
        t: Tr(lang),
        csrf: form.csrf.clone(),
        token: path.into_inner(),
        integrator: open.integrator_name,
        role: Tr(lang).get(role_key(open.invitation.role)),
        name: form.name.chars().take(120).collect(),
        email: form.email.chars().take(254).collect(),
        errors,
    };
    html(StatusCode::UNPROCESSABLE_ENTITY, &page, None, lang)
}
