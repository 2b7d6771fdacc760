//! A local, faithful emulator of the Mercado Pago API for Puente's tests,
//! demos and benchmarks. It shares no code with Puente's Mercado Pago client
//! and is written from `shared/mercadopago-api.md`; see `docs/sandbox.md`.

mod accounts;
mod auth;
mod clock;
mod errors;
mod faults;
mod helpers;
mod ids;
mod model;
mod notify;
mod oauth;
mod order_validation;
mod order_view;
mod orders;
mod pages;
mod payments;
mod point_legacy;
mod pos;
mod qr;
mod qr_pay;
mod retention;
mod routes;
mod sandbox;
mod sites;
mod state;
mod stores;
mod terminal_sim;
mod terminals;
mod work;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use clock::Clock;
pub use model::TerminalMode;
pub use routes::configure;
pub use sandbox::Sandbox;

/// One Mercado Pago application (what the developer panel calls an "app").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The "secret signature" used for `x-signature` on notifications.
    pub webhook_secret: String,
    pub redirect_uris: Vec<String>,
    pub webhook_url: Option<String>,
}

impl AppConfig {
    /// A fresh application with random credentials.
    pub fn generate(redirect_uris: Vec<String>, webhook_url: Option<String>) -> Self {
        AppConfig {
            client_id: ids::random_digits(16),
            client_secret: ids::random_hex(32),
            webhook_secret: ids::random_hex(64),
            redirect_uris,
            webhook_url,
        }
    }
}

/// Durations of each simulated step. All are measured on the sandbox clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepDurations {
    /// Queued intent/order until the terminal picks it up (OPEN → ON_TERMINAL, created → at_terminal).
    pub pickup: Duration,
    /// On the terminal until the card is read (ON_TERMINAL → PROCESSING).
    pub card: Duration,
    /// Processing until the final state.
    pub processing: Duration,
    /// An OPEN legacy intent nobody picks up becomes ABANDONED after this.
    pub intent_abandon: Duration,
    /// A terminal waiting on screen (manual mode) cancels the charge after this.
    pub terminal_timeout: Duration,
}

/// How fast the simulated terminals move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timings {
    /// Every step right away (tests, benchmarks).
    Instant,
    /// Seconds per step, like a person at a counter (demos).
    Human,
    Custom(StepDurations),
}

impl Timings {
    pub fn steps(&self) -> StepDurations {
        let abandon = Duration::from_secs(15 * 60);
        match self {
            Timings::Instant => StepDurations {
                pickup: Duration::ZERO,
                card: Duration::ZERO,
                processing: Duration::ZERO,
                intent_abandon: abandon,
                terminal_timeout: Duration::from_secs(120),
            },
            Timings::Human => StepDurations {
                pickup: Duration::from_secs(2),
                card: Duration::from_secs(5),
                processing: Duration::from_secs(3),
                intent_abandon: abandon,
                terminal_timeout: Duration::from_secs(120),
            },
            Timings::Custom(s) => s.clone(),
        }
    }
}

/// How long OAuth credentials live (reference 1.2). Tests shorten them to
/// exercise expiry without advancing the clock by months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// A seller's access token (`expires_in`, 180 days).
    pub access: Duration,
    /// An application's own `client_credentials` token (6 hours).
    pub app_access: Duration,
    /// A refresh token not yet used (single use; as long as the access token).
    pub refresh: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            access: Duration::from_secs(15_552_000),
            app_access: Duration::from_secs(6 * 3600),
            refresh: Duration::from_secs(15_552_000),
        }
    }
}

/// Unit of `ts` in `x-signature` (reference 4.6: the sources disagree).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignatureTs {
    /// 13 digits, as in the Point notification example.
    #[default]
    Millis,
    /// 10 digits, as the 2026 SDK validators assume for tolerance checks.
    Seconds,
}

