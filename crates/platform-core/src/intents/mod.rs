//! Payment intents: a charge on one terminal, from creation to a final state.
//!
//! Creation validates against the seller's site rules, injects the
//! integrator's sponsor id (whatever the POS sent), and commits the row in
//! `queued` state before anything is sent upstream; the worker dispatches it.
//! `open_on_terminal` (unique) makes "one open intent per terminal" a
//! database rule, so concurrent creates cannot both win.
//!
//! Every status change goes through [`transition`]: the move must be allowed
//! by `IntentStatus::can_become`, is applied only if the row still has the
//! status it was read with, and writes the event history and the
//! integrator event in the same transaction.

mod cancel;
mod history;
mod machine;

pub use cancel::{
    CancelAsk, CancelOutcome, give_up_unresolved, record_cancel_answer, request_cancel,
};

use crate::clock;
use crate::db::Db;
use crate::error::{Conflict, Failure, Invalid};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, SqlErr,
};
use serde::Serialize;

use crate::effects::{Committed, Effects};
use crate::entities::{payment_intent_events, payment_intents};
use crate::error::CoreError;
use crate::events;
use crate::id::{
    ApiKeyId, PaymentIntentId, PosId, SellerId, StoreId, TerminalId, WebhookDeliveryId,
};
use crate::idempotency::Completion;
use crate::states::{CancelState, EventSource, IntentStatus, LinkStatus, OperatingMode};
use crate::tenancy::Scope;

pub const MAX_DESCRIPTION: usize = 150;
pub const MAX_EXTERNAL_REFERENCE: usize = 64;

/// What a POS asks for. Amounts are integer minor units (1500 = 15.00).
#[derive(Debug, Clone, Default)]
pub struct NewIntent {
    pub amount: i64,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub print_on_terminal: bool,
    pub payment_type: Option<String>,
    pub installments: Option<i32>,
    pub installments_cost: Option<String>,
}

fn invalid(reason: Invalid, message: impl Into<String>) -> CoreError {
    CoreError::invalid(reason, message)
}

/// Checks an intent against the rules Mercado Pago documents for the site,
/// before anything is queued.
pub fn validate(site: crate::states::Site, new: &NewIntent) -> Result<(), CoreError> {
    if let Some((min, max)) = site.point_amount_limits() {
        if new.amount < min || new.amount > max {
            return Err(invalid(
                Invalid::AmountOutOfRange,
                format!(
                    "amount must be between {} and {} (minor units of {}) for site {site}",
                    min,
                    max,
                    site.currency()
                ),
            ));
        }
    } else if new.amount <= 0 {
        return Err(invalid(
            Invalid::AmountOutOfRange,
            "amount must be positive",
        ));
    }
    if let Some(d) = &new.description
        && d.chars().count() > MAX_DESCRIPTION
    {
        return Err(invalid(
            Invalid::Description,
            format!("description is limited to {MAX_DESCRIPTION} characters"),
        ));
    }
    if let Some(r) = &new.external_reference
        && (r.is_empty()
            || r.len() > MAX_EXTERNAL_REFERENCE
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(invalid(
            Invalid::ExternalReference,
            format!(
                "external_reference must be 1–{MAX_EXTERNAL_REFERENCE} characters of A–Z, a–z, 0–9, - and _"
            ),
        ));
    }
    match new.payment_type.as_deref() {
        None | Some("credit_card") | Some("debit_card") => {}
        Some("voucher_card") if site == crate::states::Site::Mlb => {}
        Some(other) => {
            return Err(invalid(
                Invalid::PaymentType,
                format!(
                    "payment_type `{other}` is not available here (credit_card, debit_card; voucher_card in MLB)"
                ),
            ));
        }
    }
    let credit = new.payment_type.as_deref() == Some("credit_card");
    if let Some(n) = new.installments {
        if !credit {
            return Err(invalid(
                Invalid::Installments,
                "installments require payment_type credit_card",
            ));
        }
        if !(1..=72).contains(&n) {
            return Err(invalid(
                Invalid::Installments,
                "installments must be between 1 and 72",
            ));
        }
        // MLB: each installment at least 5.00.
        if site == crate::states::Site::Mlb && new.amount / i64::from(n) < 500 {
            return Err(invalid(
                Invalid::Installments,
                "each installment must be at least 5.00",
            ));
        }
    }
    match new.installments_cost.as_deref() {
        None => {}
        Some("seller") | Some("buyer") if credit => {}
        Some(_) => {
            return Err(invalid(
                Invalid::InstallmentsCost,
                "installments_cost must be `seller` or `buyer`, with payment_type credit_card",
            ));
        }
    }
    Ok(())
}

