//! Orders API for Point (§3): create, get, cancel, refund, and the sandbox
//! simulation hook (§3.5).

use super::{Amount, IDEMPOTENCY_KEY, MpClient, MpError, MpId, check_idempotency_key};
use crate::secret::SecretString;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `config.point.print_on_terminal` (§3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintOnTerminal {
    SellerTicket,
    NoTicket,
}

/// What Puente asks for; serialized into the wire shape of §3.1.
#[derive(Clone, Debug)]
pub struct PointOrderRequest {
    /// ≤64 chars of `[A-Za-z0-9_-]`, unique per order, no PII.
    pub external_reference: String,
    /// `<TYPE>__<serial>` exactly as `/terminals/v1/list` returns it.
    pub terminal_id: String,
    pub amount: Amount,
    pub description: Option<String>,
    /// ISO-8601 duration `PT30S`..`PT3H`; upstream default 15 min.
    pub expiration_time: Option<String>,
    pub print_on_terminal: Option<PrintOnTerminal>,
    /// `credit_card` or `debit_card`; `None` lets the buyer choose.
    pub default_payment_type: Option<String>,
    /// Set by Puente, never by a POS (PRODUCT.md): the integrator's own user id,
    /// sent as `integration_data.sponsor.id`.
    pub sponsor_id: Option<String>,
    pub platform_id: Option<String>,
    pub integrator_id: Option<String>,
}

impl PointOrderRequest {
    fn to_wire(&self) -> serde_json::Value {
        let mut point = json!({ "terminal_id": self.terminal_id });
        if let Some(p) = self.print_on_terminal {
            point["print_on_terminal"] = json!(p);
        }
        let mut config = json!({ "point": point });
        if let Some(t) = &self.default_payment_type {
            config["payment_method"] = json!({ "default_type": t });
        }
        let mut body = json!({
            "type": "point",
            "external_reference": self.external_reference,
            "transactions": { "payments": [ { "amount": self.amount } ] },
            "config": config,
        });
        if let Some(d) = &self.description {
            body["description"] = json!(d);
        }
        if let Some(e) = &self.expiration_time {
            body["expiration_time"] = json!(e);
        }
        let mut integration = serde_json::Map::new();
        if let Some(p) = &self.platform_id {
            integration.insert("platform_id".into(), json!(p));
        }
        if let Some(i) = &self.integrator_id {
            integration.insert("integrator_id".into(), json!(i));
        }
        if let Some(s) = &self.sponsor_id {
            integration.insert("sponsor".into(), json!({ "id": s }));
        }
        if !integration.is_empty() {
            body["integration_data"] = integration.into();
        }
        body
    }
}

/// Order status (§3.6). Unknown values do not fail decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Created,
    AtTerminal,
    Processed,
    Failed,
    Canceled,
    Expired,
    Refunded,
    ActionRequired,
    #[serde(other)]
    Unknown,
}

