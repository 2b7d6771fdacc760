//! Outgoing webhooks to integrators.
//!
//! * [`endpoints`]: an integrator's receivers (URL, event and seller
//!   filters, a `whsec_…` secret sealed at rest, rotation with a 24 h
//!   overlap, enable/disable), always through a [`Scope`](crate::tenancy::Scope).
//! * [`signing`]: Standard Webhooks signatures (`webhook-id`,
//!   `webhook-timestamp`, `webhook-signature: v1,<base64>`).
//! * [`delivery`]: one attempt of one delivery ([`delivery::deliver_once`]),
//!   the attempt log, retries by [`policy::RetryPolicy`], dead deliveries,
//!   automatic disabling, replays and the reconciler's query.
//! * [`ssrf`] and [`cidr`]: the HTTP client never reaches private, loopback
//!   or otherwise non-public addresses unless an operator allowlists them.
//!
//! Events and their delivery rows are written by [`crate::events::emit`];
//! the worker (`platform-worker`) runs [`delivery::deliver_once`] for each
//! queued `msg_…` id. See `docs/webhooks.md`.

pub mod cidr;
pub mod delivery;
pub mod endpoints;
pub mod policy;
pub mod signing;
pub mod ssrf;

#[cfg(any(test, feature = "test-support"))]
pub mod test_receiver;

use crate::clock;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use cidr::Cidr;
use ssrf::SsrfGuard;

pub use delivery::{Outcome, deliver_once};
pub use policy::{DeliveryPolicy, RetryPolicy};

/// The `user-agent` of every webhook request.
pub const USER_AGENT: &str = concat!("Puente-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Where "now" comes from, so tests drive time instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        clock::now()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The guarded HTTP client webhooks are sent with.
#[derive(Debug, Clone)]
pub struct WebhookHttp {
    client: reqwest::Client,
    guard: SsrfGuard,
}

impl WebhookHttp {
    /// A client that refuses non-public addresses except those in `allow`.
    pub fn new(allow: Vec<Cidr>, timeout: Duration) -> Self {
        let guard = SsrfGuard::new(allow);
        Self {
            client: ssrf::guarded_client(&guard, timeout),
            guard,
        }
    }

    /// With the operator's allowlist (`PUENTE_WEBHOOK_ALLOW_CIDRS`) and the
    /// default timeout.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(
            settings.webhook_allow_cidrs.clone(),
            DeliveryPolicy::default().timeout,
        )
    }

    pub fn guard(&self) -> &SsrfGuard {
        &self.guard
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}
