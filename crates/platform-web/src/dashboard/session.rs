//! Who is logged in: the session cookie, the [`Auth`] extractor every
//! dashboard page takes, and the CSRF checks of forms.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use platform_core::audit::Actor;
use platform_core::permissions::Permission;
use platform_core::sessions::{self, Session};
use platform_core::states::UserRole;
use platform_core::team::Acting;
use platform_core::tenancy::Scope;

use super::errors::PageError;
use super::lang::{Lang, Tr};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "puente_session";
/// Double-submit token for the forms shown before login.
pub const ANON_CSRF_COOKIE: &str = "puente_csrf";

/// A logged-in dashboard user, scoped to their integrator.
pub struct Auth {
    pub session: Session,
    pub scope: Scope,
    pub lang: Lang,
    pub ip: Option<String>,
    pub path: String,
}

impl Auth {
    pub fn t(&self) -> Tr {
        Tr(self.lang)
    }

    pub fn actor(&self) -> Actor {
        Actor::user(&self.session.user.id, self.ip.clone())
    }

    /// The user's role, read from their row on this request (a change of
    /// role applies at once).
    pub fn role(&self) -> UserRole {
        self.session.user.role
    }

    pub fn can(&self, p: Permission) -> bool {
        self.role().allows(p)
    }

    /// `auth.require(Permission::X)?` at the top of a handler: a 403 page
    /// when the role lacks it, before anything is read or written.
    pub fn require(&self, p: Permission) -> Result<(), PageError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(PageError::forbidden(self.lang))
        }
    }

    /// The user as the team rules see them.
    pub fn acting(&self) -> Acting {
        Acting {
            actor: self.actor(),
            role: self.role(),
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), PageError> {
        if constant_time_eq(token.as_bytes(), self.session.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::csrf(self.lang))
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn client_ip(req: &HttpRequest) -> Option<String> {
    // The peer, or the forwarded client when the peer is a trusted proxy
    // (PUENTE_TRUSTED_PROXIES); anyone can send the header otherwise.
    crate::client_ip::client_ip(req).map(|ip| ip.to_string())
}

/// The path and query to come back to after logging in (local paths only;
/// control characters such as CR/LF would make the `Location` header
/// unsendable after the session row is written, so such a value is refused
/// and the dashboard home used instead).
pub fn safe_next(next: &str) -> &str {
    if next.starts_with("/app")
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
    {
        next
    } else {
        "/app"
    }
}

impl FromRequest for Auth {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let lang = Lang::of_request(&req);
            let path = match req.query_string() {
                "" => req.path().to_owned(),
                q => format!("{}?{q}", req.path()),
            };
            let login = || PageError::Login(path.clone());
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| PageError::internal(lang))?;
            let Some(cookie) = req.cookie(SESSION_COOKIE) else {
                return Err(login());
            };
            let session = sessions::authenticate(&state.db, cookie.value())
                .await
                .map_err(|e| PageError::from_core(e, lang))?
                .ok_or_else(login)?;
            crate::request_id::record_integrator(session.user.integrator_id.as_str());
            Ok(Auth {
                scope: Scope::integrator(session.user.integrator_id.clone()),
                session,
                lang,
                ip: client_ip(&req),
                path,
            })
        })
    }
}

/// Whether cookies are `Secure` (the public URL is https).
pub fn secure_cookies(state: &AppState) -> bool {
    state.settings.public_url.scheme() == "https"
}

pub fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/app")
        .http_only(true)
        .secure(secure_cookies(state))
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(
            sessions::ABSOLUTE_TIMEOUT.num_seconds(),
        ))
        .finish()
}

pub fn expired_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new());
    c.make_removal();
    c
}

/// The anonymous CSRF token of this browser, and a cookie to set when new.
pub fn anon_csrf(state: &AppState, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(ANON_CSRF_COOKIE)
        && platform_core::tokens::looks_like_token(c.value())
    {
        return (c.value().to_owned(), None);
    }
    let token = platform_core::tokens::random_token().into_exposed();
    let cookie = Cookie::build(ANON_CSRF_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .secure(secure_cookies(state))
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

pub fn check_anon_csrf(req: &HttpRequest, token: &str, lang: Lang) -> Result<(), PageError> {
    match req.cookie(ANON_CSRF_COOKIE) {
        Some(c)
            if !token.is_empty() && constant_time_eq(c.value().as_bytes(), token.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(PageError::csrf(lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_with_control_characters_falls_back_to_home() {
        assert_eq!(safe_next("/app/terminals?x=1"), "/app/terminals?x=1");
        for bad in [
            "/app\r\nSet-Cookie: a=b",
            "/app\n",
            "/app\u{7f}",
            "/app\t",
            "//evil",
            "/app\\x",
        ] {
            assert_eq!(safe_next(bad), "/app", "{bad:?}");
        }
    }
}
