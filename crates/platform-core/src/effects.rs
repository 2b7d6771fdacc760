//! What a committed change owes the rest of the system: queue messages for
//! the worker and for webhook deliveries, and wake-ups for whoever waits on
//! an intent. Core mutations return them in [`Committed`]; every surface
//! (API, compatible API, dashboard, worker) runs them the same way, with
//! [`Effects::publish`], once the transaction has committed.
//!
//! Losing them loses nothing: the rows are the record and the reconciler
//! re-publishes whatever is due. They only make things prompt.

use platform_queue::Queue;

use crate::id::{PaymentIntentId, RefundId, WebhookDeliveryId};
use crate::jobs;

/// Messages owed after a commit, in the order they are published.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "publish the effects after the commit"]
pub struct Effects {
    dispatch: Vec<PaymentIntentId>,
    refunds: Vec<RefundId>,
    deliveries: Vec<WebhookDeliveryId>,
    changed: Vec<PaymentIntentId>,
}

impl Effects {
    pub fn none() -> Effects {
        Effects::default()
    }

    /// The worker must look at this intent (send it, cancel it, re-read it).
    pub fn dispatch(mut self, intent_id: &PaymentIntentId) -> Effects {
        self.dispatch.push(intent_id.clone());
        self
    }

    /// The worker must send this refund.
    pub fn refund(mut self, refund_id: &RefundId) -> Effects {
        self.refunds.push(refund_id.clone());
        self
    }

    /// Webhook deliveries written in the transaction.
    pub fn deliveries(mut self, ids: impl IntoIterator<Item = WebhookDeliveryId>) -> Effects {
        self.deliveries.extend(ids);
        self
    }

    /// Long-polls, streams and pages showing this intent must re-read it.
    pub fn changed(mut self, intent_id: &PaymentIntentId) -> Effects {
        if !self.changed.contains(intent_id) {
            self.changed.push(intent_id.clone());
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self == &Effects::default()
    }

    /// The webhook deliveries (for tests and logs).
    pub fn delivery_ids(&self) -> &[WebhookDeliveryId] {
        &self.deliveries
    }

    /// Publishes everything; a failure is logged, never returned (see the
    /// module comment for why that is safe).
    pub async fn publish(self, queue: &Queue) {
        for id in &self.dispatch {
            if let Err(e) = queue.publish(jobs::INTENT_DISPATCH, id.as_str()).await {
                tracing::warn!(error = %e, intent_id = %id, "could not queue dispatch; the reconciler will");
            }
        }
        for id in &self.refunds {
            if let Err(e) = queue.publish(jobs::REFUND_DISPATCH, id.as_str()).await {
                tracing::warn!(error = %e, refund_id = %id, "could not queue a refund; the reconciler will");
            }
        }
        for id in &self.deliveries {
            if let Err(e) = queue.publish(jobs::WEBHOOK_DELIVERY, id.as_str()).await {
                tracing::warn!(error = %e, delivery = %id, "could not queue a webhook delivery; the reconciler will");
            }
        }
        for id in &self.changed {
            let _ = queue.notify(jobs::INTENT_CHANGED, id.as_str()).await;
        }
    }
}

/// A committed change: its result and what it owes.
#[derive(Debug)]
#[must_use = "publish the effects after the commit"]
pub struct Committed<T> {
    pub value: T,
    pub effects: Effects,
}

impl<T> Committed<T> {
    pub fn new(value: T, effects: Effects) -> Committed<T> {
        Committed { value, effects }
    }

    /// Publishes the effects and hands back the value.
    pub async fn publish(self, queue: &Queue) -> T {
        self.effects.publish(queue).await;
        self.value
    }
}