/// How long finished work stays in memory (docs/sandbox.md, "Retention").
///
/// Finished orders, payment intents and refund intents (with their payments,
/// refunds and charges), finished notifications, dead OAuth codes and tokens
/// are evicted once they have been finished for `window` (sandbox clock).
/// Each of those collections also keeps at most `max_finished` finished
/// entries: beyond that the oldest go first, even inside the window. Nothing
/// unfinished is ever evicted (an order or intent still queued or on a
/// terminal, a notification still being delivered and the resource it is
/// about, a live token). Idempotency keys live 24 hours (Mercado Pago's
/// rule), at most `max_finished` of them, and go with the order or intent
/// they created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// How long finished work is kept after it finished (default 1 hour).
    pub window: Duration,
    /// At most this many finished entries per collection (default 20,000).
    pub max_finished: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            window: Duration::from_secs(3600),
            max_finished: 20_000,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Base URL to advertise (default `http://{bound addr}`).
    pub public_url: Option<String>,
    /// The default application, always present.
    pub default_app: AppConfig,
    pub timings: Timings,
    /// Reference 4.6: sign `data.id` lower-cased instead of as received.
    pub lowercase_signature_data_id: bool,
    /// Post notifications to any URL; when false only loopback hosts are reached.
    pub allow_webhook_urls_anywhere: bool,
    /// Manual clock (tests) or system clock (demos).
    pub manual_clock: bool,
    /// Default behaviour of new terminals.
    pub terminal_mode: TerminalMode,
    pub signature_ts: SignatureTs,
    /// Give up delivering a notification after this many attempts.
    pub max_notification_attempts: u32,
    /// Real-time limit for a webhook receiver to answer (reference 4.1: 22 s).
    pub webhook_timeout: Duration,
    /// Seed the default application with one MLB test seller and terminal.
    pub seed_demo_seller: bool,
    /// Access- and refresh-token lifetimes (Mercado Pago's by default).
    pub token_lifetimes: TokenLifetimes,
    /// How long finished work stays in memory, and how much of it at most.
    pub retention: Retention,
}

impl SandboxConfig {
    /// 127.0.0.1:0, instant timings, a manual clock, random default app.
    pub fn for_tests() -> Self {
        SandboxConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            default_app: AppConfig::generate(vec![], None),
            timings: Timings::Instant,
            lowercase_signature_data_id: false,
            allow_webhook_urls_anywhere: true,
            manual_clock: true,
            terminal_mode: TerminalMode::Auto,
            signature_ts: SignatureTs::Millis,
            max_notification_attempts: 20,
            webhook_timeout: Duration::from_secs(22),
            seed_demo_seller: false,
            token_lifetimes: TokenLifetimes::default(),
            retention: Retention::default(),
        }
    }

    /// Human-like timings on the system clock, for demos.
    pub fn for_demo(addr: SocketAddr) -> Self {
        SandboxConfig {
            addr,
            timings: Timings::Human,
            manual_clock: false,
            seed_demo_seller: true,
            ..Self::for_tests()
        }
    }
}

/// A running sandbox.
pub struct SandboxHandle {
    sandbox: Arc<Sandbox>,
    server: actix_web::dev::ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SandboxHandle {
    pub fn base_url(&self) -> String {
        self.sandbox.base_url.clone()
    }

    pub fn default_app(&self) -> AppConfig {
        self.sandbox.default_app()
    }

    pub fn clock(&self) -> Clock {
        self.sandbox.clock.clone()
    }

    /// The in-process sandbox, for embedding callers that want direct access.
    pub fn sandbox(&self) -> Arc<Sandbox> {
        self.sandbox.clone()
    }

    pub async fn stop(self) {
        self.sandbox.clock.clear_on_advance();
        self.server.stop(false).await;
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Binds, spawns the actix server and the simulation ticker, and returns at once.
pub async fn start(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
    let listener = std::net::TcpListener::bind(config.addr)?;
    let bound = listener.local_addr()?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"))
        .trim_end_matches('/')
        .to_string();
    let sandbox = Sandbox::new(config, base_url);
    let data = actix_web::web::Data::from(sandbox.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(|cfg| routes::configure(cfg, data.clone()))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    let server_handle = server.handle();
    let server_task = tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!("sandbox server stopped: {e}");
        }
    });
    let ticker = tokio::spawn(sandbox::run_ticker(sandbox.clone()));
    Ok(SandboxHandle {
        sandbox,
        server: server_handle,
        tasks: vec![server_task, ticker],
    })
}
