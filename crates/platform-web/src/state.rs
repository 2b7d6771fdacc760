//! What every handler can reach. Built once per process by [`AppState::new`]
//! (inside the Tokio runtime: it starts the live-update relay);
//! add a field here (and its construction) rather than threading new
//! arguments through the binary.

use std::sync::Arc;
use std::time::Instant;

use platform_core::config::{Settings, Upstream};
use platform_core::crypto::Keyring;
use platform_core::db::Db;
use platform_core::mercadopago::MpClient;
use platform_queue::Queue;

use crate::api::rate_limit::{Rate, RateLimiter};
use crate::live::IntentFeed;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keyring: Keyring,
    pub queue: Queue,
    pub settings: Arc<Settings>,
    /// The sandbox's base URL in sandbox mode (embedded or `puente sandbox`).
    pub sandbox_url: Option<String>,
    pub started_at: Instant,
    /// Mercado Pago (or the sandbox), for onboarding and the dashboard.
    pub mp: MpClient,
    pub rate_limiter: Arc<RateLimiter>,
    /// Failed API-key authentications per client network (IPv6 by /64):
    /// once spent, that network's unauthenticated requests are refused
    /// before any lookup (`api::auth`).
    pub bad_key_limiter: Arc<RateLimiter>,
    /// Accounts made at `/app/signup` per client network.
    pub signup_limiter: Arc<RateLimiter>,
    pub intent_feed: IntentFeed,
    /// Caps the argon2 verifications running at once (each is CPU and ~19 MiB).
    pub password_checks: Arc<tokio::sync::Semaphore>,
}

/// Wrong, revoked or expired API keys a client network may present: a
/// burst of 20, then 2 a second. A POS with a mistyped key sees its 401s;
/// a scan of keys is slowed to a crawl.
pub const BAD_KEYS_PER_SECOND: u32 = 2;
pub const BAD_KEYS_BURST: u32 = 20;
/// Integrator accounts one client network may create at `/app/signup`.
pub const SIGNUPS_PER_HOUR: u32 = 5;

impl AppState {
    /// `sandbox_url`: the embedded sandbox's actual URL when it runs in this
    /// process; otherwise derived from the settings in sandbox mode.
    pub fn new(
        db: Db,
        keyring: Keyring,
        queue: Queue,
        settings: Arc<Settings>,
        sandbox_url: Option<String>,
    ) -> Self {
        let sandbox_url = sandbox_url.or_else(|| match settings.upstream {
            Upstream::EmbeddedSandbox => Some(format!("http://{}", settings.sandbox_addr)),
            Upstream::External { .. } => None,
        });
        // Shared through the queue: with Redis every web process draws from the
        // same buckets.
        let rate_limiter =
            Arc::new(queue.rate_limiter("api-key", Rate::per_second(settings.api_rate_limit)));
        let bad_key_limiter = Arc::new(queue.rate_limiter(
            "bad-key",
            Rate::with_burst(BAD_KEYS_PER_SECOND, BAD_KEYS_BURST),
        ));
        let signup_limiter =
            Arc::new(queue.rate_limiter("signup", Rate::per_hour(SIGNUPS_PER_HOUR)));
        let intent_feed = IntentFeed::start(queue.clone());
        db.attach_bus(&queue);
        let mp = platform_core::upstream::mp_client(&settings, sandbox_url.as_deref());
        let password_checks = Arc::new(tokio::sync::Semaphore::new(
            settings.login_max_concurrent_hashes as usize,
        ));
        AppState {
            mp,
            password_checks,
            rate_limiter,
            bad_key_limiter,
            signup_limiter,
            intent_feed,
            db,
            keyring,
            queue,
            settings,
            sandbox_url,
            started_at: Instant::now(),
        }
    }
}
