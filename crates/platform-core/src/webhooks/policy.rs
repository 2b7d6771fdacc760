//! When to try again, when to give up, and when to switch an endpoint off:
//! all of it data, so tests and operators can see (and change) it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The retry schedule of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// `schedule[n]` is the wait before attempt `n + 1`, measured from the
    /// previous attempt (`schedule[0]`, normally zero, is the first attempt
    /// after the event). Its length is the number of attempts.
    pub schedule: Vec<Duration>,
    /// Each wait is moved by a random ±`jitter` fraction (0.1 = ±10 %), so
    /// endpoints that failed together do not retry together.
    pub jitter: f64,
    /// A `Retry-After` longer than this is capped to it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts
    /// over about 27.5 hours.
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 3600;
        Self {
            schedule: [
                0,
                5,
                5 * MIN,
                30 * MIN,
                2 * HOUR,
                5 * HOUR,
                10 * HOUR,
                10 * HOUR,
            ]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
            jitter: 0.1,
            max_retry_after: Duration::from_secs(24 * HOUR),
        }
    }
}

impl RetryPolicy {
    pub fn max_attempts(&self) -> u32 {
        self.schedule.len() as u32
    }

    /// The unjittered wait after `attempts_done` attempts, or `None` when
    /// the schedule is exhausted (the delivery is dead).
    pub fn base_delay(&self, attempts_done: u32) -> Option<Duration> {
        self.schedule.get(attempts_done as usize).copied()
    }

    /// The shortest and longest jittered wait after `attempts_done` attempts.
    pub fn bounds(&self, attempts_done: u32) -> Option<(Duration, Duration)> {
        let base = self.base_delay(attempts_done)?;
        Some((
            base.mul_f64((1.0 - self.jitter).max(0.0)),
            base.mul_f64(1.0 + self.jitter),
        ))
    }

    /// The wait after `attempts_done` attempts, with `unit` in `[0, 1)`
    /// choosing where in the jitter band it falls.
    pub fn delay_with(&self, attempts_done: u32, unit: f64) -> Option<Duration> {
        let base = self.base_delay(attempts_done)?;
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Some(base.mul_f64(factor.max(0.0)))
    }

    /// As [`Self::delay_with`], with a random position in the band.
    pub fn delay(&self, attempts_done: u32) -> Option<Duration> {
        self.delay_with(attempts_done, rand::random::<f64>())
    }
}

/// Everything `deliver_once` needs to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    pub retry: RetryPolicy,
    /// An endpoint whose every attempt has failed for this long is disabled.
    pub disable_after: chrono::Duration,
    /// Whole-request timeout of one attempt.
    pub timeout: Duration,
    /// While an attempt runs, the delivery's `next_attempt_at` is pushed
    /// this far ahead, so neither the reconciler nor another worker picks it
    /// up; a worker that dies mid-attempt is covered once it passes.
    pub lease: Duration,
    /// A message that arrives this much before the row is due still runs
    /// (queue and database clocks differ a little).
    pub early_tolerance: Duration,
    /// Bytes of the receiver's response body kept in the attempt log.
    pub response_snippet_bytes: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            disable_after: chrono::Duration::days(5),
            timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            early_tolerance: Duration::from_secs(1),
            response_snippet_bytes: 1024,
        }
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP date. `None` when it is
/// neither; a date in the past is zero.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn default_schedule() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts(), 8);
        let secs: Vec<u64> = p.schedule.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(p.base_delay(8), None, "dead after the eighth attempt");
        assert_eq!(p.delay(8), None);
    }

    #[test]
    fn jitter_stays_in_band() {
        let p = RetryPolicy::default();
        for n in 0..p.max_attempts() {
            let (lo, hi) = p.bounds(n).unwrap();
            let base = p.base_delay(n).unwrap();
            assert_eq!(lo, base.mul_f64(0.9));
            assert_eq!(hi, base.mul_f64(1.1));
            for _ in 0..200 {
                let d = p.delay(n).unwrap();
                assert!(d >= lo && d <= hi, "{d:?} outside {lo:?}..{hi:?}");
            }
            assert_eq!(p.delay_with(n, 0.0).unwrap(), lo);
            assert_eq!(p.delay_with(n, 0.5).unwrap(), base);
        }
        // Jitter really varies the delay.
        let ds: std::collections::HashSet<_> = (0..50).map(|_| p.delay(3).unwrap()).collect();
        assert!(ds.len() > 10);
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
