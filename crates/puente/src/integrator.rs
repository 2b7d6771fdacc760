//! `puente integrator create`: an integrator, its owner, and a first key.

use platform_core::CoreError;
use platform_core::accounts::{self, NewIntegrator};
use platform_core::api_keys::{self, NewApiKey};
use platform_core::config::Settings;
use platform_core::crypto::Keyring;
use platform_core::db::Db;
use platform_core::id::IntegratorId;
use platform_core::secret::SecretString;
use platform_core::states::{KeyMode, ScopeKind};
use platform_core::tenancy::Scope;

use crate::Failure;

pub struct Created {
    pub integrator_id: IntegratorId,
    pub email: String,
    pub key: SecretString,
    pub key_prefix: String,
}

pub async fn create(
    db: &Db,
    keyring: &Keyring,
    settings: &Settings,
    name: String,
    email: String,
    password: String,
    sponsor_id: Option<String>,
) -> Result<Created, Failure> {
    let refuse = |e: CoreError| Failure::Other(anyhow::anyhow!("{e}"));
    let (integrator, user) = accounts::create_integrator(
        db,
        keyring,
        NewIntegrator {
            name,
            owner_email: email,
            owner_name: String::new(),
            owner_password: SecretString::new(password),
            mp_app: None,
            is_demo: false,
        },
    )
    .await
    .map_err(refuse)?;
    let scope = Scope::integrator(integrator.id.clone());
    if let Some(sponsor) = sponsor_id {
        accounts::set_sponsor(db, &scope, &sponsor)
            .await
            .map_err(refuse)?;
    }
    let mode = if settings.sandbox_mode() {
        KeyMode::Test
    } else {
        KeyMode::Live
    };
    let (row, key) = api_keys::create(
        db,
        &scope,
        NewApiKey {
            name: "bootstrap".into(),
            scope_kind: ScopeKind::Integrator,
            target_id: None,
            expires_at: None,
            mode,
            access: platform_core::states::KeyAccess::Full,
        },
        Some(user.id.to_string()),
        None,
    )
    .await
    .map_err(refuse)?;
    Ok(Created {
        integrator_id: integrator.id,
        email: user.email,
        key,
        key_prefix: row.prefix,
    })
}

pub fn print(c: &Created, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "integrator_id": c.integrator_id,
                "email": c.email,
                "api_key": c.key.expose_secret(),
                "api_key_prefix": c.key_prefix,
            })
        );
    } else {
        println!(
            "Integrator {} created; the owner logs in as {}.",
            c.integrator_id, c.email
        );
        println!("Integrator-wide API key (shown once, store it now):");
        println!("  {}", c.key.expose_secret());
    }
}
