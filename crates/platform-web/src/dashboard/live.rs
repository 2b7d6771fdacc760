//! `/app/intents/stream`: the logged-in user's intent changes as
//! server-sent events, for `static/puente.js` to update status cells and
//! the intent page without a reload. Built like the API's stream
//! (`crate::api::stream`): one shared feed of changed ids, each re-read
//! through the session's scope, so another integrator's intents never show.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures_util::stream;
use platform_core::entities::payment_intents;
use platform_core::id::PaymentIntentId;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::errors::PageError;
use super::intents::status_key;
use super::session::Auth;
use crate::state::AppState;

/// A stream ends after this long; the browser reconnects on its own, and the
/// session is checked again then (a logged-out session gets no more events).
const MAX_STREAM: Duration = Duration::from_secs(300);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Deserialize, Default)]
pub struct StreamQuery {
    /// Only this intent (its page).
    #[serde(default)]
    intent: Option<String>,
}

#[derive(Serialize)]
struct Change<'a> {
    id: &'a str,
    status: &'a str,
    label: &'a str,
    status_detail: Option<&'a str>,
}

struct Cursor {
    state: web::Data<AppState>,
    auth: Auth,
    only: Option<String>,
    feed: tokio::sync::broadcast::Receiver<String>,
    deadline: tokio::time::Instant,
    started: bool,
    /// The intent whose current state is still owed (its page's stream).
    pending: Option<String>,
}

impl Cursor {
    /// The `event: intent` frame for `id`, or `None` when it is outside the
    /// session's scope (not this user's business) or gone.
    async fn frame(&self, id: &str) -> Option<String> {
        let id = PaymentIntentId::parse(id).ok()?;
        let intent = self
            .auth
            .scope
            .find::<payment_intents::Entity>(&self.state.db, &id)
            .await
            .ok()?;
        let change = Change {
            id: intent.id.as_str(),
            status: intent.status.as_str(),
            label: self.auth.t().get(status_key(intent.status)),
            status_detail: intent.status_detail.as_deref(),
        };
        let data = serde_json::to_string(&change).unwrap_or_default();
        Some(format!("event: intent\ndata: {data}\n\n"))
    }
}

/// `event: intent` with `{id, status, label, status_detail}`; a comment
/// every 15 s keeps proxies from closing the connection.
pub async fn intents(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<StreamQuery>,
) -> Result<HttpResponse, PageError> {
    // Subscribed before anything is read, so a change committed between the
    // page's render and this request is either in the first frame (read
    // below) or on the feed: never in neither.
    let feed = state.intent_feed.subscribe();
    let only = q.into_inner().intent;
    let cursor = Cursor {
        state,
        auth,
        pending: only.clone(),
        only,
        feed,
        deadline: tokio::time::Instant::now() + MAX_STREAM,
        started: false,
    };
    let body = stream::unfold(cursor, |mut c| async move {
        if !c.started {
            c.started = true;
            // Reconnect quickly after the stream ends on purpose.
            return Some((Ok(web::Bytes::from_static(b"retry: 1000\n\n")), c));
        }
        // The intent page was rendered before this stream opened: send its
        // current state first, so the page re-reads itself if anything moved
        // in between (a refund, a status) instead of waiting for a change
        // that was already announced.
        if let Some(id) = c.pending.take()
            && let Some(frame) = c.frame(&id).await
        {
            return Some((Ok(web::Bytes::from(frame)), c));
        }
        loop {
            let left = c
                .deadline
                .saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let id = match tokio::time::timeout(left.min(KEEP_ALIVE), c.feed.recv()).await {
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
            if c.only.as_ref().is_some_and(|only| *only != id) {
                continue;
            }
            let Some(frame) = c.frame(&id).await else {
                continue;
            };
            return Some((Ok(web::Bytes::from(frame)), c));
        }
    });
    Ok(HttpResponse::Ok()
        // One stream per connection anyway; closing it when the stream ends
        // (at shutdown, or after MAX_STREAM) leaves no idle keep-alive
        // connection for the server to wait on while it stops.
        .force_close()
        .insert_header(("Content-Type", "text/event-stream"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
