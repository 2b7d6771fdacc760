//! The sandbox clock. Every time-based rule (code and token expiry, order
//! expiration, intent abandonment, human-like terminal steps, notification
//! retries) reads this clock, so tests move time forward instead of sleeping.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Hook = Arc<dyn Fn() + Send + Sync>;

/// A clock that is either frozen until advanced (`manual`) or follows the
/// system clock; both can be pushed forward with [`Clock::advance`].
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

struct Inner {
    manual: bool,
    /// Manual: the frozen time. System: the offset added to `Utc::now()`.
    base: Mutex<(DateTime<Utc>, chrono::Duration)>,
    on_advance: Mutex<Option<Hook>>,
}

impl Clock {
    /// A clock that only moves when advanced; starts at the current real time.
    pub fn manual() -> Self {
        Self::new(true)
    }

    /// A clock that follows real time (plus whatever was advanced).
    pub fn system() -> Self {
        Self::new(false)
    }

    fn new(manual: bool) -> Self {
        Clock {
            inner: Arc::new(Inner {
                manual,
                base: Mutex::new((Utc::now(), chrono::Duration::zero())),
                on_advance: Mutex::new(None),
            }),
        }
    }

    pub fn is_manual(&self) -> bool {
        self.inner.manual
    }

    pub fn now(&self) -> DateTime<Utc> {
        let (frozen, offset) = *lock(&self.inner.base);
        let base = if self.inner.manual {
            frozen
        } else {
            Utc::now()
        };
        base.checked_add_signed(offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Moves time forward and runs every transition that became due.
    pub fn advance(&self, by: Duration) {
        {
            let mut base = lock(&self.inner.base);
            // Saturates instead of overflowing: time never moves past the end of chrono's range.
            let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
            base.1 = base.1.checked_add(&by).unwrap_or(base.1);
        }
        let hook = lock(&self.inner.on_advance).clone();
        if let Some(hook) = hook {
            hook();
        }
    }

    pub(crate) fn set_on_advance(&self, hook: Hook) {
        *lock(&self.inner.on_advance) = Some(hook);
    }

    pub(crate) fn clear_on_advance(&self) {
        *lock(&self.inner.on_advance) = None;
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("manual", &self.inner.manual)
            .field("now", &self.now())
            .finish()
    }
}

/// Locks a mutex even if a panicking thread poisoned it: sandbox state stays usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
