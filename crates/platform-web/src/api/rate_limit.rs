//! The API's rate limits: per API key (`PUENTE_API_RATE_LIMIT`), per client
//! network for invalid keys and for sign-ups (`crate::state`).
//!
//! They are `platform_queue::RateLimiter`s, so with Redis as the queue they
//! hold across every web process (one round trip per check); with the
//! in-process queue they are per process, as there is only one.

pub use platform_queue::{Rate, RateLimiter};
