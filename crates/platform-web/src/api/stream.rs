//! Server-sent events: a live stream of a scope's intent changes.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures_util::stream;
use platform_core::entities::payment_intents;
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
}

/// `GET /v1/payment-intents/stream`: `event: payment_intent.updated` with the
/// intent as `data`, for every change inside the key's scope (optionally one
/// seller's or one terminal's); a comment every 15 s keeps proxies open.
pub async fn intents(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let feed = state.intent_feed.subscribe();
    let cursor = Cursor {
        state,
        caller,
        query: query.into_inner(),
        feed,
    };
    let body = stream::unfold(cursor, |mut c| async move {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(15), c.feed.recv()).await;
            let id = match msg {
                Err(_) => {
                    return Some((
                        Ok::<_, actix_web::Error>(web::Bytes::from_static(b": keep-alive\n\n")),
                        c,
                    ));
                }
                Ok(Ok(id)) => id,
                Ok(Err(RecvError::Lagged(_))) => continue,
                Ok(Err(RecvError::Closed)) => return None,
            };
            // Not in scope (another tenant) or filtered out: skip silently.
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
                .is_some_and(|s| *s != intent.seller_id)
                || c.query
                    .terminal_id
                    .as_ref()
                    .is_some_and(|t| *t != intent.terminal_id)
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
