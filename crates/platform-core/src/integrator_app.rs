//! An integrator's Mercado Pago application settings, as the settings page
//! edits them. Secrets are write-only: they can be replaced, never read back
//! (the page only learns whether one is set).

use crate::clock;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set, SqlErr,
};

use crate::audit::{self, Actor};
use crate::crypto::{Aad, Keyring};
use crate::entities::integrators;
use crate::error::CoreError;
use crate::lookups::Stale;
use crate::mercadopago::{AppCredentials, MpClient};
use crate::secret::SecretString;
use crate::tenancy::Scope;

/// What the settings page may show.
#[derive(Debug, Clone)]
pub struct AppSettingsView {
    pub name: String,
    pub client_id: Option<String>,
    pub has_client_secret: bool,
    pub has_webhook_secret: bool,
    pub sponsor_id: Option<String>,
    pub is_demo: bool,
}

/// A change from the settings form. `None` secrets keep the stored value.
#[derive(Debug, Clone, Default)]
pub struct AppSettingsUpdate {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub sponsor_id: String,
}

/// Why the application settings were not saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsProblem {
    ClientIdInvalid,
    SecretInvalid,
    ClientSecretRequired,
    SponsorIdInvalid,
    /// Another integrator has linked this Mercado Pago application.
    ClientIdTaken,
    /// Mercado Pago refused the client id / secret pair.
    ClientCredentialsRejected,
    /// Mercado Pago could not be asked; nothing is saved.
    UpstreamUnavailable,
}

/// A form field that failed validation, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: SettingsProblem,
}

pub async fn view(db: &impl ConnectionTrait, scope: &Scope) -> Result<AppSettingsView, CoreError> {
    let i = scope
        .find::<integrators::Entity>(db, scope.integrator_id())
        .await?;
    Ok(AppSettingsView {
        name: i.name,
        client_id: i.mp_client_id,
        has_client_secret: i.mp_client_secret.is_some(),
        has_webhook_secret: i.mp_webhook_secret.is_some(),
        sponsor_id: i.sponsor_id,
        is_demo: i.is_demo,
    })
}

fn digits(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
}

fn secret_ok(s: &SecretString) -> bool {
    let v = s.expose_secret();
    (8..=256).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic())
}

/// Checks every field; returns all errors at once so the form shows them together.
pub fn validate(update: &AppSettingsUpdate, had_client_secret: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !digits(update.client_id.trim(), 32) {
        errors.push(FieldError {
            field: "client_id",
            problem: SettingsProblem::ClientIdInvalid,
        });
    }
    match &update.client_secret {
        Some(s) if !secret_ok(s) => errors.push(FieldError {
            field: "client_secret",
            problem: SettingsProblem::SecretInvalid,
        }),
        None if !had_client_secret => errors.push(FieldError {
            field: "client_secret",
            problem: SettingsProblem::ClientSecretRequired,
        }),
        _ => {}
    }
    if let Some(s) = &update.webhook_secret
        && !secret_ok(s)
    {
        errors.push(FieldError {
            field: "webhook_secret",
            problem: SettingsProblem::SecretInvalid,
        });
    }
    let sponsor = update.sponsor_id.trim();
    if !sponsor.is_empty() && !digits(sponsor, 20) {
        errors.push(FieldError {
            field: "sponsor_id",
            problem: SettingsProblem::SponsorIdInvalid,
        });
    }
    errors
}

/// What proving the application with Mercado Pago found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppProof {
    Valid,
    /// Mercado Pago refused the client id / secret pair.
    Rejected,
    /// Mercado Pago could not be asked (down, timeout); nothing is saved.
    Unreachable,
}

/// Asks Mercado Pago for a `client_credentials` token with the pair: only
/// the application's owner knows the secret, so a client id copied from
/// another integrator's onboarding URL does not pass.
pub async fn prove(mp: &MpClient, app: &AppCredentials) -> AppProof {
    match mp.client_credentials(app).await {
        Ok(_) => AppProof::Valid,
        Err(e) if e.is_retryable() => {
            tracing::warn!(error = %e, "could not check the Mercado Pago application");
            AppProof::Unreachable
        }
        Err(e) => {
            tracing::info!(error = %e, "Mercado Pago refused the application's credentials");
            AppProof::Rejected
        }
    }
}

fn field(field: &'static str, problem: SettingsProblem) -> Vec<FieldError> {
    vec![FieldError { field, problem }]
}

