//! Puente's job transport: a small at-least-once work queue, a lock, an event bus and
//! limits shared between processes, with two interchangeable backends.
//!
//! * [`Backend::Memory`] — in-process, nothing installed (the embedded default).
//! * [`Backend::Redis`] — Redis Streams with one consumer group per topic, shared by
//!   every worker process: one node, a master found through Sentinel, or a Cluster,
//!   chosen by the URL (see [`Backend::Redis`]).
//!
//! Messages carry only a job *reference* (e.g. `"pi_01jq…"`). The database row is the
//! job of record, consumers are idempotent and a reconciler re-publishes whatever is due
//! and not in flight, so the queue may duplicate or (rarely) lose a message without
//! losing work. It still tries hard not to.
//!
//! # Semantics (identical on both backends and every Redis topology)
//!
//! * [`Queue::publish`] appends a message; [`Queue::publish_after`] makes it visible
//!   only after a delay.
//! * [`Queue::receive`] hands out up to `max` messages, waiting up to `wait` for the
//!   first one. A received message is *in flight*: it is not given to anyone else until
//!   it is [acked](Queue::ack), [retried](Queue::retry_after),
//!   [dead-lettered](Queue::dead_letter), or until `visibility_timeout` passes without
//!   any of those (the consumer is presumed dead), after which the next `receive` on the
//!   topic — by any consumer — gets it again with a higher
//!   [`delivery_count`](Delivery::delivery_count).
//! * Ack only once the work is recorded in the database.
//! * `delivery_count` counts every delivery of the job, including earlier ones that
//!   ended in [`Queue::retry_after`]. A delivery that would exceed
//!   `max_deliveries` is moved to the topic's dead letters instead of being handed out.
//! * Settling a delivery that is no longer in flight (already acked by the consumer that
//!   reclaimed it, or lost with a Redis restart) is a silent no-op.
//!
//! # Locks, events and limits
//!
//! [`Queue::lock`] is a lease (`SET NX PX` on Redis) for "only one process does this at
//! a time"; [`Queue::notify`]/[`Queue::subscribe`] is a best-effort broadcast (Redis
//! pub/sub) to wake long-polls in other processes, which then re-read the database.
//! [`Queue::rate_limiter`] (a token bucket per key) and [`Queue::semaphore`] (at most N
//! holders per key, with leases) hold across every process sharing the backend; on
//! Redis each check is one round trip.
//!
//! # Redis layout
//!
//! Under the configured prefix `P` (which cannot contain `{` or `}`):
//!
//! | key | what |
//! |---|---|
//! | `P{q:<topic>}` | the stream, read by consumer group `workers` |
//! | `P{q:<topic>}:delayed` | sorted set of delayed messages (due time by the Redis clock) |
//! | `P{q:<topic>}:dead` | dead-letter stream |
//! | `Plock:<key>` | leases |
//! | `Prl:<name>:<key>` | token buckets |
//! | `Psem:<name>:<key>` | semaphores: holders scored by lease end |
//! | channel `Pbus:<channel>` | event bus |
//!
//! A topic's keys share the hash tag `{q:<topic>}`, so every script and multi-key command
//! touches one hash slot, and the layout is the same on one node, Sentinel and Cluster.
//! Acked entries are deleted from the stream, so its length is the unfinished work. If
//! Redis loses its data (a restart without persistence, a failover to a replica that
//! never got the group), the next `receive` re-creates the group and carries on; the
//! reconciler re-publishes what was lost.
//!
//! Earlier versions used `Pq:<topic>`, `Pq:<topic>:delayed` and `Pq:<topic>:dead`. On
//! one node or Sentinel, `receive` moves what it finds there into the new keys (on a
//! topic's first receive, then every minute while processes of the old version may still
//! publish there): waiting and delayed messages and dead letters at once, in-flight ones
//! once their old consumer has been silent for the visibility timeout. Whatever is lost
//! on the way (e.g. an old process dies before settling) is re-created by the reconciler
//! from the database rows.
//!
//! # Metrics
//!
//! [`Queue::stats`] gives the numbers; exporting them as gauges is the caller's job.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), platform_queue::QueueError> {
//! use platform_queue::{Backend, Queue, QueueConfig};
//! use std::time::Duration;
//!
//! let q = Queue::connect(QueueConfig::new(Backend::Memory, "worker-1")).await?;
//! q.publish("intents", "pi_01jq").await?;
//! for d in q.receive("intents", 10, Duration::from_secs(5)).await? {
//!     // … do the work, record it in the database …
//!     q.ack(&d).await?;
//! }
//! # Ok(()) }
//! ```

mod bus;
mod error;
mod limits;
mod lock;
mod memory;
mod redis_streams;
mod topology;

use std::sync::Arc;
use std::time::Duration;

pub use bus::Subscription;
pub use error::QueueError;
pub use limits::{Permit, Rate, RateLimiter, Semaphore};
pub use lock::LockGuard;