/// Who asks for an intent: the API key (none from the dashboard) and the
/// surface, recorded in its history.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub api_key_id: Option<&'a ApiKeyId>,
    pub source: EventSource,
}

/// Creates a queued intent on a terminal of the scope. With a
/// `completion`, the idempotency record's stored response commits with the
/// intent, so a commit whose acknowledgement is lost can only be replayed.
/// The effects: dispatch it, deliver `payment_intent.created`, wake waiters.
pub async fn create(
    db: &Db,
    scope: &Scope,
    terminal_id: &TerminalId,
    new: NewIntent,
    origin: Origin<'_>,
    completion: Option<&Completion<'_, payment_intents::Model>>,
) -> Result<Committed<payment_intents::Model>, CoreError> {
    let Origin { api_key_id, source } = origin;
    let charging = crate::registry::charging_in(db, scope, terminal_id).await?;
    let (terminal, seller, integrator) =
        (&charging.terminal, &charging.seller, &charging.integrator);
    if seller.link_status != LinkStatus::Linked {
        return Err(CoreError::conflict(
            Conflict::SellerNotLinked,
            format!(
                "seller {} is {}; it must be linked (reconnect it) before charging",
                seller.id, seller.link_status
            ),
        ));
    }
    if terminal.operating_mode != OperatingMode::Pdv {
        return Err(CoreError::conflict(
            Conflict::TerminalNotIntegrated,
            format!(
                "terminal {} is in {} mode; switch it to PDV (and restart it) to charge from a POS",
                terminal.id, terminal.operating_mode
            ),
        ));
    }
    validate(seller.site_id, &new)?;

    let now = clock::now();
    let intent = payment_intents::Model {
        id: PaymentIntentId::new(),
        integrator_id: terminal.integrator_id.clone(),
        seller_id: seller.id.clone(),
        terminal_id: terminal.id.clone(),
        store_id: terminal.store_id.clone(),
        pos_id: terminal.pos_id.clone(),
        api_key_id: api_key_id.cloned(),
        upstream_api: integrator.upstream_api,
        upstream_id: None,
        status: IntentStatus::Queued,
        status_detail: None,
        amount: new.amount,
        currency: seller.site_id.currency().to_owned(),
        description: new.description,
        external_reference: new.external_reference,
        print_on_terminal: new.print_on_terminal,
        payment_type: new.payment_type,
        installments: new.installments,
        installments_cost: new.installments_cost,
        // The integrator's, always: a POS can neither omit nor forge it.
        sponsor_id: integrator.sponsor_id.clone(),
        mp_payment_id: None,
        upstream_version: 0,
        open_on_terminal: Some(terminal.id.clone()),
        dispatch_attempts: 0,
        next_dispatch_at: Some(now),
        last_error_code: None,
        last_error_message: None,
        created_at: now,
        updated_at: now,
        finalized_at: None,
        cancel_state: None,
        cancel_at_terminal: false,
        cancel_requested_at: None,
        requires_attention: false,
        attention_reason: None,
    };
    // Everything the unit writes is made here, so it owns it (the writer
    // may run it on another thread, batched with other writes).
    let ready = completion.map(|c| c.ready(&intent, intent.id.as_str()));
    let view = IntentView::from(&intent);
    let row = payment_intents::ActiveModel::from(intent.clone());
    let history = intent.clone();
    let written = db
        .write(move |txn| {
            Box::pin(async move {
                match payment_intents::Entity::insert(row)
                    .exec_without_returning(txn)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Err(CreateRefused::TerminalBusy),
                    Err(e) => return Err(e.into()),
                }
                history::record(txn, &history, None, IntentStatus::Queued, source, None).await?;
                let deliveries = events::emit(
                    txn,
                    &history.integrator_id,
                    Some(&history.seller_id),
                    "payment_intent.created",
                    &view,
                )
                .await?;
                if let Some(ready) = ready {
                    ready.write(txn).await?;
                }
                Ok(deliveries)
            })
        })
        .await;
    let deliveries = match written {
        Ok(d) => d,
        Err(CreateRefused::TerminalBusy) => return Err(terminal_busy(db, &terminal.id).await),
        Err(CreateRefused::Core(e)) => return Err(e),
    };
    let effects = Effects::none()
        .dispatch(&intent.id)
        .deliveries(deliveries)
        .changed(&intent.id);
    Ok(Committed::new(intent, effects))
}

