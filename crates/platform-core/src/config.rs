//! Settings: defaults < TOML file < environment/flags, validated once.
//!
//! The `puente` binary parses flags and environment variables (clap) into a
//! [`RawSettings`], reads the optional TOML file into another, and calls
//! [`Settings::resolve`]. Every field is checked here, and a bad value stops
//! start-up with one line naming the setting (`invalid PUENTE_HTTP_ADDR: …`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::secret::SecretString;

/// Every setting, unvalidated and optional: one per source.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub http_addr: Option<String>,
    pub sandbox_addr: Option<String>,
    pub metrics_addr: Option<String>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub mp_api_url: Option<String>,
    pub mp_auth_url: Option<String>,
    pub master_keys: Option<SecretString>,
    pub data_dir: Option<String>,
    pub migrate_on_start: Option<bool>,
    pub log_format: Option<String>,
    pub upstream_timeout_secs: Option<u64>,
    pub api_rate_limit: Option<u32>,
    pub webhook_allow_cidrs: Option<String>,
    pub trusted_proxies: Option<String>,
    pub login_max_concurrent_hashes: Option<u32>,
    pub webhook_endpoint_concurrency: Option<u32>,
    pub sse_max_lifetime_secs: Option<u64>,
    pub sse_keepalive_secs: Option<u64>,
    pub retention_grace_hours: Option<u64>,
    pub retention_unverified_days: Option<u64>,
    /// `open` or `closed`.
    pub signup: Option<String>,
}

impl RawSettings {
    /// Reads a TOML file; unknown keys are an error so typos do not pass silently.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "PUENTE_CONFIG",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        toml::from_str(&text).map_err(|e| {
            ConfigError::new(
                "PUENTE_CONFIG",
                format!("{}: {}", path.display(), e.message()),
            )
        })
    }

    /// Fills each unset field of `self` from `lower` (self wins).
    pub fn or(self, lower: RawSettings) -> RawSettings {
        RawSettings {
            http_addr: self.http_addr.or(lower.http_addr),
            sandbox_addr: self.sandbox_addr.or(lower.sandbox_addr),
            metrics_addr: self.metrics_addr.or(lower.metrics_addr),
            public_url: self.public_url.or(lower.public_url),
            database_url: self.database_url.or(lower.database_url),
            redis_url: self.redis_url.or(lower.redis_url),
            redis_prefix: self.redis_prefix.or(lower.redis_prefix),
            mp_api_url: self.mp_api_url.or(lower.mp_api_url),
            mp_auth_url: self.mp_auth_url.or(lower.mp_auth_url),
            master_keys: self.master_keys.or(lower.master_keys),
            data_dir: self.data_dir.or(lower.data_dir),
            migrate_on_start: self.migrate_on_start.or(lower.migrate_on_start),
            log_format: self.log_format.or(lower.log_format),
            upstream_timeout_secs: self.upstream_timeout_secs.or(lower.upstream_timeout_secs),
            api_rate_limit: self.api_rate_limit.or(lower.api_rate_limit),
            webhook_allow_cidrs: self.webhook_allow_cidrs.or(lower.webhook_allow_cidrs),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            login_max_concurrent_hashes: self
                .login_max_concurrent_hashes
                .or(lower.login_max_concurrent_hashes),
            webhook_endpoint_concurrency: self
                .webhook_endpoint_concurrency
                .or(lower.webhook_endpoint_concurrency),
            sse_max_lifetime_secs: self.sse_max_lifetime_secs.or(lower.sse_max_lifetime_secs),
            sse_keepalive_secs: self.sse_keepalive_secs.or(lower.sse_keepalive_secs),
            retention_grace_hours: self.retention_grace_hours.or(lower.retention_grace_hours),
            retention_unverified_days: self
                .retention_unverified_days
                .or(lower.retention_unverified_days),
            signup: self.signup.or(lower.signup),
        }
    }
}

