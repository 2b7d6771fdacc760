//! Sending queued intents (and cancel requests) to Mercado Pago.
//!
//! A message names an intent; the row says what to do. Every create carries
//! `X-Idempotency-Key` = the intent id, so a retried or duplicated dispatch
//! (lost ack, killed worker, redelivery) is the same order upstream, never a
//! second charge. The message is acked only after the outcome is recorded.

use platform_core::clock;
use platform_core::tenancy::unscoped;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use platform_core::CoreError;
use platform_core::credentials::{self, Reason, RefreshOutcome};
use platform_core::entities::payment_intents;
use platform_core::error::{Conflict, Failure};
use platform_core::id::{PaymentIntentId, SellerId};
use platform_core::intents::{self, Transition, UpstreamFacts};
use platform_core::jobs;
use platform_core::mercadopago::{
    Amount, IntentAdditionalInfo, IntentPayment, MpError, PaymentIntentRequest, PointOrderRequest,
    PrintOnTerminal,
};
use platform_core::order_details;
use platform_core::secret::SecretString;
use platform_core::states::{CancelState, EventSource, IntentStatus, UpstreamApi};
use platform_queue::Delivery;
use tokio::sync::{Semaphore, watch};

use crate::consumer::Consumer;
use crate::{WorkerContext, mapping};

/// What to do with the message after handling it.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    /// Passing trouble: the same delivery again later (counts towards the
    /// queue's delivery limit).
    RetryAfter(Duration),
    /// Done for now; look at the intent again later (a fresh message: the
    /// pick-up watch reads an order many times).
    LookAgain(Duration),
}

/// Consumes `intents.dispatch` until stopped.
pub async fn run(ctx: WorkerContext, stopped: watch::Receiver<bool>) {
    let per_seller: Arc<Mutex<HashMap<SellerId, Arc<Semaphore>>>> = Arc::default();
    let consumer = Consumer {
        topic: jobs::INTENT_DISPATCH,
        concurrency: ctx.dispatch.concurrency,
        wait: Duration::from_secs(1),
    };
    let queue = ctx.queue.clone();
    consumer
        .run(queue, stopped, move |delivery| {
            let (ctx, per_seller) = (ctx.clone(), per_seller.clone());
            async move { handle_message(&ctx, &per_seller, delivery).await }
        })
        .await
}

async fn handle_message(
    ctx: &WorkerContext,
    per_seller: &Mutex<HashMap<SellerId, Arc<Semaphore>>>,
    delivery: Delivery,
) {
    let Some(intent_id) =
        crate::message_id::<PaymentIntentId>(jobs::INTENT_DISPATCH, &delivery.payload)
    else {
        // As an unknown intent: nothing to do.
        metrics::counter!("puente_dispatch_total", "outcome" => "done").increment(1);
        if let Err(e) = ctx.queue.ack(&delivery).await {
            tracing::warn!(error = %e, "dispatch: could not settle the message");
        }
        return;
    };
    let outcome = match unscoped::<payment_intents::Entity>(&ctx.db, &intent_id).await {
        Ok(Some(row)) => {
            // At most `per_seller` of one seller's intents at Mercado Pago at once.
            let gate = {
                let mut map = per_seller.lock().unwrap_or_else(|p| p.into_inner());
                map.retain(|_, s| Arc::strong_count(s) > 1);
                map.entry(row.seller_id.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(ctx.dispatch.per_seller)))
                    .clone()
            };
            match gate.clone().try_acquire_owned() {
                Ok(_permit) => handle_row(ctx, row).await,
                // Waiting may let the intent move on: read it again after.
                Err(_) => {
                    let _permit = gate.acquire_owned().await.ok();
                    handle(ctx, &intent_id).await
                }
            }
        }
        Ok(None) => Ok(Next::Done),
        Err(e) => Err(e),
    };
    let label = match &outcome {
        Ok(Next::Done) => "done",
        Ok(Next::RetryAfter(_)) => "retry",
        Ok(Next::LookAgain(_)) => "watch",
        Err(_) => "error",
    };
    metrics::counter!("puente_dispatch_total", "outcome" => label).increment(1);
    let settled = match outcome {
        Ok(Next::Done) => ctx.queue.ack(&delivery).await,
        Ok(Next::RetryAfter(wait)) => ctx.queue.retry_after(&delivery, wait).await,
        Ok(Next::LookAgain(wait)) => {
            // If the new message is lost, the periodic sync still reads it.
            let _ = ctx
                .queue
                .publish_after(jobs::INTENT_DISPATCH, &delivery.payload, wait)
                .await;
            ctx.queue.ack(&delivery).await
        }
        Err(e) => {
            tracing::warn!(intent_id = %delivery.payload, error = %e, "dispatch: could not record the outcome; retrying");
            ctx.queue
                .retry_after(&delivery, Duration::from_secs(5))
                .await
        }
    };
    if let Err(e) = settled {
        // The message comes back after the visibility timeout; the row decides.
        tracing::warn!(intent_id = %delivery.payload, error = %e, "dispatch: could not settle the message");
    }
}