/// Why the unit of [`create`] wrote nothing.
enum CreateRefused {
    /// The terminal already has an open intent (the unique index said so).
    TerminalBusy,
    Core(CoreError),
}

impl From<CoreError> for CreateRefused {
    fn from(e: CoreError) -> Self {
        CreateRefused::Core(e)
    }
}

impl From<DbErr> for CreateRefused {
    fn from(e: DbErr) -> Self {
        CreateRefused::Core(e.into())
    }
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

async fn terminal_busy(db: &Db, terminal_id: &TerminalId) -> CoreError {
    let open = payment_intents::Entity::find()
        .filter(payment_intents::Column::OpenOnTerminal.eq(terminal_id))
        .one(db)
        .await
        .ok()
        .flatten();
    let open = open.map(|o| o.id);
    let message = match &open {
        Some(id) => format!("terminal {terminal_id} already has an open payment intent: {id}"),
        None => format!("terminal {terminal_id} already has an open payment intent"),
    };
    CoreError::conflict(Conflict::TerminalBusy { open }, message)
}

/// Facts learned from upstream along with a status change.
#[derive(Debug, Clone, Default)]
pub struct UpstreamFacts {
    /// The order / payment intent id at Mercado Pago, once known.
    pub upstream_id: Option<String>,
    pub status_detail: Option<String>,
    pub mp_payment_id: Option<String>,
    /// The Orders API `data.version`; older versions are ignored.
    pub version: Option<i64>,
    pub error: Option<Failure>,
    pub detail: Option<String>,
    /// When the worker should read the intent again if the move leaves it
    /// open (the periodic sync), written with the move.
    pub next_look: Option<DateTime<Utc>>,
}

/// Why an intent is flagged: Mercado Pago charged it after a cancel was
/// asked for (or after Puente recorded it canceled).
pub const PAID_AFTER_CANCEL: &str = "paid_after_cancel_request";
/// Why an intent is flagged: charged after Puente recorded it failed (the
/// worker gave up on an order that Mercado Pago had after all).
pub const PAID_AFTER_FAILURE: &str = "paid_after_failure";

/// The outcome of [`transition`].
#[derive(Debug)]
pub enum Transition {
    Applied {
        intent: payment_intents::Model,
        deliveries: Vec<WebhookDeliveryId>,
    },
    /// Not allowed (backwards, repeated, or out of date): nothing changed.
    Ignored { intent: payment_intents::Model },
}

impl Transition {
    /// What the change owes after its commit (nothing when ignored).
    pub fn effects(&self) -> Effects {
        match self {
            Transition::Applied { intent, deliveries } => Effects::none()
                .deliveries(deliveries.iter().cloned())
                .changed(&intent.id),
            Transition::Ignored { .. } => Effects::none(),
        }
    }

