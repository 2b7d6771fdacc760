//! Stores: `/users/{user_id}/stores…` and `GET /stores/{id}` (§5.1).

use super::{MpClient, MpError, MpId, Page};
use crate::secret::SecretString;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `{"open":"08:00","close":"12:00"}`, 24 h format, up to 4 per day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub open: String,
    pub close: String,
}

/// Day name (`monday`..`sunday`) to its opening ranges.
pub type BusinessHours = BTreeMap<String, Vec<TimeRange>>;

/// On create, the address parts; on read, `address_line` and coordinates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreLocation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line: Option<String>,
}

/// Body of create and update (same shape, §5.1).
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<StoreLocation>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Store {
    pub id: MpId,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    /// `date_created` on create, `date_creation` in search results (§5.1).
    #[serde(default, alias = "date_creation")]
    pub date_created: Option<String>,
    #[serde(default)]
    pub business_hours: Option<BusinessHours>,
    #[serde(default)]
    pub location: Option<StoreLocation>,
}

/// `DELETE` answer: `{"store":1234567,"user":129653108}`.
#[derive(Clone, Debug, Deserialize)]
pub struct StoreDeleted {
    pub store: MpId,
    #[serde(default)]
    pub user: Option<MpId>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreSearch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

impl MpClient {
    pub async fn create_store(
        &self,
        token: &SecretString,
        user_id: u64,
        store: &StoreRequest,
    ) -> Result<Store, MpError> {
        let url = self.api_url(&["users", &user_id.to_string(), "stores"]);
        self.send_json(self.request(Method::POST, url, token).json(store))
            .await
    }

    pub async fn get_store(&self, token: &SecretString, store_id: u64) -> Result<Store, MpError> {
        let url = self.api_url(&["stores", &store_id.to_string()]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    pub async fn update_store(
        &self,
        token: &SecretString,
        user_id: u64,
        store_id: u64,
        store: &StoreRequest,
    ) -> Result<Store, MpError> {
        let url = self.api_url(&[
            "users",
            &user_id.to_string(),
            "stores",
            &store_id.to_string(),
        ]);
        self.send_json(self.request(Method::PUT, url, token).json(store))
            .await
    }

    pub async fn delete_store(
        &self,
        token: &SecretString,
        user_id: u64,
        store_id: u64,
    ) -> Result<StoreDeleted, MpError> {
        let url = self.api_url(&[
            "users",
            &user_id.to_string(),
            "stores",
            &store_id.to_string(),
        ]);
        self.send_json(self.request(Method::DELETE, url, token))
            .await
    }

    pub async fn search_stores(
        &self,
        token: &SecretString,
        user_id: u64,
        query: &StoreSearch,
    ) -> Result<Page<Store>, MpError> {
        let url = self.api_url(&["users", &user_id.to_string(), "stores", "search"]);
        self.send_json(self.request(Method::GET, url, token).query(query))
            .await
    }
}
