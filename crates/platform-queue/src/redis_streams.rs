//! The Redis backend: one stream per topic, read through one consumer group shared by
//! every worker process.
//!
//! Keys, under the configured prefix `P`; a topic's keys share the hash tag `{q:<topic>}`,
//! so every script below touches one hash slot and runs unchanged on a Cluster:
//! * `P{q:<topic>}` — the stream; entries carry `p` (payload) and `n` (deliveries before
//!   a `retry_after` re-published it).
//! * `P{q:<topic>}:delayed` — sorted set of delayed messages, scored by due time (ms, by
//!   the Redis clock so that process clocks need not agree); member `n:nonce:payload`.
//! * `P{q:<topic>}:dead` — dead-letter stream.
//! * `Plock:<key>` — leases; `Prl:<name>:<key>` and `Psem:<name>:<key>` — the shared
//!   limits (`limits.rs`); pub/sub channels are `Pbus:<channel>`.
//!
//! Each `receive` first runs one Lua script that moves due delayed messages into the
//! stream, re-creates the group if Redis lost it (a restart without persistence, a FLUSH,
//! a failover to a replica that never got it), and reclaims entries idle for longer than
//! the visibility timeout (XAUTOCLAIM); then it reads new entries with a bounded blocking
//! XREADGROUP.
//!
//! Before the hash tags (up to the first release with Sentinel and Cluster support) the
//! keys were `Pq:<topic>`, `Pq:<topic>:delayed` and `Pq:<topic>:dead`. On one node or
//! Sentinel, `receive` moves what it finds there into the new keys (see [`MIGRATE`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::streams::StreamReadReply;
use redis::{RedisError, Script, Value};
use tokio::sync::{Notify, OnceCell};
use tokio::time::Instant;

use crate::bus::RedisBus;
use crate::topology::{Conn, Connector};
use crate::{DeadLetter, Delivery, LockGuard, QueueError, QueueStats, Subscription};

/// One group per topic: every worker process shares the topic's work through it.
const GROUP: &str = "workers";
/// Approximate cap on a stream. Acked entries are deleted, so this only bites when
/// nobody consumes; the reconciler re-publishes anything trimmed.
const STREAM_MAXLEN: u64 = 100_000;
/// Longest single XREADGROUP BLOCK. Blocked consumers do not see delayed messages come
/// due or in-flight ones expire, so they come back this often to run the prepare script.
pub(crate) const MAX_BLOCK: Duration = Duration::from_secs(1);
/// Idle blocking connections kept for reuse.
const BLOCKING_POOL: usize = 8;
/// A consumer idle for this many visibility timeouts, with nothing pending, is removed
/// from the group.
const PRUNE_AFTER_TIMEOUTS: u32 = 20;
const DEAD_REASON_MAX: &str = "max deliveries exceeded";
/// How often a process looks for messages left in the old key layout (during a rolling
/// upgrade, processes of the previous version still publish there).
const LEGACY_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Entries moved per script call when sweeping the old layout.
const LEGACY_BATCH: usize = 500;

pub(crate) struct RedisBackend {
    connector: Connector,
    /// Multiplexed, for every non-blocking command.
    conn: Conn,
    /// A blocking XREADGROUP occupies its connection until it returns, and Redis answers
    /// a connection's commands in order: on the shared connection every publish and ack
    /// of the process would queue behind it. So blocking reads borrow a connection of
    /// their own from this pool.
    blocking: Mutex<Vec<Conn>>,
    pub(crate) prefix: String,
    visibility_timeout: Duration,
    max_deliveries: u32,
    /// XAUTOCLAIM cursor per topic, so successive receives walk the pending list.
    cursors: Mutex<HashMap<String, String>>,
    /// When each topic's old-layout keys were last swept (one node and Sentinel only).
    legacy_swept: Mutex<HashMap<String, Instant>>,
    bus: OnceCell<RedisBus>,
    /// Signalled when this process frees a semaphore place (`limits.rs`).
    pub(crate) released: Arc<Notify>,
}

