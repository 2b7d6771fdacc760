//! The one idempotency runner, for every surface that takes an idempotency
//! key (the native API's `Idempotency-Key`, the compatible surfaces'
//! `X-Idempotency-Key`, the dashboard's per-form key). A surface says only
//! what differs: whose namespace a key lives in ([`Owner`]), how its errors
//! look and whether a refusal is kept ([`Surface`]).
//!
//! The record is claimed before the work. The work completes it inside the
//! transaction that creates the resource (`platform_core::idempotency::
//! Completion`), so a commit whose acknowledgement is lost can only be
//! replayed; the runner then stores the final answer over it. A refusal is
//! stored too (it is as final as a success), except where a retry can
//! succeed later (busy terminal, conflicts, rate limits, outages): then the
//! claim is released.

use std::future::Future;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use platform_core::CoreError;
use platform_core::error::{Conflict, Invalid};
use platform_core::id::{IdempotencyRecordId, IntegratorId};
use platform_core::idempotency::{self, Claim};
use serde_json::Value;

use crate::api::auth::ApiCaller;
use crate::state::AppState;

/// Whose key it is and what request it was given with.
pub struct Keyed<'a> {
    pub integrator_id: &'a IntegratorId,
    /// The namespace of a key within the integrator (an API key and
    /// operation, a dashboard user): keys of one never collide with
    /// another's.
    pub principal: String,
    /// The request the key was first used with
    /// (`idempotency::request_fingerprint`); another one is refused.
    pub fingerprint: String,
}

impl<'a> Keyed<'a> {
    /// An API request's key: the caller's integrator, `principal` within
    /// it, and the request's method, path and raw body.
    pub fn api(caller: &'a ApiCaller, principal: String, req: &HttpRequest, body: &[u8]) -> Self {
        Keyed {
            integrator_id: caller.scope.integrator_id(),
            principal,
            fingerprint: idempotency::request_fingerprint(req.method().as_str(), req.path(), body),
        }
    }
}

/// What differs between surfaces.
pub trait Surface {
    type Error;

    /// Whether a final refusal is stored and replayed. An API client expects
    /// the same answer to a retry; a form re-validates anyway, and keeping
    /// its refusal would only stop the corrected form from being sent.
    const STORES_REFUSALS: bool = true;

    /// The same key was used with another request.
    fn reused(&self) -> Self::Error;
    /// A request with this key is still running and did not finish in time.
    fn in_progress(&self) -> Self::Error;
    /// Anything else core refused.
    fn core(&self, e: CoreError) -> Self::Error;
    /// The status and body of an error, as the surface answers it.
    fn answer(&self, err: &Self::Error) -> (StatusCode, Value);
}

/// A successful piece of work: its answer, and the resource it made.
pub struct Done {
    pub status: StatusCode,
    pub body: Value,
    pub resource_id: Option<String>,
}

impl Done {
    pub fn new(status: StatusCode, body: Value) -> Done {
        Done {
            status,
            body,
            resource_id: None,
        }
    }

    pub fn created(
        status: StatusCode,
        body: Value,
        resource_id: &(impl AsRef<str> + ?Sized),
    ) -> Done {
        Done {
            status,
            body,
            resource_id: Some(resource_id.as_ref().to_owned()),
        }
    }
}

/// What [`run`] produced: a fresh answer, or the stored one of a repeat
/// (its body exactly as stored).
pub enum Outcome {
    Fresh(StatusCode, Value),
    Replay(StatusCode, String),
}

/// Whether a refused request stays refused on a retry (and so is stored).
fn is_final(status: StatusCode) -> bool {
    status.is_client_error() && !matches!(status.as_u16(), 409 | 429)
}

/// Runs `work` once per (owner, key, request). `work` gets the claimed
/// record's id when there is a key, to complete it inside its own
/// transaction.
pub async fn run<S, F, Fut>(
    state: &AppState,
    owner: Keyed<'_>,
    surface: &S,
    key: Option<&str>,
    work: F,
) -> Result<Outcome, S::Error>
where
    S: Surface,
    F: FnOnce(Option<IdempotencyRecordId>) -> Fut,
    Fut: Future<Output = Result<Done, S::Error>>,
{
    let Some(key) = key else {
        let done = work(None).await?;
        return Ok(Outcome::Fresh(done.status, done.body));
    };
    let claim = idempotency::claim(
        &state.db,
        &state.keyring,
        owner.integrator_id,
        &owner.principal,
        key,
        &owner.fingerprint,
    )
    .await
    .map_err(|e| match e {
        CoreError::Invalid {
            reason: Invalid::IdempotencyKeyReused,
            ..
        } => surface.reused(),
        CoreError::Conflict {
            reason: Conflict::IdempotencyRequestInProgress,
            ..
        } => surface.in_progress(),
        other => surface.core(other),
    })?;
    let record_id = match claim {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok(Outcome::Replay(status, body));
        }
        Claim::Fresh { record_id } => record_id,
    };
    let store = async |status: StatusCode, body: &Value, resource_id: Option<&str>| {
        idempotency::complete(
            &state.db,
            &state.keyring,
            &record_id,
            status.as_u16(),
            &body.to_string(),
            resource_id,
        )
        .await
        .map_err(|e| surface.core(e))
    };
    match work(Some(record_id.clone())).await {
        Ok(done) => {
            store(done.status, &done.body, done.resource_id.as_deref()).await?;
            Ok(Outcome::Fresh(done.status, done.body))
        }
        Err(err) => {
            let kept = S::STORES_REFUSALS
                .then(|| surface.answer(&err))
                .filter(|(status, _)| is_final(*status));
            if let Some((status, body)) = kept {
                store(status, &body, None).await?;
            } else {
                idempotency::release(&state.db, &record_id)
                    .await
                    .map_err(|e| surface.core(e))?;
            }
            Err(err)
        }
    }
}
