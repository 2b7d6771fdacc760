//! `X-Request-Id` on every response: the caller's (if sane) or a new one,
//! also recorded on the request's tracing span (`http`), which also gets
//! the tenant (`integrator_id`) once an API key or a dashboard session
//! names it, so every log line of a request carries both. One line per
//! request at `info` (`debug` for health checks) is the access log.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The id of the current request, for handlers that want to log or return it.
#[derive(Clone, Debug)]
pub struct RequestIdValue(pub String);

pub struct RequestId;

impl<S, B> Transform<S, ServiceRequest> for RequestId
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestIdMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestIdMiddleware {
            service: Rc::new(service),
        }))
    }
}

pub struct RequestIdMiddleware<S> {
    service: Rc<S>,
}

fn acceptable(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

impl<S, B> Service<ServiceRequest> for RequestIdMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| acceptable(v))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("req_{}", platform_core::id::new_body()));
        req.extensions_mut().insert(RequestIdValue(id.clone()));
        let span = tracing::info_span!(
            "http",
            request_id = %id,
            method = %req.method(),
            path = %loggable_path(req.path()),
            integrator_id = tracing::field::Empty,
        );
        let quiet = matches!(req.path(), "/healthz" | "/readyz" | "/metrics");
        let service = Rc::clone(&self.service);
        Box::pin(
            async move {
                let started = std::time::Instant::now();
                let mut res = service.call(req).await?;
                if let Ok(v) = HeaderValue::from_str(&id) {
                    res.headers_mut().insert(HeaderName::from_static(HEADER), v);
                }
                let status = res.status().as_u16();
                let elapsed_ms = started.elapsed().as_millis() as u64;
                if quiet {
                    tracing::debug!(status, elapsed_ms, "request");
                } else {
                    tracing::info!(status, elapsed_ms, "request");
                }
                Ok(res)
            }
            .instrument(span),
        )
    }
}

/// Records the request's tenant on its span (called where an API key or a
/// session is resolved). Outside a request span it does nothing.
pub fn record_integrator(integrator_id: &str) {
    tracing::Span::current().record("integrator_id", integrator_id);
}

/// The path as logged: an onboarding link's token is a credential (whoever
/// holds it can link a seller), so it is not written to logs.
fn loggable_path(path: &str) -> &str {
    if path.starts_with("/onboard/") && path.len() > "/onboard/".len() {
        "/onboard/{token}"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onboarding_tokens_are_not_logged() {
        assert_eq!(loggable_path("/onboard/olk_secret"), "/onboard/{token}");
        assert_eq!(
            loggable_path("/v1/payment-intents/pi_1"),
            "/v1/payment-intents/pi_1"
        );
        assert_eq!(loggable_path("/onboard/"), "/onboard/");
    }
}
