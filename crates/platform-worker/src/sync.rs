//! Reading an intent's state back from Mercado Pago and applying it: after
//! a verified notification, and periodically for intents whose notification
//! never came.

use platform_core::CoreError;
use platform_core::credentials;
use platform_core::entities::payment_intents;
use platform_core::mercadopago::MpError;
use platform_core::states::{EventSource, UpstreamApi};

use crate::{WorkerContext, dispatch, mapping};

/// What the re-read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Synced {
    Changed,
    Unchanged,
    /// Not sent yet, or Mercado Pago could not be asked now.
    Skipped,
}

/// Hints from a verified notification body, used where the re-fetched
/// resource is silent.
#[derive(Debug, Default, Clone)]
pub struct Hints {
    /// The Orders API `data.version`.
    pub version: Option<i64>,
    /// The legacy body's `payment.state` (`approved`, `rejected`, …): a
    /// re-fetched intent only says FINISHED (§2.4, §4.4).
    pub legacy_payment_state: Option<String>,
}

/// Re-fetches the intent from Mercado Pago and applies its state if it moves
/// forward.
pub async fn sync_intent(
    ctx: &WorkerContext,
    intent: &payment_intents::Model,
    hints: Hints,
    source: EventSource,
) -> Result<Synced, CoreError> {
    let version = hints.version;
    let Some(upstream_id) = intent.upstream_id.as_deref() else {
        return Ok(Synced::Skipped);
    };
    let token = credentials::access_token(&ctx.db, &ctx.keyring, &intent.seller_id).await?;
    let fetched = match intent.upstream_api {
        UpstreamApi::Orders => {
            let got = ctx.mp.get_order(&token.token, upstream_id).await;
            if let Ok(order) = &got
                && let Err(e) = platform_core::order_details::record(
                    &ctx.db,
                    &intent.id,
                    &intent.integrator_id,
                    order,
                )
                .await
            {
                tracing::warn!(intent_id = %intent.id, error = %e, "order details not recorded");
            }
            got.map(|order| {
                let mut facts = mapping::order_facts(&order);
                facts.version = version;
                mapping::order_status(order.status).map(|s| (s, facts))
            })
        }
        UpstreamApi::Legacy => ctx
            .mp
            .get_payment_intent(&token.token, upstream_id)
            .await
            .map(|mut pi| {
                if let (Some(payment), Some(hint)) =
                    (pi.payment.as_mut(), &hints.legacy_payment_state)
                    && payment.state.as_deref().is_none_or(str::is_empty)
                {
                    payment.state = Some(hint.clone());
                }
                mapping::intent_state(&pi)
                    .map(|(s, detail)| (s, mapping::intent_facts(&pi, detail)))
            }),
    };
    match fetched {
        Ok(Some((status, facts))) => {
            if dispatch::apply(ctx, intent, status, facts, source).await? {
                Ok(Synced::Changed)
            } else {
                Ok(Synced::Unchanged)
            }
        }
        Ok(None) => Ok(Synced::Unchanged),
        Err(MpError::Unauthorized { .. }) => {
            // The refresh loop (or the next dispatch) deals with the token.
            Ok(Synced::Skipped)
        }
        Err(e) => {
            tracing::debug!(intent_id = %intent.id, error = %e, "sync: Mercado Pago not readable now");
            Ok(Synced::Skipped)
        }
    }
}
