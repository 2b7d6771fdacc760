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
    // By hand rather than with a URL parser: Sentinel and Cluster URLs (and PostgreSQL's)
    // may list several hosts, which a URL parser refuses, and must not leak either.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{hosts}"),
            None => format!("{userinfo}@{hosts}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().contains("password") => {
                        format!("{k}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_in_urls_are_redacted() {
        for (url, shown) in [
            ("redis://:s3cret@h:6379/0", "redis://:***@h:6379/0"),
            (
                "postgres://u:s3cret@db/puente",
                "postgres://u:***@db/puente",
            ),
            (
                "redis+sentinel://u:s3cret@h1:26379,h2:26379/mymaster?sentinel_password=s3cret",
                "redis+sentinel://u:***@h1:26379,h2:26379/mymaster?sentinel_password=***",
            ),
            (
                "redis+cluster://:s3cret@h1,h2",
                "redis+cluster://:***@h1,h2",
            ),
            ("redis://h:6379", "redis://h:6379"),
            (
                "sqlite://./data/puente.db?mode=rwc",
                "sqlite://./data/puente.db?mode=rwc",
            ),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }
}
