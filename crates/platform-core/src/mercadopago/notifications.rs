//! Inbound notification bodies (§4): the Orders topic, the legacy
//! `point_integration_wh` topic (whose body is the intent itself), and
//! `mp-connect`. Everything is optional and ids are typed either way: a body
//! is only a hint, the resource is re-fetched before any state changes.

use super::{IntentAdditionalInfo, IntentPayment, IntentState, MpId, OrderStatus};
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DataRef {
    #[serde(default)]
    pub id: Option<MpId>,
}

/// `type=order` (§4.3).
#[derive(Clone, Debug, Deserialize)]
pub struct OrderNotification {
    /// Present in one raw example only.
    #[serde(default)]
    pub id: Option<MpId>,
    /// `order.processed`, `order.canceled`, `order.refunded`,
    /// `order.action_required`, `order.failed`, `order.expired`.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub application_id: Option<MpId>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub live_mode: Option<bool>,
    #[serde(default, rename = "type")]
    pub topic: Option<String>,
    /// The seller (tenant): a string in most examples, a number in one.
    #[serde(default)]
    pub user_id: Option<MpId>,
    #[serde(default)]
    pub data: OrderNotificationData,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct OrderNotificationData {
    #[serde(default)]
    pub id: Option<MpId>,
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub status: Option<OrderStatus>,
    #[serde(default)]
    pub status_detail: Option<String>,
    /// Kept as text (`"120"`): informative only.
    #[serde(default)]
    pub total_paid_amount: Option<Value>,
    /// Absent on `order.action_required` and `order.refunded`.
    #[serde(default)]
    pub transactions: Option<Value>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Grows with every change: apply updates in version order.
    #[serde(default)]
    pub version: Option<u64>,
}

/// `point_integration_wh` (§4.4): the intent itself. An `{action,data}`
/// wrapper is UNCONFIRMED but tolerated.
#[derive(Clone, Debug, Deserialize)]
pub struct LegacyIntentNotification {
    #[serde(default)]
    pub id: Option<MpId>,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub caller_id: Option<MpId>,
    #[serde(default)]
    pub client_id: Option<MpId>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub state: Option<IntentState>,
    #[serde(default)]
    pub payment: Option<IntentPayment>,
    #[serde(default)]
    pub additional_info: Option<IntentAdditionalInfo>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub data: Option<DataRef>,
}

impl LegacyIntentNotification {
    /// The intent to re-fetch: the body's `id`, or `data.id` if wrapped.
    pub fn intent_id(&self) -> Option<&MpId> {
        self.id.as_ref().or_else(|| self.data.as_ref()?.id.as_ref())
    }
}

/// `mp-connect` (§4.5): `application.authorized` / `application.deauthorized`.
#[derive(Clone, Debug, Deserialize)]
pub struct MpConnectNotification {
    #[serde(default)]
    pub id: Option<MpId>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub application_id: Option<MpId>,
    #[serde(default)]
    pub user_id: Option<MpId>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub live_mode: Option<bool>,
    #[serde(default)]
    pub data: Option<DataRef>,
}

impl MpConnectNotification {
    pub fn is_deauthorization(&self) -> bool {
        self.action.as_deref() == Some("application.deauthorized")
    }

    /// The seller's user id, taken from `signed_data_id` (the `data.id` the
    /// `x-signature` covered), never from the unsigned body. The body's
    /// `user_id` and `data.id`, when present, must agree with it: a body
    /// that names another seller than the signature is refused.
    pub fn signed_user_id(&self, signed_data_id: Option<&str>) -> Result<u64, UserIdMismatch> {
        let signed = signed_data_id
            .and_then(|d| d.trim().parse::<u64>().ok())
            .ok_or(UserIdMismatch::Unsigned)?;
        let body_ids = [
            self.user_id.as_ref(),
            self.data.as_ref().and_then(|d| d.id.as_ref()),
        ];
        for id in body_ids.into_iter().flatten() {
            if id.as_u64() != Some(signed) {
                return Err(UserIdMismatch::Disagrees);
            }
        }
        Ok(signed)
    }
}

/// Why an `mp-connect` notification names no trustworthy seller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserIdMismatch {
    /// No numeric `data.id` was signed.
    Unsigned,
    /// The body's `user_id` or `data.id` is not the signed `data.id`.
    Disagrees,
}

