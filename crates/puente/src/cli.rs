//! Command line: roles as subcommands, settings as flags with environment
//! fallbacks. Flags and variables override the TOML file (`--config`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use platform_core::config::RawSettings;

#[derive(Debug, Parser)]
#[command(
    name = "puente",
    version,
    about = "Multi-tenant integrator platform for Mercado Pago Point terminals",
    long_about = "Multi-tenant integrator platform for Mercado Pago Point terminals.\n\n\
        With no subcommand, runs everything in one process (`puente all`): web, worker \
        and the built-in Mercado Pago sandbox, on SQLite and an in-process queue."
)]
pub struct Cli {
    #[command(flatten)]
    pub opts: Opts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Web + worker (+ the sandbox unless a real upstream is set) in one process. The default.
    All,
    /// The HTTP server alone: dashboard, OAuth, POS API, inbound notifications.
    Web,
    /// The queue consumer alone: dispatch, notifications, webhooks, token refresh.
    Worker,
    /// The Mercado Pago sandbox (emulator) alone.
    Sandbox,
    /// Apply database migrations and exit.
    Migrate,
    /// Master key management.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Integrator accounts, for scripts and first installs.
    #[command(subcommand)]
    Integrator(IntegratorCommand),
}

#[derive(Debug, Subcommand)]
pub enum IntegratorCommand {
    /// Create an integrator with its owner login, and print an
    /// integrator-wide API key (shown once).
    Create {
        /// The integrator's name.
        #[arg(long)]
        name: String,
        /// The owner's e-mail (dashboard login).
        #[arg(long)]
        email: String,
        /// The owner's password (at least 10 characters); or PUENTE_INTEGRATOR_PASSWORD.
        #[arg(long, env = "PUENTE_INTEGRATOR_PASSWORD", hide_env_values = true)]
        password: String,
        /// The integrator's own Mercado Pago user id, injected as sponsor.
        #[arg(long)]
        sponsor_id: Option<String>,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every stored secret under the newest key in PUENTE_MASTER_KEYS.
    Rotate {
        /// Rows per batch.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        batch_size: u64,
    },
    /// Print a new random master key, ready to prepend to PUENTE_MASTER_KEYS.
    Generate {
        /// Key id (default: k<yyyymmdd>).
        #[arg(long)]
        id: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct Opts {
    /// TOML configuration file (see deploy/puente.example.toml).
    #[arg(long, env = "PUENTE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address the web server listens on.
    #[arg(long, env = "PUENTE_HTTP_ADDR", global = true)]
    pub http_addr: Option<String>,
    /// Address the built-in sandbox listens on.
    #[arg(long, env = "PUENTE_SANDBOX_ADDR", global = true)]
    pub sandbox_addr: Option<String>,
    /// `puente worker`: serve /metrics, /healthz and /readyz here (IP:port).
    #[arg(long, env = "PUENTE_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// The URL people and Mercado Pago use to reach this Puente.
    #[arg(long, env = "PUENTE_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// sqlite://path?mode=rwc or postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Redis for the queue; unset = in-process queue.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key.
    #[arg(long, env = "PUENTE_REDIS_PREFIX", global = true)]
    pub redis_prefix: Option<String>,
    /// Mercado Pago API base URL; unset = the built-in sandbox.
    #[arg(long, env = "PUENTE_MP_API_URL", global = true)]
    pub mp_api_url: Option<String>,
    /// Mercado Pago OAuth authorization host; unset = the built-in sandbox.
    #[arg(long, env = "PUENTE_MP_AUTH_URL", global = true)]
    pub mp_auth_url: Option<String>,
    /// Master keys `id:base64key`, comma-separated, newest first.
    #[arg(
        long,
        env = "PUENTE_MASTER_KEYS",
        global = true,
        hide_env_values = true
    )]
    pub master_keys: Option<String>,
    /// Where local state lives (SQLite file, generated sandbox key).
    #[arg(long, env = "PUENTE_DATA_DIR", global = true)]
    pub data_dir: Option<String>,
    /// Do not apply migrations on start.
    #[arg(long, env = "PUENTE_NO_MIGRATE", global = true)]
    pub no_migrate: bool,
    /// `text` or `json` logs.
    #[arg(long, env = "PUENTE_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Timeout of each call to Mercado Pago, in seconds.
    #[arg(long, env = "PUENTE_UPSTREAM_TIMEOUT_SECS", global = true)]
    pub upstream_timeout_secs: Option<u64>,
    /// POS API requests per second per API key and process (0 = no limit).
    #[arg(long, env = "PUENTE_API_RATE_LIMIT", global = true)]
    pub api_rate_limit: Option<u32>,
    /// Webhook attempts in flight to one endpoint, across all workers (1–1000).
    #[arg(long, env = "PUENTE_WEBHOOK_ENDPOINT_CONCURRENCY", global = true)]
    pub webhook_endpoint_concurrency: Option<u32>,
    /// CIDR ranges outgoing webhooks may reach although not public (comma-separated).
    #[arg(long, env = "PUENTE_WEBHOOK_ALLOW_CIDRS", global = true)]
    pub webhook_allow_cidrs: Option<String>,
    /// `open` or `closed`: whether anyone may sign up at /app/signup
    /// (default: open with the built-in sandbox, closed otherwise).
    #[arg(long, env = "PUENTE_SIGNUP", global = true)]
    pub signup: Option<String>,
    /// Reverse proxies (CIDRs, comma-separated) whose X-Forwarded-For is believed.
    #[arg(long, env = "PUENTE_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Password checks (argon2) running at once per web process (1–256).
    #[arg(long, env = "PUENTE_LOGIN_MAX_CONCURRENT_HASHES", global = true)]
    pub login_max_concurrent_hashes: Option<u32>,
    /// Longest life of an SSE stream, in seconds (1–86400).
    #[arg(long, env = "PUENTE_SSE_MAX_LIFETIME_SECS", global = true)]
    pub sse_max_lifetime_secs: Option<u64>,
    /// SSE keep-alive interval, in seconds (1–300); the API key is re-checked on each.
    #[arg(long, env = "PUENTE_SSE_KEEPALIVE_SECS", global = true)]
    pub sse_keepalive_secs: Option<u64>,
    /// Hours expired OAuth states, sessions and login throttles are kept before deletion (0–8760).
    #[arg(long, env = "PUENTE_RETENTION_GRACE_HOURS", global = true)]
    pub retention_grace_hours: Option<u64>,
    /// Days unverified inbound notifications are kept (1–365).
    #[arg(long, env = "PUENTE_RETENTION_UNVERIFIED_DAYS", global = true)]
    pub retention_unverified_days: Option<u64>,
    /// Built-in sandbox terminals: `human` (seconds per step, demos; the
    /// default) or `instant` (every step at once: tests, benchmarks).
    #[arg(long, env = "PUENTE_SANDBOX_TIMINGS", global = true, value_enum)]
    pub sandbox_timings: Option<SandboxTimings>,
    /// Built-in sandbox: seconds (sandbox clock) finished orders, intents and
    /// notifications stay in memory (default 3600).
    #[arg(long, env = "PUENTE_SANDBOX_RETENTION_SECS", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sandbox_retention_secs: Option<u64>,
    /// Built-in sandbox: at most this many finished entries kept per
    /// collection, even inside the window (default 20000).
    #[arg(long, env = "PUENTE_SANDBOX_RETENTION_MAX", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sandbox_retention_max: Option<u64>,
}

/// The built-in sandbox's own flags (flags and environment only, not file settings).
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxFlags {
    pub timings: SandboxTimings,
    pub retention_secs: Option<u64>,
    pub retention_max: Option<u64>,
}

/// How fast the built-in sandbox's simulated terminals walk an intent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SandboxTimings {
    #[default]
    Human,
    Instant,
}

