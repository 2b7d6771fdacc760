//! The shared sandbox object handed to every handler, and the ticker that
//! runs due transitions and notification deliveries.

use crate::clock::{Clock, lock};
use crate::state::State;
use crate::{AppConfig, SandboxConfig, notify, terminal_sim};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Notification deliveries in flight at once. A burst (instant timings, a
/// benchmark) would otherwise open a connection per delivery and keep them
/// all, with their buffers, in the client's pool.
pub const MAX_DELIVERIES_IN_FLIGHT: usize = 128;

pub struct Sandbox {
    pub cfg: SandboxConfig,
    pub base_url: String,
    pub clock: Clock,
    state: Mutex<State>,
    /// Wakes the ticker when new work is due "now" (instant timings).
    pub wake: Notify,
    /// Whether any fault is configured (requests skip the fault lookup otherwise).
    pub faults_armed: AtomicBool,
    pub http: reqwest::Client,
    /// Permits for deliveries in flight (`MAX_DELIVERIES_IN_FLIGHT`).
    pub deliveries: Semaphore,
    /// Runtime for notification deliveries, usable from any thread (clock hooks).
    pub rt: tokio::runtime::Handle,
}

impl Sandbox {
    pub(crate) fn new(cfg: SandboxConfig, base_url: String) -> Arc<Self> {
        let clock = if cfg.manual_clock {
            Clock::manual()
        } else {
            Clock::system()
        };
        let state = State::new(&cfg, clock.now());
        let http = reqwest::Client::builder()
            .timeout(cfg.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(MAX_DELIVERIES_IN_FLIGHT)
            .build()
            .unwrap_or_default();
        let sb = Arc::new(Sandbox {
            cfg,
            base_url,
            clock,
            state: Mutex::new(state),
            wake: Notify::new(),
            faults_armed: AtomicBool::new(false),
            http,
            deliveries: Semaphore::new(MAX_DELIVERIES_IN_FLIGHT),
            rt: tokio::runtime::Handle::current(),
        });
        if sb.cfg.seed_demo_seller {
            let now = sb.clock.now();
            let mut st = sb.lock();
            let uid = st.create_user("MLB", Some("demo seller".into()), now);
            st.provision_seller(uid, 2, now);
            let cid = st.default_client_id.clone();
            st.issue_tokens(uid, &cid, true, now);
            st.authorizations.insert((uid, cid));
        }
        // Advancing the clock runs whatever became due before `advance` returns.
        let weak = Arc::downgrade(&sb);
        sb.clock.set_on_advance(Arc::new(move || {
            if let Some(sb) = weak.upgrade() {
                sb.process_due();
            }
        }));
        sb
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn default_app(&self) -> AppConfig {
        let st = self.lock();
        st.apps[&st.default_client_id].cfg.clone()
    }

    /// Applies every transition that is due, starts due notification
    /// deliveries and evicts what is past retention.
    pub fn process_due(self: &Arc<Self>) {
        let now = self.clock.now();
        let (deliveries, more) = {
            let mut st = self.lock();
            let more = terminal_sim::run_due(&mut st, now);
            let deliveries = notify::take_due(&mut st, now);
            (deliveries, more)
        };
        for d in deliveries {
            notify::spawn_delivery(self.clone(), d);
        }
        // Eviction under its own short hold of the lock, so requests interleave.
        let more = more | self.lock().evict(now);
        if more {
            self.kick();
        }
    }

    /// Called after any mutation that may have made work due immediately.
    pub fn kick(&self) {
        self.wake.notify_one();
    }
}

/// Runs due work whenever woken, and periodically so a system clock moves things along.
pub(crate) async fn run_ticker(sb: Arc<Sandbox>) {
    let period = Duration::from_millis(if sb.clock.is_manual() { 1000 } else { 200 });
    loop {
        tokio::select! {
            _ = sb.wake.notified() => {}
            _ = tokio::time::sleep(period) => {}
        }
        let sb2 = sb.clone();
        // The state mutex is a std mutex: keep its work off the async workers.
        let _ = tokio::task::spawn_blocking(move || sb2.process_due()).await;
    }
}
