//! `ApiCaller`: the extractor that authenticates a request's API key and
//! yields the tenant scope it grants, so a handler cannot forget either.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use platform_core::api_keys::{self, KeyRejection};
use platform_core::entities::api_keys as key_rows;
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
    pub fn key_id(&self) -> &str {
        &self.key.id
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
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
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
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
            let auth = api_keys::authenticate(&state.db, &token).await?;
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
            crate::request_id::record_integrator(&caller.key.integrator_id);
            if let Err(retry_after) = state.rate_limiter.check(&caller.key.id) {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests for this API key; slow down",
                )
                .with_retry_after(retry_after));
            }
            Ok(caller)
        })
    }
}
