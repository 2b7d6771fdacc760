//! Limits shared by every process on the backend: a token bucket ([`RateLimiter`]) and a
//! counting semaphore with leases ([`Semaphore`]).
//!
//! In memory they are per process (there is only one). On Redis each check is one
//! script, one round trip, timed by the Redis clock so that process clocks need not
//! agree:
//!
//! * `Prl:<name>:<key>` — a hash `{t: tokens, at: ms}`; the script refills it for the
//!   time since `at`, takes a token if there is one, and lets the key expire once the
//!   bucket would be full again (a full bucket needs no memory).
//! * `Psem:<name>:<key>` — a sorted set of holders (random tokens) scored by the expiry
//!   of their lease; the script drops expired holders, then adds one if there are fewer
//!   than the limit. A holder that dies without releasing frees its place when the lease
//!   ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::Script;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use crate::topology::Conn;
use crate::{Inner, QueueError};

/// A Redis limit check waits at most this long; then the check is decided by this
/// process alone (a slow Redis must not hold up every API request).
const REDIS_CHECK_TIMEOUT: Duration = Duration::from_millis(250);
/// A Redis semaphore is asked again this often while someone waits for a place (a place
/// freed in this process wakes its waiters at once).
const SEMAPHORE_POLL: Duration = Duration::from_millis(50);
/// Buckets kept per process before full ones are forgotten.
const MAX_LOCAL_BUCKETS: usize = 100_000;

/// A token bucket's refill rate and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second; 0 means no limit.
    per_second: f64,
    burst: f64,
}

impl Rate {
    /// `n` a second, with a burst of `2n` (0: no limit).
    pub fn per_second(n: u32) -> Self {
        let per_second = f64::from(n);
        Rate {
            per_second,
            burst: (per_second * 2.0).max(1.0),
        }
    }

    /// `n` an hour, with a burst of as many (slow limits: sign-ups).
    pub fn per_hour(n: u32) -> Self {
        Rate {
            per_second: f64::from(n) / 3600.0,
            burst: f64::from(n.max(1)),
        }
    }

    /// `per_second` a second with a burst of `burst`.
    pub fn with_burst(per_second: u32, burst: u32) -> Self {
        Rate {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_second <= 0.0
    }

    fn wait_for(&self, missing: f64) -> Duration {
        Duration::from_secs_f64(missing.max(0.0) / self.per_second)
    }
}

/// Token buckets held in this process: the memory backend's, and a Redis limiter's
/// fallback while Redis does not answer.
#[derive(Default)]
pub(crate) struct LocalBuckets {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl LocalBuckets {
    fn take(&self, key: &str, rate: Rate) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > MAX_LOCAL_BUCKETS {
            // Keys idle long enough to be full again need no memory.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate.per_second < rate.burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((rate.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * rate.per_second).min(rate.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(rate.wait_for(1.0 - *tokens))
        }
    }

    fn peek(&self, key: &str, rate: Rate) -> Option<Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.get(key)?;
        let tokens = (tokens + at.elapsed().as_secs_f64() * rate.per_second).min(rate.burst);
        (tokens < 1.0).then(|| rate.wait_for(1.0 - tokens))
    }
}

/// A token bucket per key, shared by every process on the backend under `name`. Get one
/// from [`crate::Queue::rate_limiter`]; it is meant to be built once and kept.
pub struct RateLimiter {
    name: String,
    rate: Rate,
    backend: Arc<Inner>,
    /// Redis: used while Redis does not answer (the limit is then per process).
    fallback: LocalBuckets,
    /// Redis: until when a key's bucket was last seen empty by this process.
    empty_until: Mutex<HashMap<String, Instant>>,
    /// Redis: when the last "Redis did not answer" warning was logged (ms since start).
    warned_at: AtomicU64,
}

impl RateLimiter {
    pub(crate) fn new(backend: Arc<Inner>, name: &str, rate: Rate) -> Self {
        RateLimiter {
            name: name.to_owned(),
            rate,
            backend,
            fallback: LocalBuckets::default(),
            empty_until: Mutex::default(),
            warned_at: AtomicU64::new(0),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes one token for `key`, or says how long until one is available. On Redis this
    /// is one round trip; if Redis does not answer within 250 ms the check is made
    /// against a bucket of this process instead (logged), so an outage never blocks or
    /// refuses everything.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        if self.rate.is_unlimited() {
            return Ok(());
        }
        let r = match &*self.backend {
            Inner::Memory(m) => return m.limits.buckets.take(&self.bucket(key), self.rate),
            Inner::Redis(r) => r,
        };
        let asked = tokio::time::timeout(
            REDIS_CHECK_TIMEOUT,
            redis_take_token(
                r.conn(),
                &format!("{}rl:{}", r.prefix, self.bucket(key)),
                self.rate,
            ),
        )
        .await;
        match asked {
            Ok(Ok(Ok(()))) => {
                let mut empty = self.empty_until.lock().unwrap_or_else(|p| p.into_inner());
                if !empty.is_empty() {
                    empty.remove(key);
                }
                Ok(())
            }
            Ok(Ok(Err(wait))) => {
                let mut empty = self.empty_until.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                if empty.len() > MAX_LOCAL_BUCKETS {
                    empty.retain(|_, until| *until > now);
                }
                empty.insert(key.to_owned(), now + wait);
                Err(wait)
            }
            Ok(Err(e)) => {
                self.warn(&e.to_string());
                self.fallback.take(key, self.rate)
            }
            Err(_) => {
                self.warn("no answer within 250 ms");
                self.fallback.take(key, self.rate)
            }
        }
    }

