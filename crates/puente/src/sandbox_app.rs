//! The built-in sandbox's default Mercado Pago application.
//!
//! Its credentials must survive restarts, because the demo integrator stores
//! them in the database: they are kept in `data_dir/sandbox-app.json` (0600).

use std::path::Path;

use mp_sandbox::AppConfig;
use platform_core::config::Settings;
use serde::{Deserialize, Serialize};

const FILE: &str = "sandbox-app.json";

#[derive(Serialize, Deserialize)]
struct Stored {
    client_id: String,
    client_secret: String,
    webhook_secret: String,
}

/// Where Puente receives OAuth redirects and Mercado Pago notifications.
pub fn redirect_url(settings: &Settings) -> String {
    settings
        .public_url
        .join("oauth/callback")
        .expect("relative path")
        .to_string()
}

pub fn webhook_url(settings: &Settings) -> String {
    settings
        .public_url
        .join("webhooks/mercadopago")
        .expect("relative path")
        .to_string()
}

pub fn load_or_create(settings: &Settings) -> anyhow::Result<AppConfig> {
    let path = settings.data_dir.join(FILE);
    let redirect_uris = vec![redirect_url(settings)];
    let webhook = Some(webhook_url(settings));
    if let Ok(text) = std::fs::read_to_string(&path) {
        let s: Stored = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not valid: {e}", path.display()))?;
        return Ok(AppConfig {
            client_id: s.client_id,
            client_secret: s.client_secret,
            webhook_secret: s.webhook_secret,
            redirect_uris,
            webhook_url: webhook,
        });
    }
    let app = AppConfig::generate(redirect_uris, webhook);
    let stored = Stored {
        client_id: app.client_id.clone(),
        client_secret: app.client_secret.clone(),
        webhook_secret: app.webhook_secret.clone(),
    };
    write_private(&path, &serde_json::to_string_pretty(&stored)?)?;
    Ok(app)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(contents.as_bytes())
    }
    #[cfg(not(unix))]
    std::fs::write(path, contents)
}