impl UserIdMismatch {
    pub fn message(self) -> &'static str {
        match self {
            UserIdMismatch::Unsigned => {
                "an mp-connect notification must carry the seller's user id as the signed data.id"
            }
            UserIdMismatch::Disagrees => "the body's user_id is not the signed data.id",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Notification {
    Order(OrderNotification),
    PointIntegration(LegacyIntentNotification),
    MpConnect(MpConnectNotification),
    /// Another topic (payment, merchant orders...): kept raw.
    Other {
        topic: Option<String>,
        body: Value,
    },
}

/// Picks the body type from the body's `type`, else the query's `type`
/// (the legacy body has none), else the presence of a legacy `state`.
pub fn parse_notification(
    query_type: Option<&str>,
    body: &[u8],
) -> Result<Notification, serde_json::Error> {
    let value: Value = serde_json::from_slice(body)?;
    let topic = value
        .get("type")
        .and_then(Value::as_str)
        .or(query_type)
        .map(str::to_string);
    let looks_legacy = value.get("state").is_some();
    Ok(match topic.as_deref() {
        Some("order" | "orders") => Notification::Order(serde_json::from_value(value)?),
        Some("point_integration_wh" | "point_integration_ipn") => {
            Notification::PointIntegration(serde_json::from_value(value)?)
        }
        Some("mp-connect") => Notification::MpConnect(serde_json::from_value(value)?),
        None if looks_legacy => Notification::PointIntegration(serde_json::from_value(value)?),
        _ => Notification::Other { topic, body: value },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_topic_string_and_numeric_user_id() {
        let body = br#"{"action":"order.processed","api_version":"v1","application_id":"123456",
          "data":{"external_reference":"ext_ref_1235","id":"ORD01JYH1Z1YJN4HZ8J3Q0RB3YP6D","status":"processed",
            "status_detail":"accredited","total_paid_amount":"120","transactions":{"payments":[]},"type":"point","version":3},
          "date_created":"2025-08-07T18:54:40.851374414Z","live_mode":true,"type":"order","user_id":"123456"}"#;
        let Notification::Order(n) = parse_notification(Some("order"), body).unwrap() else {
            panic!()
        };
        assert_eq!(n.user_id.unwrap().as_u64(), Some(123456));
        assert_eq!(n.data.version, Some(3));
        assert_eq!(n.data.status, Some(OrderStatus::Processed));
        let numeric =
            br#"{"id":"123456","type":"order","user_id":123456,"action":"order.action_required",
          "data":{"id":"ORD1","status":"action_required","status_detail":"check_on_terminal"}}"#;
        let Notification::Order(n) = parse_notification(None, numeric).unwrap() else {
            panic!()
        };
        assert_eq!(n.user_id.unwrap(), "123456");
        assert!(n.data.transactions.is_none());
    }

    #[test]
    fn legacy_intent_body() {
        let body = br#"{"amount":100,"caller_id":9876543,"client_id":1234567890,"created_at":"2021-11-29 17:10:37",
          "id":"abcdef123-8ab5-4139-9aa3-abcd123","payment":{"id":123456789,"state":"approved","type":"credit_card"},
          "state":"FINISHED","additional_info":{"external_reference":"information","ticket_number":"39SHDKKDJ"}}"#;
        for q in [Some("point_integration_wh"), None] {
            let Notification::PointIntegration(n) = parse_notification(q, body).unwrap() else {
                panic!()
            };
            assert_eq!(n.state, Some(IntentState::Finished));
            assert_eq!(n.intent_id().unwrap(), "abcdef123-8ab5-4139-9aa3-abcd123");
            assert_eq!(n.payment.unwrap().state.as_deref(), Some("approved"));
        }
        let wrapped = br#"{"action":"state_FINISHED","data":{"id":"abc"}}"#;
        let Notification::PointIntegration(n) =
            parse_notification(Some("point_integration_wh"), wrapped).unwrap()
        else {
            panic!()
        };
        assert_eq!(n.intent_id().unwrap(), "abc");
    }

    #[test]
    fn mp_connect_and_others() {
        let body = br#"{"type":"mp-connect","action":"application.deauthorized","user_id":44444,"application_id":"1"}"#;
        let Notification::MpConnect(n) = parse_notification(None, body).unwrap() else {
            panic!()
        };
        assert!(n.is_deauthorization());
        assert_eq!(n.user_id.unwrap().as_u64(), Some(44444));
        let p = parse_notification(None, br#"{"type":"payment","data":{"id":"9"}}"#).unwrap();
        assert!(matches!(p, Notification::Other { topic: Some(t), .. } if t == "payment"));
        assert!(parse_notification(None, b"not json").is_err());
    }

    #[test]
    fn mp_connect_seller_comes_from_the_signed_data_id() {
        let body = br#"{"type":"mp-connect","action":"application.deauthorized","user_id":"44444","data":{"id":"44444"}}"#;
        let Notification::MpConnect(n) = parse_notification(None, body).unwrap() else {
            panic!()
        };
        assert_eq!(n.signed_user_id(Some("44444")), Ok(44444));
        assert_eq!(
            n.signed_user_id(Some("55555")),
            Err(UserIdMismatch::Disagrees)
        );
        assert_eq!(n.signed_user_id(None), Err(UserIdMismatch::Unsigned));
        assert_eq!(n.signed_user_id(Some("abc")), Err(UserIdMismatch::Unsigned));
    }
}