    /// How long until `key` has a token again, without taking one and without I/O;
    /// `None` when it has one. In memory this reads the bucket; on Redis it is what this
    /// process learned from its last refused [`check`](Self::check) of the key (a bucket
    /// emptied by other processes shows here once a check of this process was refused).
    pub fn empty_for(&self, key: &str) -> Option<Duration> {
        if self.rate.is_unlimited() {
            return None;
        }
        match &*self.backend {
            Inner::Memory(m) => m.limits.buckets.peek(&self.bucket(key), self.rate),
            Inner::Redis(_) => {
                let now = Instant::now();
                let empty = self.empty_until.lock().unwrap_or_else(|p| p.into_inner());
                let until = *empty.get(key)?;
                (until > now).then(|| until - now)
            }
        }
    }

    fn bucket(&self, key: &str) -> String {
        format!("{}:{key}", self.name)
    }

    fn warn(&self, error: &str) {
        static START: LazyLock<std::time::Instant> = LazyLock::new(std::time::Instant::now);
        let now = START.elapsed().as_millis() as u64 + 1;
        let last = self.warned_at.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) > 10_000)
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(limiter = %self.name, error, "rate limit: Redis did not answer; limiting per process meanwhile");
        }
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name)
            .field("rate", &self.rate)
            .finish()
    }
}

/// KEYS: bucket. ARGV: tokens per ms, burst. Returns {1, 0} when a token was taken, else
/// {0, ms until one is available}.
static TAKE_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if not tokens or not at then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local ok, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {ok, wait}
",
    )
});

async fn redis_take_token(
    mut conn: Conn,
    full_key: &str,
    rate: Rate,
) -> Result<Result<(), Duration>, QueueError> {
    let (ok, wait_ms): (i64, u64) = TAKE_TOKEN
        .key(full_key)
        .arg(format!("{}", rate.per_second / 1000.0))
        .arg(format!("{}", rate.burst))
        .invoke_async(&mut conn)
        .await?;
    Ok(if ok == 1 {
        Ok(())
    } else {
        Err(Duration::from_millis(wait_ms.max(1)))
    })
}

/// The memory backend's limits.
#[derive(Default)]
pub(crate) struct MemoryLimits {
    buckets: LocalBuckets,
    /// Holders of each semaphore key: (token, lease end).
    holders: Mutex<HashMap<String, Vec<(String, Instant)>>>,
    released: Notify,
}

impl MemoryLimits {
    /// Takes a place, or says when the earliest lease ends.
    fn try_take(&self, key: &str, limit: usize, lease: Duration) -> Result<String, Duration> {
        let now = Instant::now();
        let mut holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        let held = holders.entry(key.to_owned()).or_default();
        held.retain(|(_, until)| *until > now);
        if held.len() < limit {
            let token = new_token();
            held.push((token.clone(), now + lease));
            return Ok(token);
        }
        let first = held.iter().map(|(_, until)| *until).min().unwrap_or(now);
        Err(first - now)
    }

    /// Whether `token` held a place whose lease had not ended.
    fn release(&self, key: &str, token: &str) -> bool {
        let now = Instant::now();
        let mut holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        let Some(held) = holders.get_mut(key) else {
            return false;
        };
        let was_held = match held.iter().position(|(t, _)| t == token) {
            Some(i) => held.swap_remove(i).1 > now,
            None => false,
        };
        held.retain(|(_, until)| *until > now);
        if held.is_empty() {
            holders.remove(key);
        }
        drop(holders);
        self.released.notify_waiters();
        was_held
    }
}

/// At most `limit` holders per key at once, across every process on the backend. Get
/// one from [`crate::Queue::semaphore`].
pub struct Semaphore {
    name: String,
    limit: usize,
    lease: Duration,
    backend: Arc<Inner>,
}

/// A place in a [`Semaphore`]. Call [`Permit::release`] when done; a permit dropped
/// without it is released in the background (best effort), and in any case its place
/// frees itself when the lease ends.
#[must_use = "the place is released when the permit is dropped"]
pub struct Permit {
    key: String,
    token: String,
    owner: PermitOwner,
    released: bool,
}

enum PermitOwner {
    /// `full` is the holders' map key (semaphore name and key).
    Memory { backend: Arc<Inner>, full: String },
    Redis {
        conn: Conn,
        full_key: String,
        released: Arc<Notify>,
    },
}

