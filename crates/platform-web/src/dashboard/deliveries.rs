//! `/app/deliveries/{id}`: one webhook delivery — the event it carries,
//! every attempt (status, latency, response, error) — and replaying it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use platform_core::clock;
use platform_core::entities::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use platform_core::error::Conflict;
use platform_core::id::WebhookDeliveryId;
use platform_core::permissions::Permission;
use platform_core::states::DeliveryStatus;
use platform_core::webhooks::delivery;
use platform_core::{CoreError, jobs};
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{ok, render, see_other, when};
use super::session::Auth;
use super::webhook_endpoint::delivery_status_key;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/delivery.html")]
struct DeliveryPage {
    c: Chrome,
    d: webhook_deliveries::Model,
    endpoint: webhook_endpoints::Model,
    attempts: Vec<webhook_attempts::Model>,
    payload: String,
    /// The intent the event is about, for a link.
    intent_id: Option<String>,
    replay_error: Option<&'static str>,
}

impl DeliveryPage {
    fn status_key(&self) -> &'static str {
        delivery_status_key(self.d.status)
    }
    fn replayable(&self) -> bool {
        self.d.status != DeliveryStatus::Pending
    }
    fn when(&self, t: &chrono::DateTime<Utc>) -> String {
        when(t)
    }
    fn ok_code(&self, a: &webhook_attempts::Model) -> bool {
        a.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

async fn delivery_page(
    state: &AppState,
    auth: &Auth,
    id: &WebhookDeliveryId,
) -> Result<DeliveryPage, PageError> {
    let lang = auth.lang;
    let (d, attempts) = delivery::get_with_attempts(&state.db, &auth.scope, id)
        .await
        .page(lang)?;
    let endpoint = auth
        .scope
        .find::<webhook_endpoints::Entity>(&state.db, &d.endpoint_id)
        .await
        .page(lang)?;
    let event = auth
        .scope
        .find::<events::Entity>(&state.db, &d.event_id)
        .await
        .ok();
    let value = event
        .as_ref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.payload).ok());
    let intent_id = value
        .as_ref()
        .filter(|_| d.event_type.starts_with("payment_intent."))
        .and_then(|v| v.pointer("/data/id"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let payload = match (&value, &event) {
        (Some(v), _) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (None, Some(e)) => e.payload.clone(),
        (None, None) => String::new(),
    };
    Ok(DeliveryPage {
        c: Chrome::new(auth, state, "webhooks"),
        d,
        endpoint,
        attempts,
        payload,
        intent_id,
        replay_error: None,
    })
}

pub async fn detail(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = WebhookDeliveryId::parse_or_not_found(&path).page(auth.lang)?;
    let page = delivery_page(&state, &auth, &id).await?;
    ok(&page, auth.lang)
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Sends a finished delivery again (same `webhook-id`, a new attempt cycle).
pub async fn replay(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageWebhooks)?;
    auth.check_csrf(&form.csrf)?;
    let id = WebhookDeliveryId::parse_or_not_found(&path).page(auth.lang)?;
    match delivery::replay(&state.db, &auth.scope, &id, clock::now()).await {
        Ok(d) => {
            if let Err(e) = state
                .queue
                .publish(jobs::WEBHOOK_DELIVERY, d.id.as_str())
                .await
            {
                tracing::warn!(delivery = %d.id, error = %e, "could not queue a replayed webhook delivery; the reconciler will");
            }
            Ok(see_other(&format!(
                "/app/deliveries/{}?done=delivery_replayed",
                d.id
            )))
        }
        Err(CoreError::Conflict { reason, .. }) => {
            let mut page = delivery_page(&state, &auth, &id).await?;
            page.replay_error = Some(if reason == Conflict::EndpointDisabled {
                "webhooks.replay_disabled"
            } else {
                "delivery.replay_pending"
            });
            render(StatusCode::CONFLICT, &page, auth.lang)
        }
        Err(e) => Err(PageError::from_core(e, auth.lang)),
    }
}
