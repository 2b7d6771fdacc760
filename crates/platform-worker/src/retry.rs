//! Retry policy for upstream calls, as data.

use std::time::Duration;

use platform_core::states::UpstreamApi;

/// Deliveries a queue message may have before the queue dead-letters it.
/// A retry the worker asks for (`retry_after`) counts as a delivery, so this
/// stays above every policy's attempts: the row's policy decides when an
/// intent stops, and only a message that keeps failing past it (a worker
/// crashing on it, Mercado Pago down for hours) reaches the dead letters,
/// where the reconciler's re-queue from the row takes over.
pub const QUEUE_MAX_DELIVERIES: u32 = 24;

/// How the worker retries a dispatch that failed for a passing reason
/// (5xx, 429, timeouts, connection errors).
#[derive(Debug, Clone)]
pub struct DispatchPolicy {
    /// Wait before the 1st, 2nd, … retry; the last repeats.
    pub backoff: Vec<Duration>,
    /// ± this fraction of random jitter on each wait.
    pub jitter: f64,
    /// After this many failed attempts the intent fails for good. The
    /// idempotency key makes every attempt the same order, and an order not
    /// picked up expires upstream after 15 minutes, so giving up after about
    /// that long cannot leave a charge behind unseen.
    pub max_attempts: i32,
    /// How often a sent, non-final intent is re-read from Mercado Pago when
    /// no notification came.
    pub sync_every: Duration,
    /// Messages handled at once per process, and per seller.
    pub concurrency: usize,
    pub per_seller: usize,
    /// Re-reads of an order waiting for the terminal: the wait grows with
    /// the order's age from the first to the last, and stops after
    /// `pickup_watch` (the periodic sync goes on).
    pub pickup_backoff: (Duration, Duration),
    /// The same for a legacy payment intent, whose read Mercado Pago limits
    /// to one request per second.
    pub legacy_pickup_backoff: (Duration, Duration),
    pub pickup_watch: Duration,
}

impl Default for DispatchPolicy {
    fn default() -> Self {
        DispatchPolicy {
            backoff: [1, 2, 5, 10, 30, 60, 120, 300]
                .map(Duration::from_secs)
                .to_vec(),
            jitter: 0.2,
            max_attempts: 12,
            sync_every: Duration::from_secs(30),
            concurrency: 64,
            per_seller: 8,
            // 500 ms at most: the pick-up shows within a second of the
            // terminal taking it, with the queue's own delay on top.
            pickup_backoff: (Duration::from_millis(250), Duration::from_millis(500)),
            legacy_pickup_backoff: (Duration::from_secs(1), Duration::from_secs(1)),
            pickup_watch: Duration::from_secs(15 * 60),
        }
    }
}

impl DispatchPolicy {
    /// When to read an order that waits for the terminal again, given its
    /// age: 250 ms, 500 ms, 1 s, … (half its age, within the bounds); None
    /// once it has waited longer than `pickup_watch`.
    pub fn pickup_wait(&self, api: UpstreamApi, age: Duration) -> Option<Duration> {
        if age > self.pickup_watch {
            return None;
        }
        let (first, last) = match api {
            UpstreamApi::Orders => self.pickup_backoff,
            UpstreamApi::Legacy => self.legacy_pickup_backoff,
        };
        Some((age / 2).clamp(first, last))
    }

    /// The wait after `attempts` failures, with jitter; at least `floor`
    /// (a `Retry-After` from upstream).
    pub fn wait(&self, attempts: i32, floor: Option<Duration>) -> Duration {
        let i = (attempts.max(1) as usize - 1).min(self.backoff.len().saturating_sub(1));
        let base = self
            .backoff
            .get(i)
            .copied()
            .unwrap_or(Duration::from_secs(60));
        let mut r = [0u8; 8];
        rand::fill(&mut r);
        let unit = (u64::from_le_bytes(r) as f64) / (u64::MAX as f64); // 0..1
        let factor = 1.0 + self.jitter * (unit * 2.0 - 1.0);
        let waited = base.mul_f64(factor.max(0.0));
        waited.max(floor.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_outlasts_the_dispatch_policy() {
        let p = DispatchPolicy::default();
        // Every attempt the policy allows, plus the busy-terminal retries
        // counted among them, fits before the queue would bury the message.
        assert!(
            QUEUE_MAX_DELIVERIES as i32 > p.max_attempts * 3 / 2,
            "{}",
            p.max_attempts
        );
    }

    #[test]
    fn waits_grow_with_jitter_and_respect_retry_after() {
        let p = DispatchPolicy::default();
        for _ in 0..100 {
            let w = p.wait(1, None);
            assert!(
                w >= Duration::from_millis(800) && w <= Duration::from_millis(1200),
                "{w:?}"
            );
            let w = p.wait(100, None);
            assert!(w >= Duration::from_secs(240) && w <= Duration::from_secs(360));
        }
        assert!(p.wait(1, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
    }

    #[test]
    fn pickup_reads_back_off_to_half_a_second_and_stop() {
        let p = DispatchPolicy::default();
        let orders = |secs: f64| p.pickup_wait(UpstreamApi::Orders, Duration::from_secs_f64(secs));
        assert_eq!(orders(0.0), Some(Duration::from_millis(250)));
        assert_eq!(orders(0.8), Some(Duration::from_millis(400)));
        assert_eq!(orders(5.0), Some(Duration::from_millis(500)));
        assert_eq!(orders(16.0 * 60.0), None);
    }

    #[test]
    fn legacy_pickup_reads_keep_to_one_a_second() {
        let p = DispatchPolicy::default();
        for secs in [0, 1, 5, 60] {
            assert_eq!(
                p.pickup_wait(UpstreamApi::Legacy, Duration::from_secs(secs)),
                Some(Duration::from_secs(1))
            );
        }
    }
}