/// Does whatever the intent's row says is due. Safe to call twice.
pub async fn handle(ctx: &WorkerContext, intent_id: &PaymentIntentId) -> Result<Next, CoreError> {
    match unscoped::<payment_intents::Entity>(&ctx.db, intent_id).await? {
        Some(intent) => handle_row(ctx, intent).await,
        None => Ok(Next::Done),
    }
}

/// As [`handle`], from the row just read.
async fn handle_row(
    ctx: &WorkerContext,
    intent: payment_intents::Model,
) -> Result<Next, CoreError> {
    let cancel_pending = intent
        .cancel_state
        .is_some_and(CancelState::awaits_upstream);
    match intent.status {
        IntentStatus::Queued if cancel_pending => resolve_then_cancel(ctx, &intent).await,
        IntentStatus::Queued => match intents::claim_dispatch(&ctx.db, &intent.id).await? {
            Some(claimed) => create_upstream(ctx, &claimed).await,
            // A cancel (or another worker) came first: look again.
            None => Box::pin(handle(ctx, &intent.id)).await,
        },
        IntentStatus::Created | IntentStatus::AtTerminal if cancel_pending => {
            cancel_upstream(ctx, &intent).await
        }
        IntentStatus::Created => watch_pickup(ctx, &intent).await,
        _ => Ok(Next::Done),
    }
}

/// While an order waits for the terminal, Mercado Pago sends nothing about
/// the pick-up (§3.5): read it back on a short backoff so `at_terminal` shows
/// within about a second, then leave the rest to notifications and the sync.
async fn watch_pickup(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
) -> Result<Next, CoreError> {
    crate::sync::sync_intent(
        ctx,
        intent,
        crate::sync::Hints::default(),
        EventSource::Sync,
    )
    .await?;
    let now = unscoped::<payment_intents::Entity>(&ctx.db, &intent.id).await?;
    match now {
        Some(i) if i.status == IntentStatus::Created => {
            let age = (clock::now() - i.created_at).to_std().unwrap_or_default();
            match ctx.dispatch.pickup_wait(i.upstream_api, age) {
                Some(wait) => Ok(Next::LookAgain(wait)),
                None => Ok(Next::Done),
            }
        }
        _ => Ok(Next::Done),
    }
}

/// A cancel came for an intent whose create may or may not have reached
/// Mercado Pago (a worker claimed it; its answer is not recorded). Send the
/// same create again under the same idempotency key: Mercado Pago answers
/// with the order it already has (or creates it, if the first never
/// arrived); record it, then cancel it there.
async fn resolve_then_cancel(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
) -> Result<Next, CoreError> {
    match create_upstream(ctx, intent).await? {
        Next::Done => {}
        retry => return Ok(retry),
    }
    let Some(now) = unscoped::<payment_intents::Entity>(&ctx.db, &intent.id).await? else {
        return Ok(Next::Done);
    };
    if now.status == IntentStatus::Queued {
        // The create was refused for good and recorded nothing: nothing
        // exists upstream, so the cancel is done here.
        let t = intents::transition_from(
            &ctx.db,
            &now.id,
            intents::MoveFrom::Only(&[IntentStatus::Queued]),
            IntentStatus::Canceled,
            UpstreamFacts {
                status_detail: Some("canceled_by_api".into()),
                ..Default::default()
            },
            EventSource::Worker,
        )
        .await?;
        t.effects().publish(&ctx.queue).await;
        return Ok(Next::Done);
    }
    // `create_upstream` cancels what it records when a cancel is pending.
    Ok(Next::Done)
}

