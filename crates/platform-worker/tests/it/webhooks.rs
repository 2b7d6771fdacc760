//! The webhook worker end to end on {SQLite, PostgreSQL} × {in-process
//! queue, Redis}: a local receiver that is down and then recovers, a lost
//! queue message, retries through delayed messages. Time is driven through
//! a manual clock; waits are on conditions, never fixed sleeps.

use platform_core::db::Db;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use platform_core::crypto::Keyring;
use platform_core::entities::{webhook_attempts, webhook_deliveries};
use platform_core::events;
use platform_core::id::{WebhookDeliveryId, WebhookEndpointId};
use platform_core::jobs;
use platform_core::states::DeliveryStatus;
use platform_core::tenancy::Scope;
use platform_core::testing::{Seeded, TestDb, seed_integrator, test_keyring};
use platform_core::webhooks::cidr::Cidr;
use platform_core::webhooks::endpoints::{self, NewEndpoint, UrlRules};
use platform_core::webhooks::ssrf::SsrfGuard;
use platform_core::webhooks::test_receiver::{Receiver, Reply};
use platform_core::webhooks::{Clock, DeliveryPolicy, ManualClock, SystemClock, WebhookHttp};
use platform_queue::{Backend, Queue, QueueConfig};
use platform_worker::webhooks::{WebhookStats, WebhookWorker, run_with};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
enum QueueKind {
    Memory,
    Redis,
}

async fn queue(kind: QueueKind) -> Queue {
    match kind {
        QueueKind::Memory => Queue::connect(QueueConfig::new(Backend::Memory, "wh-test"))
            .await
            .unwrap(),
        QueueKind::Redis => {
            let prefix = format!("t_wh_{}:", platform_core::id::new_body());
            let mut cfg = QueueConfig::new(
                Backend::Redis {
                    url: "redis://127.0.0.1:6379".into(),
                    prefix,
                },
                "wh-test",
            );
            cfg.visibility_timeout = Duration::from_secs(30);
            Queue::connect(cfg).await.unwrap_or_else(|e| {
                panic!("Redis must be running at 127.0.0.1:6379 (scripts/test.sh starts it): {e}")
            })
        }
    }
}

/// Polls `cond` until it holds (panics after `WAIT`). Used to wait for
/// work done by other tasks, not to let time pass.
async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the reconciler has run `n` more times.
async fn reconcile_runs(stats: &WebhookStats, n: u64) {
    let start = stats.reconcile_runs.load(Ordering::SeqCst);
    until("reconciler runs", || async {
        stats.reconcile_runs.load(Ordering::SeqCst) >= start + n
    })
    .await;
}

struct Fx {
    db: Db,
    keyring: Keyring,
    seeded: Seeded,
    queue: Queue,
    stats: Arc<WebhookStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Fx {
    async fn start(
        t: &TestDb,
        kind: QueueKind,
        clock: Arc<dyn Clock>,
        tweak: impl FnOnce(&mut WebhookWorker),
    ) -> Fx {
        let keyring = test_keyring();
        let seeded = seed_integrator(&t.db, &keyring, 8000).await;
        let scope = Scope::integrator(seeded.integrator.clone());
        endpoints::delete(&t.db, &scope, &seeded.endpoint)
            .await
            .unwrap();
        let queue = queue(kind).await;
        let stats = Arc::new(WebhookStats::default());
        let mut w = WebhookWorker {
            db: t.db.clone(),
            keyring: keyring.clone(),
            queue: queue.clone(),
            // The receiver is on loopback: allowlisted explicitly here.
            http: WebhookHttp::new(
                Cidr::parse_list("127.0.0.0/8").unwrap(),
                Duration::from_secs(5),
            ),
            policy: DeliveryPolicy::default(),
            clock,
            concurrency: 8,
            per_endpoint: 2,
            receive_wait: Duration::from_millis(50),
            busy_endpoint_wait: Duration::from_millis(10),
            busy_endpoint_delay: Duration::from_millis(20),
            reconcile_every: Duration::from_millis(20),
            reconcile_grace: Duration::from_secs(30),
            stats: stats.clone(),
        };
        tweak(&mut w);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run_with(w, stopped));
        Fx {
            db: t.db.clone(),
            keyring,
            seeded,
            queue,
            stats,
            stop,
            task,
        }
    }

    fn scope(&self) -> Scope {
        Scope::integrator(self.seeded.integrator.clone())
    }

