//! Webhook fan-out: consumes `jobs::WEBHOOK_DELIVERY` (`msg_…` ids) and
//! runs one attempt for each (claim, send, record: [`delivery::claim`]),
//! and reconciles deliveries whose message went missing.
//!
//! * Up to `concurrency` attempts in flight per process, and at most
//!   `per_endpoint` for one endpoint across every worker process (a
//!   semaphore in the queue: Redis, or this process with the in-process
//!   queue), so a slow receiver cannot take every slot: a message for an
//!   endpoint that is at its limit gives its claim back and is put back
//!   with a short delay. A slot is held for the HTTP request only; the
//!   claim before it and the bookkeeping after it do not hold it.
//! * A message is acked only after the attempt is recorded. A retry is a new
//!   delayed message (`publish_after` until the row's `next_attempt_at`),
//!   published before the current one is acked.
//! * Final, missing, not-yet-due or already-claimed rows are acked without
//!   sending (duplicates are harmless).
//! * The reconciler re-publishes pending deliveries more than `grace`
//!   overdue: lost messages, a crashed worker, a flushed Redis. In a rare
//!   race a delivery may be attempted twice (at least once; receivers dedupe
//!   on `webhook-id`); the claim makes the common case once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use platform_core::crypto::Keyring;
use platform_core::db::Db;
use platform_core::id::WebhookDeliveryId;
use platform_core::jobs;
use platform_core::states::DeliveryStatus;
use platform_core::webhooks::delivery::{self, Outcome};
use platform_core::webhooks::{Clock, DeliveryPolicy, SystemClock, WebhookHttp};
use platform_queue::{Delivery as Message, Queue, Semaphore};
use tokio::sync::watch;

use crate::WorkerContext;
use crate::consumer::Consumer;

/// Counters, for tests and gauges.
#[derive(Debug, Default)]
pub struct WebhookStats {
    pub attempts: AtomicU64,
    pub succeeded: AtomicU64,
    pub retried: AtomicU64,
    pub dead: AtomicU64,
    pub skipped: AtomicU64,
    pub deferred: AtomicU64,
    pub republished: AtomicU64,
    pub reconcile_runs: AtomicU64,
    /// Gauges of the `webhooks.deliver` topic (from `Queue::stats`), as of
    /// the last reconciler run.
    pub queue_depth: AtomicU64,
    pub queue_in_flight: AtomicU64,
    pub queue_delayed: AtomicU64,
    pub queue_dead: AtomicU64,
}

impl WebhookStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

/// Everything the webhook task needs; [`WebhookWorker::from_context`]
/// gives the production values.
#[derive(Clone)]
pub struct WebhookWorker {
    pub db: Db,
    pub keyring: Keyring,
    pub queue: Queue,
    pub http: WebhookHttp,
    pub policy: DeliveryPolicy,
    pub clock: Arc<dyn Clock>,
    /// Attempts in flight in this process.
    pub concurrency: usize,
    /// Attempts in flight for one endpoint, across every worker process
    /// sharing the queue.
    pub per_endpoint: usize,
    /// How long one `receive` waits for a message.
    pub receive_wait: Duration,
    /// How long a message waits for a free slot of its endpoint (holding
    /// one of the `concurrency` permits) before it is deferred.
    pub busy_endpoint_wait: Duration,
    /// A message still finding its endpoint at the limit comes back after this.
    pub busy_endpoint_delay: Duration,
    pub reconcile_every: Duration,
    /// How overdue a pending delivery must be before the reconciler
    /// assumes its message is lost.
    pub reconcile_grace: Duration,
    pub stats: Arc<WebhookStats>,
}

impl WebhookWorker {
    pub fn from_context(ctx: &WorkerContext) -> Self {
        Self {
            db: ctx.db.clone(),
            keyring: ctx.keyring.clone(),
            queue: ctx.queue.clone(),
            http: WebhookHttp::from_settings(&ctx.settings),
            policy: DeliveryPolicy::default(),
            clock: Arc::new(SystemClock),
            concurrency: 32,
            per_endpoint: ctx.settings.webhook_endpoint_concurrency as usize,
            receive_wait: Duration::from_secs(2),
            busy_endpoint_wait: Duration::from_millis(250),
            busy_endpoint_delay: Duration::from_secs(1),
            reconcile_every: Duration::from_secs(5),
            // Short: deliveries created outside the API (OAuth callback,
            // dashboard edits, mp-connect) are only published by this pass.
            reconcile_grace: Duration::from_secs(10),
            stats: Arc::default(),
        }
    }
}