struct Keys {
    stream: String,
    delayed: String,
    dead: String,
}

impl Keys {
    /// The hash tag `{q:<topic>}` puts the three keys in one slot. The prefix cannot
    /// contain braces (checked by `QueueConfig`), so the tag is always this one.
    fn new(prefix: &str, topic: &str) -> Self {
        let stream = format!("{prefix}{{q:{topic}}}");
        Keys {
            delayed: format!("{stream}:delayed"),
            dead: format!("{stream}:dead"),
            stream,
        }
    }

    /// The layout before hash tags.
    fn legacy(prefix: &str, topic: &str) -> Self {
        let stream = format!("{prefix}q:{topic}");
        Keys {
            delayed: format!("{stream}:delayed"),
            dead: format!("{stream}:dead"),
            stream,
        }
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// The stream or its group vanished (restart without persistence, FLUSH, DEL): NOGROUP
/// for a read that starts after, UNBLOCKED for one that was blocked when it happened.
fn is_group_lost(e: &RedisError) -> bool {
    matches!(e.code(), Some("NOGROUP" | "UNBLOCKED"))
}

/// Shared Lua helpers: the server clock in ms, and burying an entry in the dead letters.
const LUA_PRELUDE: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bury(stream, dead, group, id, payload, count, reason)
  redis.call('XADD', dead, 'MAXLEN', '~', 10000, '*',
    'p', payload, 'reason', reason, 'n', count, 'id', id)
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{LUA_PRELUDE}{body}"))
}

/// KEYS: stream, delayed, dead. ARGV: group, consumer, min_idle_ms, count, cursor,
/// max_deliveries, maxlen, prune_idle_ms. Returns {next_cursor, {{id, payload, count}…}, ms_to_next_due}.
static PREPARE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local stream, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local group, consumer = ARGV[1], ARGV[2]
local max_deliveries = tonumber(ARGV[6])
local now = now_ms()

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  local n, payload = string.match(member, '^(%d+):[^:]*:(.*)$')
  if n then
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[7], '*', 'p', payload, 'n', n)
  end
  redis.call('ZREM', delayed, member)
end

-- After a restart without persistence or a FLUSH the group is gone. Start it at 0, not
-- $, so entries published before any consumer came back are delivered too.
redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')

local claimed = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[3], ARGV[5],
  'COUNT', ARGV[4])
local out = {}
for _, entry in ipairs(claimed[2]) do
  local id, flat = entry[1], entry[2]
  if flat then
    local payload, n = '', 0
    for i = 1, #flat, 2 do
      if flat[i] == 'p' then payload = flat[i + 1]
      elseif flat[i] == 'n' then n = tonumber(flat[i + 1]) or 0 end
    end
    local pending = redis.call('XPENDING', stream, group, id, id, 1)
    local count = n + ((pending[1] and pending[1][4]) or 1)
    if count > max_deliveries then
      bury(stream, dead, group, id, payload, count - 1, 'max deliveries exceeded')
    else
      table.insert(out, {id, payload, count})
    end
  end
end

-- Every process start brings a new consumer name and Redis never forgets one, so after
-- a full pass over the pending list drop consumers long idle with nothing pending
-- (atomic here, so no entry can be lost; a live one is re-created by its next read).
if claimed[1] == '0-0' then
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
    local f = {}
    for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
    if f['pending'] == 0 and f['idle'] > tonumber(ARGV[8]) and f['name'] ~= consumer then
      redis.call('XGROUP', 'DELCONSUMER', stream, group, f['name'])
    end
  end
end

local next_due = -1
local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if first[2] then next_due = math.max(0, tonumber(first[2]) - now) end
return {claimed[1], out, next_due}
",
    )
});