/// Calls Mercado Pago with the seller's token; on a 401, refreshes the token
/// once and tries once more.
pub(crate) async fn with_token<T, F, Fut>(
    ctx: &WorkerContext,
    seller_id: &SellerId,
    call: F,
) -> Result<Result<T, MpError>, TokenTrouble>
where
    F: Fn(SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<T, MpError>>,
{
    let token = credentials::access_token(&ctx.db, &ctx.keyring, seller_id)
        .await
        .map_err(TokenTrouble::Core)?;
    match call(token.token.clone()).await {
        Err(MpError::Unauthorized { .. }) => {}
        other => return Ok(other),
    }
    let refreshed = credentials::refresh(
        &ctx.db,
        &ctx.keyring,
        &ctx.mp,
        &ctx.refresh_locks,
        &ctx.refresh_policy,
        seller_id,
        Reason::Rejected,
        Some(&token.token),
    )
    .await
    .map_err(TokenTrouble::Core)?;
    match refreshed {
        RefreshOutcome::Refreshed(t) | RefreshOutcome::NotNeeded(t) => Ok(call(t.token).await),
        RefreshOutcome::Failed { retry_at, .. } => Err(TokenTrouble::RetryAt(retry_at)),
        RefreshOutcome::NeedsReconnect { deliveries } => {
            crate::announce_deliveries(ctx, &deliveries).await;
            Err(TokenTrouble::NeedsReconnect)
        }
    }
}

pub(crate) enum TokenTrouble {
    Core(CoreError),
    RetryAt(chrono::DateTime<Utc>),
    NeedsReconnect,
}

async fn create_upstream(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
) -> Result<Next, CoreError> {
    let device = platform_core::registry::charging(&ctx.db, &intent.terminal_id)
        .await?
        .ok_or(CoreError::NotFound { kind: "terminal" })?
        .terminal
        .device_id
        .clone();
    let result = match intent.upstream_api {
        UpstreamApi::Orders => {
            let mut req = order_request(intent, &device)?;
            order_details::forward(&ctx.db, &intent.id, &mut req).await?;
            with_token(ctx, &intent.seller_id, |token| {
                let req = req.clone();
                async move {
                    let order = ctx
                        .mp
                        .create_order(&token, &req, intent.id.as_str())
                        .await?;
                    let status =
                        mapping::order_status(order.status).unwrap_or(IntentStatus::Created);
                    Ok((status, mapping::order_facts(&order)))
                }
            })
            .await
        }
        UpstreamApi::Legacy => {
            let req = legacy_request(intent);
            with_token(ctx, &intent.seller_id, |token| {
                let (req, device) = (req.clone(), device.clone());
                async move {
                    let pi = ctx
                        .mp
                        .create_payment_intent(&token, &device, &req, intent.id.as_str())
                        .await?;
                    // The create response has no state (§2.3): it is open.
                    Ok((IntentStatus::Created, mapping::intent_facts(&pi, None)))
                }
            })
            .await
        }
    };
    match result {
        Ok(Ok((status, facts))) => record_created(ctx, intent, status, facts).await,
        Ok(Err(err)) => upstream_failed(ctx, intent, err).await,
        Err(TokenTrouble::Core(e)) if e.conflict_reason() == Some(&Conflict::SellerNotLinked) => {
            fail(ctx, intent, Conflict::SellerNotLinked.code(), &e.to_string()).await
        }
        Err(TokenTrouble::Core(e)) => Err(e),
        Err(TokenTrouble::NeedsReconnect) => {
            fail(ctx, intent, "seller_needs_reconnect", "Mercado Pago rejected the seller's credentials; the seller must link the account again").await
        }
        Err(TokenTrouble::RetryAt(at)) => {
            let wait = (at - clock::now()).to_std().unwrap_or(Duration::from_secs(1));
            // No call was made now, but an earlier attempt may have reached it.
            retry(ctx, intent, Failure::new("token_refresh_failed", "could not refresh the seller's token"), Some(wait), Reach::Unknown).await
        }
    }
}

/// Records what Mercado Pago answered to the create. If a cancel was asked
/// meanwhile, it goes upstream now that the order's id is known.
pub async fn record_created(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    status: IntentStatus,
    facts: UpstreamFacts,
) -> Result<Next, CoreError> {
    let upstream_id = facts.upstream_id.clone();
    let now = match apply_moved(ctx, intent, status, facts, EventSource::Worker).await? {
        // The move wrote the upstream id with the status.
        Transition::Applied { intent, .. } => intent,
        Transition::Ignored { .. } => {
            if let Some(u) = &upstream_id {
                // Recorded also when the status did not move (another
                // worker, or a notification, moved it first).
                intents::record_upstream_id(&ctx.db, &intent.id, u).await?;
            }
            let Some(now) = unscoped::<payment_intents::Entity>(&ctx.db, &intent.id).await? else {
                return Ok(Next::Done);
            };
            now
        }
    };
    if now.cancel_state.is_some_and(CancelState::awaits_upstream) && !now.status.is_final() {
        return cancel_upstream(ctx, &now).await;
    }
    if now.status == IntentStatus::Created {
        // Watch for the terminal's pick-up.
        let wait = ctx
            .dispatch
            .pickup_wait(now.upstream_api, Duration::ZERO)
            .unwrap_or_default();
        return Ok(Next::LookAgain(wait));
    }
    Ok(Next::Done)
}

fn order_request(
    intent: &payment_intents::Model,
    device: &str,
) -> Result<PointOrderRequest, CoreError> {
    let amount = Amount::from_cents(intent.amount)
        .map_err(|e| CoreError::Internal(format!("stored amount: {e}")))?;
    Ok(PointOrderRequest {
        // Our own id: notifications can be matched even if the create
        // response was lost. The POS's reference stays in Puente.
        external_reference: intent.id.to_string(),
        terminal_id: device.to_owned(),
        amount,
        description: intent.description.clone(),
        expiration_time: None,
        print_on_terminal: Some(if intent.print_on_terminal {
            PrintOnTerminal::SellerTicket
        } else {
            PrintOnTerminal::NoTicket
        }),
        default_payment_type: intent
            .payment_type
            .clone()
            .filter(|t| t == "credit_card" || t == "debit_card"),
        sponsor_id: intent.sponsor_id.clone(),
        platform_id: None,
        integrator_id: None,
    })
}

fn legacy_request(intent: &payment_intents::Model) -> PaymentIntentRequest {
    let payment = intent.payment_type.as_ref().map(|t| IntentPayment {
        kind: Some(t.clone()),
        installments: intent.installments.map(|n| n as u32),
        installments_cost: intent.installments_cost.clone(),
        ..Default::default()
    });
    PaymentIntentRequest {
        amount: intent.amount,
        description: intent.description.clone(),
        payment,
        additional_info: Some(IntentAdditionalInfo {
            external_reference: Some(intent.id.to_string()),
            print_on_terminal: Some(intent.print_on_terminal),
            ticket_number: None,
        }),
    }
}

/// Classifies a failed create: passing trouble is retried, the rest is final.
async fn upstream_failed(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    err: MpError,
) -> Result<Next, CoreError> {
    if err.is_retryable() {
        let floor = match &err {
            MpError::RateLimited { retry_after } => *retry_after,
            _ => None,
        };
        let code = match &err {
            MpError::Timeout => "upstream_timeout",
            MpError::RateLimited { .. } => "upstream_rate_limited",
            MpError::Server { .. } => "upstream_error",
            _ => "upstream_unreachable",
        };
        // A 429 was refused before any work; a timeout or a 5xx may have
        // created the order (its answer lost).
        let reach = if matches!(err, MpError::RateLimited { .. }) {
            Reach::Refused
        } else {
            Reach::Unknown
        };
        return retry(
            ctx,
            intent,
            Failure::new(code, err.to_string()),
            floor,
            reach,
        )
        .await;
    }
    if err.is_terminal_busy() {
        // Puente holds no other open intent on this terminal, so what
        // occupies it upstream is on its way out (an order canceled a moment
        // ago, a charge finishing on the device): try again, a few times.
        if intent.dispatch_attempts < BUSY_TERMINAL_ATTEMPTS {
            return retry(
                ctx,
                intent,
                Failure::new("terminal_busy_upstream", err.to_string()),
                None,
                Reach::Refused,
            )
            .await;
        }
        return fail(ctx, intent, "terminal_busy_upstream", &err.to_string()).await;
    }
    let code = err.code().unwrap_or("upstream_rejected").to_owned();
    fail(ctx, intent, &code, &err.to_string()).await
}

/// Attempts before an upstream "terminal busy" is final.
const BUSY_TERMINAL_ATTEMPTS: i32 = 6;

/// Whether the last attempt's create may exist at Mercado Pago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Mercado Pago answered that it did not do it (same key: nothing exists).
    Refused,
    /// A timeout, a 5xx or no call: an order may exist under the key.
    Unknown,
}

