//! Legacy Point Integration API: payment intents, their events, and refund
//! intents (§2.3–§2.7). Amounts are integer cents here.

use super::{IDEMPOTENCY_KEY, IdOnly, MpClient, MpError, MpId, check_idempotency_key};
use crate::secret::SecretString;
use chrono::NaiveDate;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `payment` of a create (§2.3). `kind` is `credit_card`, `debit_card` or `voucher_card`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntentPayment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MpId>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installments: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installments_cost: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher_type: Option<String>,
    /// Only in notifications (§4.4): `approved`, `""`...
    #[serde(default, skip_serializing)]
    pub state: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntentAdditionalInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_on_terminal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PaymentIntentRequest {
    /// Integer cents (`1500` = 15.00); limits depend on the site (§2.3).
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<IntentPayment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<IntentAdditionalInfo>,
}

/// Legacy intent states, upper case on the wire (§2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntentState {
    Open,
    OnTerminal,
    Processing,
    Processed,
    Finished,
    ConfirmationRequired,
    Canceled,
    Error,
    Abandoned,
    #[serde(other)]
    Unknown,
}

impl IntentState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            IntentState::Finished
                | IntentState::ConfirmationRequired
                | IntentState::Canceled
                | IntentState::Error
                | IntentState::Abandoned
        )
    }
}

/// A payment intent. The create answer has no `state` (§2.3).
#[derive(Clone, Debug, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub state: Option<IntentState>,
    #[serde(default)]
    pub payment: Option<IntentPayment>,
    #[serde(default)]
    pub additional_info: Option<IntentAdditionalInfo>,
}

/// An entry of the events endpoints (§2.6; flat shape preferred).
#[derive(Clone, Debug, Deserialize)]
pub struct IntentEvent {
    #[serde(default)]
    pub payment_intent_id: Option<String>,
    pub status: IntentState,
    #[serde(default)]
    pub created_on: Option<String>,
}

#[derive(Deserialize)]
struct EventsBody {
    #[serde(default)]
    events: Vec<IntentEvent>,
}

/// A refund intent (§2.7).
#[derive(Clone, Debug, Deserialize)]
pub struct RefundIntent {
    pub id: String,
    #[serde(default)]
    pub payment_id: Option<MpId>,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub state: Option<IntentState>,
    #[serde(default)]
    pub additional_info: Option<serde_json::Value>,
}

const BASE: [&str; 2] = ["point", "integration-api"];

impl MpClient {
    fn legacy_url(&self, rest: &[&str]) -> reqwest::Url {
        let segments: Vec<&str> = BASE.iter().copied().chain(rest.iter().copied()).collect();
        self.api_url(&segments)
    }

    /// `POST …/devices/{id}/payment-intents`. The key is not documented as
    /// honoured here (§2.3), so the one-open-intent-per-device 409 is the real
    /// guard; the key is sent anyway, as the SDKs do.
    pub async fn create_payment_intent(
        &self,
        token: &SecretString,
        device_id: &str,
        intent: &PaymentIntentRequest,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, MpError> {
        check_idempotency_key(idempotency_key)?;
        let url = self.legacy_url(&["devices", device_id, "payment-intents"]);
        let req = self
            .request(Method::POST, url, token)
            .header(IDEMPOTENCY_KEY, idempotency_key)
            .json(intent);
        self.send_json(req).await
    }

    /// Limited to 1 request/s upstream: for contingencies, not polling (§2.4).
    pub async fn get_payment_intent(
        &self,
        token: &SecretString,
        intent_id: &str,
    ) -> Result<PaymentIntent, MpError> {
        let url = self.legacy_url(&["payment-intents", intent_id]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// Only while `OPEN`; `409` once the terminal has it (§2.5).
    pub async fn cancel_payment_intent(
        &self,
        token: &SecretString,
        device_id: &str,
        intent_id: &str,
    ) -> Result<IdOnly, MpError> {
        let url = self.legacy_url(&["devices", device_id, "payment-intents", intent_id]);
        self.send_json(self.request(Method::DELETE, url, token))
            .await
    }

    /// Events between two dates, at most 30 days apart (§2.6).
    pub async fn payment_intent_events(
        &self,
        token: &SecretString,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<IntentEvent>, MpError> {
        let url = self.legacy_url(&["payment-intents", "events"]);
        let q = [
            ("startDate", start.format("%Y-%m-%d").to_string()),
            ("endDate", end.format("%Y-%m-%d").to_string()),
        ];
        let body: EventsBody = self
            .send_json(self.request(Method::GET, url, token).query(&q))
            .await?;
        Ok(body.events)
    }

    /// The last state of one intent (§2.6).
    pub async fn payment_intent_last_event(
        &self,
        token: &SecretString,
        intent_id: &str,
    ) -> Result<IntentEvent, MpError> {
        let url = self.legacy_url(&["payment-intents", intent_id, "events"]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// `POST …/devices/{id}/refund`; same device and user as the payment (§2.7).
    pub async fn create_refund_intent(
        &self,
        token: &SecretString,
        device_id: &str,
        payment_id: &str,
        print_on_terminal: &[&str],
        idempotency_key: &str,
    ) -> Result<RefundIntent, MpError> {
        check_idempotency_key(idempotency_key)?;
        let url = self.legacy_url(&["devices", device_id, "refund"]);
        let body = json!({
            "payment_id": payment_id,
            "additional_info": { "print_on_terminal": print_on_terminal },
        });
        let req = self
            .request(Method::POST, url, token)
            .header(IDEMPOTENCY_KEY, idempotency_key)
            .json(&body);
        self.send_json(req).await
    }

    pub async fn get_refund_intent(
        &self,
        token: &SecretString,
        refund_id: &str,
    ) -> Result<RefundIntent, MpError> {
        let url = self.legacy_url(&["refund", refund_id]);
        self.send_json(self.request(Method::GET, url, token)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_shapes() {
        let created: PaymentIntent = serde_json::from_str(
            r#"{"id":"7f25f9aa-eea6-4f9c-bf16-a341f71ba2f1","device_id":"PAX_A910__SMARTPOS1234345545","amount":1500,
               "payment":{"installments":1,"type":"credit_card","installments_cost":"seller"},
               "additional_info":{"external_reference":"x","print_on_terminal":true}}"#,
        )
        .unwrap();
        assert!(created.state.is_none());
        let got: PaymentIntent = serde_json::from_str(
            r#"{"id":"7f","state":"ON_TERMINAL","amount":1500,"payment":{"id":16499678033}}"#,
        )
        .unwrap();
        assert_eq!(got.state, Some(IntentState::OnTerminal));
        assert_eq!(got.payment.unwrap().id.unwrap().as_u64(), Some(16499678033));
        let req = PaymentIntentRequest {
            amount: 1500,
            description: None,
            payment: Some(IntentPayment {
                kind: Some("credit_card".into()),
                installments: Some(1),
                ..Default::default()
            }),
            additional_info: None,
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"amount":1500,"payment":{"type":"credit_card","installments":1}})
        );
    }
}
