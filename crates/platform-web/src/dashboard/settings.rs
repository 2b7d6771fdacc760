//! `/app/settings`: the integrator's Mercado Pago application. Secrets are
//! write-only: the form shows whether one is set, never its value.

use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::integrator_app::{self, AppSettingsUpdate, AppSettingsView, SettingsProblem};
use platform_core::permissions::Permission;
use platform_core::secret::SecretString;
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, invalid, ok, see_other};
use super::session::Auth;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/settings.html")]
struct SettingsPage {
    c: Chrome,
    view: AppSettingsView,
    redirect_url: String,
    notifications_url: String,
    client_id: String,
    sponsor_id: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    webhook_secret: String,
    #[serde(default)]
    sponsor_id: String,
}

pub fn redirect_url(state: &AppState) -> String {
    state
        .settings
        .public_url
        .join("oauth/callback")
        .map(|u| u.to_string())
        .unwrap_or_default()
}

fn notifications_url(state: &AppState) -> String {
    state
        .settings
        .public_url
        .join("webhooks/mercadopago")
        .map(|u| u.to_string())
        .unwrap_or_default()
}

pub async fn page(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSettings)?;
    let view = integrator_app::view(&state.db, &auth.scope)
        .await
        .page(auth.lang)?;
    let page = SettingsPage {
        c: Chrome::new(&auth, &state, "settings"),
        redirect_url: redirect_url(&state),
        notifications_url: notifications_url(&state),
        client_id: view.client_id.clone().unwrap_or_default(),
        sponsor_id: view.sponsor_id.clone().unwrap_or_default(),
        view,
        errors: FieldErrors::default(),
    };
    ok(&page, auth.lang)
}

fn secret(s: &str) -> Option<SecretString> {
    // An empty secret field means "keep the stored one".
    (!s.trim().is_empty()).then(|| SecretString::from(s.trim()))
}

pub async fn save(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSettings)?;
    auth.check_csrf(&form.csrf)?;
    let update = AppSettingsUpdate {
        client_id: form.client_id.clone(),
        client_secret: secret(&form.client_secret),
        webhook_secret: secret(&form.webhook_secret),
        sponsor_id: form.sponsor_id.clone(),
    };
    let saved = integrator_app::update(
        &state.db,
        &state.keyring,
        &state.mp,
        &auth.scope,
        &auth.actor(),
        &redirect_url(&state),
        update,
    )
    .await
    .page(auth.lang)?;
    match saved {
        Ok(()) => Ok(see_other("/app/settings?done=settings_saved")),
        Err(field_errors) => {
            let view = integrator_app::view(&state.db, &auth.scope)
                .await
                .page(auth.lang)?;
            let mut errors = FieldErrors::default();
            for e in field_errors {
                errors.push(e.field, settings_message(e.problem));
            }
            let page = SettingsPage {
                c: Chrome::new(&auth, &state, "settings"),
                redirect_url: redirect_url(&state),
                notifications_url: notifications_url(&state),
                client_id: form.client_id.chars().take(64).collect(),
                sponsor_id: form.sponsor_id.chars().take(64).collect(),
                view,
                errors,
            };
            invalid(&page, auth.lang)
        }
    }
}

fn settings_message(problem: SettingsProblem) -> &'static str {
    match problem {
        SettingsProblem::ClientIdInvalid => "settings.client_id_invalid",
        SettingsProblem::ClientSecretRequired => "settings.client_secret_required",
        SettingsProblem::SponsorIdInvalid => "settings.sponsor_id_invalid",
        SettingsProblem::ClientIdTaken => "settings.client_id_taken",
        SettingsProblem::ClientCredentialsRejected => "settings.client_credentials_rejected",
        SettingsProblem::UpstreamUnavailable => "settings.upstream_unavailable",
        SettingsProblem::SecretInvalid => "settings.secret_invalid",
    }
}
