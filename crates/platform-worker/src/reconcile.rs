//! The reconciler: the database is the record, so whatever is due and not
//! moving is put back on the queue (lost message, crashed worker, Redis
//! restarted empty), and sent intents with no news are re-read upstream.

use platform_core::clock;
use platform_core::tenancy::unscoped;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform_core::CoreError;
use platform_core::states::{EventSource, IntentStatus};
use platform_core::{intents, jobs, notifications, refunds};
use tokio::sync::watch;

use crate::WorkerContext;

/// How often the reconciler runs, and how stale a row must be before it is
/// presumed lost (longer than a message's visibility timeout, so in-flight
/// work is not duplicated in the common case).
#[derive(Debug, Clone)]
pub struct ReconcilePolicy {
    pub every: Duration,
    pub grace: chrono::Duration,
    pub batch: u64,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        ReconcilePolicy {
            every: Duration::from_secs(5),
            grace: chrono::Duration::seconds(90),
            batch: 500,
        }
    }
}

/// What one pass did, for logs and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub requeued_dispatch: usize,
    pub synced: usize,
    pub requeued_notifications: usize,
    pub requeued_refunds: usize,
}

pub async fn run(ctx: WorkerContext, mut stopped: watch::Receiver<bool>) {
    loop {
        match tick(&ctx, clock::now()).await {
            Ok(p) if p != Pass::default() => tracing::info!(?p, "reconciler pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reconciler pass failed"),
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tokio::time::sleep(ctx.reconcile.every) => {}
        }
    }
}

/// One pass at time `now` (tests pass the time instead of waiting for it).
pub async fn tick(ctx: &WorkerContext, now: DateTime<Utc>) -> Result<Pass, CoreError> {
    let mut pass = Pass::default();
    let stale = now - ctx.reconcile.grace;

    // Queued intents (and cancel requests) whose dispatch is overdue.
    let overdue = intents::overdue_for_dispatch(&ctx.db, stale, ctx.reconcile.batch).await?;
    for intent in overdue {
        let wants_dispatch = intent.status == IntentStatus::Queued
            || intent
                .cancel_state
                .is_some_and(platform_core::states::CancelState::awaits_upstream);
        if wants_dispatch {
            let _ = ctx
                .queue
                .publish(jobs::INTENT_DISPATCH, intent.id.as_str())
                .await;
            pass.requeued_dispatch += 1;
        }
    }

    // Sent intents whose scheduled re-read is due: ask Mercado Pago.
    let to_sync = intents::due_for_sync(&ctx.db, now, ctx.reconcile.batch).await?;
    for intent in to_sync {
        crate::sync::sync_intent(
            ctx,
            &intent,
            crate::sync::Hints::default(),
            EventSource::Sync,
        )
        .await?;
        let again = now + chrono::Duration::from_std(ctx.dispatch.sync_every).unwrap_or_default();
        // Only if still open and not rescheduled by the change itself.
        let fresh =
            unscoped::<platform_core::entities::payment_intents::Entity>(&ctx.db, &intent.id)
                .await?;
        if let Some(f) = fresh
            && !f.status.is_final()
            && f.next_dispatch_at.is_none_or(|t| t <= now)
        {
            intents::schedule(&ctx.db, &f.id, Some(again)).await?;
        }
        pass.synced += 1;
    }

    // Refunds queued and not moving.
    let stuck_refunds = refunds::stuck_since(&ctx.db, stale, ctx.reconcile.batch).await?;
    for r in stuck_refunds {
        let _ = ctx
            .queue
            .publish(jobs::REFUND_DISPATCH, r.id.as_str())
            .await;
        pass.requeued_refunds += 1;
    }

    // Notifications recorded but never processed.
    let pending = notifications::unprocessed_before(&ctx.db, stale, ctx.reconcile.batch).await?;
    for n in pending {
        let _ = ctx.queue.publish(jobs::NOTIFICATION, n.id.as_str()).await;
        pass.requeued_notifications += 1;
    }
    Ok(pass)
}
