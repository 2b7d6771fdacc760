//! Integrator settings of the legacy Integration API (§2.8): device e-mail
//! alerts of the account the token belongs to.

use super::{MpClient, MpError};
use crate::secret::SecretString;
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// `GET /point/integration-api/integrator`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntegratorSettings {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub notification_url_enabled: Option<bool>,
    #[serde(default)]
    pub event_channel_devices: Vec<String>,
}

impl MpClient {
    pub async fn get_integrator_settings(
        &self,
        token: &SecretString,
    ) -> Result<IntegratorSettings, MpError> {
        let url = self.api_url(&["point", "integration-api", "integrator"]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// `PATCH` with `{"event_channel_devices":[…]}`; 204.
    pub async fn set_device_event_channels(
        &self,
        token: &SecretString,
        channels: &[String],
    ) -> Result<(), MpError> {
        let url = self.api_url(&["point", "integration-api", "integrator"]);
        let body = serde_json::json!({ "event_channel_devices": channels });
        self.send_empty(self.request(Method::PATCH, url, token).json(&body))
            .await
            .map(drop)
    }
}
