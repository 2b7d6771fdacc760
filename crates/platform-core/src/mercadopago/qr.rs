//! In-store QR orders, v2 (§6): `PUT …/stores/{store}/pos/{pos}/orders`,
//! `GET`/`DELETE …/pos/{pos}/orders`. Amounts are JSON numbers here; they
//! are written from cents without going through floats.

use super::money::json_number;
use super::{Amount, MpClient, MpError};
use crate::secret::SecretString;
use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};

fn as_number<S: Serializer>(a: &Amount, s: S) -> Result<S::Ok, S::Error> {
    json_number(*a).serialize(s)
}

/// `sponsor{id:<number>}`: the integrator's user id (§6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrSponsor {
    pub id: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct QrItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(serialize_with = "as_number")]
    pub unit_price: Amount,
    pub quantity: u32,
    pub unit_measure: String,
    #[serde(serialize_with = "as_number")]
    pub total_amount: Amount,
}

#[derive(Clone, Debug, Serialize)]
pub struct QrOrderRequest {
    /// ≤64 chars of `[A-Za-z0-9_-]`.
    pub external_reference: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// e.g. `2023-08-22T16:34:56.559-04:00`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<String>,
    #[serde(serialize_with = "as_number")]
    pub total_amount: Amount,
    pub items: Vec<QrItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<QrSponsor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_out: Option<QrCashOut>,
}

/// `cash_out{amount}` (§6).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct QrCashOut {
    #[serde(serialize_with = "as_number")]
    pub amount: Amount,
}

/// The current order of a POS as `GET` returns it; the shape is not
/// documented, so everything is optional.
#[derive(Clone, Debug, Deserialize)]
pub struct QrOrder {
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub total_amount: Option<serde_json::Number>,
    #[serde(default)]
    pub sponsor: Option<QrSponsor>,
    #[serde(default)]
    pub items: Vec<serde_json::Value>,
}

impl QrOrder {
    /// `total_amount` in cents, read from its decimal text (no float arithmetic).
    pub fn total_amount_cents(&self) -> Option<i64> {
        let n = self.total_amount.as_ref()?;
        let text = n.to_string();
        let text = text.strip_suffix(".0").unwrap_or(&text);
        Amount::parse_decimal(text).ok().map(Amount::cents)
    }
}

impl MpClient {
    /// Puts (creates or replaces) the order shown by a POS's QR; 204.
    pub async fn put_qr_order(
        &self,
        token: &SecretString,
        user_id: u64,
        external_store_id: &str,
        external_pos_id: &str,
        order: &QrOrderRequest,
    ) -> Result<(), MpError> {
        let uid = user_id.to_string();
        let url = self.api_url(&[
            "instore",
            "qr",
            "seller",
            "collectors",
            &uid,
            "stores",
            external_store_id,
            "pos",
            external_pos_id,
            "orders",
        ]);
        // `.json` goes through serde_json::to_vec, which keeps raw numbers exact.
        let req = self.request(Method::PUT, url, token).json(order);
        self.send_empty(req).await.map(drop)
    }

    pub async fn get_qr_order(
        &self,
        token: &SecretString,
        user_id: u64,
        external_pos_id: &str,
    ) -> Result<QrOrder, MpError> {
        let url = self.qr_pos_url(user_id, external_pos_id);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// 204; `404 point_of_sale_in_store_order_not_found` when there is none.
    pub async fn delete_qr_order(
        &self,
        token: &SecretString,
        user_id: u64,
        external_pos_id: &str,
    ) -> Result<(), MpError> {
        let url = self.qr_pos_url(user_id, external_pos_id);
        self.send_empty(self.request(Method::DELETE, url, token))
            .await
            .map(drop)
    }

    fn qr_pos_url(&self, user_id: u64, external_pos_id: &str) -> reqwest::Url {
        let uid = user_id.to_string();
        self.api_url(&[
            "instore",
            "qr",
            "seller",
            "collectors",
            &uid,
            "pos",
            external_pos_id,
            "orders",
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_json_numbers() {
        let cents = |c| Amount::from_cents(c).unwrap();
        let order = QrOrderRequest {
            external_reference: "ref_1".into(),
            title: "t".into(),
            description: "d".into(),
            notification_url: None,
            expiration_date: None,
            total_amount: cents(2405),
            items: vec![QrItem {
                sku_number: None,
                category: None,
                title: "x".into(),
                description: None,
                unit_price: cents(2405),
                quantity: 1,
                unit_measure: "unit".into(),
                total_amount: cents(2405),
            }],
            sponsor: Some(QrSponsor { id: 446566691 }),
            cash_out: Some(QrCashOut {
                amount: cents(1000),
            }),
        };
        let text = String::from_utf8(serde_json::to_vec(&order).unwrap()).unwrap();
        assert!(text.contains(r#""total_amount":24.05"#), "{text}");
        assert!(text.contains(r#""unit_price":24.05"#));
        assert!(text.contains(r#""sponsor":{"id":446566691}"#));
        assert!(text.contains(r#""cash_out":{"amount":10.00}"#));
        let back: QrOrder = serde_json::from_str(&text).unwrap();
        assert_eq!(back.total_amount_cents(), Some(2405));
        let whole: QrOrder = serde_json::from_str(r#"{"total_amount":100.0}"#).unwrap();
        assert_eq!(whole.total_amount_cents(), Some(10000));
    }
}