/// A setting that cannot be used, named by its environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where Mercado Pago is: the embedded sandbox, or real (or external) hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// No upstream configured: run and use the built-in sandbox.
    EmbeddedSandbox,
    External {
        api_url: Url,
        auth_url: Url,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub http_addr: SocketAddr,
    pub sandbox_addr: SocketAddr,
    /// Where `/metrics`, `/healthz` and `/readyz` get a listener of their
    /// own; when set, the web listener keeps only `/healthz`. Unset: workers
    /// have none and the web role serves all three on `http_addr`.
    pub metrics_addr: Option<SocketAddr>,
    pub public_url: Url,
    pub database_url: String,
    pub database_kind: DatabaseKind,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub upstream: Upstream,
    pub master_keys: Option<SecretString>,
    pub data_dir: PathBuf,
    pub migrate_on_start: bool,
    pub log_format: LogFormat,
    pub upstream_timeout: Duration,
    /// Requests per second per API key (per process); 0 = no limit.
    pub api_rate_limit: u32,
    /// Non-public ranges outgoing webhooks may reach anyway. Sandbox mode
    /// with nothing configured: loopback only.
    pub webhook_allow_cidrs: Vec<crate::webhooks::cidr::Cidr>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (empty: the TCP
    /// peer is the client).
    pub trusted_proxies: Vec<crate::webhooks::cidr::Cidr>,
    /// Password (argon2) checks running at once in a web process; more
    /// logins wait. Each check takes ~19 MiB and a core for a while.
    pub login_max_concurrent_hashes: u32,
    /// Webhook attempts in flight to one endpoint, across every worker
    /// process sharing the queue; more wait their turn.
    pub webhook_endpoint_concurrency: u32,
    /// An SSE stream is closed after this long (the client reconnects,
    /// and its key is checked again).
    pub sse_max_lifetime: Duration,
    /// How often an idle SSE stream sends a keep-alive comment; the API
    /// key is re-checked on each one.
    pub sse_keepalive: Duration,
    /// How long expired rows are kept before the worker's housekeeping
    /// deletes them (`PUENTE_RETENTION_*`).
    pub retention: crate::retention::Windows,
    /// Whether anyone may create an integrator account at `/app/signup`.
    /// Open by default only in sandbox mode; a production Puente makes its
    /// integrators with `puente integrator create`.
    pub signup: Signup,
}

/// `PUENTE_SIGNUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    Open,
    Closed,
}

pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_SANDBOX_ADDR: &str = "127.0.0.1:8090";
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_REDIS_PREFIX: &str = "puente:";
pub const DEFAULT_API_RATE_LIMIT: u32 = 200;
/// Webhook attempts in flight to one endpoint: enough for well over a
/// thousand deliveries a second to a receiver answering in ~10 ms, few
/// enough that a slow receiver is not flooded.
pub const DEFAULT_WEBHOOK_ENDPOINT_CONCURRENCY: u32 = 16;
pub const DEFAULT_LOGIN_MAX_CONCURRENT_HASHES: u32 = 4;
pub const DEFAULT_SSE_MAX_LIFETIME_SECS: u64 = 3600;
pub const DEFAULT_SSE_KEEPALIVE_SECS: u64 = 15;

