//! Forms that create money movements (a payment, a refund) are sent once:
//! each rendering carries its own key (`form_key`), run through the one
//! idempotency runner ([`crate::idempotency`]) in the user's namespace. A
//! double click, a POST resent after a timeout or a reload of the answer
//! lands where the first submit went, never on a second charge or refund.

use std::future::Future;

use actix_web::http::StatusCode;
use platform_core::CoreError;
use platform_core::idempotency::{StoredResponse, request_fingerprint};
use serde_json::{Value, json};

use super::session::Auth;
use crate::idempotency::{self, Done, Keyed, Outcome, Surface};
use crate::state::AppState;

/// A new key for one rendering of a form.
pub fn new_key() -> String {
    format!("form_{}", uuid::Uuid::new_v4().simple())
}

/// Why a submit was refused.
pub enum Refusal {
    Core(CoreError),
    /// The form was sent before with other values (edited after going back
    /// from its answer).
    Reused,
    /// The first submit of this form is still running.
    InProgress,
}

impl From<CoreError> for Refusal {
    fn from(e: CoreError) -> Self {
        Refusal::Core(e)
    }
}

/// The dashboard on the one runner. A refusal is not kept: the corrected
/// form comes back with a new key and is validated afresh.
struct Dashboard;

impl Surface for Dashboard {
    type Error = Refusal;
    const STORES_REFUSALS: bool = false;

    fn reused(&self) -> Refusal {
        Refusal::Reused
    }
    fn in_progress(&self) -> Refusal {
        Refusal::InProgress
    }
    fn core(&self, e: CoreError) -> Refusal {
        Refusal::Core(e)
    }
    /// Never stored (`STORES_REFUSALS`): the page renders the refusal.
    fn answer(&self, _: &Refusal) -> (StatusCode, Value) {
        (StatusCode::UNPROCESSABLE_ENTITY, Value::Null)
    }
}

/// What a form's submit answers, stored with what it made: where to go.
pub fn redirect_to(location: &str) -> StoredResponse {
    StoredResponse::created(&json!({ "location": location }))
}

/// Runs `work` once per (user, `key`, `action`, `values`). `work` gets the
/// claimed record's id (to complete it in its own transaction with
/// [`redirect_to`]) and answers the location to redirect to; a repeat gets
/// the first submit's location. Without a key (a page rendered before keys
/// existed) the work simply runs.
pub async fn run<F, Fut>(
    state: &AppState,
    auth: &Auth,
    action: &str,
    values: Value,
    key: &str,
    work: F,
) -> Result<String, Refusal>
where
    F: FnOnce(Option<platform_core::id::IdempotencyRecordId>) -> Fut,
    Fut: Future<Output = Result<String, Refusal>>,
{
    let owner = Keyed {
        integrator_id: auth.scope.integrator_id(),
        principal: format!("dashboard:{}", auth.session.user.id),
        // The values, not the raw form: the CSRF token is not the request.
        fingerprint: request_fingerprint("POST", action, values.to_string().as_bytes()),
    };
    let key = Some(key.trim()).filter(|k| !k.is_empty());
    let outcome = idempotency::run(state, owner, &Dashboard, key, |record| async move {
        let location = work(record).await?;
        Ok(Done::new(
            StatusCode::CREATED,
            json!({ "location": location }),
        ))
    })
    .await?;
    let answer = match outcome {
        Outcome::Fresh(_, body) => body,
        Outcome::Replay(_, text) => serde_json::from_str(&text).unwrap_or_default(),
    };
    answer["location"]
        .as_str()
        .filter(|l| l.starts_with("/app/"))
        .map(str::to_owned)
        .ok_or_else(|| {
            Refusal::Core(CoreError::Internal(
                "stored form answer without a location".into(),
            ))
        })
}
