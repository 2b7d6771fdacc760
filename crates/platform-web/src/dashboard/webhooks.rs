//! `/app/webhooks`: the integrator's webhook endpoints (list and create,
//! the secret shown once). One endpoint's page is in
//! [`super::webhook_endpoint`], one delivery's in [`super::deliveries`];
//! the rules live in `platform_core::webhooks`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use platform_core::clock;
use platform_core::entities::sellers;
use platform_core::error::{Conflict, Invalid};
use platform_core::events::EVENT_TYPES;
use platform_core::id::SellerId;
use platform_core::permissions::Permission;
use platform_core::webhooks::endpoints::{self, Endpoint, NewEndpoint, UrlRules};
use platform_core::{CoreError, audit};

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, invalid, render, when};
use super::intents::seller_names;
use super::session::Auth;
use crate::state::AppState;

/// The endpoint form as sent: repeated `events` checkboxes, so it is read
/// as pairs rather than a struct.
#[derive(Debug, Default, Clone)]
pub struct EndpointForm {
    pub csrf: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub seller: String,
}

impl EndpointForm {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = EndpointForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "url" => f.url = v,
                "description" => f.description = v,
                "seller" => f.seller = v,
                "events" if f.events.len() < 50 => f.events.push(v),
                _ => {}
            }
        }
        f
    }

    pub fn of(ep: &Endpoint) -> Self {
        EndpointForm {
            csrf: String::new(),
            url: ep.url.clone(),
            description: ep.description.clone().unwrap_or_default(),
            events: endpoints::event_types(ep),
            seller: ep
                .seller_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }

    /// For showing the form again: lengths capped.
    pub fn shown(&self) -> Self {
        EndpointForm {
            csrf: String::new(),
            url: self.url.chars().take(endpoints::MAX_URL_LEN).collect(),
            description: self
                .description
                .chars()
                .take(endpoints::MAX_DESCRIPTION_LEN + 10)
                .collect(),
            events: self.events.clone(),
            seller: self.seller.chars().take(40).collect(),
        }
    }

    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// A core validation error as the field it concerns, or a form message.
pub fn field_error(
    e: CoreError,
    errors: &mut FieldErrors,
) -> Result<Option<&'static str>, CoreError> {
    match e {
        CoreError::Invalid { reason, .. } => {
            match reason {
                Invalid::Url => errors.push("url", "webhooks.url_invalid"),
                Invalid::UrlNotAllowed => errors.push("url", "webhooks.url_not_allowed"),
                Invalid::Description => errors.push("description", "webhooks.description_invalid"),
                Invalid::EventType => errors.push("events", "webhooks.events_invalid"),
                Invalid::Seller => errors.push("seller", "webhooks.seller_invalid"),
                _ => return Ok(Some("error.invalid_text")),
            }
            Ok(None)
        }
        CoreError::Conflict { reason, .. } => Ok(Some(if reason == Conflict::TooManyEndpoints {
            "webhooks.too_many"
        } else {
            "error.conflict_text"
        })),
        other => Err(other),
    }
}

#[derive(Template)]
#[template(path = "dash/webhooks.html")]
struct WebhooksPage {
    c: Chrome,
    endpoints: Vec<Endpoint>,
    sellers: Vec<sellers::Model>,
    events: &'static [&'static str],
    form: EndpointForm,
    errors: FieldErrors,
    form_error: Option<&'static str>,
    http_allowed: bool,
}

impl WebhooksPage {
    fn filter(&self, ep: &Endpoint) -> String {
        let types = endpoints::event_types(ep);
        if types.is_empty() {
            self.c.t.get("webhooks.all_events").to_owned()
        } else {
            types.join(", ")
        }
    }
    fn seller_name(&self, id: &Option<SellerId>) -> String {
        match id {
            None => self.c.t.get("webhooks.all_sellers").to_owned(),
            Some(id) => self
                .sellers
                .iter()
                .find(|s| s.id == *id)
                .map(|s| s.nickname.clone())
                .unwrap_or_else(|| id.to_string()),
        }
    }
    fn when(&self, t: &chrono::DateTime<Utc>) -> String {
        when(t)
    }
}

/// The page that answers a creation or a rotation: the secret, this once.
#[derive(Template)]
#[template(path = "dash/webhook_secret.html")]
pub struct SecretPage {
    pub c: Chrome,
    pub endpoint: Endpoint,
    pub secret: String,
    pub rotated: bool,
}

async fn list_page(
    state: &AppState,
    auth: &Auth,
    form: EndpointForm,
    errors: FieldErrors,
    form_error: Option<&'static str>,
) -> Result<WebhooksPage, PageError> {
    let endpoints = endpoints::list(&state.db, &auth.scope)
        .await
        .page(auth.lang)?;
    Ok(WebhooksPage {
        c: Chrome::new(auth, state, "webhooks"),
        endpoints,
        sellers: seller_names(state, auth).await?,
        events: EVENT_TYPES,
        form: form.shown(),
        errors,
        form_error,
        http_allowed: state.settings.sandbox_mode(),
    })
}

/// Every endpoint (at most `endpoints::MAX_ENDPOINTS`, so one page).
pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, PageError> {
    let page = list_page(
        &state,
        &auth,
        EndpointForm::default(),
        FieldErrors::default(),
        None,
    )
    .await?;
    super::forms::ok(&page, auth.lang)
}

pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageWebhooks)?;
    let form = EndpointForm::from_pairs(form.into_inner());
    auth.check_csrf(&form.csrf)?;
    let new = NewEndpoint {
        url: form.url.clone(),
        description: Some(form.description.clone()),
        event_types: form.events.clone(),
        seller_id: Some(form.seller.clone()),
    };
    let rules = UrlRules::from_settings(&state.settings);
    let res = endpoints::create(
        &state.db,
        &state.keyring,
        &auth.scope,
        &rules,
        new,
        clock::now(),
        None,
    )
    .await;
    match res {
        Ok((endpoint, secret)) => {
            let _ = audit::record(
                &state.db,
                &endpoint.integrator_id,
                &auth.actor(),
                "webhook_endpoint.created",
                Some(audit::Target::WebhookEndpoint(&endpoint.id)),
                Some(endpoint.url.clone()),
            )
            .await;
            let page = SecretPage {
                c: Chrome::new(&auth, &state, "webhooks"),
                endpoint,
                secret: secret.expose_secret().clone(),
                rotated: false,
            };
            render(StatusCode::CREATED, &page, auth.lang)
        }
        Err(e) => {
            let mut errors = FieldErrors::default();
            let form_error = field_error(e, &mut errors).page(auth.lang)?;
            let page = list_page(&state, &auth, form, errors, form_error).await?;
            invalid(&page, auth.lang)
        }
    }
}