/// KEYS: stream, delayed. ARGV: delay_ms, prior, payload, nonce, maxlen.
static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local delay = tonumber(ARGV[1])
if delay <= 0 then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'p', ARGV[3], 'n', ARGV[2])
else
  redis.call('ZADD', KEYS[2], now_ms() + delay, ARGV[2] .. ':' .. ARGV[4] .. ':' .. ARGV[3])
end
return 1
",
    )
});

/// KEYS: stream, delayed. ARGV: group, id, delay_ms, prior, payload, nonce, maxlen.
/// Only a message still pending is retried: if someone else already settled it, the
/// retry would duplicate finished work.
static RETRY: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
local delay = tonumber(ARGV[3])
if delay <= 0 then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[7], '*', 'p', ARGV[5], 'n', ARGV[4])
else
  redis.call('ZADD', KEYS[2], now_ms() + delay, ARGV[4] .. ':' .. ARGV[6] .. ':' .. ARGV[5])
end
return 1
",
    )
});

/// KEYS: stream, dead. ARGV: group, id, payload, count, reason.
static DEAD: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
bury(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
",
    )
});

/// KEYS: stream, delayed, dead. ARGV: group. Returns {depth, pending, delayed, dead}.
static STATS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local len = redis.call('XLEN', KEYS[1])
local pending = 0
local summary = redis.pcall('XPENDING', KEYS[1], ARGV[1])
if type(summary) == 'table' and not summary.err then pending = summary[1] end
return {math.max(0, len - pending), pending, redis.call('ZCARD', KEYS[2]),
  redis.call('XLEN', KEYS[3])}
",
    )
});

/// KEYS: stream. ARGV: group, id. XACK only drops the entry from the pending list; XDEL
/// also removes it from the stream, so the stream holds only unfinished work (honest
/// depth, bounded memory without relying on MAXLEN trimming).
static ACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
",
    )
});

/// Moves one batch of a topic's messages from the old key layout (`Pq:<topic>…`) to the
/// new one. Keys of two slots: only on one node or Sentinel, which is all the old
/// version supported.
///
/// KEYS: old stream, old delayed, old dead, new stream, new delayed, new dead.
/// ARGV: group, batch, min_idle_ms, maxlen, cursor ('-' to start).
/// Returns {moved, next_cursor}, next_cursor '' once the old stream was read to its end.
///
/// Ready entries move. An in-flight entry stays where it is while its consumer (a
/// process of the old version) may still be working on it; once it is idle for longer
/// than the visibility timeout it moves too, its deliveries counted. Delayed messages
/// keep their due time; dead letters move as they are. Emptied old keys are deleted.
static MIGRATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old, old_delayed, old_dead = KEYS[1], KEYS[2], KEYS[3]
local new, new_delayed, new_dead = KEYS[4], KEYS[5], KEYS[6]
local group, batch, min_idle = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local moved = 0

local cursor = ''
local entries = redis.call('XRANGE', old, ARGV[5], '+', 'COUNT', batch)
for _, e in ipairs(entries) do
  local id, flat = e[1], e[2]
  local payload, n = '', 0
  for i = 1, #flat, 2 do
    if flat[i] == 'p' then payload = flat[i + 1]
    elseif flat[i] == 'n' then n = tonumber(flat[i + 1]) or 0 end
  end
  local pending = redis.pcall('XPENDING', old, group, id, id, 1)
  local p = type(pending) == 'table' and not pending.err and pending[1]
  if not (p and p[3] < min_idle) then
    if p then
      n = n + p[4]
      redis.call('XACK', old, group, id)
    end
    redis.call('XADD', new, 'MAXLEN', '~', ARGV[4], '*', 'p', payload, 'n', n)
    redis.call('XDEL', old, id)
    moved = moved + 1
  end
  cursor = '(' .. id
end
if #entries < batch then cursor = '' end
if redis.call('XLEN', old) == 0 then redis.call('DEL', old) end

