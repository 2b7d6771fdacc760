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
use platform_queue::Delivery;
use tokio::sync::watch;

use crate::WorkerContext;
use crate::consumer::Consumer;
use crate::sync::{self, Hints, Synced};

/// Notifications handled at once per process: each waits on a Mercado Pago
/// read, and they touch different intents (or the same one harmlessly:
/// every change is a conditional, forward-only move).
pub const CONCURRENCY: usize = 32;

pub async fn run(ctx: WorkerContext, stopped: watch::Receiver<bool>) {
    let consumer = Consumer {
        topic: jobs::NOTIFICATION,
        concurrency: CONCURRENCY,
        wait: Duration::from_secs(1),
    };
    consumer.run_in(ctx, stopped, settle).await
}

/// Processes the notification a message names, then acks it (or has it
/// retried).
async fn settle(ctx: WorkerContext, d: Delivery) {
    let Some(id) = crate::message_id::<InboundNotificationId>(jobs::NOTIFICATION, &d.payload)
    else {
        // As an unknown notification: nothing to do.
        if let Err(e) = ctx.queue.ack(&d).await {
            tracing::warn!(error = %e, "notifications: could not settle the message");
        }
        return;
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
        Notification::Other { topic, body } if topic.as_deref() == Some("payment") => {
            return qr_payment(ctx, row, body).await;
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

/// A `payment` notification: a buyer paid a QR order (terminal payments
/// arrive as their order or intent). The payment is re-read from Mercado
/// Pago with the seller's token before anything changes, then recorded on
/// the seller's QR order with its `external_reference`.
async fn qr_payment(
    ctx: &WorkerContext,
    row: &inbound_notifications::Model,
    body: &serde_json::Value,
) -> Result<(NotificationStatus, Option<String>), CoreError> {
    let ignored = |why: &str| Ok((NotificationStatus::Ignored, Some(why.to_owned())));
    let Some(integrator) = row.integrator_id.clone() else {
        return ignored("no integrator");
    };
    let Some(payment_id) = row
        .resource_id
        .clone()
        .or_else(|| match &body["data"]["id"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    else {
        return ignored("no payment id");
    };
    let user = match &body["user_id"] {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let Some(user) = user else {
        return ignored("no user id");
    };
    let scope = platform_core::tenancy::Scope::integrator(integrator.clone());
    let Some(seller) = platform_core::mp_registry::seller_by_mp_user(&ctx.db, &scope, user).await?
    else {
        return ignored("no linked seller for this account");
    };
    let token = platform_core::credentials::access_token(&ctx.db, &ctx.keyring, &seller.id).await?;
    let payment = match ctx.mp.get_payment(&token.token, &payment_id).await {
        Ok(p) => p,
        Err(e) if e.is_retryable() => {
            return Err(CoreError::Internal(format!(
                "Mercado Pago could not be read: {e}"
            )));
        }
        Err(e) => return ignored(&format!("the payment could not be read: {e}")),
    };
    let Some(reference) = payment.external_reference.as_deref() else {
        return ignored("the payment has no external reference");
    };
    let approved = payment.is_approved();
    match platform_core::qr_orders::record_payment(
        &ctx.db,
        &integrator,
        &seller.id,
        reference,
        &payment.id.to_string(),
        approved,
    )
    .await?
    {
        Some(_) => Ok((NotificationStatus::Processed, None)),
        None => ignored("no QR order matches this payment"),
    }
}
