//! Test harness: the same test body runs against every backend and Redis topology.
//!
//! Memory tests run with tokio's paused clock (timeouts pass instantly); Redis tests use
//! the real server at 127.0.0.1:6379 (or `PUENTE_TEST_REDIS_URL`), each under its own
//! random key prefix, deleted when the harness drops, even after a panic. Sentinel and
//! Cluster tests start their own servers (`servers.rs`), also under a random prefix.

pub mod servers;

use std::time::Duration;

use platform_queue::{Backend, Queue, QueueConfig};
use servers::{ClusterSetup, SentinelSetup};

pub fn redis_url() -> String {
    std::env::var("PUENTE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

pub struct Harness {
    kind: Kind,
    /// The private servers of a Sentinel or Cluster harness.
    pub sentinel: Option<SentinelSetup>,
    pub cluster: Option<ClusterSetup>,
    /// The memory backend is shared by "processes" through `Queue::with_consumer`.
    memory: Option<Queue>,
    prefix: String,
    pub visibility_timeout: Duration,
    pub max_deliveries: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Memory,
    Redis,
    Sentinel,
    Cluster,
}

impl Harness {
    fn new(kind: Kind) -> Self {
        Harness {
            kind,
            sentinel: None,
            cluster: None,
            memory: None,
            prefix: format!("t_{}:", uuid::Uuid::new_v4().simple()),
            visibility_timeout: Duration::from_secs(30),
            max_deliveries: 5,
        }
    }

    pub fn memory() -> Self {
        Self::new(Kind::Memory)
    }

    /// The shared single-node server.
    pub fn redis() -> Self {
        Self::new(Kind::Redis)
    }

    /// A master, one replica and one sentinel of its own, reached through the sentinel.
    /// The sentinel is slow to declare the master down (10 s), so that a machine busy
    /// with other tests does not cause a failover in the middle of one.
    pub fn sentinel() -> Self {
        Self::sentinel_with(1, 1, Duration::from_secs(10))
    }

    pub fn sentinel_with(replicas: usize, sentinels: usize, down_after: Duration) -> Self {
        let mut h = Self::new(Kind::Sentinel);
        h.sentinel = Some(SentinelSetup::start(replicas, sentinels, down_after));
        h
    }

    /// A Cluster of three masters of its own.
    pub fn cluster() -> Self {
        let mut h = Self::new(Kind::Cluster);
        h.cluster = Some(ClusterSetup::start(3));
        h
    }

    /// The `REDIS_URL` of this harness (not for memory).
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Memory => panic!("the memory backend has no URL"),
            Kind::Redis => redis_url(),
            Kind::Sentinel => self.sentinel.as_ref().unwrap().url(),
            Kind::Cluster => self.cluster.as_ref().unwrap().url(),
        }
    }

    /// `Queue::topology` of this harness's queues.
    pub fn topology(&self) -> &'static str {
        match self.kind {
            Kind::Memory => "memory",
            Kind::Redis => "redis",
            Kind::Sentinel => "redis-sentinel",
            Kind::Cluster => "redis-cluster",
        }
    }

    pub fn with(mut self, visibility_timeout: Duration, max_deliveries: u32) -> Self {
        self.visibility_timeout = visibility_timeout;
        self.max_deliveries = max_deliveries;
        self
    }

    /// A "process" named `consumer`. Every call on Redis is a separate connection set.
    pub async fn process(&mut self, consumer: &str) -> Queue {
        match self.kind {
            Kind::Memory => {
                if self.memory.is_none() {
                    let cfg = self.config(Backend::Memory, consumer);
                    self.memory = Some(Queue::connect(cfg).await.expect("memory queue"));
                }
                self.memory.as_ref().unwrap().with_consumer(consumer)
            }
            Kind::Redis | Kind::Sentinel | Kind::Cluster => {
                let backend = Backend::Redis {
                    url: self.url(),
                    prefix: self.prefix(),
                };
                let cfg = self.config(backend, consumer);
                let q = Queue::connect(cfg).await.unwrap_or_else(|e| {
                    panic!(
                        "Redis is required for the redis tests and is not reachable at {}: {e}",
                        self.url()
                    )
                });
                assert_eq!(q.topology(), self.topology());
                q
            }
        }
    }

    fn config(&self, backend: Backend, consumer: &str) -> QueueConfig {
        let mut cfg = QueueConfig::new(backend, consumer);
        cfg.visibility_timeout = self.visibility_timeout;
        cfg.max_deliveries = self.max_deliveries;
        cfg
    }

    /// Random per harness: parallel tests share the server, never each other's keys.
    pub fn prefix(&self) -> String {
        self.prefix.clone()
    }

    /// Deletes every key under the prefix, as a Redis restart without persistence would.
    pub fn wipe_redis_keys(&self) {
        match self.kind {
            Kind::Memory => {}
            Kind::Redis => delete_keys(&self.prefix()),
            // Private servers: everything goes.
            Kind::Sentinel => flush(self.sentinel.as_ref().unwrap().master()),
            Kind::Cluster => {
                for &node in &self.cluster.as_ref().unwrap().nodes {
                    flush(node);
                }
            }
        }
    }
}

fn flush(port: u16) {
    let _: () = redis::cmd("FLUSHALL")
        .query(&mut servers::admin(port))
        .expect("FLUSHALL");
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.kind == Kind::Redis {
            delete_keys(&self.prefix());
        }
    }
}

fn delete_keys(prefix: &str) {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = client
        .get_connection()
        .expect("redis connection for cleanup");
    // SCAN rather than KEYS: the server is shared with other tests.
    let keys: Vec<String> = redis::Commands::scan_match(&mut conn, format!("{prefix}*"))
        .expect("list test keys")
        .collect::<Result<_, _>>()
        .expect("list test keys");
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query(&mut conn)
            .expect("delete test keys");
    }
}

/// Receives until `pred` holds for a batch or `limit` (of queue time) runs out.
pub async fn receive_until(
    q: &Queue,
    topic: &str,
    limit: Duration,
    mut pred: impl FnMut(&[platform_queue::Delivery]) -> bool,
) -> Vec<platform_queue::Delivery> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let got = q
            .receive(topic, 10, Duration::from_millis(200))
            .await
            .expect("receive");
        if pred(&got) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}; last batch: {got:?}"
        );
    }
}
