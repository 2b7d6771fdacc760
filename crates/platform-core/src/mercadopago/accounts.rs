//! `GET /users/me` (§1.3).

use super::{MpClient, MpError, MpId};
use crate::secret::SecretString;
use reqwest::Method;
use serde::Deserialize;

/// The account behind a token. Only `id` is required; the full object is
/// long and varies by site, so only what Puente shows is typed.
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: MpId,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub site_id: Option<String>,
    #[serde(default)]
    pub country_id: Option<String>,
    #[serde(default)]
    pub registration_date: Option<String>,
    /// Test accounts include `"test_user"`.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl User {
    pub fn is_test_user(&self) -> bool {
        self.tags.iter().any(|t| t == "test_user")
    }
}

impl MpClient {
    pub async fn me(&self, token: &SecretString) -> Result<User, MpError> {
        let req = self.request(Method::GET, self.api_url(&["users", "me"]), token);
        self.send_json(req).await
    }
}
