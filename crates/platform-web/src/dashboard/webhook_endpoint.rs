//! `/app/webhooks/{id}`: one endpoint — its deliveries (filter, pages),
//! editing, enable/disable, secret rotation, deletion and "replay what
//! failed since".

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, Utc};
use platform_core::clock;
use platform_core::entities::{sellers, webhook_deliveries};
use platform_core::error::Invalid;
use platform_core::events::EVENT_TYPES;
use platform_core::id::WebhookEndpointId;
use platform_core::jobs;
use platform_core::paging::{Page, PageRequest};
use platform_core::permissions::Permission;
use platform_core::states::{DeliveryStatus, EndpointStatus};
use platform_core::webhooks::delivery;
use platform_core::webhooks::endpoints::{self, Endpoint, EndpointPatch, UrlRules};
use platform_core::{CoreError, audit};
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, ok, render, see_other, when};
use super::intents::seller_names;
use super::session::Auth;
use super::webhooks::{EndpointForm, SecretPage, field_error};
use crate::state::AppState;

pub fn delivery_status_key(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "delivery.status_pending",
        DeliveryStatus::Succeeded => "delivery.status_succeeded",
        DeliveryStatus::Dead => "delivery.status_dead",
    }
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "dash/webhook.html")]
pub struct EndpointPage {
    c: Chrome,
    ep: Endpoint,
    deliveries: Page<webhook_deliveries::Model>,
    status: String,
    statuses: &'static [DeliveryStatus],
    sellers: Vec<sellers::Model>,
    events: &'static [&'static str],
    form: EndpointForm,
    errors: FieldErrors,
    form_error: Option<&'static str>,
    since: String,
    replay_error: Option<&'static str>,
}

impl EndpointPage {
    fn enabled(&self) -> bool {
        self.ep.status == EndpointStatus::Enabled
    }
    fn status_key(&self, s: &DeliveryStatus) -> &'static str {
        delivery_status_key(*s)
    }
    fn when(&self, t: &chrono::DateTime<Utc>) -> String {
        when(t)
    }
}

async fn endpoint_page(
    state: &AppState,
    auth: &Auth,
    id: &WebhookEndpointId,
    q: &DetailQuery,
) -> Result<EndpointPage, PageError> {
    let lang = auth.lang;
    let ep = endpoints::get(&state.db, &auth.scope, id)
        .await
        .page(lang)?;
    let status = DeliveryStatus::parse(q.status.trim());
    let deliveries = delivery::list_for_endpoint(
        &state.db,
        &auth.scope,
        &ep.id,
        status,
        &PageRequest::new(q.before.as_deref(), Some(50)),
    )
    .await
    .page(lang)?;
    Ok(EndpointPage {
        c: Chrome::new(auth, state, "webhooks"),
        form: EndpointForm::of(&ep),
        ep,
        deliveries,
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        statuses: DeliveryStatus::ALL,
        sellers: seller_names(state, auth).await?,
        events: EVENT_TYPES,
        errors: FieldErrors::default(),
        form_error: None,
        since: String::new(),
        replay_error: None,
    })
}

pub async fn detail(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    q: web::Query<DetailQuery>,
) -> Result<HttpResponse, PageError> {
    let id = WebhookEndpointId::parse_or_not_found(&path).page(auth.lang)?;
    let page = endpoint_page(&state, &auth, &id, &q).await?;
    ok(&page, auth.lang)
}

async fn note(state: &AppState, auth: &Auth, ep: &Endpoint, action: &str) {
    let _ = audit::record(
        &state.db,
        &ep.integrator_id,
        &auth.actor(),
        action,
        Some(audit::Target::WebhookEndpoint(&ep.id)),
        Some(ep.url.clone()),
    )
    .await;
}

/// Saves the edit form; with a bad field nothing is saved (one transaction).
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageWebhooks)?;
    let form = EndpointForm::from_pairs(form.into_inner());
    auth.check_csrf(&form.csrf)?;
    let id = WebhookEndpointId::parse_or_not_found(&path).page(auth.lang)?;
    let patch = EndpointPatch {
        url: Some(form.url.clone()),
        description: Some(Some(form.description.clone())),
        event_types: Some(form.events.clone()),
        seller_id: Some(Some(form.seller.clone())),
        enabled: None,
    };
    let rules = UrlRules::from_settings(&state.settings);
    match endpoints::update(&state.db, &auth.scope, &rules, &id, patch, clock::now()).await {
        Ok(ep) => {
            note(&state, &auth, &ep, "webhook_endpoint.updated").await;
            Ok(see_other(&format!(
                "/app/webhooks/{}?done=endpoint_saved",
                ep.id
            )))
        }
        Err(e @ CoreError::NotFound { .. }) => Err(PageError::from_core(e, auth.lang)),
        Err(e) => {
            let mut page = endpoint_page(&state, &auth, &id, &DetailQuery::default()).await?;
            page.form_error = field_error(e, &mut page.errors).page(auth.lang)?;
            page.form = form.shown();
            render(StatusCode::UNPROCESSABLE_ENTITY, &page, auth.lang)
        }
    }
}