async fn retry(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    error: Failure,
    floor: Option<Duration>,
    reach: Reach,
) -> Result<Next, CoreError> {
    // Counted by the claim, including this one.
    let attempts = intent.dispatch_attempts.max(1);
    if attempts >= ctx.dispatch.max_attempts && reach == Reach::Unknown {
        // Giving up must not leave an order live upstream that Puente calls
        // failed: a cancel is recorded and the create is resent (same key)
        // on the longest backoff until Mercado Pago answers; what it holds
        // is then canceled, or refused and the intent fails (`handle`).
        if intents::give_up_unresolved(&ctx.db, &intent.id).await? {
            tracing::warn!(intent_id = %intent.id, attempts, code = %error.code, "dispatch given up; resolving upstream before it ends");
            metrics::counter!("puente_dispatch_given_up_total").increment(1);
        }
        let wait = ctx.dispatch.wait(attempts, floor);
        let next = clock::now()
            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
        intents::note_retry(&ctx.db, &intent.id, next, &error).await?;
        return Ok(Next::RetryAfter(wait));
    }
    if attempts >= ctx.dispatch.max_attempts {
        return fail(
            ctx,
            intent,
            &error.code,
            &format!("gave up after {attempts} attempts: {}", error.message),
        )
        .await;
    }
    let wait = ctx.dispatch.wait(attempts, floor);
    let next =
        clock::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
    intents::note_retry(&ctx.db, &intent.id, next, &error).await?;
    tracing::info!(intent_id = %intent.id, attempts, ?wait, code = %error.code, "dispatch will be retried");
    Ok(Next::RetryAfter(wait))
}