local delayed = redis.call('ZRANGE', old_delayed, 0, batch - 1, 'WITHSCORES')
for i = 1, #delayed, 2 do
  redis.call('ZADD', new_delayed, delayed[i + 1], delayed[i])
  redis.call('ZREM', old_delayed, delayed[i])
  moved = moved + 1
end

local dead = redis.call('XRANGE', old_dead, '-', '+', 'COUNT', batch)
for _, e in ipairs(dead) do
  redis.call('XADD', new_dead, 'MAXLEN', '~', 10000, '*', unpack(e[2]))
  redis.call('XDEL', old_dead, e[1])
  moved = moved + 1
end
if redis.call('XLEN', old_dead) == 0 then redis.call('DEL', old_dead) end
return {moved, cursor}
",
    )
});

impl RedisBackend {
    pub(crate) async fn connect(
        url: &str,
        prefix: &str,
        visibility_timeout: Duration,
        max_deliveries: u32,
    ) -> Result<Self, QueueError> {
        let connector = Connector::new(url)?;
        let conn = connector.connect().await?;
        Ok(RedisBackend {
            connector,
            conn,
            blocking: Mutex::new(Vec::new()),
            prefix: prefix.to_owned(),
            visibility_timeout,
            max_deliveries,
            cursors: Mutex::new(HashMap::new()),
            legacy_swept: Mutex::new(HashMap::new()),
            bus: OnceCell::new(),
            released: Arc::default(),
        })
    }

