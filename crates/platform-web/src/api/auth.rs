//! `ApiCaller`: the extractor that authenticates a request's API key and
//! yields the tenant scope it grants, so a handler cannot forget either.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use platform_core::api_keys::{self, KeyRejection};
use platform_core::entities::api_keys as key_rows;
use platform_core::id::ApiKeyId;
use platform_core::states::KeyAccess;
use platform_core::tenancy::Scope;

use crate::error::ApiError;
use crate::state::AppState;

/// An authenticated API key and its scope.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key: key_rows::Model,
    pub scope: Scope,
}

impl ApiCaller {
    pub fn key_id(&self) -> &ApiKeyId {
        &self.key.id
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

fn too_many_bad_keys(wait: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests with an invalid API key from your network; wait and check the key",
    )
    .with_retry_after(wait)
}

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req, bearer(req).map(str::to_owned)))
    }
}

/// Authenticates `token` as an API key presented with `req` (the bearer
/// token, or a key sent another way, e.g. as an OAuth client secret): the
/// same checks, bad-key throttle and rate limit as the extractor.
pub fn authenticate(
    req: &HttpRequest,
    token: Option<String>,
) -> impl Future<Output = Result<ApiCaller, ApiError>> + 'static {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // A read-only key (reporting tools) may only read.
    let reads = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let network = crate::client_ip::client_ip(req)
        .map(|ip| {
            format!(
                "bad-key:{}",
                platform_core::sessions::throttle_net(&ip.to_string())
            )
        })
        .unwrap_or_else(|| "bad-key:?".into());
    async move {
        let state = state.ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "no state",
            )
        })?;
        let token = token.ok_or_else(|| {
            unauthorized(
                "missing_api_key",
                "send your API key as `Authorization: Bearer pk_…`",
            )
        })?;
        // A network that keeps presenting bad keys waits before any
        // lookup; the answer says nothing about the key it sent.
        if let Some(wait) = state.bad_key_limiter.empty_for(&network) {
            return Err(too_many_bad_keys(wait));
        }
        let auth = api_keys::authenticate(&state.db, &token).await?;
        if auth.is_err() && state.bad_key_limiter.check(&network).await.is_err() {
            return Err(too_many_bad_keys(Duration::from_secs(1)));
        }
        let caller = match auth {
            Ok(a) => ApiCaller {
                key: a.key,
                scope: a.scope,
            },
            Err(KeyRejection::Revoked) => {
                return Err(unauthorized("api_key_revoked", "this API key was revoked"));
            }
            Err(KeyRejection::Expired) => {
                return Err(unauthorized("api_key_expired", "this API key has expired"));
            }
            Err(KeyRejection::Malformed | KeyRejection::Unknown) => {
                return Err(unauthorized("invalid_api_key", "the API key is not valid"));
            }
        };
        crate::request_id::record_integrator(caller.key.integrator_id.as_str());
        if let Err(retry_after) = state.rate_limiter.check(caller.key.id.as_str()).await {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this API key; slow down",
            )
            .with_retry_after(retry_after));
        }
        if caller.key.access == KeyAccess::ReadOnly && !reads {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "this API key is read-only: it may only send GET requests",
            ));
        }
        Ok(caller)
    }
}