impl Semaphore {
    pub(crate) fn new(backend: Arc<Inner>, name: &str, limit: usize, lease: Duration) -> Self {
        Semaphore {
            name: name.to_owned(),
            limit: limit.max(1),
            lease: lease.max(Duration::from_millis(1)),
            backend,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A place for `key` if one is free now (one round trip on Redis).
    pub async fn try_acquire(&self, key: &str) -> Result<Option<Permit>, QueueError> {
        Ok(self.take(key).await?.ok())
    }

    /// A place for `key`, waiting until `deadline` for one to be freed; `None` if none
    /// was. A place freed in this process wakes the waiter at once; on Redis, places
    /// freed elsewhere are noticed within 50 ms.
    pub async fn acquire_by(
        &self,
        key: &str,
        deadline: Instant,
    ) -> Result<Option<Permit>, QueueError> {
        // Places freed in this process wake the waiter; on Redis, places freed in other
        // processes are found by asking again.
        let (released, poll): (&Notify, bool) = match &*self.backend {
            Inner::Memory(m) => (&m.limits.released, false),
            Inner::Redis(r) => (&r.released, true),
        };
        loop {
            // Registered before looking, so a release in between is not missed.
            let notified = released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_free = match self.take(key).await? {
                Ok(p) => return Ok(Some(p)),
                Err(next_free) => next_free,
            };
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let mut wake = deadline.min(now + next_free);
            if poll {
                wake = wake.min(now + SEMAPHORE_POLL);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = sleep_until(wake) => {}
            }
        }
    }

    /// A place, or (full) how long until a lease ends at the latest.
    async fn take(&self, key: &str) -> Result<Result<Permit, Duration>, QueueError> {
        let full = format!("{}:{key}", self.name);
        match &*self.backend {
            Inner::Memory(m) => Ok(match m.limits.try_take(&full, self.limit, self.lease) {
                Ok(token) => Ok(Permit {
                    key: key.to_owned(),
                    token,
                    owner: PermitOwner::Memory {
                        backend: self.backend.clone(),
                        full,
                    },
                    released: false,
                }),
                Err(next) => Err(next),
            }),
            Inner::Redis(r) => {
                let full_key = format!("{}sem:{full}", r.prefix);
                let token = new_token();
                let mut conn = r.conn();
                let next_ms: i64 = ACQUIRE
                    .key(&full_key)
                    .arg(self.limit)
                    .arg(self.lease.as_millis().max(1) as u64)
                    .arg(&token)
                    .invoke_async(&mut conn)
                    .await?;
                Ok(if next_ms < 0 {
                    Ok(Permit {
                        key: key.to_owned(),
                        token,
                        owner: PermitOwner::Redis {
                            conn,
                            full_key,
                            released: r.released.clone(),
                        },
                        released: false,
                    })
                } else {
                    Err(Duration::from_millis(next_ms as u64))
                })
            }
        }
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("lease", &self.lease)
            .finish()
    }
}

impl Permit {
    /// The key passed to the semaphore.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Gives the place back. `Ok(false)` means its lease had already ended.
    pub async fn release(mut self) -> Result<bool, QueueError> {
        self.released = true;
        release(&self.owner, &self.token).await
    }
}

async fn release(owner: &PermitOwner, token: &str) -> Result<bool, QueueError> {
    match owner {
        PermitOwner::Memory { backend, full } => Ok(release_in_memory(backend, full, token)),
        PermitOwner::Redis {
            conn,
            full_key,
            released,
        } => {
            let removed: i64 = redis::cmd("ZREM")
                .arg(full_key)
                .arg(token)
                .query_async(&mut conn.clone())
                .await?;
            released.notify_waiters();
            Ok(removed == 1)
        }
    }
}

fn release_in_memory(backend: &Inner, full: &str, token: &str) -> bool {
    match backend {
        Inner::Memory(m) => m.limits.release(full, token),
        Inner::Redis(_) => false,
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        match &self.owner {
            PermitOwner::Memory { backend, full } => {
                release_in_memory(backend, full, &self.token);
            }
            PermitOwner::Redis {
                conn,
                full_key,
                released,
            } => {
                // Drop cannot await; without a runtime the lease ends by itself.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let owner = PermitOwner::Redis {
                        conn: conn.clone(),
                        full_key: full_key.clone(),
                        released: released.clone(),
                    };
                    let (key, token) = (self.key.clone(), std::mem::take(&mut self.token));
                    rt.spawn(async move {
                        if let Err(e) = release(&owner, &token).await {
                            tracing::debug!(%key, error = %e, "semaphore release on drop failed");
                        }
                    });
                }
            }
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("key", &self.key).finish()
    }
}

/// KEYS: the holders' sorted set. ARGV: limit, lease_ms, token. Returns -1 when the place
/// was taken, else the ms until the earliest lease ends.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[1], last[2])
  return -1
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(0, tonumber(first[2]) - now)
",
    )
});

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