/// Where the queue lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In this process only; lost on exit (the reconciler re-publishes).
    Memory,
    /// Redis at `url`; every key and channel starts with `prefix` (e.g. `"puente:"`), so
    /// several deployments or tests can share a server. The URL's scheme says where:
    ///
    /// * one node: `redis://[[user]:password@]host:6379[/db]`;
    /// * Sentinel: `redis+sentinel://[[user]:password@]host1:26379,host2:26379/mymaster[/db]`,
    ///   optionally `?sentinel_username=…&sentinel_password=…` for the sentinels
    ///   themselves (credentials and db before that are the master's);
    /// * Cluster: `redis+cluster://[[user]:password@]host1:7000,host2:7001` (any of the
    ///   nodes; the others are discovered).
    Redis { url: String, prefix: String },
}

/// How to connect, and the delivery policy.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub backend: Backend,
    /// Unique per process (e.g. `"worker-<hostname>-<pid>"`): Redis tracks in-flight
    /// messages per consumer name.
    pub consumer: String,
    /// How long a received message stays invisible before it is handed to someone else.
    /// Must exceed the longest piece of work (e.g. the upstream HTTP timeout).
    pub visibility_timeout: Duration,
    /// Deliveries allowed per message before it is dead-lettered (at least 1).
    pub max_deliveries: u32,
}

impl QueueConfig {
    /// A config with the defaults: 60 s visibility timeout, 10 deliveries.
    pub fn new(backend: Backend, consumer: impl Into<String>) -> Self {
        QueueConfig {
            backend,
            consumer: consumer.into(),
            visibility_timeout: Duration::from_secs(60),
            max_deliveries: 10,
        }
    }

    fn validate(&self) -> Result<(), QueueError> {
        if self.consumer.is_empty() {
            return Err(QueueError::Config("consumer name is empty".into()));
        }
        if self.visibility_timeout.is_zero() {
            return Err(QueueError::Config("visibility_timeout is zero".into()));
        }
        if self.max_deliveries == 0 {
            return Err(QueueError::Config("max_deliveries is zero".into()));
        }
        if let Backend::Redis { prefix, .. } = &self.backend {
            if prefix.is_empty() {
                return Err(QueueError::Config("redis key prefix is empty".into()));
            }
            // A brace would change the hash tag that keeps a topic's keys in one slot.
            if prefix.contains(['{', '}']) {
                return Err(QueueError::Config(
                    "redis key prefix cannot contain { or }".into(),
                ));
            }
        }
        Ok(())
    }
}

/// A received message. Settle it with exactly one of [`Queue::ack`],
/// [`Queue::retry_after`] or [`Queue::dead_letter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Backend message id (a stream entry id on Redis).
    pub id: String,
    pub topic: String,
    pub payload: String,
    /// 1 on the first delivery; counts redeliveries and earlier retries.
    pub delivery_count: u32,
}

/// A message that ran out of deliveries or was dead-lettered explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub payload: String,
    pub reason: String,
    pub delivery_count: u32,
}

/// Counts for one topic, for gauges and dashboards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Published and waiting to be received.
    pub depth: u64,
    /// Received and not yet settled.
    pub in_flight: u64,
    /// Waiting for their delay to pass.
    pub delayed: u64,
    /// Kept in the dead letters (Redis trims these to the newest ~10 000).
    pub dead: u64,
}

/// Handle to the queue; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Queue {
    backend: Arc<Inner>,
    consumer: Arc<str>,
}

// One value per connect, behind an Arc: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inner {
    Memory(memory::MemoryBackend),
    Redis(redis_streams::RedisBackend),
}

impl Queue {
    /// Builds the backend. Redis is contacted straight away, so a bad URL or a server
    /// that is down fails here.
    pub async fn connect(cfg: QueueConfig) -> Result<Self, QueueError> {
        cfg.validate()?;
        let inner = match &cfg.backend {
            Backend::Memory => Inner::Memory(memory::MemoryBackend::new(
                cfg.visibility_timeout,
                cfg.max_deliveries,
            )),
            Backend::Redis { url, prefix } => Inner::Redis(
                redis_streams::RedisBackend::connect(
                    url,
                    prefix,
                    cfg.visibility_timeout,
                    cfg.max_deliveries,
                )
                .await?,
            ),
        };
        Ok(Queue {
            backend: Arc::new(inner),
            consumer: cfg.consumer.into(),
        })
    }

