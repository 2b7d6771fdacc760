//! `X-Idempotency-Key` for this surface, on the one runner
//! ([`crate::idempotency`]) with its own principal (`mp:<API key id>`), so keys never collide with the
//! native API's `Idempotency-Key`s. Same key + same request: the first
//! response again; same key + another request: 409
//! `idempotency_key_already_used`; a concurrent duplicate waits for the first.

use std::future::Future;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use platform_core::CoreError;
use platform_core::id::IdempotencyRecordId;
use serde_json::Value;

use super::error::{MpError, Shape};
use crate::api::auth::ApiCaller;
use crate::idempotency::{self, Done, Keyed, Surface};
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

/// This surface on the one runner: keys per API key *and operation*, errors
/// in Mercado Pago's shape.
struct Mp {
    shape: Shape,
    /// 409, but 400 on `/v2/pos` (§5.3).
    reused_status: u16,
}

impl Surface for Mp {
    type Error = MpError;

    fn reused(&self) -> MpError {
        MpError::of(
            self.shape,
            self.reused_status,
            "idempotency_key_already_used",
            "The idempotency key was already used with a different request",
        )
    }

    fn in_progress(&self) -> MpError {
        MpError::of(
            self.shape,
            409,
            "conflict",
            "a request with this idempotency key is still being processed; retry shortly",
        )
    }

    fn core(&self, e: CoreError) -> MpError {
        MpError::from_core(self.shape, e)
    }

    fn answer(&self, err: &MpError) -> (StatusCode, Value) {
        (err.status, err.body.clone())
    }
}

// Keys are per operation, as at Mercado Pago (its SDKs re-send a
// create's key on a later cancel of the same client): the same key on
// another route is another request, not a reuse.
fn owner<'a>(caller: &'a ApiCaller, req: &HttpRequest, body: &[u8]) -> Keyed<'a> {
    let operation = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
    let principal = format!("mp:{}:{} {operation}", caller.key_id(), req.method());
    Keyed::api(caller, principal, req, body)
}

/// Runs `work` once per (API key, operation, idempotency key, request).
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
    F: FnOnce(Option<platform_core::id::IdempotencyRecordId>) -> Fut,
    Fut: Future<Output = Result<Done, MpError>>,
{
    run_as(state, caller, req, body, shape, 409, key, work).await
}

/// [`run`], with the status a reused key answers (`/v2/pos`: 400).
#[allow(clippy::too_many_arguments)]
pub async fn run_as<F, Fut>(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    body: &[u8],
    shape: Shape,
    reused_status: u16,
    key: Option<&str>,
    work: F,
) -> Result<Outcome, MpError>
where
    F: FnOnce(Option<IdempotencyRecordId>) -> Fut,
    Fut: Future<Output = Result<Done, MpError>>,
{
    let surface = Mp {
        shape,
        reused_status,
    };
    Ok(
        match idempotency::run(state, owner(caller, req, body), &surface, key, work).await? {
            idempotency::Outcome::Fresh(status, json) => Outcome::Fresh(status, json),
            idempotency::Outcome::Replay(status, text) => {
                Outcome::Replay(status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
        },
    )
}

/// A stored error replays as the same error.
pub fn replay_error(status: StatusCode, body: Value) -> Option<MpError> {
    (!status.is_success()).then_some(MpError {
        status,
        body,
        retry_after: None,
    })
}