/// `value` (or `default`) when inside `range`; otherwise the one-line error.
fn bounded<T: PartialOrd + Copy + std::fmt::Display>(
    setting: &'static str,
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let v = value.unwrap_or(default);
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::new(
            setting,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

impl Settings {
    pub fn resolve(raw: RawSettings) -> Result<Self, ConfigError> {
        let http_addr = parse_addr(
            "PUENTE_HTTP_ADDR",
            raw.http_addr.as_deref(),
            DEFAULT_HTTP_ADDR,
        )?;
        let sandbox_addr = parse_addr(
            "PUENTE_SANDBOX_ADDR",
            raw.sandbox_addr.as_deref(),
            DEFAULT_SANDBOX_ADDR,
        )?;
        let metrics_addr = match non_empty(raw.metrics_addr) {
            Some(v) => Some(parse_addr(
                "PUENTE_METRICS_ADDR",
                Some(&v),
                "127.0.0.1:9464",
            )?),
            None => None,
        };

        let public_url = match non_empty(raw.public_url) {
            Some(s) => parse_http_url("PUENTE_PUBLIC_URL", &s)?,
            None => parse_http_url("PUENTE_PUBLIC_URL", &format!("http://{http_addr}"))?,
        };

        let data_dir =
            PathBuf::from(non_empty(raw.data_dir).unwrap_or_else(|| DEFAULT_DATA_DIR.into()));

        let database_url = non_empty(raw.database_url)
            .unwrap_or_else(|| format!("sqlite://{}/puente.db?mode=rwc", data_dir.display()));
        let database_kind = if database_url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            DatabaseKind::Postgres
        } else {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with sqlite: or postgres:// (e.g. postgres://user@127.0.0.1/puente)",
            ));
        };

        let redis_url = match non_empty(raw.redis_url) {
            Some(u)
                if [
                    "redis://",
                    "rediss://",
                    "redis+sentinel://",
                    "redis+cluster://",
                ]
                .iter()
                .any(|s| u.starts_with(s)) =>
            {
                Some(u)
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "REDIS_URL",
                    "must start with redis://, rediss://, redis+sentinel:// or redis+cluster:// (unset it for the in-process queue)",
                ));
            }
            None => None,
        };

        let redis_prefix = raw
            .redis_prefix
            .unwrap_or_else(|| DEFAULT_REDIS_PREFIX.into());
        // Braces would change the hash tags that keep a topic's keys in one Cluster slot.
        if redis_prefix.is_empty()
            || redis_prefix.len() > 64
            || redis_prefix.contains(char::is_whitespace)
            || redis_prefix.contains(['{', '}'])
        {
            return Err(ConfigError::new(
                "PUENTE_REDIS_PREFIX",
                "must be 1–64 characters without spaces or braces",
            ));
        }

        let upstream = match (non_empty(raw.mp_api_url), non_empty(raw.mp_auth_url)) {
            (None, None) => Upstream::EmbeddedSandbox,
            (Some(api), Some(auth)) => Upstream::External {
                api_url: parse_http_url("PUENTE_MP_API_URL", &api)?,
                auth_url: parse_http_url("PUENTE_MP_AUTH_URL", &auth)?,
            },
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "PUENTE_MP_AUTH_URL",
                    "must be set when PUENTE_MP_API_URL is (e.g. https://auth.mercadopago.com)",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "PUENTE_MP_API_URL",
                    "must be set when PUENTE_MP_AUTH_URL is (e.g. https://api.mercadopago.com)",
                ));
            }
        };

        let master_keys = raw
            .master_keys
            .filter(|k| !k.expose_secret().trim().is_empty());
        if let Some(keys) = &master_keys {
            // Validate now so a bad key stops start-up, not the first request.
            crate::crypto::Keyring::from_spec(keys)
                .map_err(|e| ConfigError::new("PUENTE_MASTER_KEYS", e.to_string()))?;
        }

        let log_format = match raw.log_format.as_deref().map(str::trim) {
            None | Some("") | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "PUENTE_LOG_FORMAT",
                    format!("`{other}` is neither `text` nor `json`"),
                ));
            }
        };

        let upstream_timeout = match raw.upstream_timeout_secs {
            None => Duration::from_secs(10),
            Some(s @ 1..=120) => Duration::from_secs(s),
            Some(_) => {
                return Err(ConfigError::new(
                    "PUENTE_UPSTREAM_TIMEOUT_SECS",
                    "must be between 1 and 120 seconds",
                ));
            }
        };

        let webhook_allow_cidrs = match raw.webhook_allow_cidrs.as_deref() {
            Some(list) => crate::webhooks::cidr::Cidr::parse_list(list)
                .map_err(|e| ConfigError::new("PUENTE_WEBHOOK_ALLOW_CIDRS", e.to_string()))?,
            // Loopback targets are the local demo's own receivers; once Puente
            // listens beyond loopback, other people's tenants could aim them
            // at this machine's services.
            None if upstream == Upstream::EmbeddedSandbox && http_addr.ip().is_loopback() => {
                crate::webhooks::cidr::Cidr::parse_list("127.0.0.0/8,::1/128")
                    .expect("loopback ranges parse")
            }
            None => Vec::new(),
        };
        let signup = match raw.signup.as_deref().map(str::trim) {
            None | Some("") if upstream == Upstream::EmbeddedSandbox => Signup::Open,
            None | Some("") => Signup::Closed,
            Some("open") => Signup::Open,
            Some("closed") => Signup::Closed,
            Some(_) => return Err(ConfigError::new("PUENTE_SIGNUP", "must be open or closed")),
        };

        let trusted_proxies =
            crate::webhooks::cidr::Cidr::parse_list(raw.trusted_proxies.as_deref().unwrap_or(""))
                .map_err(|e| ConfigError::new("PUENTE_TRUSTED_PROXIES", e.to_string()))?;

        let login_max_concurrent_hashes = bounded(
            "PUENTE_LOGIN_MAX_CONCURRENT_HASHES",
            raw.login_max_concurrent_hashes,
            DEFAULT_LOGIN_MAX_CONCURRENT_HASHES,
            1..=256,
        )?;
        let webhook_endpoint_concurrency = bounded(
            "PUENTE_WEBHOOK_ENDPOINT_CONCURRENCY",
            raw.webhook_endpoint_concurrency,
            DEFAULT_WEBHOOK_ENDPOINT_CONCURRENCY,
            1..=1_000,
        )?;
        let sse_max_lifetime = Duration::from_secs(bounded(
            "PUENTE_SSE_MAX_LIFETIME_SECS",
            raw.sse_max_lifetime_secs,
            DEFAULT_SSE_MAX_LIFETIME_SECS,
            1..=86_400,
        )?);
        let sse_keepalive = Duration::from_secs(bounded(
            "PUENTE_SSE_KEEPALIVE_SECS",
            raw.sse_keepalive_secs,
            DEFAULT_SSE_KEEPALIVE_SECS,
            1..=300,
        )?);
        let retention = crate::retention::Windows {
            grace: chrono::Duration::hours(bounded(
                "PUENTE_RETENTION_GRACE_HOURS",
                raw.retention_grace_hours,
                crate::retention::DEFAULT_GRACE_HOURS,
                0..=8_760,
            )? as i64),
            unverified: chrono::Duration::days(bounded(
                "PUENTE_RETENTION_UNVERIFIED_DAYS",
                raw.retention_unverified_days,
                crate::retention::DEFAULT_UNVERIFIED_DAYS,
                1..=365,
            )? as i64),
        };

        Ok(Settings {
            http_addr,
            sandbox_addr,
            metrics_addr,
            public_url,
            database_url,
            database_kind,
            redis_url,
            redis_prefix,
            upstream,
            master_keys,
            data_dir,
            migrate_on_start: raw.migrate_on_start.unwrap_or(true),
            log_format,
            upstream_timeout,
            api_rate_limit: raw.api_rate_limit.unwrap_or(DEFAULT_API_RATE_LIMIT),
            webhook_allow_cidrs,
            trusted_proxies,
            login_max_concurrent_hashes,
            webhook_endpoint_concurrency,
            sse_max_lifetime,
            sse_keepalive,
            retention,
            signup,
        })
    }

    pub fn sandbox_mode(&self) -> bool {
        self.upstream == Upstream::EmbeddedSandbox
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn parse_addr(
    setting: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let v = value
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default);
    v.parse().map_err(|_| {
        ConfigError::new(
            setting,
            format!("`{v}` is not an IP:port address (e.g. {default})"),
        )
    })
}

