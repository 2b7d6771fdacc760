//! Dashboard and onboarding failures as HTML pages (the API answers JSON;
//! people get a page in their language with a way back).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use platform_core::CoreError;

use super::lang::{Lang, Tr};

#[derive(Debug)]
pub enum PageError {
    /// Not logged in: off to the login page, then back to this path.
    Login(String),
    Page {
        status: StatusCode,
        lang: Lang,
        title: &'static str,
        message: &'static str,
    },
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: Tr,
    title: &'a str,
    message: &'a str,
    status: u16,
}

impl PageError {
    pub fn new(status: StatusCode, lang: Lang, title: &'static str, message: &'static str) -> Self {
        PageError::Page {
            status,
            lang,
            title,
            message,
        }
    }

    pub fn not_found(lang: Lang) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            lang,
            "error.not_found",
            "error.not_found_text",
        )
    }

    pub fn csrf(lang: Lang) -> Self {
        Self::new(StatusCode::FORBIDDEN, lang, "error.csrf", "error.csrf_text")
    }

    /// The user's role lacks the permission (see `platform_core::permissions`).
    pub fn forbidden(lang: Lang) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            lang,
            "error.forbidden",
            "error.forbidden_text",
        )
    }

    pub fn internal(lang: Lang) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang,
            "error.internal",
            "error.internal_text",
        )
    }

    pub fn from_core(e: CoreError, lang: Lang) -> Self {
        match e {
            CoreError::NotFound { .. } => Self::not_found(lang),
            CoreError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                lang,
                "error.conflict",
                "error.conflict_text",
            ),
            CoreError::Forbidden { .. } => Self::forbidden(lang),
            CoreError::Invalid { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                lang,
                "error.invalid",
                "error.invalid_text",
            ),
            CoreError::Db(err) => {
                tracing::error!(error = %err, "database error in the dashboard");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    lang,
                    "error.unavailable",
                    "error.unavailable_text",
                )
            }
            other => {
                tracing::error!(error = %other, "internal error in the dashboard");
                Self::internal(lang)
            }
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Login(_) => f.write_str("login required"),
            PageError::Page { status, title, .. } => write!(f, "{status}: {title}"),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Login(_) => StatusCode::SEE_OTHER,
            PageError::Page { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Login(next) => {
                let to = format!("/app/login?next={}", super::forms::urlencode(next));
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, to))
                    .finish()
            }
            PageError::Page {
                status,
                lang,
                title,
                message,
            } => {
                let t = Tr(*lang);
                let body = ErrorPage {
                    t,
                    title: t.get(title),
                    message: t.get(message),
                    status: status.as_u16(),
                }
                .render()
                .unwrap_or_else(|_| t.get(title).to_owned());
                HttpResponse::build(*status)
                    .content_type("text/html; charset=utf-8")
                    .body(body)
            }
        }
    }
}

/// `result.page(lang)?`: a core error as a page in the user's language.
pub trait OrPage<T> {
    fn page(self, lang: Lang) -> Result<T, PageError>;
}

impl<T> OrPage<T> for Result<T, CoreError> {
    fn page(self, lang: Lang) -> Result<T, PageError> {
        self.map_err(|e| PageError::from_core(e, lang))
    }
}