    async fn endpoint(&self, url: &str) -> WebhookEndpointId {
        let rules = UrlRules {
            allow_http: true,
            guard: SsrfGuard::new(Cidr::parse_list("127.0.0.0/8").unwrap()),
        };
        let new = NewEndpoint {
            url: url.into(),
            ..Default::default()
        };
        endpoints::create(
            &self.db,
            &self.keyring,
            &self.scope(),
            &rules,
            new,
            Utc::now(),
            None,
        )
        .await
        .unwrap()
        .0
        .id
    }

    /// Emits an event; publishes its deliveries unless `publish` is false
    /// (a message lost between commit and queue).
    async fn emit(&self, publish: bool) -> WebhookDeliveryId {
        let txn = self.db.begin_write().await.unwrap();
        let ids = events::emit(
            &txn,
            &self.seeded.integrator,
            Some(&self.seeded.seller),
            "payment_intent.processed",
            &serde_json::json!({"intent_id": self.seeded.intent}),
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        assert_eq!(ids.len(), 1);
        if publish {
            self.queue
                .publish(jobs::WEBHOOK_DELIVERY, ids[0].as_str())
                .await
                .unwrap();
        }
        ids[0].clone()
    }

    async fn row(&self, id: &WebhookDeliveryId) -> webhook_deliveries::Model {
        webhook_deliveries::Entity::find_by_id(id.clone())
            .one(&self.db)
            .await
            .unwrap()
            .unwrap()
    }

    async fn attempts(&self, id: &WebhookDeliveryId) -> Vec<webhook_attempts::Model> {
        webhook_attempts::Entity::find()
            .filter(webhook_attempts::Column::DeliveryId.eq(id))
            .order_by_asc(webhook_attempts::Column::AttemptNo)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// Waits until the delivery has `n` recorded attempts and is settled
    /// (not leased by an attempt in progress).
    async fn settled_after(&self, id: &WebhookDeliveryId, n: usize) -> webhook_deliveries::Model {
        until("the attempt to be recorded", || async {
            let d = self.row(id).await;
            d.status != DeliveryStatus::Pending
                || (self.attempts(id).await.len() == n && d.attempt_count as usize == n)
        })
        .await;
        self.row(id).await
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
    }
}

/// Down twice (500, then a hang-up), then up: exactly one attempt per
/// scheduled time as the clock is moved, nothing in between, one success.
async fn down_then_recovers(t: &TestDb, kind: QueueKind) {
    let clock = ManualClock::new(Utc::now());
    let fx = Fx::start(t, kind, Arc::new(clock.clone()), |w| {
        // Overdue deliveries are taken as soon as the clock passes them.
        w.reconcile_grace = Duration::ZERO;
    })
    .await;
    let rx = Receiver::start().await;
    rx.script([Reply::status(500), Reply::HangUp]);
    fx.endpoint(&rx.url).await;
    let id = fx.emit(true).await;

    rx.wait_for(1, WAIT).await;
    let d = fx.settled_after(&id, 1).await;
    assert_eq!(d.status, DeliveryStatus::Pending);
    // The retry went back to the queue as a delayed message.
    until("the delayed retry message", || async {
        fx.queue
            .stats(jobs::WEBHOOK_DELIVERY)
            .await
            .unwrap()
            .delayed
            >= 1
    })
    .await;
    // … which the worker's gauges report too.
    until("the delayed gauge", || async {
        WebhookStats::get(&fx.stats.queue_delayed) >= 1
    })
    .await;

    let policy = DeliveryPolicy::default();
    for n in 1..=2u32 {
        let due = fx
            .settled_after(&id, n as usize)
            .await
            .next_attempt_at
            .unwrap();
        let prev = fx.attempts(&id).await.last().unwrap().created_at;
        let (lo, hi) = policy.retry.bounds(n).unwrap();
        let wait = (due - prev).to_std().unwrap();
        assert!(
            wait + Duration::from_millis(1) >= lo && wait <= hi + Duration::from_millis(1),
            "{wait:?}"
        );
        // Nothing happens while the clock stands still.
        reconcile_runs(&fx.stats, 5).await;
        assert_eq!(rx.count(), n as usize, "no attempt before its time");
        // Time passes to just after the scheduled time: one attempt.
        clock.set(due + chrono::Duration::milliseconds(500));
        rx.wait_for(n as usize + 1, WAIT).await;
        fx.settled_after(&id, n as usize + 1).await;
        assert!(fx.attempts(&id).await.last().unwrap().created_at >= due);
    }
    let d = fx.row(&id).await;
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    // Nothing more, whatever the reconciler does.
    clock.advance(chrono::Duration::days(2));
    reconcile_runs(&fx.stats, 5).await;
    assert_eq!(rx.count(), 3);
    let log = fx.attempts(&id).await;
    let codes: Vec<Option<i32>> = log.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), None, Some(200)]);
    assert!(log[1].error.is_some());
    assert!(log.iter().all(|a| a.latency_ms >= 0));
    assert_eq!(WebhookStats::get(&fx.stats.succeeded), 1);
    assert!(
        rx.received()
            .iter()
            .all(|r| r.header("webhook-id") == Some(id.as_str()))
    );
    fx.stop().await;
}