fn parse_http_url(setting: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value)
        .map_err(|e| ConfigError::new(setting, format!("`{value}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            setting,
            format!("`{value}` must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Edit = Box<dyn FnOnce(&mut RawSettings)>;

    fn resolve(f: impl FnOnce(&mut RawSettings)) -> Result<Settings, ConfigError> {
        let mut raw = RawSettings::default();
        f(&mut raw);
        Settings::resolve(raw)
    }

    #[test]
    fn the_example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/puente.example.toml");
        let raw = RawSettings::from_toml_file(&path).unwrap();
        assert_eq!(raw.login_max_concurrent_hashes, Some(4));
        assert_eq!(raw.sse_max_lifetime_secs, Some(3600));
        assert_eq!(raw.retention_grace_hours, Some(24));
        assert_eq!(raw.retention_unverified_days, Some(7));
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let s = resolve(|_| {}).unwrap();
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.sandbox_addr.to_string(), "127.0.0.1:8090");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.database_kind, DatabaseKind::Sqlite);
        assert_eq!(s.database_url, "sqlite://./data/puente.db?mode=rwc");
        assert!(s.redis_url.is_none());
        assert!(s.sandbox_mode());
        assert!(s.migrate_on_start);
    }

    #[test]
    fn each_bad_value_names_its_setting() {
        let cases: Vec<(&str, Edit)> = vec![
            (
                "PUENTE_HTTP_ADDR",
                Box::new(|r| r.http_addr = Some("localhost".into())),
            ),
            (
                "PUENTE_SANDBOX_ADDR",
                Box::new(|r| r.sandbox_addr = Some("1.2.3.4".into())),
            ),
            (
                "PUENTE_PUBLIC_URL",
                Box::new(|r| r.public_url = Some("ftp://x".into())),
            ),
            (
                "PUENTE_PUBLIC_URL",
                Box::new(|r| r.public_url = Some("not a url".into())),
            ),
            (
                "DATABASE_URL",
                Box::new(|r| r.database_url = Some("mysql://x".into())),
            ),
            (
                "REDIS_URL",
                Box::new(|r| r.redis_url = Some("http://x".into())),
            ),
            (
                "PUENTE_MP_AUTH_URL",
                Box::new(|r| r.mp_api_url = Some("https://api.mercadopago.com".into())),
            ),
            (
                "PUENTE_MP_API_URL",
                Box::new(|r| r.mp_auth_url = Some("https://auth.mercadopago.com".into())),
            ),
            (
                "PUENTE_MASTER_KEYS",
                Box::new(|r| r.master_keys = Some("k1:short".into())),
            ),
            (
                "PUENTE_LOG_FORMAT",
                Box::new(|r| r.log_format = Some("xml".into())),
            ),
            (
                "PUENTE_REDIS_PREFIX",
                Box::new(|r| r.redis_prefix = Some("a b".into())),
            ),
            (
                "PUENTE_UPSTREAM_TIMEOUT_SECS",
                Box::new(|r| r.upstream_timeout_secs = Some(0)),
            ),
            (
                "PUENTE_WEBHOOK_ALLOW_CIDRS",
                Box::new(|r| r.webhook_allow_cidrs = Some("10.0.0.0/33".into())),
            ),
            (
                "PUENTE_TRUSTED_PROXIES",
                Box::new(|r| r.trusted_proxies = Some("10.0.0.1, nginx".into())),
            ),
            (
                "PUENTE_LOGIN_MAX_CONCURRENT_HASHES",
                Box::new(|r| r.login_max_concurrent_hashes = Some(0)),
            ),
            (
                "PUENTE_WEBHOOK_ENDPOINT_CONCURRENCY",
                Box::new(|r| r.webhook_endpoint_concurrency = Some(0)),
            ),
            (
                "PUENTE_WEBHOOK_ENDPOINT_CONCURRENCY",
                Box::new(|r| r.webhook_endpoint_concurrency = Some(1_001)),
            ),
            (
                "PUENTE_SSE_MAX_LIFETIME_SECS",
                Box::new(|r| r.sse_max_lifetime_secs = Some(0)),
            ),
            (
                "PUENTE_SSE_KEEPALIVE_SECS",
                Box::new(|r| r.sse_keepalive_secs = Some(301)),
            ),
            (
                "PUENTE_RETENTION_GRACE_HOURS",
                Box::new(|r| r.retention_grace_hours = Some(8_761)),
            ),
            (
                "PUENTE_RETENTION_UNVERIFIED_DAYS",
                Box::new(|r| r.retention_unverified_days = Some(0)),
            ),
        ];
        for (setting, f) in cases {
            let err = resolve(f).unwrap_err();
            assert_eq!(err.setting, setting, "{err}");
            let line = err.to_string();
            assert!(line.starts_with(&format!("invalid {setting}: ")), "{line}");
            assert!(!line.contains('\n'), "one line: {line}");
        }
    }

    #[test]
    fn external_upstream_and_postgres() {
        let s = resolve(|r| {
            r.mp_api_url = Some("https://api.mercadopago.com".into());
            r.mp_auth_url = Some("https://auth.mercadopago.com".into());
            r.database_url = Some("postgres://postgres@127.0.0.1/puente".into());
            r.redis_url = Some("redis://127.0.0.1:6379".into());
        })
        .unwrap();
        assert!(!s.sandbox_mode());
        assert_eq!(s.database_kind, DatabaseKind::Postgres);
    }

    #[test]
    fn higher_source_wins_and_toml_rejects_unknown_keys() {
        let file: RawSettings =
            toml::from_str("http_addr = \"127.0.0.1:9000\"\nlog_format = \"json\"").unwrap();
        let env = RawSettings {
            http_addr: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        let s = Settings::resolve(env.or(file)).unwrap();
        assert_eq!(s.http_addr.port(), 9100);
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(toml::from_str::<RawSettings>("htp_addr = \"x\"").is_err());
    }

    #[test]
    fn signup_is_open_by_default_in_sandbox_mode_only() {
        assert_eq!(resolve(|_| {}).unwrap().signup, Signup::Open);
        let real = |r: &mut RawSettings| {
            r.mp_api_url = Some("https://api.mercadopago.com".into());
            r.mp_auth_url = Some("https://auth.mercadopago.com".into());
        };
        assert_eq!(resolve(real).unwrap().signup, Signup::Closed);
        let opened = resolve(|r| {
            real(r);
            r.signup = Some("open".into());
        });
        assert_eq!(opened.unwrap().signup, Signup::Open);
        let closed = resolve(|r| r.signup = Some("closed".into()));
        assert_eq!(closed.unwrap().signup, Signup::Closed);
        let bad = resolve(|r| r.signup = Some("maybe".into())).unwrap_err();
        assert_eq!(bad.setting, "PUENTE_SIGNUP");
    }

    #[test]
    fn loopback_webhooks_only_while_listening_on_loopback() {
        let public = resolve(|r| r.http_addr = Some("0.0.0.0:8080".into())).unwrap();
        assert!(public.webhook_allow_cidrs.is_empty());
    }

    #[test]
    fn webhook_allowlist_defaults_to_loopback_in_sandbox_mode_only() {
        let sandbox = resolve(|_| {}).unwrap();
        let shown: Vec<String> = sandbox
            .webhook_allow_cidrs
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["127.0.0.0/8", "::1/128"]);
        let real = resolve(|r| {
            r.mp_api_url = Some("https://api.mercadopago.com".into());
            r.mp_auth_url = Some("https://auth.mercadopago.com".into());
        })
        .unwrap();
        assert!(real.webhook_allow_cidrs.is_empty());
        let explicit = resolve(|r| r.webhook_allow_cidrs = Some("10.1.0.0/16, fd00::/8".into()));
        assert_eq!(explicit.unwrap().webhook_allow_cidrs.len(), 2);
        let none = resolve(|r| r.webhook_allow_cidrs = Some(String::new())).unwrap();
        assert!(
            none.webhook_allow_cidrs.is_empty(),
            "set but empty = nothing allowed"
        );
    }

    #[test]
    fn trusted_proxies_default_to_none() {
        assert!(resolve(|_| {}).unwrap().trusted_proxies.is_empty());
        let s =
            resolve(|r| r.trusted_proxies = Some(" 127.0.0.1, 10.0.0.0/8,::1 ".into())).unwrap();
        let shown: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        let toml: RawSettings = toml::from_str("trusted_proxies = \"10.0.0.0/8\"").unwrap();
        assert_eq!(toml.trusted_proxies.as_deref(), Some("10.0.0.0/8"));
    }

    #[test]
    fn master_keys_never_print() {
        let spec = crate::crypto::MasterKey::generate_spec("k1");
        let s = resolve(|r| r.master_keys = Some(spec.clone())).unwrap();
        let printed = format!("{s:?}");
        let b64 = spec.expose_secret().split_once(':').unwrap().1;
        assert!(!printed.contains(b64));
    }
}
