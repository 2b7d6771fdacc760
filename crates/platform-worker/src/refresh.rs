//! Refreshing sellers' tokens before they expire.

use platform_core::clock;
use std::time::Duration;

use platform_core::credentials::{self, Reason, RefreshOutcome};
use tokio::sync::watch;

use crate::WorkerContext;

pub async fn run(ctx: WorkerContext, mut stopped: watch::Receiver<bool>) {
    loop {
        if let Err(e) = tick(&ctx).await {
            tracing::warn!(error = %e, "token refresh pass failed");
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// Refreshes every seller whose `next_refresh_at` has come.
pub async fn tick(ctx: &WorkerContext) -> Result<usize, platform_core::CoreError> {
    let due = credentials::due_for_refresh(&ctx.db, clock::now(), 100).await?;
    let mut refreshed = 0;
    for seller_id in due {
        let out = credentials::refresh(
            &ctx.db,
            &ctx.keyring,
            &ctx.mp,
            &ctx.refresh_locks,
            &ctx.refresh_policy,
            &seller_id,
            Reason::Due,
            None,
        )
        .await;
        let label = match &out {
            Ok(RefreshOutcome::Refreshed(_)) => "refreshed",
            Ok(RefreshOutcome::NotNeeded(_)) => "not_needed",
            Ok(RefreshOutcome::Failed { .. }) => "failed",
            Ok(RefreshOutcome::NeedsReconnect { .. }) => "needs_reconnect",
            Err(_) => "error",
        };
        metrics::counter!("puente_token_refresh_total", "outcome" => label).increment(1);
        match out {
            Ok(RefreshOutcome::Refreshed(_)) => refreshed += 1,
            Ok(RefreshOutcome::NeedsReconnect { deliveries }) => {
                crate::announce_deliveries(ctx, &deliveries).await
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%seller_id, error = %e, "token refresh failed"),
        }
    }
    Ok(refreshed)
}
