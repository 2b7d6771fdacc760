//! Cancels asked by a POS (native API, compatible surfaces, dashboard).
//!
//! The decision is taken on the state the row is in when the update lands,
//! never on an earlier read:
//! - an intent no worker has claimed yet cannot exist upstream, so it is
//!   canceled here at once (the update is conditional on "still unclaimed",
//!   the worker's claim on "no cancel asked": exactly one of them wins);
//! - anything already handed to the worker gets a pending cancel
//!   (`cancel_state = requested`), and Mercado Pago's answer to the worker
//!   decides: canceled, accepted at the terminal (202), or refused.

use crate::clock;
use crate::db::Db;
use crate::error::{Conflict, Failure};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::machine::{self, CancelStep};
use super::{MoveFrom, Transition, UpstreamFacts, transition_from};
use crate::effects::{Committed, Effects};
use crate::entities::payment_intents;
use crate::error::CoreError;
use crate::id::PaymentIntentId;
use crate::states::{CancelState, EventSource, IntentStatus};
use crate::tenancy::Scope;

/// A POS's cancel of one intent.
#[derive(Debug, Clone, Copy)]
pub struct CancelAsk<'a> {
    pub intent_id: &'a PaymentIntentId,
    /// The caller allows cancelling an intent the terminal already holds
    /// (Mercado Pago's `x-allow-cancelable-status: at_terminal`); without it
    /// such a cancel is refused, as Mercado Pago refuses it.
    pub at_terminal: bool,
    pub source: EventSource,
}

/// What became of the ask. Each surface answers these in its own format.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// Never sent upstream: canceled here, done.
    Canceled(payment_intents::Model),
    /// Handed to the worker, which asks Mercado Pago; wait for its answer
    /// (`cancel_state` leaves `requested`, or the intent becomes final).
    Requested(payment_intents::Model),
    /// The terminal holds it and the caller did not allow that.
    AtTerminal(payment_intents::Model),
    /// Already final: nothing to cancel.
    Final(payment_intents::Model),
}

/// Asks for a cancel. Safe to repeat: a cancel already pending is reported
/// as `Requested` again.
pub async fn request_cancel(
    db: &Db,
    scope: &Scope,
    ask: CancelAsk<'_>,
) -> Result<Committed<CancelOutcome>, CoreError> {
    let mut intent = scope
        .find::<payment_intents::Entity>(db, ask.intent_id)
        .await?;
    for _ in 0..5 {
        let step = machine::cancel_step(machine::Snapshot::from(&intent), ask.at_terminal);
        let outcome = match step {
            CancelStep::AlreadyFinal => CancelOutcome::Final(intent),
            CancelStep::AlreadyPending => CancelOutcome::Requested(intent),
            CancelStep::NeedsAtTerminalConsent => CancelOutcome::AtTerminal(intent),
            CancelStep::CancelHere => {
                let t = transition_from(
                    db,
                    &intent.id,
                    MoveFrom::Unsent,
                    IntentStatus::Canceled,
                    UpstreamFacts {
                        status_detail: Some("canceled_by_api".into()),
                        ..Default::default()
                    },
                    ask.source,
                )
                .await?;
                let effects = t.effects();
                match t {
                    Transition::Applied { intent, .. } => {
                        return Ok(Committed::new(CancelOutcome::Canceled(intent), effects));
                    }
                    // A worker claimed it meanwhile: it may exist upstream now.
                    Transition::Ignored { intent: now } => {
                        intent = now;
                        continue;
                    }
                }
            }
            CancelStep::AskUpstream => {
                if let Some(asked) = ask_upstream(db, scope, &intent, ask).await? {
                    return Ok(asked);
                }
                intent = scope
                    .find::<payment_intents::Entity>(db, ask.intent_id)
                    .await?;
                continue;
            }
        };
        return Ok(Committed::new(outcome, Effects::none()));
    }
    Err(CoreError::conflict(
        Conflict::ConcurrentUpdate,
        "the payment intent is being changed concurrently; retry",
    ))
}

