//! Turning settings into connected parts: keys, database, queue.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use platform_core::config::Settings;
use platform_core::crypto::Keyring;
use platform_core::db::Db;
use platform_core::keys::{KeySource, load_keyring};
use platform_queue::{Backend, Queue, QueueConfig};

use crate::Failure;

pub struct Parts {
    pub settings: Arc<Settings>,
    pub keyring: Keyring,
    pub db: Db,
}

pub fn keyring(settings: &Settings) -> Result<Keyring, Failure> {
    let (ring, source) = load_keyring(settings)?;
    if let KeySource::LocalFile { path, created } = source {
        if created {
            tracing::warn!(path = %path.display(), "generated a local master key for sandbox mode; set PUENTE_MASTER_KEYS in production");
        } else {
            tracing::info!(path = %path.display(), "using the local sandbox master key");
        }
    }
    Ok(ring)
}

pub async fn database(settings: &Settings) -> Result<Db, Failure> {
    let db = platform_core::db::connect(&settings.database_url, settings.database_kind)
        .await
        .with_context(|| {
            format!(
                "cannot open the database ({})",
                redact_url(&settings.database_url)
            )
        })?;
    if settings.migrate_on_start {
        platform_core::db::migrate(&db)
            .await
            .context("database migration failed")?;
    }
    Ok(db)
}

pub async fn parts(settings: Settings) -> Result<Parts, Failure> {
    let keyring = keyring(&settings)?;
    let db = database(&settings).await?;
    Ok(Parts {
        settings: Arc::new(settings),
        keyring,
        db,
    })
}

pub async fn queue(settings: &Settings, role: &str) -> Result<Queue, Failure> {
    let backend = match &settings.redis_url {
        Some(url) => Backend::Redis {
            url: url.clone(),
            prefix: settings.redis_prefix.clone(),
        },
        None => Backend::Memory,
    };
    let consumer = format!("{role}-{}-{}", hostname(), std::process::id());
    let mut cfg = QueueConfig::new(backend, consumer);
    // Longer than any upstream call, so a slow call is not handed to a second worker.
    cfg.visibility_timeout = settings.upstream_timeout * 3 + Duration::from_secs(5);
    // Retries the worker asks for count as deliveries: allow more than the
    // dispatch policy's attempts, so the policy ends an intent, not the queue.
    cfg.max_deliveries = platform_worker::QUEUE_MAX_DELIVERIES;
    Queue::connect(cfg)
        .await
        .with_context(|| match &settings.redis_url {
            Some(url) => format!("cannot connect to Redis at {}", redact_url(url)),
            None => "cannot start the in-process queue".into(),
        })
        .map_err(Failure::from)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// A connection URL with any password removed, for messages.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