/// Validates, checks that no other integrator has the client id, proves
/// the client id / secret with Mercado Pago, and saves. On any error
/// nothing is written.
pub async fn update(
    db: &crate::db::Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    actor: &Actor,
    redirect_url: &str,
    update: AppSettingsUpdate,
) -> Result<Result<(), Vec<FieldError>>, CoreError> {
    let current = scope
        .find::<integrators::Entity>(db, scope.integrator_id())
        .await?;
    let errors = validate(&update, current.mp_client_secret.is_some());
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let client_id = update.client_id.trim().to_owned();
    // Unscoped on purpose: uniqueness is across tenants (the answer says
    // only "taken", nothing about the owner).
    let taken = integrators::Entity::find()
        .filter(integrators::Column::MpClientId.eq(client_id.clone()))
        .filter(integrators::Column::Id.ne(current.id.clone()))
        .count(db)
        .await?
        > 0;
    if taken {
        return Ok(Err(field("client_id", SettingsProblem::ClientIdTaken)));
    }
    let client_secret = match &update.client_secret {
        Some(s) => s.clone(),
        None => match &current.mp_client_secret {
            Some(sealed) => keyring.open(
                sealed,
                Aad::new("integrators", "mp_client_secret", current.id.as_str()),
            )?,
            None => {
                return Ok(Err(field(
                    "client_secret",
                    SettingsProblem::ClientSecretRequired,
                )));
            }
        },
    };
    let app = AppCredentials {
        client_id: client_id.clone(),
        client_secret,
    };
    match prove(mp, &app).await {
        AppProof::Valid => {}
        AppProof::Rejected => {
            return Ok(Err(field(
                "client_id",
                SettingsProblem::ClientCredentialsRejected,
            )));
        }
        AppProof::Unreachable => {
            return Ok(Err(field(
                "client_id",
                SettingsProblem::UpstreamUnavailable,
            )));
        }
    }
    let id = current.id.clone();
    let mut changed = vec!["client_id", "sponsor_id"];
    let mut row = current.into_active_model();
    row.mp_client_id = Set(Some(client_id));
    let sponsor = update.sponsor_id.trim();
    row.sponsor_id = Set((!sponsor.is_empty()).then(|| sponsor.to_owned()));
    row.mp_redirect_url = Set(Some(redirect_url.to_owned()));
    if let Some(s) = &update.client_secret {
        row.mp_client_secret = Set(Some(
            keyring.seal(s, Aad::new("integrators", "mp_client_secret", id.as_str())),
        ));
        changed.push("client_secret");
    }
    if let Some(s) = &update.webhook_secret {
        row.mp_webhook_secret = Set(Some(
            keyring.seal(s, Aad::new("integrators", "mp_webhook_secret", id.as_str())),
        ));
        changed.push("webhook_secret");
    }
    row.updated_at = Set(clock::now());
    match row.update(db).await {
        Ok(_) => db.changed(Stale::Charging).await,
        // Another integrator saved the same client id meanwhile (the unique index).
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Ok(Err(field("client_id", SettingsProblem::ClientIdTaken)));
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(
        db,
        &id,
        actor,
        "settings.mp_application.updated",
        Some(audit::Target::Integrator(&id)),
        Some(format!("fields: {}", changed.join(", "))),
    )
    .await?;
    Ok(Ok(()))
}

/// The application credentials to talk OAuth with, when configured.
pub fn credentials(
    keyring: &Keyring,
    integrator: &integrators::Model,
) -> Result<Option<AppCredentials>, CoreError> {
    let (Some(client_id), Some(sealed)) = (&integrator.mp_client_id, &integrator.mp_client_secret)
    else {
        return Ok(None);
    };
    let client_secret = keyring.open(
        sealed,
        Aad::new("integrators", "mp_client_secret", integrator.id.as_str()),
    )?;
    Ok(Some(AppCredentials {
        client_id: client_id.clone(),
        client_secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upd(client_id: &str, secret: Option<&str>, sponsor: &str) -> AppSettingsUpdate {
        AppSettingsUpdate {
            client_id: client_id.into(),
            client_secret: secret.map(SecretString::from),
            webhook_secret: None,
            sponsor_id: sponsor.into(),
        }
    }

    #[test]
    fn validation_names_each_bad_field() {
        assert!(validate(&upd("1234", Some("abcdefgh12"), ""), false).is_empty());
        assert!(validate(&upd("1234", None, "99"), true).is_empty());
        let e = validate(&upd("12a", None, "x"), false);
        let fields: Vec<_> = e.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["client_id", "client_secret", "sponsor_id"]);
        let e = validate(&upd("1", Some("has space inside"), ""), true);
        assert_eq!(e[0].problem, SettingsProblem::SecretInvalid);
    }
}
