//! Server-sent events: a live stream of a scope's intent changes.

use actix_web::{HttpResponse, web};
use futures_util::stream;
use platform_core::entities::payment_intents;
use platform_core::id::PaymentIntentId;
use platform_core::intents::IntentView;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::auth::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only this seller's intents.
    seller_id: Option<String>,
    /// Only this terminal's intents.
    terminal_id: Option<String>,
}

struct Cursor {
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: StreamQuery,
    feed: tokio::sync::broadcast::Receiver<String>,
    /// The stream ends here whatever happens (the client reconnects and
    /// authenticates again).
    ends_at: tokio::time::Instant,
}

/// `GET /v1/payment-intents/stream`: `event: payment_intent.updated` with the
/// intent as `data`, for every change inside the key's scope (optionally one
/// seller's or one terminal's); a comment every `PUENTE_SSE_KEEPALIVE_SECS`
/// (15 s) keeps proxies open and re-checks the key; the stream ends when the
/// key is revoked or after `PUENTE_SSE_MAX_LIFETIME_SECS` (1 h).
pub async fn intents(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let feed = state.intent_feed.subscribe();
    let ends_at = tokio::time::Instant::now() + state.settings.sse_max_lifetime;
    let cursor = Cursor {
        ends_at,
        state,
        caller,
        query: query.into_inner(),
        feed,
    };
    let body = stream::unfold(cursor, |mut c| async move {
        loop {
            let tick = c.state.settings.sse_keepalive;
            let wait = tick.min(
                c.ends_at
                    .saturating_duration_since(tokio::time::Instant::now()),
            );
            if wait.is_zero() {
                return None;
            }
            let msg = tokio::time::timeout(wait, c.feed.recv()).await;
            let id = match msg {
                Err(_) => {
                    if tokio::time::Instant::now() >= c.ends_at {
                        return None;
                    }
                    // Each keep-alive re-checks the key: revoked or expired ends the stream.
                    match platform_core::api_keys::still_valid(&c.state.db, c.caller.key_id()).await
                    {
                        Ok(true) => {}
                        Ok(false) => return None,
                        // The database is unreachable: keep the stream, check next tick.
                        Err(e) => tracing::warn!(error = %e, "SSE: could not re-check the API key"),
                    }
                    return Some((
                        Ok::<_, actix_web::Error>(web::Bytes::from_static(b": keep-alive\n\n")),
                        c,
                    ));
                }
                Ok(Ok(id)) => id,
                Ok(Err(RecvError::Lagged(_))) => continue,
                Ok(Err(RecvError::Closed)) => return None,
            };
            // Not ours, not in scope (another tenant) or filtered out: skip silently.
            let Ok(id) = PaymentIntentId::parse(&id) else {
                continue;
            };
            let Ok(intent) = c
                .caller
                .scope
                .find::<payment_intents::Entity>(&c.state.db, &id)
                .await
            else {
                continue;
            };
            if c.query
                .seller_id
                .as_ref()
                .is_some_and(|s| *s != intent.seller_id.as_str())
                || c.query
                    .terminal_id
                    .as_ref()
                    .is_some_and(|t| *t != intent.terminal_id.as_str())
            {
                continue;
            }
            let data = serde_json::to_string(&IntentView::from(&intent)).unwrap_or_default();
            let frame = format!(
                "id: {}\nevent: payment_intent.updated\ndata: {data}\n\n",
                intent.updated_at.timestamp_millis()
            );
            return Some((Ok(web::Bytes::from(frame)), c));
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/event-stream"))
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
