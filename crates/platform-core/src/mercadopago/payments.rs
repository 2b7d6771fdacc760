//! The Payments API's refunds (§2.7: "the other refund path"): how a payment
//! made through the legacy Integration API is refunded from the back office.
//! Amounts are decimals in the currency here.

use super::{Amount, IDEMPOTENCY_KEY, MpClient, MpError, MpId, check_idempotency_key};
use crate::secret::SecretString;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

/// A payment as `GET /v1/payments/{id}` shows it (only what Puente reads).
#[derive(Clone, Debug, Deserialize)]
pub struct Payment {
    pub id: MpId,
    /// `approved`, `refunded`, `in_process`, `rejected`, …
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_detail: Option<String>,
    /// The order's reference (a QR order's `external_reference`).
    #[serde(default)]
    pub external_reference: Option<String>,
}

impl Payment {
    /// The buyer paid (`approved`).
    pub fn is_approved(&self) -> bool {
        self.status == "approved"
    }
}

/// One refund of a payment (`POST /v1/payments/{id}/refunds`).
#[derive(Clone, Debug, Deserialize)]
pub struct PaymentRefund {
    pub id: MpId,
    #[serde(default)]
    pub status: Option<String>,
}

impl MpClient {
    pub async fn get_payment(
        &self,
        token: &SecretString,
        payment_id: &str,
    ) -> Result<Payment, MpError> {
        let url = self.api_url(&["v1", "payments", payment_id]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// The payment as Mercado Pago shows it, whole (the compatible surface
    /// answers it as is).
    pub async fn payment_json(
        &self,
        token: &SecretString,
        payment_id: &str,
    ) -> Result<serde_json::Value, MpError> {
        let url = self.api_url(&["v1", "payments", payment_id]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// `GET /v1/payments/{id}/refunds` (all of them), or one refund, whole.
    pub async fn payment_refunds_json(
        &self,
        token: &SecretString,
        payment_id: &str,
        refund_id: Option<&str>,
    ) -> Result<serde_json::Value, MpError> {
        let mut segments = vec!["v1", "payments", payment_id, "refunds"];
        segments.extend(refund_id);
        let url = self.api_url(&segments);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// `GET /v1/payments/search` with these query parameters, whole
    /// (`{paging, results}`): the token's seller's payments.
    pub async fn search_payments_json(
        &self,
        token: &SecretString,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, MpError> {
        let mut url = self.api_url(&["v1", "payments", "search"]);
        url.query_pairs_mut().extend_pairs(query);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// [`MpClient::refund_payment`], answering Mercado Pago's refund whole
    /// (the compatible surface answers it as is).
    pub async fn refund_payment_json(
        &self,
        token: &SecretString,
        payment_id: &str,
        amount: Option<Amount>,
        idempotency_key: &str,
    ) -> Result<serde_json::Value, MpError> {
        check_idempotency_key(idempotency_key)?;
        let url = self.api_url(&["v1", "payments", payment_id, "refunds"]);
        let mut req = self
            .request(Method::POST, url, token)
            .header(IDEMPOTENCY_KEY, idempotency_key);
        if let Some(amount) = amount {
            req = req.json(&json!({ "amount": amount.cents() as f64 / 100.0 }));
        }
        self.send_json(req).await
    }

    /// Refunds `amount` of a payment (`None`: everything left). The key makes
    /// a retried refund answer the first one instead of paying out twice.
    pub async fn refund_payment(
        &self,
        token: &SecretString,
        payment_id: &str,
        amount: Option<Amount>,
        idempotency_key: &str,
    ) -> Result<PaymentRefund, MpError> {
        check_idempotency_key(idempotency_key)?;
        let url = self.api_url(&["v1", "payments", payment_id, "refunds"]);
        let mut req = self
            .request(Method::POST, url, token)
            .header(IDEMPOTENCY_KEY, idempotency_key);
        if let Some(amount) = amount {
            // The Payments API takes a JSON number; two decimals are exact
            // enough as f64 for any amount a terminal charges.
            req = req.json(&json!({ "amount": amount.cents() as f64 / 100.0 }));
        }
        self.send_json(req).await
    }
}
