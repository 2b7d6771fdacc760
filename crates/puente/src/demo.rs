//! The demo integrator created on an empty database in sandbox mode, so a
//! newcomer can log in at once.

use mp_sandbox::AppConfig;
use platform_core::accounts::{self, MpApplication, NewIntegrator};
use platform_core::crypto::Keyring;
use platform_core::db::Db;
use platform_core::secret::SecretString;

pub const DEMO_EMAIL: &str = "demo@puente.local";

pub struct DemoLogin {
    pub email: String,
    pub password: SecretString,
}

/// Creates the demo integrator if there is no integrator at all.
pub async fn ensure_demo_integrator(
    db: &Db,
    keyring: &Keyring,
    app: &AppConfig,
    sandbox_url: &str,
    redirect_url: String,
) -> anyhow::Result<Option<DemoLogin>> {
    if accounts::integrator_count(db).await? > 0 {
        return Ok(None);
    }
    let sponsor_id = create_sponsor_account(sandbox_url).await;
    let password = accounts::generate_password();
    accounts::create_integrator(
        db,
        keyring,
        NewIntegrator {
            name: "Demo Integrator".into(),
            owner_email: DEMO_EMAIL.into(),
            owner_name: "Demo".into(),
            owner_password: password.clone(),
            mp_app: Some(MpApplication {
                client_id: app.client_id.clone(),
                client_secret: app.client_secret.clone().into(),
                webhook_secret: app.webhook_secret.clone().into(),
                redirect_url,
                sponsor_id,
            }),
            is_demo: true,
        },
    )
    .await?;
    Ok(Some(DemoLogin {
        email: DEMO_EMAIL.into(),
        password,
    }))
}

/// The integrator's own Mercado Pago account (its user id is the sponsor
/// id), made as a sandbox test user. Without it the demo still works, only
/// without a sponsor until one is set in the settings.
async fn create_sponsor_account(sandbox_url: &str) -> Option<String> {
    let res = reqwest::Client::new()
        .post(format!("{sandbox_url}/sandbox/sellers"))
        .json(&serde_json::json!({"site_id": "MLB", "terminals": 0}))
        .send()
        .await
        .ok()?;
    let body: serde_json::Value = res.error_for_status().ok()?.json().await.ok()?;
    match &body["user_id"] {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}