impl Opts {
    pub fn sandbox_flags(&self) -> SandboxFlags {
        SandboxFlags {
            timings: self.sandbox_timings.unwrap_or_default(),
            retention_secs: self.sandbox_retention_secs,
            retention_max: self.sandbox_retention_max,
        }
    }

    pub fn raw_settings(&self) -> RawSettings {
        RawSettings {
            http_addr: self.http_addr.clone(),
            sandbox_addr: self.sandbox_addr.clone(),
            metrics_addr: self.metrics_addr.clone(),
            public_url: self.public_url.clone(),
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            mp_api_url: self.mp_api_url.clone(),
            mp_auth_url: self.mp_auth_url.clone(),
            master_keys: self.master_keys.clone().map(Into::into),
            data_dir: self.data_dir.clone(),
            migrate_on_start: self.no_migrate.then_some(false),
            log_format: self.log_format.clone(),
            upstream_timeout_secs: self.upstream_timeout_secs,
            api_rate_limit: self.api_rate_limit,
            webhook_allow_cidrs: self.webhook_allow_cidrs.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            login_max_concurrent_hashes: self.login_max_concurrent_hashes,
            webhook_endpoint_concurrency: self.webhook_endpoint_concurrency,
            sse_max_lifetime_secs: self.sse_max_lifetime_secs,
            sse_keepalive_secs: self.sse_keepalive_secs,
            retention_grace_hours: self.retention_grace_hours,
            retention_unverified_days: self.retention_unverified_days,
            signup: self.signup.clone(),
        }
    }
}