async fn fail(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    code: &str,
    message: &str,
) -> Result<Next, CoreError> {
    let facts = UpstreamFacts {
        status_detail: Some(code.to_owned()),
        error: Some(Failure::new(code, message)),
        ..Default::default()
    };
    tracing::warn!(intent_id = %intent.id, code, message, "intent failed");
    metrics::counter!("puente_dispatch_failed_total").increment(1);
    apply(
        ctx,
        intent,
        IntentStatus::Failed,
        facts,
        EventSource::Worker,
    )
    .await?;
    Ok(Next::Done)
}

/// Applies a status change and tells everyone who waits for it. `seen` is
/// the intent as the caller last read it; the move is decided on it first
/// and on a fresh read when it turns out old ([`intents::transition_seen`]).
pub async fn apply(
    ctx: &WorkerContext,
    seen: &payment_intents::Model,
    status: IntentStatus,
    facts: UpstreamFacts,
    source: EventSource,
) -> Result<bool, CoreError> {
    Ok(matches!(
        apply_moved(ctx, seen, status, facts, source).await?,
        Transition::Applied { .. }
    ))
}

/// As [`apply`], answering the transition itself (the row as written).
/// An intent left open is read again by the periodic sync after
/// `sync_every`, unless a notification moves it first.
pub async fn apply_moved(
    ctx: &WorkerContext,
    seen: &payment_intents::Model,
    status: IntentStatus,
    mut facts: UpstreamFacts,
    source: EventSource,
) -> Result<Transition, CoreError> {
    facts.next_look = Some(
        clock::now() + chrono::Duration::from_std(ctx.dispatch.sync_every).unwrap_or_default(),
    );
    let moved = intents::transition_seen(&ctx.db, seen, status, facts, source).await?;
    if let Transition::Applied { intent, deliveries } = &moved {
        crate::announce(ctx, &intent.id, deliveries).await;
    }
    Ok(moved)
}