/// A delivery whose message never reached the queue is re-published by the
/// reconciler once it is overdue by the grace period, and delivered once.
async fn lost_message_is_recovered(t: &TestDb, kind: QueueKind) {
    let clock = ManualClock::new(Utc::now());
    let fx = Fx::start(t, kind, Arc::new(clock.clone()), |_| {}).await;
    let rx = Receiver::start().await;
    fx.endpoint(&rx.url).await;
    let id = fx.emit(false).await;
    reconcile_runs(&fx.stats, 5).await;
    assert_eq!(
        rx.count(),
        0,
        "within the grace period the (lost) message is trusted"
    );
    clock.advance(chrono::Duration::seconds(31));
    rx.wait_for(1, WAIT).await;
    let d = fx.settled_after(&id, 1).await;
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    reconcile_runs(&fx.stats, 5).await;
    assert_eq!(rx.count(), 1, "delivered once");
    assert_eq!(WebhookStats::get(&fx.stats.republished), 1);
    fx.stop().await;
}

/// With the real clock and a short schedule, retries come from delayed
/// queue messages alone (the reconciler's grace is an hour): down twice,
/// then delivered, each attempt no earlier than scheduled.
async fn retries_through_delayed_messages(t: &TestDb, kind: QueueKind) {
    let fx = Fx::start(t, kind, Arc::new(SystemClock), |w| {
        w.policy.retry.schedule = vec![
            Duration::ZERO,
            Duration::from_millis(300),
            Duration::from_millis(300),
        ];
        w.policy.early_tolerance = Duration::ZERO;
        w.reconcile_grace = Duration::from_secs(3600);
    })
    .await;
    let rx = Receiver::start().await;
    rx.script([Reply::status(503), Reply::status(500)]);
    fx.endpoint(&rx.url).await;
    let id = fx.emit(true).await;
    rx.wait_for(3, WAIT).await;
    until("success recorded", || async {
        fx.row(&id).await.status == DeliveryStatus::Succeeded
    })
    .await;
    let log = fx.attempts(&id).await;
    assert_eq!(log.len(), 3);
    for pair in log.windows(2) {
        let gap = (pair[1].created_at - pair[0].created_at).to_std().unwrap();
        assert!(gap >= Duration::from_millis(269), "retried after {gap:?}");
    }
    assert_eq!(WebhookStats::get(&fx.stats.republished), 0);
    fx.stop().await;
}

/// Every attempt fails: the row ends dead after the schedule and the queue
/// message goes to the dead letters.
async fn dead_after_schedule(t: &TestDb, kind: QueueKind) {
    let fx = Fx::start(t, kind, Arc::new(SystemClock), |w| {
        w.policy.retry.schedule = vec![Duration::ZERO, Duration::from_millis(50)];
        w.policy.early_tolerance = Duration::ZERO;
        w.reconcile_grace = Duration::from_secs(3600);
    })
    .await;
    let rx = Receiver::start().await;
    rx.set_default(Reply::status(500));
    fx.endpoint(&rx.url).await;
    let id = fx.emit(true).await;
    until("dead", || async {
        fx.row(&id).await.status == DeliveryStatus::Dead
    })
    .await;
    assert_eq!(rx.count(), 2);
    assert_eq!(fx.attempts(&id).await.len(), 2);
    until("the dead letter", || async {
        fx.queue.stats(jobs::WEBHOOK_DELIVERY).await.unwrap().dead == 1
    })
    .await;
    let dl = fx
        .queue
        .dead_letters(jobs::WEBHOOK_DELIVERY, 10)
        .await
        .unwrap();
    assert_eq!(dl[0].payload, id.as_str());
    fx.stop().await;
}