impl OrderStatus {
    /// "will not change" (§3.6). `Processed` can still become `Refunded`, but
    /// the charge itself is settled.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            OrderStatus::Created | OrderStatus::AtTerminal | OrderStatus::Unknown
        )
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Sponsor {
    #[serde(default)]
    pub id: Option<MpId>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct IntegrationData {
    #[serde(default)]
    pub application_id: Option<MpId>,
    #[serde(default)]
    pub platform_id: Option<String>,
    #[serde(default)]
    pub integrator_id: Option<String>,
    #[serde(default)]
    pub sponsor: Option<Sponsor>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PaymentMethodInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub installments: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OrderPayment {
    pub id: String,
    #[serde(default)]
    pub amount: Option<Amount>,
    #[serde(default)]
    pub paid_amount: Option<Amount>,
    #[serde(default)]
    pub refunded_amount: Option<Amount>,
    #[serde(default)]
    pub tip_amount: Option<Amount>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_detail: Option<String>,
    #[serde(default)]
    pub reference_id: Option<MpId>,
    #[serde(default)]
    pub payment_method: Option<PaymentMethodInfo>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OrderRefund {
    pub id: String,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub reference_id: Option<MpId>,
    #[serde(default)]
    pub amount: Option<Amount>,
    /// `processing` or `processed` (§3.4: sources differ).
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct OrderTransactions {
    #[serde(default)]
    pub payments: Vec<OrderPayment>,
    #[serde(default)]
    pub refunds: Vec<OrderRefund>,
}

/// An order as `POST /v1/orders` and `GET /v1/orders/{id}` return it.
#[derive(Clone, Debug, Deserialize)]
pub struct Order {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub status: OrderStatus,
    #[serde(default)]
    pub status_detail: Option<String>,
    /// A string here, a number elsewhere (§3.1).
    #[serde(default)]
    pub user_id: Option<MpId>,
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub expiration_time: Option<String>,
    #[serde(default)]
    pub processing_mode: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub integration_data: Option<IntegrationData>,
    #[serde(default)]
    pub created_date: Option<String>,
    #[serde(default)]
    pub last_updated_date: Option<String>,
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    #[serde(default)]
    pub transactions: OrderTransactions,
}

impl Order {
    pub fn terminal_id(&self) -> Option<&str> {
        self.config
            .as_ref()?
            .get("point")?
            .get("terminal_id")?
            .as_str()
    }

    pub fn sponsor_id(&self) -> Option<&MpId> {
        self.integration_data
            .as_ref()?
            .sponsor
            .as_ref()?
            .id
            .as_ref()
    }
}

/// A cancel is synchronous (200) for `created` orders, asynchronous (202)
/// for `at_terminal` ones: the result then arrives by webhook (§3.3).
#[derive(Clone, Debug)]
pub struct CancelOutcome {
    pub order: Order,
    pub asynchronous: bool,
}

/// Total (no body) or partial (`{"transactions":[{id,amount}]}`) refund (§3.4).
#[derive(Clone, Debug)]
pub enum RefundRequest {
    Total,
    Partial(Vec<(String, Amount)>),
}

/// `POST /v1/orders/{id}/events` body (§3.5; test credentials only).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SimulatedOrderEvent {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installments: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
}

impl MpClient {
    /// `POST /v1/orders`. `idempotency_key` is derived by the caller from its
    /// own intent id: the same key and body return the original order; the
    /// same key with another body is `409 idempotency_key_already_used`.
    pub async fn create_order(
        &self,
        token: &SecretString,
        order: &PointOrderRequest,
        idempotency_key: &str,
    ) -> Result<Order, MpError> {
        check_idempotency_key(idempotency_key)?;
        let req = self
            .request(Method::POST, self.api_url(&["v1", "orders"]), token)
            .header(IDEMPOTENCY_KEY, idempotency_key)
            .json(&order.to_wire());
        self.send_json(req).await
    }

    pub async fn get_order(&self, token: &SecretString, order_id: &str) -> Result<Order, MpError> {
        let url = self.api_url(&["v1", "orders", order_id]);
        self.send_json(self.request(Method::GET, url, token)).await
    }

    /// `POST /v1/orders/{id}/cancel`. With `allow_at_terminal`, sends
    /// `x-allow-cancelable-status: at_terminal` so an order already on the
    /// terminal can be cancelled asynchronously (§3.3).
    pub async fn cancel_order(
        &self,
        token: &SecretString,
        order_id: &str,
        idempotency_key: &str,
        allow_at_terminal: bool,
    ) -> Result<CancelOutcome, MpError> {
        check_idempotency_key(idempotency_key)?;
        let url = self.api_url(&["v1", "orders", order_id, "cancel"]);
        let mut req = self
            .request(Method::POST, url, token)
            .header(IDEMPOTENCY_KEY, idempotency_key);
        if allow_at_terminal {
            req = req.header("x-allow-cancelable-status", "at_terminal");
        }
        let resp = self.send(req).await?;
        let asynchronous = resp.status() == StatusCode::ACCEPTED;
        let order = super::decode(resp).await?;
        Ok(CancelOutcome {
            order,
            asynchronous,
        })
    }

    /// `POST /v1/orders/{id}/refund`. Treat the refund as asynchronous and
    /// wait for `order.refunded` (§3.4).
    pub async fn refund_order(
        &self,
        token: &SecretString,
        order_id: &str,
        refund: &RefundRequest,
        idempotency_key: &str,
    ) -> Result<Order, MpError> {
        check_idempotency_key(idempotency_key)?;
        let url = self.api_url(&["v1", "orders", order_id, "refund"]);
        let mut req = self
            .request(Method::POST, url, token)
            .header(IDEMPOTENCY_KEY, idempotency_key);
        if let RefundRequest::Partial(parts) = refund {
            let txs: Vec<_> = parts
                .iter()
                .map(|(id, amount)| json!({ "id": id, "amount": amount }))
                .collect();
            req = req.json(&json!({ "transactions": txs }));
        }
        self.send_json(req).await
    }

    /// Sandbox simulation of a terminal outcome (204, §3.5).
    pub async fn simulate_order_event(
        &self,
        token: &SecretString,
        order_id: &str,
        event: &SimulatedOrderEvent,
    ) -> Result<(), MpError> {
        let url = self.api_url(&["v1", "orders", order_id, "events"]);
        self.send_empty(self.request(Method::POST, url, token).json(event))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_of_create() {
        let r = PointOrderRequest {
            external_reference: "ext_ref_1234".into(),
            terminal_id: "NEWLAND_N950__SBX0000001".into(),
            amount: Amount::from_cents(2400).unwrap(),
            description: Some("Point Smart 2".into()),
            expiration_time: None,
            print_on_terminal: Some(PrintOnTerminal::NoTicket),
            default_payment_type: Some("credit_card".into()),
            sponsor_id: Some("446566691".into()),
            platform_id: None,
            integrator_id: None,
        };
        assert_eq!(
            r.to_wire(),
            json!({"type":"point","external_reference":"ext_ref_1234",
                "transactions":{"payments":[{"amount":"24.00"}]},
                "config":{"point":{"terminal_id":"NEWLAND_N950__SBX0000001","print_on_terminal":"no_ticket"},
                          "payment_method":{"default_type":"credit_card"}},
                "description":"Point Smart 2",
                "integration_data":{"sponsor":{"id":"446566691"}}})
        );
    }

    #[test]
    fn parses_documented_order() {
        let o: Order = serde_json::from_str(
            r#"{"id":"ORD...","status":"refunded","status_detail":"refunded","currency":"MXN","user_id":5238400195,
               "integration_data":{"application_id":"1234567890","sponsor":{"id":"446566691"}},
               "config":{"point":{"terminal_id":"T1"}},
               "transactions":{"payments":[{"id":"PAY...","amount":"24.00","refunded_amount":"24.00","paid_amount":"24.00",
                 "status":"refunded","status_detail":"refunded","reference_id":"12345678",
                 "payment_method":{"type":"credit_card","installments":6,"id":"master"}}],
                "refunds":[{"id":"REF...","transaction_id":"PAY...","reference_id":"12345678","amount":"24.00","status":"processed"}]}}"#,
        )
        .unwrap();
        assert_eq!(o.status, OrderStatus::Refunded);
        assert!(o.status.is_final());
        assert_eq!(o.transactions.payments[0].amount.unwrap().cents(), 2400);
        assert_eq!(o.transactions.refunds.len(), 1);
        assert_eq!(o.sponsor_id().unwrap(), "446566691");
        assert_eq!(o.terminal_id(), Some("T1"));
        let odd: Order = serde_json::from_str(r#"{"id":"ORD1","status":"teleported"}"#).unwrap();
        assert_eq!(odd.status, OrderStatus::Unknown);
    }
}
