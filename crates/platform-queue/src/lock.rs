//! Leases: "only one process refreshes this seller's token at a time".
//!
//! A lease is a key holding a random token with an expiry. Releasing compares the token
//! first, so a holder whose lease already expired (and was taken by someone else) cannot
//! delete the new holder's lease.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::QueueError;
use crate::topology::Conn;

/// A held lease. Call [`LockGuard::release`] when done; a guard dropped without it is
/// released in the background (best effort), and in any case expires after its ttl.
#[must_use = "the lease is released when the guard is dropped"]
pub struct LockGuard {
    key: String,
    token: String,
    owner: Owner,
    released: bool,
}

enum Owner {
    Memory(Arc<MemoryLocks>),
    /// `full_key` includes the deployment prefix.
    Redis {
        conn: Conn,
        full_key: String,
    },
}

impl LockGuard {
    /// The key passed to [`crate::Queue::lock`].
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Gives the lease back. `Ok(false)` means it had already expired (and someone
    /// else may hold it now).
    pub async fn release(mut self) -> Result<bool, QueueError> {
        self.released = true;
        match &self.owner {
            Owner::Memory(locks) => Ok(locks.release(&self.key, &self.token)),
            Owner::Redis { conn, full_key } => {
                redis_release(conn.clone(), full_key, &self.token).await
            }
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        match &self.owner {
            Owner::Memory(locks) => {
                locks.release(&self.key, &self.token);
            }
            Owner::Redis { conn, full_key } => {
                // Drop cannot await; without a runtime the ttl cleans up.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let (conn, key, token) = (
                        conn.clone(),
                        full_key.clone(),
                        std::mem::take(&mut self.token),
                    );
                    rt.spawn(async move {
                        if let Err(e) = redis_release(conn, &key, &token).await {
                            tracing::debug!(%key, error = %e, "lease release on drop failed");
                        }
                    });
                }
            }
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").field("key", &self.key).finish()
    }
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn ttl_ms(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

/// Leases of the memory backend.
#[derive(Default)]
pub(crate) struct MemoryLocks {
    held: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryLocks {
    pub(crate) fn acquire(self: &Arc<Self>, key: &str, ttl: Duration) -> Option<LockGuard> {
        let now = Instant::now();
        let token = new_token();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        // Expired leases are dropped here so the map stays small.
        held.retain(|_, (_, until)| *until > now);
        if held.contains_key(key) {
            return None;
        }
        held.insert(key.to_owned(), (token.clone(), now + ttl));
        Some(LockGuard {
            key: key.to_owned(),
            token,
            owner: Owner::Memory(self.clone()),
            released: false,
        })
    }

    fn release(&self, key: &str, token: &str) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        match held.get(key) {
            Some((t, until)) if t == token && *until > Instant::now() => {
                held.remove(key);
                true
            }
            _ => false,
        }
    }
}

static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
          end
          return 0",
    )
});

pub(crate) async fn redis_acquire(
    mut conn: Conn,
    key: &str,
    full_key: String,
    ttl: Duration,
) -> Result<Option<LockGuard>, QueueError> {
    let token = new_token();
    let set: Option<String> = redis::cmd("SET")
        .arg(&full_key)
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(ttl_ms(ttl))
        .query_async(&mut conn)
        .await?;
    Ok(set.map(|_| LockGuard {
        key: key.to_owned(),
        token,
        owner: Owner::Redis { conn, full_key },
        released: false,
    }))
}

async fn redis_release(mut conn: Conn, full_key: &str, token: &str) -> Result<bool, QueueError> {
    let deleted: i64 = RELEASE
        .key(full_key)
        .arg(token)
        .invoke_async(&mut conn)
        .await?;
    Ok(deleted == 1)
}