/// Many deliveries to one endpoint: all delivered, never more than
/// `per_endpoint` at once at the receiver.
async fn per_endpoint_limit(t: &TestDb, kind: QueueKind) {
    let fx = Fx::start(t, kind, Arc::new(SystemClock), |w| w.per_endpoint = 1).await;
    let rx = Receiver::start().await;
    fx.endpoint(&rx.url).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(fx.emit(true).await);
    }
    rx.wait_for(6, WAIT).await;
    for id in &ids {
        until("all succeeded", || async {
            fx.row(id).await.status == DeliveryStatus::Succeeded
        })
        .await;
    }
    assert_eq!(rx.count(), 6, "each once");
    fx.stop().await;
}

macro_rules! on_all_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use super::*;
            async fn go(kind: platform_core::config::DatabaseKind, q: QueueKind) {
                let t = TestDb::new(kind).await;
                super::$name(&t, q).await;
                t.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() { go(platform_core::config::DatabaseKind::Sqlite, QueueKind::Memory).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_redis() { go(platform_core::config::DatabaseKind::Sqlite, QueueKind::Redis).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_memory() { go(platform_core::config::DatabaseKind::Postgres, QueueKind::Memory).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() { go(platform_core::config::DatabaseKind::Postgres, QueueKind::Redis).await }
        }
    )+};
}

on_all_backends!(
    down_then_recovers,
    lost_message_is_recovered,
    retries_through_delayed_messages,
    dead_after_schedule,
    per_endpoint_limit,
);

/// A receiver that answers 200 after `hold`, counting the requests it is
/// serving at once.
struct SlowReceiver {
    url: String,
    peak: Arc<std::sync::atomic::AtomicUsize>,
}

async fn slow_receiver(hold: Duration) -> SlowReceiver {
    use std::sync::atomic::AtomicUsize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (current, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counted = peak.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (current, peak) = (current.clone(), counted.clone());
            tokio::spawn(async move {
                // The whole request: headers, then content-length bytes of body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
                let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(hold).await;
                current.fetch_sub(1, Ordering::SeqCst);
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    SlowReceiver { url, peak }
}

/// Two worker processes (two `Queue`s on one Redis) deliver to one slow
/// endpoint: never more than `per_endpoint` attempts at once at the
/// receiver, although each process alone would allow that many.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_endpoint_limit_holds_across_worker_processes() {
    let t = TestDb::new(platform_core::config::DatabaseKind::Sqlite).await;
    let prefix = format!("t_wh_{}:", platform_core::id::new_body());
    let connect = |consumer: &str| {
        let mut cfg = QueueConfig::new(
            Backend::Redis {
                url: "redis://127.0.0.1:6379".into(),
                prefix: prefix.clone(),
            },
            consumer,
        );
        cfg.visibility_timeout = Duration::from_secs(30);
        Queue::connect(cfg)
    };
    let (qa, qb) = (
        connect("worker-a").await.unwrap(),
        connect("worker-b").await.unwrap(),
    );
    let mut second = None;
    let fx = Fx::start(&t, QueueKind::Memory, Arc::new(SystemClock), |w| {
        w.queue = qa.clone();
        w.per_endpoint = 2;
        w.concurrency = 2;
        second = Some(WebhookWorker {
            queue: qb.clone(),
            stats: Arc::default(),
            ..w.clone()
        });
    })
    .await;
    let second = second.unwrap();
    let stats_b = second.stats.clone();
    let (stop_b, stopped_b) = watch::channel(false);
    let task_b = tokio::spawn(run_with(second, stopped_b));

    let rx = slow_receiver(Duration::from_millis(300)).await;
    fx.endpoint(&rx.url).await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        let id = fx.emit(false).await;
        qa.publish(jobs::WEBHOOK_DELIVERY, id.as_str())
            .await
            .unwrap();
        ids.push(id);
    }
    for id in &ids {
        until("every delivery to succeed", || async {
            fx.row(id).await.status == DeliveryStatus::Succeeded
        })
        .await;
    }
    let (a, b) = (
        WebhookStats::get(&fx.stats.attempts),
        WebhookStats::get(&stats_b.attempts),
    );
    assert_eq!(a + b, 8, "each once");
    assert!(a > 0 && b > 0, "both processes delivered: {a} and {b}");
    assert_eq!(rx.peak.load(Ordering::SeqCst), 2, "2 at once, never more");
    let _ = stop_b.send(true);
    task_b.await.unwrap();
    fx.stop().await;
    t.cleanup().await;
}
