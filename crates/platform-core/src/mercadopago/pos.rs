//! Points of sale: classic `/pos` (§5.2) and `/v2/pos` (§5.3).

use super::{IDEMPOTENCY_KEY, MpClient, MpError, MpId, Page, check_idempotency_key};
use crate::secret::SecretString;
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// Classic create/update body. `store_id` is a number here (§5.2).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PosRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_amount: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_store_id: Option<String>,
    /// Alphanumeric only, fewer than 40 characters, unique per user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// An MCC number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `/v2/pos` body. `store_id` must be a string of digits here ("store_id
/// expected string, but got number", §5.3), hence a separate type.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PosV2Request {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_store_id: Option<String>,
    pub external_id: String,
}

/// A POS as both APIs return it (classic `qr`, v2 `qr_response`).
#[derive(Clone, Debug, Deserialize)]
pub struct Pos {
    pub id: MpId,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub user_id: Option<MpId>,
    #[serde(default)]
    pub store_id: Option<MpId>,
    #[serde(default)]
    pub external_store_id: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub fixed_amount: Option<bool>,
    #[serde(default)]
    pub category: Option<u64>,
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_last_updated: Option<String>,
    #[serde(default)]
    pub qr: Option<serde_json::Value>,
    #[serde(default)]
    pub qr_response: Option<serde_json::Value>,
}

/// `GET /pos` filters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PosSearch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_store_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

impl MpClient {
    pub async fn create_pos(&self, token: &SecretString, pos: &PosRequest) -> Result<Pos, MpError> {
        let req = self.request(Method::POST, self.api_url(&["pos"]), token);
        self.send_json(req.json(pos)).await
    }

    pub async fn get_pos(&self, token: &SecretString, pos_id: u64) -> Result<Pos, MpError> {
        let url = self.api_url(&["pos", &pos_id.to_string()]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    pub async fn update_pos(
        &self,
        token: &SecretString,
        pos_id: u64,
        pos: &PosRequest,
    ) -> Result<Pos, MpError> {
        let url = self.api_url(&["pos", &pos_id.to_string()]);
        self.send_json(self.request(Method::PUT, url, token).json(pos))
            .await
    }

    /// The reference documents no body for the classic delete; it is ignored.
    pub async fn delete_pos(&self, token: &SecretString, pos_id: u64) -> Result<(), MpError> {
        let url = self.api_url(&["pos", &pos_id.to_string()]);
        self.send_empty(self.request(Method::DELETE, url, token))
            .await
            .map(drop)
    }

    pub async fn search_pos(
        &self,
        token: &SecretString,
        query: &PosSearch,
    ) -> Result<Page<Pos>, MpError> {
        let req = self.request(Method::GET, self.api_url(&["pos"]), token);
        self.send_json(req.query(query)).await
    }

    /// `POST /v2/pos`; the key is mandatory upstream (1–64 chars, §5.3).
    pub async fn create_pos_v2(
        &self,
        token: &SecretString,
        pos: &PosV2Request,
        idempotency_key: &str,
    ) -> Result<Pos, MpError> {
        check_idempotency_key(idempotency_key)?;
        let req = self
            .request(Method::POST, self.api_url(&["v2", "pos"]), token)
            .header(IDEMPOTENCY_KEY, idempotency_key)
            .json(pos);
        self.send_json(req).await
    }

    /// `GET /v2/pos/{id}` (field detail UNCONFIRMED, §5.3).
    pub async fn get_pos_v2(&self, token: &SecretString, pos_id: u64) -> Result<Pos, MpError> {
        let url = self.api_url(&["v2", "pos", &pos_id.to_string()]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// `DELETE /v2/pos/{id}`: 204, or 200 on a replay of the same key (§5.3).
    pub async fn delete_pos_v2(
        &self,
        token: &SecretString,
        pos_id: u64,
        idempotency_key: &str,
    ) -> Result<(), MpError> {
        check_idempotency_key(idempotency_key)?;
        let url = self.api_url(&["v2", "pos", &pos_id.to_string()]);
        let req = self
            .request(Method::DELETE, url, token)
            .header(IDEMPOTENCY_KEY, idempotency_key);
        self.send_empty(req).await.map(drop)
    }
}
