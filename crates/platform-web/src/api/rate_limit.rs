//! Per-key request rate limit (a token bucket per API key, per process).
//!
//! With N web processes the effective limit is N times this; that is fine
//! for its purpose (keeping one runaway POS from starving the others).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    /// Tokens added per second; 0 disables the limit.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second);
        RateLimiter {
            rate,
            burst: (rate * 2.0).max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `per_hour` with a burst of as many (slow limits: sign-ups).
    pub fn per_hour(per_hour: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_hour) / 3600.0,
            burst: f64::from(per_hour.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// A limiter of `per_second` with a burst of `burst`.
    pub fn with_burst(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// How long until `key` has a token again, without taking one; `None`
    /// when it has one now.
    pub fn empty_for(&self, key: &str) -> Option<Duration> {
        if self.rate <= 0.0 {
            return None;
        }
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.get(key)?;
        let tokens = (tokens + at.elapsed().as_secs_f64() * self.rate).min(self.burst);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.rate))
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Keys idle long enough to be full again need no memory.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refuses_with_a_wait() {
        let rl = RateLimiter::new(5);
        for _ in 0..10 {
            assert!(rl.check("k").is_ok());
        }
        let wait = rl.check("k").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));
        assert!(rl.check("other").is_ok(), "buckets are per key");
        assert!(RateLimiter::new(0).check("k").is_ok());
    }

    #[test]
    fn peeking_takes_nothing() {
        let rl = RateLimiter::with_burst(1, 2);
        assert_eq!(rl.empty_for("k"), None, "an unseen key is full");
        rl.check("k").unwrap();
        assert_eq!(rl.empty_for("k"), None);
        rl.check("k").unwrap();
        let wait = rl.empty_for("k").expect("spent");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(rl.empty_for("k").is_some(), "peeking again changes nothing");
    }
}