    pub fn intent(&self) -> &payment_intents::Model {
        match self {
            Transition::Applied { intent, .. } | Transition::Ignored { intent } => intent,
        }
    }
}

/// Moves an intent to `next` as Mercado Pago reported it: from whatever
/// state may become `next` (see `IntentStatus::can_become`), if nobody moved
/// it meanwhile. Decisions taken here rather than reported (a local cancel)
/// use [`transition_from`] and name the states they start from.
pub async fn transition(
    db: &Db,
    intent_id: &PaymentIntentId,
    next: IntentStatus,
    facts: UpstreamFacts,
    source: EventSource,
) -> Result<Transition, CoreError> {
    transition_from(db, intent_id, MoveFrom::Reported, next, facts, source).await
}

/// Which states a move may start from.
#[derive(Debug, Clone, Copy)]
pub enum MoveFrom {
    /// Upstream's word: any state that may become the target.
    Reported,
    /// Only these (a decision made on a state read before).
    Only(&'static [IntentStatus]),
    /// Queued and never claimed by a worker: nothing can exist upstream.
    Unsent,
}

impl MoveFrom {
    fn allows(self, current: IntentStatus) -> bool {
        match self {
            MoveFrom::Reported => true,
            MoveFrom::Only(states) => states.contains(&current),
            MoveFrom::Unsent => current == IntentStatus::Queued,
        }
    }
}

/// Moves an intent to `next` if it is in one of the states `from` names, the
/// move is allowed, and nobody moved it meanwhile (the update is conditional
/// on the state it read).
pub async fn transition_from(
    db: &Db,
    intent_id: &PaymentIntentId,
    from: MoveFrom,
    next: IntentStatus,
    facts: UpstreamFacts,
    source: EventSource,
) -> Result<Transition, CoreError> {
    move_intent(db, intent_id, None, from, next, facts, source).await
}

/// As [`transition`], deciding first on `seen`, the row as the caller last
/// read or wrote it, which saves a read. An out-of-date `seen` costs nothing
/// but that read: `apply_in`'s update is conditional on every field the
/// decision reads, so a stale decision to move writes nothing, and a
/// decision not to move is taken again on the row as it is.
pub async fn transition_seen(
    db: &Db,
    seen: &payment_intents::Model,
    next: IntentStatus,
    facts: UpstreamFacts,
    source: EventSource,
) -> Result<Transition, CoreError> {
    move_intent(
        db,
        &seen.id,
        Some(seen.clone()),
        MoveFrom::Reported,
        next,
        facts,
        source,
    )
    .await
}

async fn move_intent(
    db: &Db,
    intent_id: &PaymentIntentId,
    mut seen: Option<payment_intents::Model>,
    from: MoveFrom,
    next: IntentStatus,
    facts: UpstreamFacts,
    source: EventSource,
) -> Result<Transition, CoreError> {
    for _ in 0..5 {
        let (current, fresh) = match seen.take() {
            Some(row) => (row, false),
            None => {
                let row = payment_intents::Entity::find_by_id(intent_id.clone())
                    .one(db)
                    .await?
                    .ok_or(CoreError::NotFound {
                        kind: "payment intent",
                    })?;
                (row, true)
            }
        };
        let (read, facts) = (current.clone(), facts.clone());
        let applied = db
            .write(move |txn| {
                Box::pin(async move { apply_in(txn, &read, from, next, &facts, source).await })
            })
            .await?;
        match applied {
            // Nothing was written in either case.
            Applied::No if fresh => return Ok(Transition::Ignored { intent: current }),
            // Decided on a row seen earlier, or someone else moved it
            // first: look again.
            Applied::No | Applied::Lost => continue,
            Applied::Yes { intent, deliveries } => {
                return Ok(Transition::Applied {
                    intent: *intent,
                    deliveries,
                });
            }
        }
    }
    Err(CoreError::conflict(
        Conflict::ConcurrentUpdate,
        "the payment intent is being changed concurrently; retry",
    ))
}

/// What [`apply_in`] did.
pub enum Applied {
    /// Not allowed from the state read (or out of date): nothing written.
    No,
    /// The row changed since it was read: nothing written; read it again.
    Lost,
    /// Written in the transaction, with its webhook deliveries.
    Yes {
        intent: Box<payment_intents::Model>,
        deliveries: Vec<WebhookDeliveryId>,
    },
}

/// The move of [`transition_from`] inside the caller's write transaction,
/// from `current` (the state the caller read), so another change (a refund
/// settling) can commit together with it.
pub async fn apply_in(
    txn: &DatabaseTransaction,
    current: &payment_intents::Model,
    from: MoveFrom,
    next: IntentStatus,
    facts: &UpstreamFacts,
    source: EventSource,
) -> Result<Applied, CoreError> {
    let intent_id = &current.id;
    let snapshot = machine::Snapshot::from(current);
    let stale = facts.version.is_some_and(|v| v <= current.upstream_version);
    if !machine::may_move(snapshot, from, next, stale) {
        return Ok(Applied::No);
    }
    // Paid although the POS asked to cancel (the terminal won the race,
    // or an order thought canceled was charged): record what happened
    // and flag it for people, never hide it.
    let attention = machine::attention_for(snapshot, next);
    let now = clock::now();
    let mut update = payment_intents::Entity::update_many()
        .col_expr(payment_intents::Column::Status, Expr::value(next))
        .col_expr(payment_intents::Column::UpdatedAt, Expr::value(now))
        .filter(payment_intents::Column::Id.eq(intent_id))
        // Conditional on every field the decision read, so that a decision
        // never outlives its row: the status, the cancel (one asked
        // meanwhile must flag a charge, see `attention_for`), the version
        // a report was judged stale against, and below, the claim.
        .filter(payment_intents::Column::Status.eq(current.status))
        .filter(match current.cancel_state {
            Some(c) => payment_intents::Column::CancelState.eq(c),
            None => payment_intents::Column::CancelState.is_null(),
        });
    if facts.version.is_some() {
        update =
            update.filter(payment_intents::Column::UpstreamVersion.eq(current.upstream_version));
    }
    if matches!(from, MoveFrom::Unsent) {
        // The worker's claim bumps the attempts: whichever of the two
        // updates comes second matches nothing.
        update = update
            .filter(payment_intents::Column::DispatchAttempts.eq(0))
            .filter(payment_intents::Column::CancelState.is_null());
    }
    if let Some(d) = &facts.status_detail {
        update = update.col_expr(
            payment_intents::Column::StatusDetail,
            Expr::value(d.clone()),
        );
    }
    if let Some(u) = &facts.upstream_id {
        update = update.col_expr(payment_intents::Column::UpstreamId, Expr::value(u.clone()));
    }
    if let Some(p) = &facts.mp_payment_id {
        update = update.col_expr(payment_intents::Column::MpPaymentId, Expr::value(p.clone()));
    }
    if let Some(v) = facts.version {
        update = update.col_expr(payment_intents::Column::UpstreamVersion, Expr::value(v));
    }
    // A passing error (a retried dispatch, a refused cancel) is history
    // once the intent moves on successfully; the event log keeps it.
    if facts.error.is_none()
        && matches!(
            next,
            IntentStatus::Created
                | IntentStatus::AtTerminal
                | IntentStatus::Processed
                | IntentStatus::Refunded
        )
    {
        update = update
            .col_expr(
                payment_intents::Column::LastErrorCode,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                payment_intents::Column::LastErrorMessage,
                Expr::value(Option::<String>::None),
            );
    }
    if let Some(Failure { code, message }) = &facts.error {
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
    if let Some(reason) = attention {
        update = update
            .col_expr(
                payment_intents::Column::RequiresAttention,
                Expr::value(true),
            )
            .col_expr(
                payment_intents::Column::AttentionReason,
                Expr::value(reason),
            );
    }
    if next == IntentStatus::Canceled {
        update = update.col_expr(
            payment_intents::Column::CancelState,
            Expr::value(CancelState::Done),
        );
    }
    if next.is_final() {
        update = update
            .col_expr(
                payment_intents::Column::OpenOnTerminal,
                Expr::value(Option::<TerminalId>::None),
            )
            .col_expr(payment_intents::Column::FinalizedAt, Expr::value(Some(now)))
            .col_expr(
                payment_intents::Column::NextDispatchAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
    }
    if let Some(at) = facts.next_look
        && !next.is_final()
    {
        update = update.col_expr(
            payment_intents::Column::NextDispatchAt,
            Expr::value(Some(at)),
        );
    }
    // The row as written, with its history row.
    let moved = history::move_recorded(
        txn,
        update,
        current.status,
        next,
        source,
        facts.detail.clone(),
    )
    .await?;
    let Some(updated) = moved else {
        return Ok(Applied::Lost);
    };
    let mut deliveries = match event_type_for(next) {
        Some(t) => {
            events::emit(
                txn,
                &updated.integrator_id,
                Some(&updated.seller_id),
                t,
                &IntentView::from(&updated),
            )
            .await?
        }
        None => Vec::new(),
    };
    if attention.is_some() {
        tracing::error!(intent_id = %updated.id, "paid after a cancel was requested: needs attention");
        deliveries.extend(
            events::emit(
                txn,
                &updated.integrator_id,
                Some(&updated.seller_id),
                "payment_intent.requires_attention",
                &IntentView::from(&updated),
            )
            .await?,
        );
    }
    Ok(Applied::Yes {
        intent: Box::new(updated),
        deliveries,
    })
}

fn event_type_for(status: IntentStatus) -> Option<&'static str> {
    use IntentStatus::*;
    Some(match status {
        Queued | Created => return None,
        AtTerminal => "payment_intent.at_terminal",
        Processed => "payment_intent.processed",
        Failed => "payment_intent.failed",
        Canceled => "payment_intent.canceled",
        Expired => "payment_intent.expired",
        ActionRequired => "payment_intent.action_required",
        Refunded => "payment_intent.refunded",
    })
}

/// The worker takes a queued intent before calling Mercado Pago: from here
/// on an order may exist upstream, so a cancel must go there too. Fails
/// (None) when the intent is no longer queued or a cancel came first.
pub async fn claim_dispatch(
    db: &Db,
    intent_id: &PaymentIntentId,
) -> Result<Option<payment_intents::Model>, CoreError> {
    let claimed = payment_intents::Entity::update_many()
        .col_expr(
            payment_intents::Column::DispatchAttempts,
            Expr::col(payment_intents::Column::DispatchAttempts).add(1),
        )
        .col_expr(
            payment_intents::Column::UpdatedAt,
            Expr::value(clock::now()),
        )
        .filter(payment_intents::Column::Id.eq(intent_id))
        .filter(payment_intents::Column::Status.eq(IntentStatus::Queued))
        .filter(payment_intents::Column::CancelState.is_null())
        .exec_with_returning(db)
        .await?;
    Ok(claimed.into_iter().next())
}

/// Records a failed dispatch attempt that will be retried at `next`, if the
/// intent is still queued: a create that reached Mercado Pago after all
/// (its answer lost) may have been moved on by a notification meanwhile,
/// and then neither the error nor the retry time is its story any more.
pub async fn note_retry(
    db: &Db,
    intent_id: &PaymentIntentId,
    next: DateTime<Utc>,
    error: &Failure,
) -> Result<(), CoreError> {
    // The attempt was counted when the worker claimed the intent.
    payment_intents::Entity::update_many()
        .col_expr(
            payment_intents::Column::NextDispatchAt,
            Expr::value(Some(next)),
        )
        .col_expr(
            payment_intents::Column::LastErrorCode,
            Expr::value(error.code.clone()),
        )
        .col_expr(
            payment_intents::Column::LastErrorMessage,
            Expr::value(error.message.clone()),
        )
        .col_expr(
            payment_intents::Column::UpdatedAt,
            Expr::value(clock::now()),
        )
        .filter(payment_intents::Column::Id.eq(intent_id))
        .filter(payment_intents::Column::Status.eq(IntentStatus::Queued))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the upstream id of an intent whatever its status (an order that
/// reached Mercado Pago after the intent was canceled here).
pub async fn record_upstream_id(
    db: &Db,
    intent_id: &PaymentIntentId,
    upstream_id: &str,
) -> Result<(), CoreError> {
    payment_intents::Entity::update_many()
        .col_expr(
            payment_intents::Column::UpstreamId,
            Expr::value(upstream_id.to_owned()),
        )
        .filter(payment_intents::Column::Id.eq(intent_id))
        .filter(payment_intents::Column::UpstreamId.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Sets when the worker should next look at an intent (dispatch or sync).
pub async fn schedule(
    db: &Db,
    intent_id: &PaymentIntentId,
    next: Option<DateTime<Utc>>,
) -> Result<(), CoreError> {
    payment_intents::Entity::update_many()
        .col_expr(payment_intents::Column::NextDispatchAt, Expr::value(next))
        .filter(payment_intents::Column::Id.eq(intent_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Finds an intent by its Mercado Pago id, or by the external reference
/// Puente sends upstream (its own intent id), for notifications.
pub async fn find_by_upstream(
    db: &Db,
    upstream_id: Option<&str>,
    external_reference: Option<&str>,
) -> Result<Option<payment_intents::Model>, CoreError> {
    if let Some(u) = upstream_id
        && let Some(found) = payment_intents::Entity::find()
            .filter(payment_intents::Column::UpstreamId.eq(u))
            .one(db)
            .await?
    {
        return Ok(Some(found));
    }
    match external_reference {
        Some(r) => match PaymentIntentId::parse(r) {
            Ok(id) => Ok(payment_intents::Entity::find_by_id(id).one(db).await?),
            Err(_) => Ok(None),
        },
        None => Ok(None),
    }
}

/// The intent of the scope with this Mercado Pago id (the compatible
/// surface accepts either id).
pub async fn find_by_upstream_in(
    db: &Db,
    scope: &Scope,
    upstream_id: &str,
) -> Result<Option<payment_intents::Model>, CoreError> {
    Ok(scope
        .select::<payment_intents::Entity>()
        .filter(payment_intents::Column::UpstreamId.eq(upstream_id))
        .one(db)
        .await?)
}

/// Open intents (queued, created, at the terminal) whose next dispatch was
/// due at or before `stale`, most overdue first, at most `limit`: the
/// reconciler re-queues those that want a dispatch.
pub async fn overdue_for_dispatch(
    db: &Db,
    stale: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<payment_intents::Model>, CoreError> {
    Ok(payment_intents::Entity::find()
        .filter(payment_intents::Column::Status.is_in([
            IntentStatus::Queued,
            IntentStatus::Created,
            IntentStatus::AtTerminal,
        ]))
        .filter(payment_intents::Column::NextDispatchAt.lte(stale))
        .order_by_asc(payment_intents::Column::NextDispatchAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Sent intents (created, at the terminal) whose scheduled re-read is due
/// at `now`, most overdue first, at most `limit`.
pub async fn due_for_sync(
    db: &Db,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<payment_intents::Model>, CoreError> {
    Ok(payment_intents::Entity::find()
        .filter(
            payment_intents::Column::Status
                .is_in([IntentStatus::Created, IntentStatus::AtTerminal]),
        )
        .filter(payment_intents::Column::NextDispatchAt.lte(now))
        .order_by_asc(payment_intents::Column::NextDispatchAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// The compatible surface's order search: all optional, combined.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    pub external_reference: Option<String>,
    /// Any of these statuses.
    pub statuses: Option<Vec<IntentStatus>>,
}

/// One offset page of the scope's intents matching `search`, oldest first,
/// and how many match in all.
pub async fn search_oldest_first(
    db: &Db,
    scope: &Scope,
    search: &OrderSearch,
    offset: u64,
    limit: u64,
) -> Result<(Vec<payment_intents::Model>, u64), CoreError> {
    let mut q = scope.select::<payment_intents::Entity>();
    if let Some(r) = &search.external_reference {
        q = q.filter(payment_intents::Column::ExternalReference.eq(r.clone()));
    }
    if let Some(statuses) = &search.statuses {
        q = q.filter(payment_intents::Column::Status.is_in(statuses.clone()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(payment_intents::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The scope's intents created in `[from, to)`, oldest first, at most `limit`.
pub async fn created_between(
    db: &Db,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<payment_intents::Model>, CoreError> {
    Ok(scope
        .select::<payment_intents::Entity>()
        .filter(payment_intents::Column::CreatedAt.gte(from))
        .filter(payment_intents::Column::CreatedAt.lt(to))
        .order_by_asc(payment_intents::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Filters for listing intents; all optional. The ids are search terms as
/// the caller typed them (text): one that names nothing matches nothing.
#[derive(Debug, Clone, Default)]
pub struct IntentFilter {
    pub status: Option<IntentStatus>,
    pub seller_id: Option<String>,
    pub terminal_id: Option<String>,
    pub external_reference: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

pub const MAX_PAGE: u64 = 100;

/// Newest first; `starting_after` is the last id of the previous page.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &IntentFilter,
    starting_after: Option<&str>,
    limit: u64,
) -> Result<(Vec<payment_intents::Model>, bool), CoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut q = select(scope, filter);
    if let Some(c) = starting_after {
        q = q.filter(payment_intents::Column::Id.lt(c));
    }
    let mut rows = q
        .order_by_desc(payment_intents::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, has_more))
}

/// The scope's intents that pass `filter` (the list's and the export's).
pub fn select(scope: &Scope, filter: &IntentFilter) -> Select<payment_intents::Entity> {
    let mut q = scope.select::<payment_intents::Entity>();
    if let Some(s) = filter.status {
        q = q.filter(payment_intents::Column::Status.eq(s));
    }
    if let Some(s) = &filter.seller_id {
        q = q.filter(payment_intents::Column::SellerId.eq(s.clone()));
    }
    if let Some(t) = &filter.terminal_id {
        q = q.filter(payment_intents::Column::TerminalId.eq(t.clone()));
    }
    if let Some(r) = &filter.external_reference {
        q = q.filter(payment_intents::Column::ExternalReference.eq(r.clone()));
    }
    if let Some(a) = filter.created_after {
        q = q.filter(payment_intents::Column::CreatedAt.gt(a));
    }
    if let Some(b) = filter.created_before {
        q = q.filter(payment_intents::Column::CreatedAt.lt(b));
    }
    q
}

pub async fn history(
    db: &Db,
    scope: &Scope,
    intent_id: &PaymentIntentId,
) -> Result<Vec<payment_intent_events::Model>, CoreError> {
    let intent = scope.find::<payment_intents::Entity>(db, intent_id).await?;
    Ok(payment_intent_events::Entity::find()
        .filter(payment_intent_events::Column::IntentId.eq(intent.id))
        .order_by_asc(payment_intent_events::Column::Id)
        .all(db)
        .await?)
}

/// The public shape of an intent, in API responses and webhook payloads.
#[derive(Debug, Clone, Serialize)]
pub struct IntentView {
    pub id: PaymentIntentId,
    pub object: &'static str,
    pub status: IntentStatus,
    pub status_detail: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub print_on_terminal: bool,
    pub payment: PaymentView,
    pub seller_id: SellerId,
    pub terminal_id: TerminalId,
    pub store_id: Option<StoreId>,
    pub pos_id: Option<PosId>,
    pub sponsor_id: Option<String>,
    pub upstream: UpstreamView,
    pub last_error: Option<ErrorView>,
    /// A cancel asked by a POS and Mercado Pago's answer so far.
    pub cancel: Option<CancelView>,
    /// The outcome contradicts what was asked (e.g. paid after a cancel):
    /// staff should look at it. `attention_reason` says why.
    pub requires_attention: bool,
    pub attention_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CancelView {
    pub state: CancelState,
    pub at_terminal: bool,
    pub requested_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    #[serde(rename = "type")]
    pub payment_type: Option<String>,
    pub installments: Option<i32>,
    pub installments_cost: Option<String>,
    pub mp_payment_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpstreamView {
    pub api: crate::states::UpstreamApi,
    pub id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub code: String,
    pub message: String,
}

impl From<&payment_intents::Model> for IntentView {
    fn from(m: &payment_intents::Model) -> Self {
        IntentView {
            id: m.id.clone(),
            object: "payment_intent",
            status: m.status,
            status_detail: m.status_detail.clone(),
            amount: m.amount,
            currency: m.currency.clone(),
            description: m.description.clone(),
            external_reference: m.external_reference.clone(),
            print_on_terminal: m.print_on_terminal,
            payment: PaymentView {
                payment_type: m.payment_type.clone(),
                installments: m.installments,
                installments_cost: m.installments_cost.clone(),
                mp_payment_id: m.mp_payment_id.clone(),
            },
            seller_id: m.seller_id.clone(),
            terminal_id: m.terminal_id.clone(),
            store_id: m.store_id.clone(),
            pos_id: m.pos_id.clone(),
            sponsor_id: m.sponsor_id.clone(),
            upstream: UpstreamView {
                api: m.upstream_api,
                id: m.upstream_id.clone(),
            },
            last_error: match (&m.last_error_code, &m.last_error_message) {
                (Some(code), message) => Some(ErrorView {
                    code: code.clone(),
                    message: message.clone().unwrap_or_default(),
                }),
                _ => None,
            },
            cancel: m.cancel_state.map(|state| CancelView {
                state,
                at_terminal: m.cancel_at_terminal,
                requested_at: m.cancel_requested_at,
            }),
            requires_attention: m.requires_attention,
            attention_reason: m.attention_reason.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            finalized_at: m.finalized_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::Site;

    fn intent(amount: i64) -> NewIntent {
        NewIntent {
            amount,
            ..Default::default()
        }
    }

    #[test]
    fn site_amount_limits() {
        assert!(validate(Site::Mlb, &intent(100)).is_ok());
        assert!(validate(Site::Mlb, &intent(99)).is_err());
        assert!(validate(Site::Mlb, &intent(7_000_001)).is_err());
        assert!(validate(Site::Mla, &intent(499)).is_err());
        assert!(validate(Site::Mlm, &intent(35_000_000)).is_ok());
        assert!(validate(Site::Mlc, &intent(0)).is_err());
    }

    #[test]
    fn payment_rules() {
        let mut n = intent(10_000);
        n.installments = Some(3);
        assert!(
            validate(Site::Mlb, &n).is_err(),
            "installments need credit_card"
        );
        n.payment_type = Some("credit_card".into());
        assert!(validate(Site::Mlb, &n).is_ok());
        n.installments = Some(73);
        assert!(validate(Site::Mlb, &n).is_err());
        n.installments = Some(30);
        assert!(
            validate(Site::Mlb, &n).is_err(),
            "each installment at least 5.00 in MLB"
        );
        n.installments = Some(2);
        n.installments_cost = Some("nobody".into());
        assert!(validate(Site::Mlb, &n).is_err());
        n.installments_cost = Some("buyer".into());
        assert!(validate(Site::Mlb, &n).is_ok());
        let mut v = intent(1000);
        v.payment_type = Some("voucher_card".into());
        assert!(validate(Site::Mlb, &v).is_ok());
        assert!(validate(Site::Mla, &v).is_err());
    }

    #[test]
    fn text_fields() {
        let mut n = intent(1000);
        n.external_reference = Some("pedido 1".into());
        assert!(validate(Site::Mlb, &n).is_err());
        n.external_reference = Some("pedido-1_A".into());
        assert!(validate(Site::Mlb, &n).is_ok());
        n.description = Some("x".repeat(151));
        assert!(validate(Site::Mlb, &n).is_err());
    }
}
