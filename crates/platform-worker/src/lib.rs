//! The worker role: consumes Puente's queues and keeps the SQL rows (the
//! jobs of record) moving to a final state.
//!
//! Tasks, each stopping after its current job on [`WorkerHandle::stop`]:
//! - `dispatch`: queued intents and cancel requests → Mercado Pago;
//! - `notifications`: verified Mercado Pago notifications → re-fetch → apply;
//! - `reconcile`: re-queues due work that is not moving, re-reads sent
//!   intents that got no notification;
//! - `refunds`: queued refunds → Mercado Pago;
//! - `refresh`: sellers' tokens before they expire;
//! - `webhooks`: signed deliveries to integrators' endpoints;
//! - `housekeeping`: deletes rows past their retention.

pub mod consumer;
pub mod dispatch;
pub mod housekeeping;
pub mod mapping;
pub mod notifications;
pub mod reconcile;
pub mod refresh;
pub mod refunds;
pub mod retry;
pub mod sync;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use platform_core::config::Settings;
use platform_core::credentials::{RefreshLocks, RefreshPolicy};
use platform_core::crypto::Keyring;
use platform_core::db::Db;
use platform_core::effects::Effects;
use platform_core::id::{PaymentIntentId, WebhookDeliveryId};
use platform_core::mercadopago::MpClient;
use platform_queue::Queue;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use reconcile::ReconcilePolicy;
pub use retry::{DispatchPolicy, QUEUE_MAX_DELIVERIES};

#[derive(Clone)]
pub struct WorkerContext {
    pub db: Db,
    pub keyring: Keyring,
    pub queue: Queue,
    pub settings: Arc<Settings>,
    pub mp: MpClient,
    pub dispatch: DispatchPolicy,
    pub reconcile: ReconcilePolicy,
    pub refresh_policy: RefreshPolicy,
    pub refresh_locks: RefreshLocks,
}

impl WorkerContext {
    /// `sandbox_url`: the embedded sandbox's URL when it runs in this process.
    pub fn new(
        db: Db,
        keyring: Keyring,
        queue: Queue,
        settings: Arc<Settings>,
        sandbox_url: Option<&str>,
    ) -> Self {
        let mp = platform_core::upstream::mp_client(&settings, sandbox_url);
        db.attach_bus(&queue);
        WorkerContext {
            db,
            keyring,
            queue,
            settings,
            mp,
            dispatch: DispatchPolicy::default(),
            reconcile: ReconcilePolicy::default(),
            refresh_policy: RefreshPolicy::default(),
            refresh_locks: RefreshLocks::default(),
        }
    }
}

/// The running worker's tasks and their stop signal.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl WorkerHandle {
    /// Asks every task to stop after its current job and waits for them.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

pub fn start(ctx: WorkerContext) -> WorkerHandle {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(heartbeat(ctx.clone(), stopped.clone()));
    tasks.spawn(dispatch::run(ctx.clone(), stopped.clone()));
    tasks.spawn(notifications::run(ctx.clone(), stopped.clone()));
    tasks.spawn(reconcile::run(ctx.clone(), stopped.clone()));
    tasks.spawn(refresh::run(ctx.clone(), stopped.clone()));
    tasks.spawn(refunds::run(ctx.clone(), stopped.clone()));
    tasks.spawn(webhooks::run(ctx.clone(), stopped.clone()));
    tasks.spawn(housekeeping::run(ctx.clone(), stopped.clone()));
    WorkerHandle { stop, tasks }
}

/// After a committed change: queue its webhook deliveries and wake anyone
/// waiting on the intent (through the one publisher, [`Effects::publish`]).
pub async fn announce(
    ctx: &WorkerContext,
    intent_id: &PaymentIntentId,
    deliveries: &[WebhookDeliveryId],
) {
    Effects::none()
        .deliveries(deliveries.iter().cloned())
        .changed(intent_id)
        .publish(&ctx.queue)
        .await;
}

pub async fn announce_deliveries(ctx: &WorkerContext, deliveries: &[WebhookDeliveryId]) {
    Effects::none()
        .deliveries(deliveries.iter().cloned())
        .publish(&ctx.queue)
        .await;
}

/// The id a queue message names. A malformed payload names nothing, as an
/// unknown id does: it is logged, and the consumer acks the message.
pub(crate) fn message_id<T: std::str::FromStr>(topic: &str, payload: &str) -> Option<T> {
    let id = payload.parse().ok();
    if id.is_none() {
        tracing::warn!(
            topic,
            payload,
            "the queue message is not an id of its kind; dropped"
        );
    }
    id
}

/// Logs that the worker is alive and can reach its queue, every minute.
async fn heartbeat(ctx: WorkerContext, mut stopped: watch::Receiver<bool>) {
    tracing::info!(
        queue = ctx.queue.backend_name(),
        consumer = ctx.queue.consumer(),
        "worker started"
    );
    loop {
        match ctx.queue.ping().await {
            Ok(()) => tracing::debug!("worker heartbeat"),
            Err(e) => tracing::warn!(error = %e, "queue unreachable"),
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
    tracing::info!("worker stopped");
}