/// Records a pending cancel if the row is still as read; `None` when it
/// moved meanwhile (the caller decides again on the new state).
async fn ask_upstream(
    db: &Db,
    scope: &Scope,
    intent: &payment_intents::Model,
    ask: CancelAsk<'_>,
) -> Result<Option<Committed<CancelOutcome>>, CoreError> {
    let asked = payment_intents::Entity::update_many()
        .col_expr(
            payment_intents::Column::CancelState,
            Expr::value(CancelState::Requested),
        )
        .col_expr(
            payment_intents::Column::CancelAtTerminal,
            Expr::value(ask.at_terminal),
        )
        .col_expr(
            payment_intents::Column::CancelRequestedAt,
            Expr::value(Some(clock::now())),
        )
        .col_expr(
            payment_intents::Column::UpdatedAt,
            Expr::value(clock::now()),
        )
        .filter(payment_intents::Column::Id.eq(intent.id.clone()))
        .filter(payment_intents::Column::Status.eq(intent.status))
        .filter(
            payment_intents::Column::CancelState
                .is_null()
                .or(payment_intents::Column::CancelState.eq(CancelState::Refused)),
        )
        .exec(db)
        .await?;
    if asked.rows_affected != 1 {
        return Ok(None);
    }
    let intent = scope
        .find::<payment_intents::Entity>(db, ask.intent_id)
        .await?;
    let effects = Effects::none().dispatch(&intent.id).changed(&intent.id);
    Ok(Some(Committed::new(
        CancelOutcome::Requested(intent),
        effects,
    )))
}

/// Mercado Pago answered the worker's cancel with something other than
/// "canceled": accepted at the terminal (`Accepted`), or refused
/// (`Refused`, with its code and message). Only a pending cancel moves.
pub async fn record_cancel_answer(
    db: &Db,
    intent_id: &PaymentIntentId,
    answer: CancelState,
    error: Option<&Failure>,
) -> Result<bool, CoreError> {
    let mut update = payment_intents::Entity::update_many()
        .col_expr(payment_intents::Column::CancelState, Expr::value(answer))
        .col_expr(
            payment_intents::Column::UpdatedAt,
            Expr::value(clock::now()),
        )
        .filter(payment_intents::Column::Id.eq(intent_id))
        .filter(payment_intents::Column::CancelState.eq(CancelState::Requested));
    if let Some(Failure { code, message }) = error {
        update = update
            .col_expr(
                payment_intents::Column::LastErrorCode,
                Expr::value(code.clone()),
            )
            .col_expr(
                payment_intents::Column::LastErrorMessage,
                Expr::value(message.clone()),
            );
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// The worker gives up creating an intent whose create may have reached
/// Mercado Pago (its last answer was a timeout or a 5xx). It cannot end
/// here as failed while an order might be live on the terminal: a cancel is
/// recorded instead, so the next pass sends the same create again (same
/// idempotency key: Mercado Pago answers with the order if it has one) and
/// cancels what it finds. Only a queued intent with no cancel moves;
/// returns whether this one did.
pub async fn give_up_unresolved(db: &Db, intent_id: &PaymentIntentId) -> Result<bool, CoreError> {
    let now = clock::now();
    let asked = payment_intents::Entity::update_many()
        .col_expr(
            payment_intents::Column::CancelState,
            Expr::value(CancelState::Requested),
        )
        .col_expr(
            payment_intents::Column::CancelAtTerminal,
            Expr::value(false),
        )
        .col_expr(
            payment_intents::Column::CancelRequestedAt,
            Expr::value(Some(now)),
        )
        .col_expr(payment_intents::Column::UpdatedAt, Expr::value(now))
        .filter(payment_intents::Column::Id.eq(intent_id))
        .filter(payment_intents::Column::Status.eq(IntentStatus::Queued))
        .filter(payment_intents::Column::CancelState.is_null())
        .exec(db)
        .await?;
    Ok(asked.rows_affected == 1)
}