#[derive(Deserialize, Default)]
pub struct EnableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
}

pub async fn set_enabled(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<EnableForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageWebhooks)?;
    auth.check_csrf(&form.csrf)?;
    let id = WebhookEndpointId::parse_or_not_found(&path).page(auth.lang)?;
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            // Only reachable by a hand-made form; check the id first.
            endpoints::get(&state.db, &auth.scope, &id)
                .await
                .page(auth.lang)?;
            return Err(PageError::from_core(
                CoreError::invalid(Invalid::Enabled, "enabled must be true or false"),
                auth.lang,
            ));
        }
    };
    let rules = UrlRules::from_settings(&state.settings);
    let ep = endpoints::set_enabled(&state.db, &auth.scope, &rules, &id, enabled, clock::now())
        .await
        .page(auth.lang)?;
    let action = if enabled {
        "webhook_endpoint.enabled"
    } else {
        "webhook_endpoint.disabled"
    };
    note(&state, &auth, &ep, action).await;
    Ok(see_other(&format!(
        "/app/webhooks/{}?done=endpoint_saved",
        ep.id
    )))
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A new secret, shown once; the previous one keeps signing for a day.
pub async fn rotate(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageWebhooks)?;
    auth.check_csrf(&form.csrf)?;
    let id = WebhookEndpointId::parse_or_not_found(&path).page(auth.lang)?;
    let (endpoint, secret) =
        endpoints::rotate_secret(&state.db, &state.keyring, &auth.scope, &id, clock::now())
            .await
            .page(auth.lang)?;
    note(&state, &auth, &endpoint, "webhook_endpoint.secret_rotated").await;
    let page = SecretPage {
        c: Chrome::new(&auth, &state, "webhooks"),
        endpoint,
        secret: secret.expose_secret().clone(),
        rotated: true,
    };
    ok(&page, auth.lang)
}

pub async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageWebhooks)?;
    auth.check_csrf(&form.csrf)?;
    let id = WebhookEndpointId::parse_or_not_found(&path).page(auth.lang)?;
    let ep = endpoints::get(&state.db, &auth.scope, &id)
        .await
        .page(auth.lang)?;
    endpoints::delete(&state.db, &auth.scope, &ep.id)
        .await
        .page(auth.lang)?;
    note(&state, &auth, &ep, "webhook_endpoint.deleted").await;
    Ok(see_other("/app/webhooks?done=endpoint_saved"))
}

#[derive(Deserialize, Default)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    since: String,
}

/// Every dead delivery created since the start of a day (UTC) is sent again.
pub async fn replay_since(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<ReplayForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageWebhooks)?;
    auth.check_csrf(&form.csrf)?;
    let id = WebhookEndpointId::parse_or_not_found(&path).page(auth.lang)?;
    let since = NaiveDate::parse_from_str(form.since.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .filter(|t| *t <= clock::now());
    let (status, message) = match since {
        None => (StatusCode::UNPROCESSABLE_ENTITY, "webhooks.since_invalid"),
        Some(since) => {
            match delivery::replay_failed_since(&state.db, &auth.scope, &id, since, clock::now())
                .await
            {
                Ok(ids) => {
                    for id in &ids {
                        let _ = state
                            .queue
                            .publish(jobs::WEBHOOK_DELIVERY, id.as_str())
                            .await;
                    }
                    return Ok(see_other(&format!(
                        "/app/webhooks/{}?done=delivery_replayed",
                        path.as_str()
                    )));
                }
                Err(CoreError::Conflict { .. }) => {
                    (StatusCode::CONFLICT, "webhooks.replay_disabled")
                }
                Err(e) => return Err(PageError::from_core(e, auth.lang)),
            }
        }
    };
    let mut page = endpoint_page(&state, &auth, &id, &DetailQuery::default()).await?;
    page.replay_error = Some(message);
    page.since = form.since.trim().chars().take(20).collect();
    render(status, &page, auth.lang)
}
