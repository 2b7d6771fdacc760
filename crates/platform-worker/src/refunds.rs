//! Sending queued refunds to Mercado Pago — an Orders API intent through its
//! order (§3.4), a legacy intent through its payment (§2.7) — with
//! `X-Idempotency-Key` = the refund id so a retry never refunds twice.

use platform_core::clock;
use platform_core::tenancy::unscoped;
use std::time::Duration;

use platform_core::CoreError;
use platform_core::entities::{payment_intents, refunds};
use platform_core::error::Failure;
use platform_core::id::RefundId;
use platform_core::jobs;
use platform_core::mercadopago::{Amount, OrderStatus, RefundRequest};
use platform_core::refunds as refund_service;
use platform_core::states::{RefundStatus, UpstreamApi};
use tokio::sync::watch;

use crate::WorkerContext;
use crate::consumer::Consumer;
use crate::dispatch::{Next, TokenTrouble, with_token};

/// A refund failing for passing reasons this long is given up.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// Refunds sent to Mercado Pago at once by one worker process.
const CONCURRENCY: usize = 8;

pub async fn run(ctx: WorkerContext, stopped: watch::Receiver<bool>) {
    let consumer = Consumer {
        topic: jobs::REFUND_DISPATCH,
        concurrency: CONCURRENCY,
        wait: Duration::from_secs(1),
    };
    consumer.run_in(ctx, stopped, handle_message).await
}

/// Handles one message and acks or retries it.
async fn handle_message(ctx: WorkerContext, d: platform_queue::Delivery) {
    let Some(refund_id) = crate::message_id::<RefundId>(jobs::REFUND_DISPATCH, &d.payload) else {
        // As an unknown refund: nothing to do.
        if let Err(e) = ctx.queue.ack(&d).await {
            tracing::warn!(error = %e, "refunds: could not settle the message");
        }
        return;
    };
    let settled = match handle(&ctx, &refund_id).await {
        Ok(Next::Done) => ctx.queue.ack(&d).await,
        Ok(Next::RetryAfter(w) | Next::LookAgain(w)) => ctx.queue.retry_after(&d, w).await,
        Err(e) => {
            tracing::warn!(refund = %d.payload, error = %e, "refund dispatch failed; retrying");
            ctx.queue.retry_after(&d, Duration::from_secs(5)).await
        }
    };
    if let Err(e) = settled {
        tracing::warn!(error = %e, "refunds: could not settle the message");
    }
}

