//! Rows read on almost every request that change rarely, kept in memory by
//! each process: API keys (by their visible prefix), what charging on a
//! terminal needs (the terminal, its seller and integrator). Webhook
//! endpoints are not kept: an event reads them inside its own transaction,
//! so an endpoint created a moment ago in another process is not missed.
//!
//! Coherence: every core function that changes those rows ends with
//! [`Db::changed`](crate::db::Db::changed) after its commit. This process
//! forgets the entries at once (so its next request reads the new row), and
//! the other processes are told over the event bus (channel
//! [`STALE_CHANNEL`]), which is best-effort: an entry also expires after
//! [`TTL`], the longest another process may act on an old row (a revoked
//! key, a terminal switched to STANDALONE).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use platform_queue::Queue;

use crate::entities::{api_keys, integrators, sellers, terminals};
use crate::id::TerminalId;

/// How long an entry may be used without a notice of change.
pub const TTL: Duration = Duration::from_secs(5);
/// Entries per cache at most; past that the cache starts over.
const MAX_ENTRIES: usize = 50_000;
/// The event bus channel of change notices.
pub const STALE_CHANNEL: &str = "lookups.stale";

/// Which cached rows a change made stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// API keys (revoked, expired, deleted).
    Keys,
    /// Terminals, sellers or integrators (mode, placement, link status,
    /// sponsor, upstream API).
    Charging,
}

impl Stale {
    fn as_str(self) -> &'static str {
        match self {
            Stale::Keys => "keys",
            Stale::Charging => "charging",
        }
    }

    fn parse(s: &str) -> Option<Stale> {
        [Stale::Keys, Stale::Charging]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What charging on a terminal needs to know.
#[derive(Debug, Clone)]
pub struct Charging {
    pub terminal: terminals::Model,
    pub seller: sellers::Model,
    pub integrator: integrators::Model,
}

/// One cache: entries with the time they were read.
struct Cache<K, V> {
    entries: Mutex<HashMap<K, (Instant, Arc<V>)>>,
}

impl<K: Eq + Hash, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V> Cache<K, V> {
    fn get(&self, key: &K) -> Option<Arc<V>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value`, read at `read_at` (before the query that read it, so a
    /// change noticed meanwhile is not overwritten by an older row).
    fn put(&self, key: K, value: Arc<V>, read_at: Instant, generation: u64, now_gen: u64) {
        if generation != now_gen {
            // A change was noticed while the row was being read.
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (read_at, value));
    }

    fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The process's lookups (one per [`Db`](crate::db::Db)).
#[derive(Default)]
pub struct Lookups {
    keys: Cache<String, api_keys::Model>,
    charging: Cache<TerminalId, Charging>,
    /// Bumped by every change notice, so a read that overlapped one is not
    /// cached (it may have read the row before the change).
    generations: [std::sync::atomic::AtomicU64; 2],
    bus: OnceLock<Queue>,
}

/// A read in progress: what to compare when caching its result.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    at: Instant,
    generation: u64,
}

impl Lookups {
    fn generation(&self, kind: Stale) -> &std::sync::atomic::AtomicU64 {
        &self.generations[kind as usize]
    }

    /// Taken before reading a row to cache.
    pub fn ticket(&self, kind: Stale) -> Ticket {
        Ticket {
            at: Instant::now(),
            generation: self
                .generation(kind)
                .load(std::sync::atomic::Ordering::Acquire),
        }
    }

    fn current(&self, kind: Stale) -> u64 {
        self.generation(kind)
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn key(&self, prefix: &str) -> Option<Arc<api_keys::Model>> {
        self.keys.get(&prefix.to_owned())
    }

    pub fn keep_key(&self, ticket: Ticket, row: api_keys::Model) {
        let now = self.current(Stale::Keys);
        self.keys.put(
            row.prefix.clone(),
            Arc::new(row),
            ticket.at,
            ticket.generation,
            now,
        );
    }

    pub fn charging(&self, terminal: &TerminalId) -> Option<Arc<Charging>> {
        self.charging.get(terminal)
    }

    pub fn keep_charging(&self, ticket: Ticket, value: Charging) -> Arc<Charging> {
        let value = Arc::new(value);
        let now = self.current(Stale::Charging);
        self.charging.put(
            value.terminal.id.clone(),
            value.clone(),
            ticket.at,
            ticket.generation,
            now,
        );
        value
    }

    /// Forgets what `kind` covers, here only.
    pub fn forget(&self, kind: Stale) {
        self.generation(kind)
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        match kind {
            Stale::Keys => self.keys.clear(),
            Stale::Charging => self.charging.clear(),
        }
    }

    /// Forgets here, and tells the other processes (if a bus is attached).
    pub async fn changed(&self, kind: Stale) {
        self.forget(kind);
        if let Some(bus) = self.bus.get()
            && let Err(e) = bus.notify(STALE_CHANNEL, kind.as_str()).await
        {
            tracing::warn!(error = %e, kind = kind.as_str(), "could not tell other processes of a change; their caches expire by themselves");
        }
    }

    /// Listens for other processes' notices on `bus` (once per process;
    /// later calls change nothing). Needs a tokio runtime.
    pub fn attach(self: &Arc<Self>, bus: &Queue) {
        if self.bus.set(bus.clone()).is_err() {
            return;
        }
        let (weak, bus) = (Arc::downgrade(self), bus.clone());
        tokio::spawn(async move {
            let mut sub = match bus.subscribe(STALE_CHANNEL).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "lookups: no change notices from other processes; entries expire after {TTL:?}");
                    return;
                }
            };
            while let Some(notice) = sub.recv().await {
                let Some(lookups) = weak.upgrade() else { break };
                if let Some(kind) = Stale::parse(&notice) {
                    lookups.forget(kind);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_what_they_cover() {
        for k in [Stale::Keys, Stale::Charging] {
            assert_eq!(Stale::parse(k.as_str()), Some(k));
        }
        assert_eq!(Stale::parse("other"), None);
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let cache: Cache<u8, u8> = Cache::default();
        cache.put(1, Arc::new(10), Instant::now(), 0, 1);
        assert!(cache.get(&1).is_none());
        cache.put(1, Arc::new(10), Instant::now(), 1, 1);
        assert_eq!(cache.get(&1).as_deref(), Some(&10));
        cache.clear();
        assert!(cache.get(&1).is_none());
    }

    #[test]
    fn entries_expire() {
        let cache: Cache<u8, u8> = Cache::default();
        cache.put(1, Arc::new(10), Instant::now() - TTL, 0, 0);
        assert!(cache.get(&1).is_none());
    }
}