/// The worker task (spawned by `platform_worker::start`).
pub async fn run(ctx: WorkerContext, stopped: watch::Receiver<bool>) {
    run_with(WebhookWorker::from_context(&ctx), stopped).await
}

/// As [`run`], with explicit settings (tests drive the clock through them).
pub async fn run_with(w: WebhookWorker, stopped: watch::Receiver<bool>) {
    let reconciler = tokio::spawn(reconcile_loop(w.clone(), stopped.clone()));
    consume_loop(w, stopped).await;
    let _ = reconciler.await;
}

/// The semaphore counting attempts in flight per endpoint (`Psem:webhook-endpoint:<id>`
/// on Redis).
const ENDPOINT_SLOTS: &str = "webhook-endpoint";

/// How long an endpoint slot outlives a worker that died holding it: longer
/// than an attempt (the HTTP timeout, plus recording it).
fn endpoint_lease(w: &WebhookWorker) -> Duration {
    w.policy.timeout * 2 + Duration::from_secs(15)
}

async fn consume_loop(w: WebhookWorker, stopped: watch::Receiver<bool>) {
    let slots = Arc::new(w.queue.semaphore(
        ENDPOINT_SLOTS,
        w.per_endpoint.max(1),
        endpoint_lease(&w),
    ));
    let consumer = Consumer {
        topic: jobs::WEBHOOK_DELIVERY,
        concurrency: w.concurrency,
        wait: w.receive_wait,
    };
    let queue = w.queue.clone();
    consumer
        .run(queue, stopped, move |m| {
            let (w, slots) = (w.clone(), slots.clone());
            async move { handle(&w, &slots, m).await }
        })
        .await
}

async fn ack(w: &WebhookWorker, m: &Message) {
    if let Err(e) = w.queue.ack(m).await {
        tracing::warn!(delivery = %m.payload, error = %e, "webhooks: ack failed (the message will come back and be skipped)");
    }
}

async fn handle(w: &WebhookWorker, slots: &Semaphore, m: Message) {
    let Some(id) = crate::message_id::<WebhookDeliveryId>(jobs::WEBHOOK_DELIVERY, &m.payload)
    else {
        // As an unknown delivery: nothing to do.
        w.stats.skipped.fetch_add(1, Ordering::SeqCst);
        ack(w, &m).await;
        return;
    };
    let id = &id;
    let job = match delivery::read(&w.db, id).await {
        Ok(Some(job)) if job.delivery.status == DeliveryStatus::Pending => job,
        Ok(_) => {
            // Final or gone: nothing to do.
            w.stats.skipped.fetch_add(1, Ordering::SeqCst);
            ack(w, &m).await;
            return;
        }
        Err(e) => {
            // Not acked: the queue hands it out again after its visibility timeout.
            tracing::warn!(delivery = %id, error = %e, "webhooks: cannot read the delivery");
            return;
        }
    };
    // Claimed before the wait for a slot, so the slot covers the request only.
    let claimed = match delivery::claim(&w.db, &w.policy, job, w.clock.now()).await {
        Ok(Ok(claimed)) => claimed,
        Ok(Err(why)) => {
            // Already claimed, not due or final: someone else has it, or its own message comes.
            tracing::debug!(delivery = %id, ?why, "webhooks: nothing to send");
            w.stats.skipped.fetch_add(1, Ordering::SeqCst);
            ack(w, &m).await;
            return;
        }
        Err(e) => {
            // Not acked: the queue hands it out again after its visibility timeout.
            tracing::warn!(delivery = %id, error = %e, "webhooks: cannot claim the delivery");
            return;
        }
    };
    let slot_deadline = tokio::time::Instant::now() + w.busy_endpoint_wait;
    let slot = match slots
        .acquire_by(claimed.delivery().endpoint_id.as_str(), slot_deadline)
        .await
    {
        Ok(Some(slot)) => slot,
        outcome => {
            if let Err(e) = &outcome {
                tracing::warn!(delivery = %id, error = %e, "webhooks: cannot take an endpoint slot");
            }
            defer(w, &m, claimed).await;
            return;
        }
    };
    let sent = claimed.send(&w.keyring, &w.http, &w.policy).await;
    if let Err(e) = slot.release().await {
        // Its lease frees it.
        tracing::debug!(delivery = %id, error = %e, "webhooks: endpoint slot release failed");
    }
    settle(w, &m, id, sent.record(&w.db, &w.policy).await).await;
}