    /// The same backend (and connections) under another consumer name, e.g. one per
    /// worker task. With the memory backend this is how several consumers share a queue.
    pub fn with_consumer(&self, consumer: &str) -> Queue {
        Queue {
            backend: self.backend.clone(),
            consumer: consumer.into(),
        }
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// `"memory"` or `"redis"`.
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Inner::Memory(_) => "memory",
            Inner::Redis(_) => "redis",
        }
    }

    /// `"memory"`, `"redis"` (one node), `"redis-sentinel"` or `"redis-cluster"`.
    pub fn topology(&self) -> &'static str {
        match &*self.backend {
            Inner::Memory(_) => "memory",
            Inner::Redis(r) => r.topology(),
        }
    }

    /// A token bucket per key, shared under `name` by every process on the backend
    /// (in memory: by every `Queue` cloned or derived from this one). Build it once and
    /// keep it; building one does no I/O.
    pub fn rate_limiter(&self, name: &str, rate: Rate) -> RateLimiter {
        RateLimiter::new(self.backend.clone(), name, rate)
    }

    /// At most `limit` holders per key at once, shared under `name` by every process on
    /// the backend. A holder's place frees itself after `lease` if it is not released
    /// (a process that died): keep the work shorter than that.
    pub fn semaphore(&self, name: &str, limit: usize, lease: Duration) -> Semaphore {
        Semaphore::new(self.backend.clone(), name, limit, lease)
    }

    pub async fn publish(&self, topic: &str, payload: &str) -> Result<(), QueueError> {
        match &*self.backend {
            Inner::Memory(m) => {
                m.publish(topic, payload, Duration::ZERO, 0);
                Ok(())
            }
            Inner::Redis(r) => r.publish(topic, payload, Duration::ZERO, 0).await,
        }
    }

    /// Publishes a message that becomes receivable once `delay` has passed.
    pub async fn publish_after(
        &self,
        topic: &str,
        payload: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        match &*self.backend {
            Inner::Memory(m) => {
                m.publish(topic, payload, delay, 0);
                Ok(())
            }
            Inner::Redis(r) => r.publish(topic, payload, delay, 0).await,
        }
    }

    /// Up to `max` messages; waits up to `wait` for the first one and returns an empty
    /// vector if none came. Redelivers messages whose visibility timeout expired and
    /// releases delayed messages that are due.
    ///
    /// Cancelling the future (e.g. at shutdown) loses nothing: on Redis a message read
    /// but not returned stays in flight and is redelivered after the visibility timeout.
    pub async fn receive(
        &self,
        topic: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        match &*self.backend {
            Inner::Memory(m) => Ok(m.receive(topic, max, wait).await),
            Inner::Redis(r) => r.receive(topic, &self.consumer, max, wait).await,
        }
    }

    /// The work is recorded: forget the message.
    pub async fn ack(&self, d: &Delivery) -> Result<(), QueueError> {
        match &*self.backend {
            Inner::Memory(m) => {
                m.ack(d);
                Ok(())
            }
            Inner::Redis(r) => r.ack(d).await,
        }
    }

    /// Acks and re-publishes the same payload to become visible after `delay`, in one
    /// atomic step. Its next delivery counts on from `d.delivery_count`.
    pub async fn retry_after(&self, d: &Delivery, delay: Duration) -> Result<(), QueueError> {
        match &*self.backend {
            Inner::Memory(m) => {
                m.retry_after(d, delay);
                Ok(())
            }
            Inner::Redis(r) => r.retry_after(d, delay).await,
        }
    }

    /// Acks and moves the message to the topic's dead letters with a reason.
    pub async fn dead_letter(&self, d: &Delivery, reason: &str) -> Result<(), QueueError> {
        match &*self.backend {
            Inner::Memory(m) => {
                m.dead_letter(d, reason);
                Ok(())
            }
            Inner::Redis(r) => r.dead_letter(d, reason).await,
        }
    }

    /// The newest `max` dead letters of a topic, newest first.
    pub async fn dead_letters(
        &self,
        topic: &str,
        max: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        match &*self.backend {
            Inner::Memory(m) => Ok(m.dead_letters(topic, max)),
            Inner::Redis(r) => r.dead_letters(topic, max).await,
        }
    }

    pub async fn stats(&self, topic: &str) -> Result<QueueStats, QueueError> {
        match &*self.backend {
            Inner::Memory(m) => Ok(m.stats(topic)),
            Inner::Redis(r) => r.stats(topic).await,
        }
    }

    /// Readiness check: Redis answers PING (always Ok in memory).
    pub async fn ping(&self) -> Result<(), QueueError> {
        match &*self.backend {
            Inner::Memory(_) => Ok(()),
            Inner::Redis(r) => r.ping().await,
        }
    }

    /// Takes the lease `key` for `ttl` if nobody holds it. `None` means someone else
    /// does. The lease expires by itself after `ttl`, so keep the work shorter than that.
    pub async fn lock(&self, key: &str, ttl: Duration) -> Result<Option<LockGuard>, QueueError> {
        match &*self.backend {
            Inner::Memory(m) => Ok(m.locks.acquire(key, ttl)),
            Inner::Redis(r) => r.lock(key, ttl).await,
        }
    }

    /// Best-effort broadcast of `payload` to every current subscriber of `channel`, in
    /// every process sharing the backend.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), QueueError> {
        match &*self.backend {
            Inner::Memory(m) => {
                m.bus.notify(channel, payload);
                Ok(())
            }
            Inner::Redis(r) => r.notify(channel, payload).await,
        }
    }

    /// Starts listening on `channel`; messages published after this returns are
    /// delivered (Redis: unless the pub/sub connection is down at that moment).
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, QueueError> {
        match &*self.backend {
            Inner::Memory(m) => Ok(m.bus.subscribe(channel)),
            Inner::Redis(r) => r.subscribe(channel).await,
        }
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("backend", &self.backend_name())
            .field("consumer", &self.consumer)
            .finish()
    }
}
