//! Sending queued intents (and cancel requests) to Mercado Pago.
//!
//! A message names an intent; the row says what to do. Every create carries
//! `X-Idempotency-Key` = the intent id, so a retried or duplicated dispatch
//! (lost ack, killed worker, redelivery) is the same order upstream, never a
//! second charge. The message is acked only after the outcome is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use platform_core::CoreError;
use platform_core::credentials::{self, Reason, RefreshOutcome};
use platform_core::entities::{payment_intents, terminals};
use platform_core::intents::{self, CANCEL_REQUESTED, Transition, UpstreamFacts};
use platform_core::jobs;
use platform_core::mercadopago::{
    Amount, IntentAdditionalInfo, IntentPayment, MpError, PaymentIntentRequest, PointOrderRequest,
    PrintOnTerminal,
};
use platform_core::sea_orm::EntityTrait;
use platform_core::secret::SecretString;
use platform_core::states::{EventSource, IntentStatus, UpstreamApi};
use platform_queue::Delivery;
use tokio::sync::{Semaphore, watch};

use crate::{WorkerContext, mapping};

/// What to do with the message after handling it.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    RetryAfter(Duration),
}

/// Consumes `intents.dispatch` until stopped.
pub async fn run(ctx: WorkerContext, mut stopped: watch::Receiver<bool>) {
    let all = Arc::new(Semaphore::new(ctx.dispatch.concurrency));
    let per_seller: Arc<Mutex<HashMap<String, Arc<Semaphore>>>> = Arc::default();
    loop {
        if *stopped.borrow() {
            break;
        }
        let batch = tokio::select! {
            _ = stopped.changed() => break,
            b = ctx.queue.receive(jobs::INTENT_DISPATCH, 32, Duration::from_secs(1)) => b,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "dispatch: queue receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for delivery in batch {
            let Ok(permit) = all.clone().acquire_owned().await else {
                return;
            };
            let ctx = ctx.clone();
            let per_seller = per_seller.clone();
            tokio::spawn(async move {
                handle_message(&ctx, &per_seller, delivery).await;
                drop(permit);
            });
        }
    }
    // Let in-flight dispatches finish (they hold permits).
    let _ = all.acquire_many(ctx.dispatch.concurrency as u32).await;
}