/// The endpoint has no free slot: the claim is given back and the message
/// comes again after `busy_endpoint_delay`.
async fn defer(w: &WebhookWorker, m: &Message, claimed: delivery::Claimed) {
    w.stats.deferred.fetch_add(1, Ordering::SeqCst);
    let id = claimed.delivery().id.clone();
    let delay = w.busy_endpoint_delay;
    let at = w.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
    if let Err(e) = claimed.release(&w.db, at).await {
        // Its lease passes and the reconciler re-queues it.
        tracing::warn!(delivery = %id, error = %e, "webhooks: cannot give the claim back");
    }
    match w
        .queue
        .publish_after(jobs::WEBHOOK_DELIVERY, id.as_str(), delay)
        .await
    {
        Ok(()) => ack(w, m).await,
        Err(e) => tracing::warn!(delivery = %id, error = %e, "webhooks: cannot defer"),
    }
}

/// Settles the message after an attempt was made (or could not be recorded).
async fn settle(
    w: &WebhookWorker,
    m: &Message,
    id: &WebhookDeliveryId,
    recorded: Result<Outcome, platform_core::CoreError>,
) {
    match recorded {
        Ok(Outcome::Retry { at }) => {
            w.stats.attempts.fetch_add(1, Ordering::SeqCst);
            w.stats.retried.fetch_add(1, Ordering::SeqCst);
            let delay = (at - w.clock.now()).to_std().unwrap_or(Duration::ZERO);
            match w
                .queue
                .publish_after(jobs::WEBHOOK_DELIVERY, id.as_str(), delay)
                .await
            {
                Ok(()) => ack(w, m).await,
                // Not acked: it comes back, is "not due" and is dropped;
                // the reconciler re-queues the row when it is due.
                Err(e) => {
                    tracing::warn!(delivery = %id, error = %e, "webhooks: cannot schedule the retry")
                }
            }
        }
        Ok(outcome) => {
            let counter = match outcome {
                Outcome::Succeeded => &w.stats.succeeded,
                Outcome::Dead => &w.stats.dead,
                _ => &w.stats.skipped,
            };
            if matches!(outcome, Outcome::Succeeded | Outcome::Dead) {
                w.stats.attempts.fetch_add(1, Ordering::SeqCst);
            }
            counter.fetch_add(1, Ordering::SeqCst);
            match &outcome {
                Outcome::Skipped(why) => {
                    tracing::debug!(delivery = %id, ?why, "webhooks: nothing to send");
                    ack(w, m).await;
                }
                // The row says dead (and why); the queue's dead letters
                // keep a trace for the operator's gauges too.
                Outcome::Dead => {
                    let reason = "webhook delivery is dead; see webhook_deliveries.last_error";
                    if let Err(e) = w.queue.dead_letter(m, reason).await {
                        tracing::warn!(delivery = %id, error = %e, "webhooks: dead-letter failed");
                    }
                }
                _ => ack(w, m).await,
            }
        }
        Err(e) => {
            // Not acked: it comes back after its visibility timeout and is
            // "not due" while the claim's lease holds; the reconciler then
            // re-queues it.
            tracing::warn!(delivery = %id, error = %e, "webhooks: attempt could not be recorded");
        }
    }
}

async fn reconcile_loop(w: WebhookWorker, mut stopped: watch::Receiver<bool>) {
    loop {
        if *stopped.borrow() {
            break;
        }
        match delivery::take_overdue(&w.db, w.clock.now(), w.reconcile_grace, 500).await {
            Ok(ids) => {
                for id in &ids {
                    match w.queue.publish(jobs::WEBHOOK_DELIVERY, id.as_str()).await {
                        Ok(()) => {
                            w.stats.republished.fetch_add(1, Ordering::SeqCst);
                        }
                        // Re-armed but not queued: taken again after the grace period.
                        Err(e) => {
                            tracing::warn!(delivery = %id, error = %e, "webhooks: cannot re-queue")
                        }
                    }
                }
                if !ids.is_empty() {
                    tracing::info!(count = ids.len(), "webhooks: re-queued overdue deliveries");
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhooks: reconcile failed"),
        }
        match w.queue.stats(jobs::WEBHOOK_DELIVERY).await {
            Ok(q) => {
                w.stats.queue_depth.store(q.depth, Ordering::SeqCst);
                w.stats.queue_in_flight.store(q.in_flight, Ordering::SeqCst);
                w.stats.queue_delayed.store(q.delayed, Ordering::SeqCst);
                w.stats.queue_dead.store(q.dead, Ordering::SeqCst);
            }
            Err(e) => tracing::debug!(error = %e, "webhooks: no queue stats"),
        }
        w.stats.reconcile_runs.fetch_add(1, Ordering::SeqCst);
        tokio::select! {
            _ = tokio::time::sleep(w.reconcile_every) => {}
            _ = stopped.changed() => break,
        }
    }
}