/// Asks Mercado Pago to cancel a sent intent and records its answer: canceled
/// (200), accepted at the terminal (202: the terminal decides, a notification
/// tells), or refused (409: the intent goes on). The at-terminal header is
/// sent only when the POS asked for it.
async fn cancel_upstream(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
) -> Result<Next, CoreError> {
    let Some(upstream_id) = intent.upstream_id.clone() else {
        return Ok(Next::Done);
    };
    let at_terminal = intent.cancel_at_terminal;
    let result = match intent.upstream_api {
        UpstreamApi::Orders => {
            with_token(ctx, &intent.seller_id, |token| {
                let upstream_id = upstream_id.clone();
                async move {
                    let key = format!("{}-cancel", intent.id);
                    let out = ctx
                        .mp
                        .cancel_order(&token, &upstream_id, &key, at_terminal)
                        .await?;
                    Ok(if out.asynchronous {
                        None
                    } else {
                        mapping::order_status(out.order.status)
                    })
                }
            })
            .await
        }
        UpstreamApi::Legacy => {
            let device = platform_core::registry::charging(&ctx.db, &intent.terminal_id)
                .await?
                .map(|c| c.terminal.device_id.clone())
                .unwrap_or_default();
            with_token(ctx, &intent.seller_id, |token| {
                let (upstream_id, device) = (upstream_id.clone(), device.clone());
                async move {
                    ctx.mp
                        .cancel_payment_intent(&token, &device, &upstream_id)
                        .await?;
                    Ok(Some(IntentStatus::Canceled))
                }
            })
            .await
        }
    };
    match result {
        Ok(Ok(Some(IntentStatus::Canceled))) => {
            let facts = UpstreamFacts {
                status_detail: Some("canceled_by_api".into()),
                ..Default::default()
            };
            apply(
                ctx,
                intent,
                IntentStatus::Canceled,
                facts,
                EventSource::Worker,
            )
            .await?;
            Ok(Next::Done)
        }
        // Answered with the order in another state: read it back, the
        // record follows Mercado Pago; the cancel did not happen.
        Ok(Ok(Some(_))) => {
            cancel_refused(
                ctx,
                intent,
                "cannot_cancel_order",
                "Mercado Pago did not cancel the order",
            )
            .await
        }
        // Accepted asynchronously: the terminal decides; a notification or the
        // sync tells the outcome.
        Ok(Ok(None)) => {
            intents::record_cancel_answer(&ctx.db, &intent.id, CancelState::Accepted, None).await?;
            crate::announce(ctx, &intent.id, &[]).await;
            Ok(Next::Done)
        }
        // A cancel is never given up while the order may be live upstream:
        // try again, less often as time passes.
        Ok(Err(err)) if err.is_retryable() => {
            let asked = intent.cancel_requested_at.unwrap_or(intent.updated_at);
            let elapsed = (clock::now() - asked).to_std().unwrap_or_default();
            let wait = (elapsed / 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
            tracing::info!(intent_id = %intent.id, error = %err, ?wait, "cancel upstream failed; retrying");
            Ok(Next::RetryAfter(wait))
        }
        Ok(Err(err)) => {
            let code = err.code().unwrap_or("cancel_refused").to_owned();
            cancel_refused(ctx, intent, &code, &err.to_string()).await
        }
        Err(TokenTrouble::Core(e)) => Err(e),
        Err(TokenTrouble::RetryAt(_)) => Ok(Next::RetryAfter(Duration::from_secs(60))),
        Err(TokenTrouble::NeedsReconnect) => {
            cancel_refused(
                ctx,
                intent,
                "seller_needs_reconnect",
                "the seller must link the account again",
            )
            .await
        }
    }
}

/// Mercado Pago said no (the terminal holds it, it is already final, …):
/// record why, then read the order back so the record shows what it is.
async fn cancel_refused(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    code: &str,
    message: &str,
) -> Result<Next, CoreError> {
    intents::record_cancel_answer(
        &ctx.db,
        &intent.id,
        CancelState::Refused,
        Some(&Failure::new(code, message)),
    )
    .await?;
    tracing::info!(intent_id = %intent.id, code, "Mercado Pago refused the cancel");
    crate::sync::sync_intent(
        ctx,
        intent,
        crate::sync::Hints::default(),
        EventSource::Sync,
    )
    .await?;
    crate::announce(ctx, &intent.id, &[]).await;
    Ok(Next::Done)
}
