//! Small helpers for forms and links.

use actix_web::HttpResponse;
use actix_web::http::header;

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// 303 to a local path (after a successful POST).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// One form field's error message key, for templates: `errors.get("name")`.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub Vec<(&'static str, &'static str)>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&'static str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| *m)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, field: &'static str, code: &'static str) {
        self.0.push((field, code));
    }
}

/// Formats minor units as a decimal amount: 1550 → "15.50".
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// A short UTC timestamp for tables.
pub fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Renders a page with a status (forms with errors answer 422).
pub fn render(
    status: actix_web::http::StatusCode,
    page: &impl askama::Template,
    lang: super::lang::Lang,
) -> Result<HttpResponse, super::errors::PageError> {
    let body = page.render().map_err(|e| {
        tracing::error!(error = %e, "template rendering failed");
        super::errors::PageError::internal(lang)
    })?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

pub fn ok(
    page: &impl askama::Template,
    lang: super::lang::Lang,
) -> Result<HttpResponse, super::errors::PageError> {
    render(actix_web::http::StatusCode::OK, page, lang)
}

pub fn invalid(
    page: &impl askama::Template,
    lang: super::lang::Lang,
) -> Result<HttpResponse, super::errors::PageError> {
    render(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        page,
        lang,
    )
}
