//! Housekeeping: deletes rows past their retention
//! ([`platform_core::retention`]), every ten minutes.

use platform_core::clock;
use std::time::Duration;

use platform_core::retention::{self, Purged};
use tokio::sync::watch;

use crate::WorkerContext;

pub const EVERY: Duration = Duration::from_secs(600);

pub async fn run(ctx: WorkerContext, mut stopped: watch::Receiver<bool>) {
    loop {
        if let Err(e) = tick(&ctx).await {
            tracing::warn!(error = %e, "retention pass failed");
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// One retention pass; counts each kind in `puente_retention_purged_total`.
pub async fn tick(ctx: &WorkerContext) -> Result<Purged, platform_core::CoreError> {
    let purged = retention::purge(&ctx.db, &ctx.settings.retention, clock::now()).await?;
    for (kind, rows) in purged.by_kind() {
        metrics::counter!("puente_retention_purged_total", "kind" => kind).increment(rows);
    }
    if purged != Purged::default() {
        tracing::info!(?purged, "retention pass");
    }
    Ok(purged)
}
