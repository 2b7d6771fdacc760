//! The native API's `Idempotency-Key`, on the one runner
//! ([`crate::idempotency`]): keys live in the API key's namespace, errors
//! are [`ApiError`]s.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use platform_core::CoreError;
use serde_json::Value;

use super::auth::ApiCaller;
use crate::error::ApiError;
use crate::idempotency::{self, Done, Keyed, Outcome, Surface};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

struct Native;

impl Surface for Native {
    type Error = ApiError;

    fn reused(&self) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request; use a new key",
        )
    }

    fn in_progress(&self) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_request_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
    }

    fn core(&self, e: CoreError) -> ApiError {
        e.into()
    }

    fn answer(&self, err: &ApiError) -> (StatusCode, Value) {
        (err.status, serde_json::to_value(err).unwrap_or(Value::Null))
    }
}

/// Runs `work` once per (API key, Idempotency-Key); a retry with the same
/// body gets the stored response (marked `Idempotent-Replayed: true`).
pub async fn run<F, Fut>(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    body: &[u8],
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Option<platform_core::id::IdempotencyRecordId>) -> Fut,
    Fut: Future<Output = Result<Done, ApiError>>,
{
    let key = match req.headers().get(HEADER) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be visible ASCII",
            )
        })?),
    };
    let owner = Keyed::api(caller, caller.key_id().to_string(), req, body);
    match idempotency::run(state, owner, &Native, key, work).await? {
        Outcome::Fresh(status, json) => Ok(HttpResponse::build(status).json(json)),
        Outcome::Replay(status, body) => Ok(HttpResponse::build(status)
            .insert_header(("Idempotent-Replayed", "true"))
            .content_type("application/json")
            .body(body)),
    }
}