    pub(crate) fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// `"redis"`, `"redis-sentinel"` or `"redis-cluster"`.
    pub(crate) fn topology(&self) -> &'static str {
        self.connector.name()
    }

    pub(crate) async fn ping(&self) -> Result<(), QueueError> {
        // A Cluster answers from every primary; any reply is fine.
        let _: Value = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    pub(crate) async fn publish(
        &self,
        topic: &str,
        payload: &str,
        delay: Duration,
        prior: u32,
    ) -> Result<(), QueueError> {
        let keys = Keys::new(&self.prefix, topic);
        let _: i64 = PUBLISH
            .key(&keys.stream)
            .key(&keys.delayed)
            .arg(millis(delay))
            .arg(prior)
            .arg(payload)
            .arg(nonce())
            .arg(STREAM_MAXLEN)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(crate) async fn receive(
        &self,
        topic: &str,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        let keys = Keys::new(&self.prefix, topic);
        let deadline = Instant::now() + wait;
        self.sweep_legacy(topic, &keys).await;
        loop {
            let (cursor, claimed, next_due): (String, Vec<(String, String, u32)>, i64) = PREPARE
                .key(&keys.stream)
                .key(&keys.delayed)
                .key(&keys.dead)
                .arg(GROUP)
                .arg(consumer)
                .arg(millis(self.visibility_timeout))
                .arg(max)
                .arg(self.cursor(topic))
                .arg(self.max_deliveries)
                .arg(STREAM_MAXLEN)
                .arg(millis(self.visibility_timeout * PRUNE_AFTER_TIMEOUTS))
                .invoke_async(&mut self.conn())
                .await?;
            self.set_cursor(topic, cursor);
            let mut out: Vec<Delivery> = claimed
                .into_iter()
                .map(|(id, payload, delivery_count)| Delivery {
                    id,
                    topic: topic.to_owned(),
                    payload,
                    delivery_count,
                })
                .collect();

            if out.len() < max {
                let block = if out.is_empty() {
                    let mut b = deadline
                        .saturating_duration_since(Instant::now())
                        .min(MAX_BLOCK)
                        .min(self.visibility_timeout);
                    if next_due >= 0 {
                        b = b.min(Duration::from_millis(next_due as u64));
                    }
                    b
                } else {
                    Duration::ZERO
                };
                match self.read_new(&keys, consumer, max - out.len(), block).await {
                    Ok(entries) => {
                        for (id, payload, prior) in entries {
                            let delivery_count = prior.saturating_add(1);
                            let d = Delivery {
                                id,
                                topic: topic.to_owned(),
                                payload,
                                delivery_count,
                            };
                            if delivery_count > self.max_deliveries {
                                self.bury(&keys, &d, prior, DEAD_REASON_MAX).await?;
                            } else {
                                out.push(d);
                            }
                        }
                    }
                    // The stream or group vanished between the prepare script and the
                    // read; the next prepare re-creates it.
                    Err(QueueError::Redis(e)) if is_group_lost(&e) => {
                        tracing::info!(topic, "redis consumer group missing; re-creating");
                    }
                    Err(e) if out.is_empty() => return Err(e),
                    // Hand out what was reclaimed; the read error will show up again.
                    Err(e) => tracing::warn!(topic, error = %e, "redis XREADGROUP failed"),
                }
            }
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
        }
    }

    /// XREADGROUP `>`: (id, payload, prior deliveries) of new entries.
    async fn read_new(
        &self,
        keys: &Keys,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<(String, String, u32)>, QueueError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count);
        let block_ms = millis(block);
        // BLOCK 0 would mean "forever", so a zero wait is a plain read.
        if block_ms > 0 {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(&keys.stream).arg(">");

        let reply: Option<StreamReadReply> = if block_ms > 0 {
            let mut conn = self.blocking_conn().await?;
            let reply = cmd.query_async(&mut conn).await;
            self.return_blocking_conn(conn);
            reply?
        } else {
            cmd.query_async(&mut self.conn()).await?
        };

        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                let payload: String = match entry.map.get("p") {
                    Some(v) => redis::from_redis_value_ref(v)?,
                    None => String::new(),
                };
                let prior: u32 = match entry.map.get("n") {
                    Some(v) => redis::from_redis_value_ref(v)?,
                    None => 0,
                };
                out.push((entry.id, payload, prior));
            }
        }
        Ok(out)
    }

    async fn blocking_conn(&self) -> Result<Conn, QueueError> {
        let pooled = self
            .blocking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        if let Some(conn) = pooled {
            return Ok(conn);
        }
        self.connector.blocking().await
    }

    fn return_blocking_conn(&self, conn: Conn) {
        let mut pool = self.blocking.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < BLOCKING_POOL {
            pool.push(conn);
        }
    }

    /// Moves messages left in the old key layout into this topic's keys, on the first
    /// receive of the topic and then every [`LEGACY_SWEEP_EVERY`]. A failure is logged
    /// and retried next time: what stays behind is re-published by the reconciler.
    async fn sweep_legacy(&self, topic: &str, keys: &Keys) {
        if !self.connector.one_keyspace() {
            return;
        }
        {
            let mut swept = self.legacy_swept.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            match swept.get(topic) {
                Some(at) if now.duration_since(*at) < LEGACY_SWEEP_EVERY => return,
                _ => swept.insert(topic.to_owned(), now),
            };
        }
        let old = Keys::legacy(&self.prefix, topic);
        let mut cursor = "-".to_owned();
        let mut total = 0;
        // Bounded, in case processes of the old version publish as fast as this moves.
        for _ in 0..200 {
            let moved: Result<(u64, String), _> = MIGRATE
                .key(&old.stream)
                .key(&old.delayed)
                .key(&old.dead)
                .key(&keys.stream)
                .key(&keys.delayed)
                .key(&keys.dead)
                .arg(GROUP)
                .arg(LEGACY_BATCH)
                .arg(millis(self.visibility_timeout))
                .arg(STREAM_MAXLEN)
                .arg(&cursor)
                .invoke_async(&mut self.conn())
                .await;
            match moved {
                Ok((n, next)) => {
                    total += n;
                    // More of the stream to read, or a full batch of delayed or dead.
                    let more = !next.is_empty() || n >= LEGACY_BATCH as u64;
                    cursor = if next.is_empty() {
                        "-".to_owned()
                    } else {
                        next
                    };
                    if !more {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(topic, error = %e, "redis: cannot move messages from the old key layout");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(
                topic,
                moved = total,
                "redis: moved messages from the old key layout"
            );
        }
    }

    fn cursor(&self, topic: &str) -> String {
        let cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        cursors.get(topic).cloned().unwrap_or_else(|| "0-0".into())
    }

    fn set_cursor(&self, topic: &str, cursor: String) {
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        cursors.insert(topic.to_owned(), cursor);
    }

    pub(crate) async fn ack(&self, d: &Delivery) -> Result<(), QueueError> {
        let keys = Keys::new(&self.prefix, &d.topic);
        let _: i64 = ACK
            .key(&keys.stream)
            .arg(GROUP)
            .arg(&d.id)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(crate) async fn retry_after(
        &self,
        d: &Delivery,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let keys = Keys::new(&self.prefix, &d.topic);
        let _: i64 = RETRY
            .key(&keys.stream)
            .key(&keys.delayed)
            .arg(GROUP)
            .arg(&d.id)
            .arg(millis(delay))
            .arg(d.delivery_count)
            .arg(&d.payload)
            .arg(nonce())
            .arg(STREAM_MAXLEN)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(crate) async fn dead_letter(&self, d: &Delivery, reason: &str) -> Result<(), QueueError> {
        let keys = Keys::new(&self.prefix, &d.topic);
        self.bury(&keys, d, d.delivery_count, reason).await
    }

    async fn bury(
        &self,
        keys: &Keys,
        d: &Delivery,
        delivery_count: u32,
        reason: &str,
    ) -> Result<(), QueueError> {
        let _: i64 = DEAD
            .key(&keys.stream)
            .key(&keys.dead)
            .arg(GROUP)
            .arg(&d.id)
            .arg(&d.payload)
            .arg(delivery_count)
            .arg(reason)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(crate) async fn dead_letters(
        &self,
        topic: &str,
        max: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        let keys = Keys::new(&self.prefix, topic);
        let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XREVRANGE")
            .arg(&keys.dead)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(max)
            .query_async(&mut self.conn())
            .await?;
        Ok(entries
            .into_iter()
            .map(|(_, mut fields)| DeadLetter {
                payload: fields.remove("p").unwrap_or_default(),
                reason: fields.remove("reason").unwrap_or_default(),
                delivery_count: fields
                    .get("n")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_default(),
            })
            .collect())
    }

    pub(crate) async fn stats(&self, topic: &str) -> Result<QueueStats, QueueError> {
        let keys = Keys::new(&self.prefix, topic);
        let (depth, in_flight, delayed, dead): (u64, u64, u64, u64) = STATS
            .key(&keys.stream)
            .key(&keys.delayed)
            .key(&keys.dead)
            .arg(GROUP)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(QueueStats {
            depth,
            in_flight,
            delayed,
            dead,
        })
    }

    pub(crate) async fn lock(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<LockGuard>, QueueError> {
        let full_key = format!("{}lock:{key}", self.prefix);
        crate::lock::redis_acquire(self.conn(), key, full_key, ttl).await
    }

    pub(crate) async fn notify(&self, channel: &str, payload: &str) -> Result<(), QueueError> {
        let _: Value = redis::cmd("PUBLISH")
            .arg(format!("{}bus:{channel}", self.prefix))
            .arg(payload)
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(crate) async fn subscribe(&self, channel: &str) -> Result<Subscription, QueueError> {
        // The pub/sub task and its connection start with the first subscription.
        let bus = self
            .bus
            .get_or_init(|| async { RedisBus::start(self.connector.pubsub()) })
            .await;
        bus.subscribe(channel, format!("{}bus:{channel}", self.prefix))
            .await
            .ok_or_else(|| QueueError::Protocol("event bus task stopped".into()))
    }
}

/// Makes identical payloads distinct members of the delayed set.
fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
