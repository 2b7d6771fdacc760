//! Waiting on an intent, for every surface: the long-poll of `GET
//! /v1/payment-intents/{id}?wait=`, the compatible surfaces' cancels, the
//! dashboard. One loop: wake on this intent's changes (from any process,
//! through the event bus and [`crate::live::IntentFeed::watch`]) and re-read
//! the row; poll now and then in case a wake-up was lost.

use std::time::Duration;

use platform_core::CoreError;
use platform_core::entities::payment_intents;
use platform_core::id::PaymentIntentId;
use platform_core::intents::{self, CancelAsk, CancelOutcome};
use platform_core::mercadopago::CancelRefusal;
use platform_core::states::{CancelState, IntentStatus};
use platform_core::tenancy::Scope;

use crate::state::AppState;

/// How often a waiter re-reads without a wake-up.
const POLL: Duration = Duration::from_millis(500);

/// Re-reads the intent until `done` holds or `wait` passes; returns the last read.
pub async fn until(
    state: &AppState,
    scope: &Scope,
    id: &PaymentIntentId,
    wait: Duration,
    done: impl Fn(&payment_intents::Model) -> bool,
) -> Result<payment_intents::Model, CoreError> {
    // Taken before the first read: a change committed in between still wakes us.
    let mut watch = state.intent_feed.watch(id.as_str());
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let intent = scope.find::<payment_intents::Entity>(&state.db, id).await?;
        let now = tokio::time::Instant::now();
        if done(&intent) || now >= deadline {
            return Ok(intent);
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL.min(deadline - now)) => {}
            open = watch.changed() => {
                // The server is stopping: answer with what we have now.
                if !open {
                    return Ok(intent);
                }
            }
        }
    }
}

/// How long a cancel waits for Mercado Pago's answer (through the worker)
/// before the caller is told it is still pending.
pub const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// A cancel's answer, as Mercado Pago gave it. Each surface renders these.
#[derive(Debug)]
pub enum CancelAnswer {
    /// Canceled (never sent, or Mercado Pago canceled it): 200.
    Canceled(payment_intents::Model),
    /// Mercado Pago took the cancel to the terminal, which decides: 202.
    Accepted(payment_intents::Model),
    /// The terminal holds it and the caller did not allow an at-terminal cancel.
    AtTerminal(payment_intents::Model),
    /// Mercado Pago refused; `code` is its code, `reason` what it means.
    Refused {
        intent: payment_intents::Model,
        reason: CancelRefusal,
        code: String,
        message: String,
    },
    /// Final before the cancel could act (already canceled, paid, …).
    Final(payment_intents::Model),
    /// No answer from Mercado Pago within [`CANCEL_WAIT`]: the cancel stays
    /// requested and the worker keeps trying; the outcome comes as events.
    Pending(payment_intents::Model),
}

/// Asks for the cancel and waits for Mercado Pago's answer.
pub async fn cancel(
    state: &AppState,
    scope: &Scope,
    ask: CancelAsk<'_>,
) -> Result<CancelAnswer, CoreError> {
    let outcome = intents::request_cancel(&state.db, scope, ask)
        .await?
        .publish(&state.queue)
        .await;
    Ok(match outcome {
        CancelOutcome::Canceled(i) => CancelAnswer::Canceled(i),
        CancelOutcome::AtTerminal(i) => CancelAnswer::AtTerminal(i),
        CancelOutcome::Final(i) => CancelAnswer::Final(i),
        CancelOutcome::Requested(i) => {
            let now = until(state, scope, &i.id, CANCEL_WAIT, |i| {
                i.status.is_final() || !i.cancel_state.is_some_and(CancelState::awaits_upstream)
            })
            .await?;
            answer_of(now)
        }
    })
}

fn answer_of(i: payment_intents::Model) -> CancelAnswer {
    match (i.status, i.cancel_state) {
        (IntentStatus::Canceled, _) => CancelAnswer::Canceled(i),
        (s, _) if s.is_final() => CancelAnswer::Final(i),
        (_, Some(CancelState::Accepted)) => CancelAnswer::Accepted(i),
        (_, Some(CancelState::Refused)) => {
            let code = i
                .last_error_code
                .clone()
                .unwrap_or_else(|| "cancel_refused".into());
            let message = i
                .last_error_message
                .clone()
                .unwrap_or_else(|| "Mercado Pago refused the cancel".into());
            CancelAnswer::Refused {
                intent: i,
                reason: CancelRefusal::of_code(&code),
                code,
                message,
            }
        }
        _ => CancelAnswer::Pending(i),
    }
}