pub async fn handle(ctx: &WorkerContext, refund_id: &RefundId) -> Result<Next, CoreError> {
    let Some(refund) = unscoped::<refunds::Entity>(&ctx.db, refund_id).await? else {
        return Ok(Next::Done);
    };
    if refund.status != RefundStatus::Queued {
        return Ok(Next::Done);
    }
    let intent = unscoped::<payment_intents::Entity>(&ctx.db, &refund.intent_id)
        .await?
        .ok_or(CoreError::NotFound {
            kind: "payment intent",
        })?;
    let Some(payment_id) = intent.mp_payment_id.clone() else {
        return not_refundable(ctx, &refund).await;
    };
    let amount =
        Amount::from_cents(refund.amount).map_err(|e| CoreError::Internal(e.to_string()))?;
    let total = refund.amount == intent.amount;
    let key = refund.id.to_string();
    // What Mercado Pago says after the refund: its refund id, and whether the
    // payment is now refunded in full.
    let result = match (intent.upstream_api, intent.upstream_id.clone()) {
        (UpstreamApi::Orders, Some(order_id)) => {
            with_token(ctx, &intent.seller_id, |token| {
                let req = if total {
                    RefundRequest::Total
                } else {
                    RefundRequest::Partial(vec![(payment_id.clone(), amount)])
                };
                let (order_id, key) = (order_id.clone(), key.clone());
                let (intent_id, integrator_id) = (intent.id.clone(), intent.integrator_id.clone());
                async move {
                    let order = ctx.mp.refund_order(&token, &order_id, &req, &key).await?;
                    // Each refund's Payments API id (`reference_id`), recorded
                    // before the refund settles: the answer of whoever waits
                    // for it names the refund as the payment's refunds do.
                    if let Err(e) = platform_core::order_details::record(
                        &ctx.db,
                        &intent_id,
                        &integrator_id,
                        &order,
                    )
                    .await
                    {
                        tracing::warn!(intent_id = %intent_id, error = %e, "refund references not recorded");
                    }
                    Ok(Refunded {
                        upstream_id: order.transactions.refunds.last().map(|r| r.id.clone()),
                        in_full: order.status == OrderStatus::Refunded,
                    })
                }
            })
            .await
        }
        (UpstreamApi::Legacy, _) => {
            // A legacy intent's payment is refunded through the Payments API
            // (§2.7); the payment's status then says whether it is refunded
            // in full.
            with_token(ctx, &intent.seller_id, |token| {
                let (payment_id, key) = (payment_id.clone(), key.clone());
                async move {
                    let part = (!total).then_some(amount);
                    let made = ctx
                        .mp
                        .refund_payment(&token, &payment_id, part, &key)
                        .await?;
                    let payment = ctx.mp.get_payment(&token, &payment_id).await?;
                    Ok(Refunded {
                        upstream_id: Some(made.id.to_string()),
                        in_full: payment.status == "refunded",
                    })
                }
            })
            .await
        }
        (UpstreamApi::Orders, None) => return not_refundable(ctx, &refund).await,
    };
    match result {
        Ok(Ok(done)) => {
            // A partial refund keeps the intent processed (§3.4); a full one
            // moves it to refunded in the refund's own transaction.
            settle(
                ctx,
                &refund,
                RefundStatus::Succeeded,
                done.upstream_id,
                None,
                done.in_full,
            )
            .await
        }
        Ok(Err(e)) if e.is_retryable() && clock::now() - refund.created_at < GIVE_UP_AFTER => {
            tracing::info!(refund = %refund.id, error = %e, "refund will be retried");
            Ok(Next::RetryAfter(
                ctx.dispatch.wait(1, None).max(Duration::from_secs(5)),
            ))
        }
        Ok(Err(e)) => {
            let code = e.code().unwrap_or("refund_rejected").to_owned();
            settle(
                ctx,
                &refund,
                RefundStatus::Failed,
                None,
                Some(Failure::new(code, e.to_string())),
                false,
            )
            .await
        }
        Err(TokenTrouble::Core(e)) => Err(e),
        Err(TokenTrouble::RetryAt(_)) => Ok(Next::RetryAfter(Duration::from_secs(60))),
        Err(TokenTrouble::NeedsReconnect) => {
            settle(
                ctx,
                &refund,
                RefundStatus::Failed,
                None,
                Some(Failure::new(
                    "seller_needs_reconnect",
                    "the seller must link the account again",
                )),
                false,
            )
            .await
        }
    }
}

/// What Mercado Pago answered a refund.
struct Refunded {
    upstream_id: Option<String>,
    in_full: bool,
}

async fn not_refundable(ctx: &WorkerContext, refund: &refunds::Model) -> Result<Next, CoreError> {
    settle(
        ctx,
        refund,
        RefundStatus::Failed,
        None,
        Some(Failure::new(
            "not_refundable",
            "the intent has no upstream payment",
        )),
        false,
    )
    .await
}

async fn settle(
    ctx: &WorkerContext,
    refund: &refunds::Model,
    outcome: RefundStatus,
    upstream_id: Option<String>,
    error: Option<Failure>,
    intent_refunded: bool,
) -> Result<Next, CoreError> {
    refund_service::settle(
        &ctx.db,
        &refund.id,
        outcome,
        upstream_id,
        error,
        intent_refunded,
    )
    .await?
    .publish(&ctx.queue)
    .await;
    Ok(Next::Done)
}