async fn handle_message(
    ctx: &WorkerContext,
    per_seller: &Mutex<HashMap<String, Arc<Semaphore>>>,
    delivery: Delivery,
) {
    // This read only picks the seller's gate; `handle` reads the row again
    // after the gate is passed, because waiting may have let it move on.
    let seller_gate = match payment_intents::Entity::find_by_id(delivery.payload.clone())
        .one(&ctx.db)
        .await
    {
        Ok(Some(i)) => {
            let mut map = per_seller.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, s| Arc::strong_count(s) > 1);
            Some(
                map.entry(i.seller_id)
                    .or_insert_with(|| Arc::new(Semaphore::new(ctx.dispatch.per_seller)))
                    .clone(),
            )
        }
        _ => None,
    };
    let _seller_permit = match &seller_gate {
        Some(gate) => gate.clone().acquire_owned().await.ok(),
        None => None,
    };
    let outcome = handle(ctx, &delivery.payload).await;
    let label = match &outcome {
        Ok(Next::Done) => "done",
        Ok(Next::RetryAfter(_)) => "retry",
        Err(_) => "error",
    };
    metrics::counter!("puente_dispatch_total", "outcome" => label).increment(1);
    let settled = match outcome {
        Ok(Next::Done) => ctx.queue.ack(&delivery).await,
        Ok(Next::RetryAfter(wait)) => ctx.queue.retry_after(&delivery, wait).await,
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
pub async fn handle(ctx: &WorkerContext, intent_id: &str) -> Result<Next, CoreError> {
    let Some(intent) = payment_intents::Entity::find_by_id(intent_id.to_owned())
        .one(&ctx.db)
        .await?
    else {
        return Ok(Next::Done);
    };
    match intent.status {
        IntentStatus::Queued => create_upstream(ctx, &intent).await,
        IntentStatus::Created | IntentStatus::AtTerminal
            if intent.status_detail.as_deref() == Some(CANCEL_REQUESTED) =>
        {
            cancel_upstream(ctx, &intent).await
        }
        _ => Ok(Next::Done),
    }
}

/// Calls Mercado Pago with the seller's token; on a 401, refreshes the token
/// once and tries once more.
pub(crate) async fn with_token<T, F, Fut>(
    ctx: &WorkerContext,
    seller_id: &str,
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
    let terminal = terminals::Entity::find_by_id(intent.terminal_id.clone())
        .one(&ctx.db)
        .await?
        .ok_or(CoreError::NotFound { kind: "terminal" })?;
    let device = terminal.device_id.clone();
    let result = match intent.upstream_api {
        UpstreamApi::Orders => {
            let mut req = order_request(intent, &device)?;
            crate::order_details::forward(&ctx.db, &intent.id, &mut req).await?;
            with_token(ctx, &intent.seller_id, |token| {
                let req = req.clone();
                async move {
                    let order = ctx.mp.create_order(&token, &req, &intent.id).await?;
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
                        .create_payment_intent(&token, &device, &req, &intent.id)
                        .await?;
                    // The create response has no state (§2.3): it is open.
                    Ok((IntentStatus::Created, mapping::intent_facts(&pi, None)))
                }
            })
            .await
        }
    };
    match result {
        Ok(Ok((status, facts))) => {
            record_created(ctx, intent, status, facts).await?;
            Ok(Next::Done)
        }
        Ok(Err(err)) => upstream_failed(ctx, intent, err).await,
        Err(TokenTrouble::Core(e)) if matches!(e, CoreError::Conflict { code: "seller_not_linked", .. }) => {
            fail(ctx, intent, "seller_not_linked", &e.to_string()).await
        }
        Err(TokenTrouble::Core(e)) => Err(e),
        Err(TokenTrouble::NeedsReconnect) => {
            fail(ctx, intent, "seller_needs_reconnect", "Mercado Pago rejected the seller's credentials; the seller must link the account again").await
        }
        Err(TokenTrouble::RetryAt(at)) => {
            let wait = (at - Utc::now()).to_std().unwrap_or(Duration::from_secs(1));
            retry(ctx, intent, ("token_refresh_failed", "could not refresh the seller's token"), Some(wait)).await
        }
    }
}

/// Records what Mercado Pago answered to the create. If the intent was
/// canceled here meanwhile, the new order is canceled upstream too.
pub async fn record_created(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    status: IntentStatus,
    facts: UpstreamFacts,
) -> Result<(), CoreError> {
    let upstream_id = facts.upstream_id.clone();
    if !apply(ctx, &intent.id, status, facts, EventSource::Worker).await? {
        overtaken_by_cancel(ctx, intent, upstream_id).await?;
    }
    Ok(())
}

/// The create reached Mercado Pago, but the intent was canceled here in the
/// meantime (the cancel won the race for the row): the order must not stay
/// live upstream, where a terminal could still charge it. Record its id and
/// cancel it there too.
async fn overtaken_by_cancel(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    upstream_id: Option<String>,
) -> Result<(), CoreError> {
    let Some(current) = payment_intents::Entity::find_by_id(intent.id.clone())
        .one(&ctx.db)
        .await?
    else {
        return Ok(());
    };
    let (IntentStatus::Canceled, Some(upstream_id)) = (current.status, upstream_id) else {
        return Ok(());
    };
    intents::record_upstream_id(&ctx.db, &current.id, &upstream_id).await?;
    let mut sent = current.clone();
    sent.upstream_id = Some(upstream_id.clone());
    tracing::warn!(intent_id = %current.id, upstream_id, "canceled while being sent: canceling upstream too");
    let result = match current.upstream_api {
        UpstreamApi::Orders => {
            with_token(ctx, &current.seller_id, |token| {
                let upstream_id = upstream_id.clone();
                let key = format!("{}-cancel", current.id);
                async move {
                    ctx.mp
                        .cancel_order(&token, &upstream_id, &key, true)
                        .await
                        .map(drop)
                }
            })
            .await
        }
        UpstreamApi::Legacy => {
            let device = terminals::Entity::find_by_id(current.terminal_id.clone())
                .one(&ctx.db)
                .await?
                .map(|t| t.device_id)
                .unwrap_or_default();
            with_token(ctx, &current.seller_id, |token| {
                let (upstream_id, device) = (upstream_id.clone(), device.clone());
                async move {
                    ctx.mp
                        .cancel_payment_intent(&token, &device, &upstream_id)
                        .await
                        .map(drop)
                }
            })
            .await
        }
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            intents::note_cancel_refused(
                &ctx.db,
                &current.id,
                e.code().unwrap_or("cancel_refused"),
                &e.to_string(),
            )
            .await?;
            tracing::error!(intent_id = %current.id, error = %e, "an order canceled here could not be canceled upstream");
            Ok(())
        }
        Err(TokenTrouble::Core(e)) => Err(e),
        Err(_) => Ok(()),
    }
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
        external_reference: intent.id.clone(),
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
            external_reference: Some(intent.id.clone()),
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
        return retry(ctx, intent, (code, &err.to_string()), floor).await;
    }
    if terminal_busy_upstream(&err) {
        // Puente holds no other open intent on this terminal, so what
        // occupies it upstream is on its way out (an order canceled a moment
        // ago, a charge finishing on the device): try again, a few times.
        if intent.dispatch_attempts + 1 < BUSY_TERMINAL_ATTEMPTS {
            return retry(
                ctx,
                intent,
                ("terminal_busy_upstream", &err.to_string()),
                None,
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

/// Mercado Pago's "this terminal already has a queued order/intent" (§2.3, §3.1).
fn terminal_busy_upstream(err: &MpError) -> bool {
    match err {
        MpError::Api {
            status: 409,
            code,
            message,
        } => {
            code.as_deref() == Some("already_queued_order_for_terminal")
                || message.contains("queued payment intent")
        }
        _ => false,
    }
}

async fn retry(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    error: (&str, &str),
    floor: Option<Duration>,
) -> Result<Next, CoreError> {
    let attempts = intent.dispatch_attempts + 1;
    if attempts >= ctx.dispatch.max_attempts {
        return fail(
            ctx,
            intent,
            error.0,
            &format!("gave up after {attempts} attempts: {}", error.1),
        )
        .await;
    }
    let wait = ctx.dispatch.wait(attempts, floor);
    let next =
        Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
    intents::note_retry(&ctx.db, &intent.id, next, error).await?;
    tracing::info!(intent_id = %intent.id, attempts, ?wait, code = error.0, "dispatch will be retried");
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
        error: Some((code.to_owned(), message.to_owned())),
        ..Default::default()
    };
    tracing::warn!(intent_id = %intent.id, code, message, "intent failed");
    metrics::counter!("puente_dispatch_failed_total").increment(1);
    apply(
        ctx,
        &intent.id,
        IntentStatus::Failed,
        facts,
        EventSource::Worker,
    )
    .await?;
    Ok(Next::Done)
}

/// Applies a status change and tells everyone who waits for it.
pub async fn apply(
    ctx: &WorkerContext,
    intent_id: &str,
    status: IntentStatus,
    facts: UpstreamFacts,
    source: EventSource,
) -> Result<bool, CoreError> {
    match intents::transition(&ctx.db, intent_id, status, facts, source).await? {
        Transition::Applied { intent, deliveries } => {
            if !intent.status.is_final() {
                let next = Utc::now()
                    + chrono::Duration::from_std(ctx.dispatch.sync_every).unwrap_or_default();
                intents::schedule(&ctx.db, &intent.id, Some(next)).await?;
            }
            crate::announce(ctx, &intent.id, &deliveries).await;
            Ok(true)
        }
        Transition::Ignored { .. } => Ok(false),
    }
}

async fn cancel_upstream(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
) -> Result<Next, CoreError> {
    let Some(upstream_id) = intent.upstream_id.clone() else {
        return Ok(Next::Done);
    };
    let result = match intent.upstream_api {
        UpstreamApi::Orders => {
            with_token(ctx, &intent.seller_id, |token| {
                let upstream_id = upstream_id.clone();
                async move {
                    let key = format!("{}-cancel", intent.id);
                    let out = ctx
                        .mp
                        .cancel_order(&token, &upstream_id, &key, true)
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
            let device = terminals::Entity::find_by_id(intent.terminal_id.clone())
                .one(&ctx.db)
                .await?
                .map(|t| t.device_id)
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
        Ok(Ok(Some(status))) => {
            let facts = UpstreamFacts {
                status_detail: Some("canceled_by_api".into()),
                ..Default::default()
            };
            apply(ctx, &intent.id, status, facts, EventSource::Worker).await?;
            Ok(Next::Done)
        }
        // Accepted asynchronously: the terminal decides; a notification or the
        // sync tells the outcome.
        Ok(Ok(None)) => Ok(Next::Done),
        Ok(Err(err)) if err.is_retryable() => {
            retry(
                ctx,
                intent,
                ("cancel_upstream_error", &err.to_string()),
                None,
            )
            .await
        }
        Ok(Err(err)) => {
            // Refused (already on the terminal and not cancelable, or final):
            // record why and let the sync find the real outcome.
            intents::note_cancel_refused(
                &ctx.db,
                &intent.id,
                err.code().unwrap_or("cancel_refused"),
                &err.to_string(),
            )
            .await?;
            crate::announce(ctx, &intent.id, &[]).await;
            Ok(Next::Done)
        }
        Err(TokenTrouble::Core(e)) => Err(e),
        Err(TokenTrouble::RetryAt(_)) => Ok(Next::RetryAfter(Duration::from_secs(60))),
        Err(TokenTrouble::NeedsReconnect) => {
            intents::note_cancel_refused(
                &ctx.db,
                &intent.id,
                "seller_needs_reconnect",
                "the seller must link the account again",
            )
            .await?;
            Ok(Next::Done)
        }
    }
}
