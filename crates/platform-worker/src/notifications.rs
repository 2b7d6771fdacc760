//! Processing recorded Mercado Pago notifications: the body is only a hint;
//! the resource is read back from Mercado Pago and applied only if it moves
//! the intent forward, so duplicates and out-of-order deliveries change
//! nothing.

use std::time::Duration;

use platform_core::CoreError;
use platform_core::entities::inbound_notifications;
use platform_core::id::InboundNotificationId;
use platform_core::intents;
use platform_core::jobs;
use platform_core::mercadopago::{Notification, parse_notification};
use platform_core::notifications as inbound;
use platform_core::sellers;
use platform_core::states::{EventSource, NotificationStatus};
use tokio::sync::watch;

use crate::WorkerContext;
use crate::sync::{self, Hints, Synced};

pub async fn run(ctx: WorkerContext, mut stopped: watch::Receiver<bool>) {
    loop {
        let batch = tokio::select! {
            _ = stopped.changed() => break,
            b = ctx.queue.receive(jobs::NOTIFICATION, 32, Duration::from_secs(1)) => b,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: queue receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for d in batch {
            let Some(id) =
                crate::message_id::<InboundNotificationId>(jobs::NOTIFICATION, &d.payload)
            else {
                // As an unknown notification: nothing to do.
                if let Err(e) = ctx.queue.ack(&d).await {
                    tracing::warn!(error = %e, "notifications: could not settle the message");
                }
                continue;
            };
            let settled = match process(&ctx, &id).await {
                Ok(()) => ctx.queue.ack(&d).await,
                Err(e) => {
                    tracing::warn!(notification = %d.payload, error = %e, "notification processing failed; retrying");
                    ctx.queue.retry_after(&d, Duration::from_secs(5)).await
                }
            };
            if let Err(e) = settled {
                tracing::warn!(error = %e, "notifications: could not settle the message");
            }
        }
    }
}

/// Processes one recorded notification (idempotent: a processed one is skipped).
pub async fn process(ctx: &WorkerContext, id: &InboundNotificationId) -> Result<(), CoreError> {
    let Some(row) = inbound::find(&ctx.db, id).await? else {
        return Ok(());
    };
    if row.status != NotificationStatus::Received {
        return Ok(());
    }
    let (status, error) = match handle(ctx, &row).await {
        Ok(outcome) => outcome,
        // Upstream unreachable or the like: keep it `received` for a retry.
        Err(e) => return Err(e),
    };
    metrics::counter!("puente_notifications_processed_total", "status" => status.as_str())
        .increment(1);
    inbound::mark_processed(&ctx.db, row, status, error).await
}

async fn handle(
    ctx: &WorkerContext,
    row: &inbound_notifications::Model,
) -> Result<(NotificationStatus, Option<String>), CoreError> {
    let ignored = |why: &str| Ok((NotificationStatus::Ignored, Some(why.to_owned())));
    let parsed = match parse_notification(Some(&row.topic), row.body.as_bytes()) {
        Ok(p) => p,
        Err(e) => return ignored(&format!("unreadable body: {e}")),
    };
    let (upstream_id, external_ref, hints) = match &parsed {
        Notification::Order(n) => (
            row.resource_id
                .clone()
                .or_else(|| n.data.id.as_ref().map(|i| i.to_string())),
            n.data.external_reference.clone(),
            Hints {
                version: n.data.version.map(|v| v as i64),
                ..Default::default()
            },
        ),
        Notification::PointIntegration(n) => (
            n.intent_id()
                .map(|i| i.to_string())
                .or_else(|| row.resource_id.clone()),
            n.additional_info
                .as_ref()
                .and_then(|a| a.external_reference.clone()),
            Hints {
                legacy_payment_state: n.payment.as_ref().and_then(|p| p.state.clone()),
                ..Default::default()
            },
        ),
        Notification::MpConnect(n) => {
            if !n.is_deauthorization() {
                return ignored("mp-connect action handled by the OAuth callback");
            }
            // Only the integrator whose secret verified it (recorded at
            // intake): the body's application id is public and picks nothing.
            let Some(integrator) = &row.integrator_id else {
                return ignored("no integrator");
            };
            // `resource_id` is the query's `data.id`, which the signature covers.
            let user = match n.signed_user_id(row.resource_id.as_deref()) {
                Ok(user) => user,
                Err(e) => return ignored(e.message()),
            };
            return match sellers::handle_deauthorization(&ctx.db, integrator, user as i64).await? {
                Some(_) => Ok((NotificationStatus::Processed, None)),
                None => ignored("no linked seller for this account"),
            };
        }
        Notification::Other { topic, .. } => {
            return ignored(&format!(
                "topic {} is not used by Puente",
                topic.as_deref().unwrap_or("?")
            ));
        }
    };
    let Some(mut intent) =
        intents::find_by_upstream(&ctx.db, upstream_id.as_deref(), external_ref.as_deref()).await?
    else {
        return ignored("no payment intent matches this resource");
    };
    if row.integrator_id.as_ref() != Some(&intent.integrator_id) {
        return ignored("resource belongs to another integrator");
    }
    if intent.upstream_id.is_none() {
        // The create response was lost but the order exists: adopt its id.
        intent.upstream_id = upstream_id;
    }
    match sync::sync_intent(ctx, &intent, hints, EventSource::Notification).await? {
        Synced::Changed | Synced::Unchanged => Ok((NotificationStatus::Processed, None)),
        Synced::Skipped if intent.upstream_id.is_some() => Err(CoreError::Internal(
            "Mercado Pago could not be read; will retry".into(),
        )),
        Synced::Skipped => ignored("the intent was not sent yet"),
    }
}
