//! `X-Idempotency-Key` for this surface, on `platform_core::idempotency`
//! with its own principal (`mp:<API key id>`), so keys never collide with the
//! native API's `Idempotency-Key`s. Same key + same request: the first
//! response again; same key + another request: 409
//! `idempotency_key_already_used`; a concurrent duplicate waits for the first.

use std::future::Future;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use platform_core::CoreError;
use platform_core::idempotency::{self, Claim};
use serde_json::Value;

use super::error::{MpError, Shape};
use crate::api::auth::ApiCaller;
use crate::state::AppState;

pub const HEADER: &str = "x-idempotency-key";
/// Mercado Pago's limit (the SDKs check it too).
pub const MAX_LEN: usize = 64;

/// The request's key: `Ok(None)` when absent (and `required` is false).
pub fn key(req: &HttpRequest, shape: Shape, required: bool) -> Result<Option<String>, MpError> {
    let Some(v) = req.headers().get(HEADER) else {
        return if required {
            Err(MpError::of(
                shape,
                400,
                "empty_required_header",
                "The header X-Idempotency-Key is required",
            ))
        } else {
            Ok(None)
        };
    };
    match v.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_LEN && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        _ => Err(MpError::of(
            shape,
            400,
            "property_value",
            format!("X-Idempotency-Key must be 1–{MAX_LEN} visible ASCII characters"),
        )),
    }
}

/// What [`run`] produced: a fresh answer, or the stored one of a repeat.
pub enum Outcome {
    Fresh(StatusCode, Value),
    Replay(StatusCode, Value),
}

/// Runs `work` once per (API key, idempotency key, request).
pub async fn run<F, Fut>(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    body: &[u8],
    shape: Shape,
    key: Option<&str>,
    work: F,
) -> Result<Outcome, MpError>
where
    // The claimed record's id, for work that completes it in its own
    // transaction (`idempotency::Completion`).
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<(StatusCode, Value), MpError>>,
{
    let Some(key) = key else {
        let (status, json) = work(None).await?;
        return Ok(Outcome::Fresh(status, json));
    };
    // Keys are per operation, as at Mercado Pago (its SDKs re-send a
    // create's key on a later cancel of the same client): the same key on
    // another route is another request, not a reuse.
    let operation = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
    let principal = format!("mp:{}:{} {operation}", caller.key_id(), req.method());
    let fingerprint = idempotency::request_fingerprint(req.method().as_str(), req.path(), body);
    let claim = idempotency::claim(
        &state.db,
        &state.keyring,
        caller.scope.integrator_id().as_str(),
        &principal,
        key,
        &fingerprint,
    )
    .await
    .map_err(|e| match e {
        CoreError::Invalid {
            code: "idempotency_key_reused",
            ..
        } => MpError::of(
            shape,
            409,
            "idempotency_key_already_used",
            "The idempotency key was already used with a different request",
        ),
        CoreError::Conflict {
            code: "idempotency_request_in_progress",
            message,
        } => MpError::of(shape, 409, "conflict", message),
        other => MpError::from_core(shape, other),
    })?;
    let record_id = match claim {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            return Ok(Outcome::Replay(status, body));
        }
        Claim::Fresh { record_id } => record_id,
    };
    let store = |status: StatusCode, json: &Value| {
        let text = json.to_string();
        let record_id = record_id.clone();
        async move {
            idempotency::complete(
                &state.db,
                &state.keyring,
                &record_id,
                status.as_u16(),
                &text,
                None,
            )
            .await
            .map_err(|e| MpError::from_core(shape, e))
        }
    };
    match work(Some(record_id.clone())).await {
        Ok((status, json)) => {
            store(status, &json).await?;
            Ok(Outcome::Fresh(status, json))
        }
        // A refusal is as final as a success, except when a retry can
        // succeed later (busy terminal, conflicts, rate limits, outages).
        Err(err) if err.status.is_client_error() && !matches!(err.status.as_u16(), 409 | 429) => {
            store(err.status, &err.body).await?;
            Err(err)
        }
        Err(err) => {
            idempotency::release(&state.db, &record_id)
                .await
                .map_err(|e| MpError::from_core(shape, e))?;
            Err(err)
        }
    }
}

/// A stored error replays as the same error.
pub fn replay_error(status: StatusCode, body: Value) -> Option<MpError> {
    (!status.is_success()).then_some(MpError {
        status,
        body,
        retry_after: None,
    })
}
