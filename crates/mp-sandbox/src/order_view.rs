//! JSON views of orders and their payments (reference 3.1/3.2 shapes) and
//! the `order` notification body (reference 4.3).
//!
//! They are serialized straight from the records, with every object's keys
//! in sorted order: byte for byte what building a `serde_json::Value` (whose
//! maps sort their keys) and serializing it gave, without the tree of small
//! maps per response (the tests below compare both).

use crate::model::{Order, OrderPayment, OrderRefund};
use crate::sites::cents_to_decimal;
use chrono::{DateTime, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// An order as `GET /v1/orders/{id}` shows it.
pub struct OrderView<'a>(pub &'a Order);

/// An order's payment (`transactions.payments[0]`).
pub struct PaymentView<'a>(pub &'a OrderPayment);

pub fn order_json(o: &Order) -> Value {
    serde_json::to_value(OrderView(o)).unwrap_or(Value::Null)
}

/// The `order` notification body for `action`, serialized.
pub fn order_body(o: &Order, action: &str, now: DateTime<Utc>) -> String {
    serde_json::to_string(&OrderBody { o, action, now }).unwrap_or_default()
}

impl Serialize for PaymentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("amount", &p.amount)?;
        m.serialize_entry("id", &p.id)?;
        if let Some(paid) = p.paid_cents {
            m.serialize_entry("paid_amount", &cents_to_decimal(paid))?;
        }
        if let Some((id, t, n)) = &p.method {
            m.serialize_entry("payment_method", &Method { id, t, n: *n })?;
        }
        if let Some(r) = &p.reference_id {
            m.serialize_entry("reference", &Reference(r))?;
            m.serialize_entry("reference_id", r)?;
        }
        if p.refunded_cents > 0 {
            m.serialize_entry("refunded_amount", &cents_to_decimal(p.refunded_cents))?;
        }
        m.serialize_entry("status", &p.status)?;
        m.serialize_entry("status_detail", &p.status_detail)?;
        m.end()
    }
}

struct Method<'a> {
    id: &'a str,
    t: &'a str,
    n: u32,
}

impl Serialize for Method<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", self.id)?;
        m.serialize_entry("installments", &self.n)?;
        m.serialize_entry("type", self.t)?;
        m.end()
    }
}

struct Reference<'a>(&'a str);

impl Serialize for Reference<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("id", self.0)?;
        m.end()
    }
}

struct RefundView<'a>(&'a OrderRefund);

impl Serialize for RefundView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("amount", &cents_to_decimal(r.amount_cents))?;
        m.serialize_entry("id", &r.id)?;
        m.serialize_entry("reference_id", &r.reference_id)?;
        m.serialize_entry("status", &r.status)?;
        m.serialize_entry("transaction_id", &r.transaction_id)?;
        m.end()
    }
}

/// `{payments: [payment], refunds?: […]}`.
struct Transactions<'a> {
    payment: &'a OrderPayment,
    refunds: Option<&'a [OrderRefund]>,
}

impl Serialize for Transactions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("payments", &[PaymentView(self.payment)])?;
        if let Some(refunds) = self.refunds.filter(|r| !r.is_empty()) {
            let list: Vec<RefundView> = refunds.iter().map(RefundView).collect();
            m.serialize_entry("refunds", &list)?;
        }
        m.end()
    }
}

/// `config.point`: the terminal and whatever else the request put there, keys sorted.
struct Point<'a>(&'a Order);

impl Serialize for Point<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let mut keys: Vec<(&str, PointValue)> = vec![
            ("print_on_terminal", PointValue::Str(&o.print_on_terminal)),
            ("terminal_id", PointValue::Str(&o.terminal_id)),
        ];
        if let Some(extra) = o.point_extra.as_object() {
            for (k, v) in extra {
                match keys.binary_search_by(|(x, _)| (*x).cmp(k.as_str())) {
                    Ok(i) => keys[i].1 = PointValue::Json(v),
                    Err(i) => keys.insert(i, (k.as_str(), PointValue::Json(v))),
                }
            }
        }
        let mut m = s.serialize_map(Some(keys.len()))?;
        for (k, v) in &keys {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

enum PointValue<'a> {
    Str(&'a str),
    Json(&'a Value),
}

impl Serialize for PointValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PointValue::Str(v) => s.serialize_str(v),
            PointValue::Json(v) => v.serialize(s),
        }
    }
}

struct Config<'a>(&'a Order);

impl Serialize for Config<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(cfg) = &o.payment_method_cfg {
            m.serialize_entry("payment_method", cfg)?;
        }
        m.serialize_entry("point", &Point(o))?;
        m.end()
    }
}

fn nanos(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Serialize for OrderView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let paid = o.payment.paid_cents.unwrap_or(0);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("config", &Config(o))?;
        m.serialize_entry("country_code", &o.country_code)?;
        m.serialize_entry("created_date", &nanos(o.created))?;
        m.serialize_entry("currency", &o.currency)?;
        m.serialize_entry("description", &o.description)?;
        m.serialize_entry("expiration_time", &o.expiration_time)?;
        m.serialize_entry("external_reference", &o.external_reference)?;
        m.serialize_entry("id", &o.id)?;
        m.serialize_entry("integration_data", &o.integration_data)?;
        m.serialize_entry("last_updated_date", &nanos(o.updated))?;
        m.serialize_entry("processing_mode", "automatic")?;
        m.serialize_entry("status", o.status.as_str())?;
        m.serialize_entry("status_detail", &o.status_detail)?;
        m.serialize_entry("total_amount", &o.payment.amount)?;
        m.serialize_entry("total_paid_amount", &cents_to_decimal(paid))?;
        let tx = Transactions {
            payment: &o.payment,
            refunds: Some(&o.refunds),
        };
        m.serialize_entry("transactions", &tx)?;
        m.serialize_entry("type", "point")?;
        m.serialize_entry("user_id", &o.user_id.to_string())?;
        m.end()
    }
}

struct OrderBody<'a> {
    o: &'a Order,
    action: &'a str,
    now: DateTime<Utc>,
}

/// The body's `data`: the order as the webhook example shows it.
struct OrderData<'a>(&'a Order, &'a str);

impl Serialize for OrderData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (o, action) = (self.0, self.1);
        // `order.action_required` and `order.refunded` carry no transactions.
        let with_transactions = !matches!(action, "order.action_required" | "order.refunded");
        // The webhook example (reference 4.3) shows the payment's detail on the
        // order: `accredited` for a processed one, while `GET` keeps `processed`.
        let detail = match action {
            "order.action_required" => "check_on_terminal",
            "order.processed" => "accredited",
            _ => &o.status_detail,
        };
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("external_reference", &o.external_reference)?;
        m.serialize_entry("id", &o.id)?;
        m.serialize_entry("status", o.status.as_str())?;
        m.serialize_entry("status_detail", detail)?;
        if with_transactions {
            let paid = o.payment.paid_cents.map(cents_to_decimal);
            m.serialize_entry("total_paid_amount", paid.as_deref().unwrap_or("0.00"))?;
            let tx = Transactions {
                payment: &o.payment,
                refunds: None,
            };
            m.serialize_entry("transactions", &tx)?;
        }
        m.serialize_entry("type", "point")?;
        m.serialize_entry("version", &o.version)?;
        m.end()
    }
}

impl Serialize for OrderBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.o;
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("action", self.action)?;
        m.serialize_entry("api_version", "v1")?;
        m.serialize_entry("application_id", &o.client_id)?;
        m.serialize_entry("data", &OrderData(o, self.action))?;
        m.serialize_entry("date_created", &nanos(self.now))?;
        m.serialize_entry("live_mode", &true)?;
        m.serialize_entry("type", "order")?;
        m.serialize_entry("user_id", &o.user_id.to_string())?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    //! The views against the `serde_json::Value` they replaced.

    use super::*;
    use crate::model::{Marks, OrderStatus};
    use serde_json::json;

    fn payment_value(p: &OrderPayment) -> Value {
        let mut v = json!({"id": p.id, "amount": p.amount, "status": p.status, "status_detail": p.status_detail});
        if let Some(paid) = p.paid_cents {
            v["paid_amount"] = json!(cents_to_decimal(paid));
        }
        if p.refunded_cents > 0 {
            v["refunded_amount"] = json!(cents_to_decimal(p.refunded_cents));
        }
        if let Some(r) = &p.reference_id {
            v["reference_id"] = json!(r);
            v["reference"] = json!({"id": r});
        }
        if let Some((id, t, n)) = &p.method {
            v["payment_method"] = json!({"id": id, "type": t, "installments": n});
        }
        v
    }

    fn order_value(o: &Order) -> Value {
        let mut point =
            json!({"terminal_id": o.terminal_id, "print_on_terminal": o.print_on_terminal});
        if let (Some(p), Some(extra)) = (point.as_object_mut(), o.point_extra.as_object()) {
            for (k, v) in extra {
                p.insert(k.clone(), v.clone());
            }
        }
        let mut config = json!({"point": point});
        if let Some(cfg) = &o.payment_method_cfg {
            config["payment_method"] = serde_json::from_str(cfg.get()).unwrap();
        }
        let mut tx = json!({"payments": [payment_value(&o.payment)]});
        if !o.refunds.is_empty() {
            tx["refunds"] = json!(
                o.refunds
                    .iter()
                    .map(|r| json!({
                "id": r.id, "transaction_id": r.transaction_id, "reference_id": r.reference_id,
                "amount": cents_to_decimal(r.amount_cents), "status": r.status}))
                    .collect::<Vec<_>>()
            );
        }
        let paid = o.payment.paid_cents.unwrap_or(0);
        json!({
            "id": o.id, "type": "point", "user_id": o.user_id.to_string(),
            "external_reference": o.external_reference, "description": o.description,
            "expiration_time": o.expiration_time, "processing_mode": "automatic",
            "country_code": o.country_code, "currency": o.currency,
            "integration_data": serde_json::from_str::<Value>(o.integration_data.get()).unwrap(),
            "status": o.status.as_str(), "status_detail": o.status_detail,
            "total_amount": o.payment.amount, "total_paid_amount": cents_to_decimal(paid),
            "created_date": nanos(o.created), "last_updated_date": nanos(o.updated),
            "config": config, "transactions": tx,
        })
    }

    fn body_value(o: &Order, action: &str, now: DateTime<Utc>) -> Value {
        let mut data = json!({
            "id": o.id, "external_reference": o.external_reference, "status": o.status.as_str(),
            "status_detail": o.status_detail, "type": "point", "version": o.version,
        });
        if !matches!(action, "order.action_required" | "order.refunded") {
            let paid = o.payment.paid_cents.map(cents_to_decimal);
            data["total_paid_amount"] = json!(paid.unwrap_or_else(|| "0.00".into()));
            data["transactions"] = json!({"payments": [payment_value(&o.payment)]});
        }
        match action {
            "order.action_required" => data["status_detail"] = json!("check_on_terminal"),
            "order.processed" => data["status_detail"] = json!("accredited"),
            _ => {}
        }
        json!({
            "action": action, "api_version": "v1", "application_id": o.client_id, "data": data,
            "date_created": nanos(now), "live_mode": true, "type": "order",
            "user_id": o.user_id.to_string(),
        })
    }

    fn raw(v: Value) -> Box<serde_json::value::RawValue> {
        serde_json::value::to_raw_value(&v).unwrap()
    }

    fn order() -> Order {
        let now = Utc::now();
        Order {
            id: "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3".into(),
            user_id: 1_234_567_890,
            client_id: "8765432109876543".into(),
            external_reference: Some("ext \"quoted\" é".into()),
            description: None,
            expiration_time: "PT16M".into(),
            expires_at: now,
            country_code: "BRA".into(),
            currency: "BRL".into(),
            integration_data: raw(
                json!({"platform_id": "dev_1", "sponsor": {"id": "446566691"},
                                         "application_id": "8765432109876543"}),
            ),
            status: OrderStatus::Created,
            status_detail: "created".into(),
            created: now,
            updated: now + chrono::Duration::milliseconds(1500),
            terminal_id: "PAX_A910__SBX0000001".into(),
            print_on_terminal: "no_ticket".into(),
            point_extra: json!({}),
            payment_method_cfg: None,
            payment: OrderPayment {
                id: "PAY01JQ4S4KY8HWQ6NA5PXB65B3D4".into(),
                amount: "24.00".into(),
                amount_cents: 2400,
                status: "created".into(),
                status_detail: "created".into(),
                paid_cents: None,
                refunded_cents: 0,
                method: None,
                reference_id: None,
                charged_at: None,
            },
            refunds: vec![],
            version: 1,
            next_step_at: None,
            forced: None,
            cancel_requested: false,
            idem_key: "k".into(),
            marks: Marks::default(),
        }
    }

    fn same(o: &Order) {
        assert_eq!(
            serde_json::to_string(&OrderView(o)).unwrap(),
            order_value(o).to_string()
        );
        for action in [
            "order.processed",
            "order.refunded",
            "order.action_required",
            "order.failed",
        ] {
            let now = Utc::now();
            assert_eq!(
                order_body(o, action, now),
                body_value(o, action, now).to_string()
            );
        }
    }

    #[test]
    fn a_new_order_serializes_as_the_value_did() {
        same(&order());
    }

    #[test]
    fn a_paid_partly_refunded_order_with_extras_serializes_as_the_value_did() {
        let mut o = order();
        o.status = OrderStatus::Processed;
        o.status_detail = "partially_refunded".into();
        o.description = Some("Point Smart 2".into());
        o.point_extra = json!({"ticket_number": "T-1", "a_first": 1, "zzz": [1, {"b": 2, "a": 1}],
                               "terminal_id": "overridden"});
        o.payment_method_cfg = Some(raw(
            json!({"default_type": "debit_card", "installments": 3}),
        ));
        o.payment.paid_cents = Some(2400);
        o.payment.refunded_cents = 1000;
        o.payment.method = Some(("debvisa".into(), "debit_card".into(), 1));
        o.payment.reference_id = Some("123456789012".into());
        o.refunds = vec![
            OrderRefund {
                id: "REF1".into(),
                transaction_id: o.payment.id.clone(),
                reference_id: "223456789012".into(),
                amount_cents: 1000,
                status: "processed".into(),
                at: Utc::now(),
            },
            OrderRefund {
                id: "REF2".into(),
                transaction_id: o.payment.id.clone(),
                reference_id: "323456789012".into(),
                amount_cents: 5,
                status: "processed".into(),
                at: Utc::now(),
            },
        ];
        o.version = 7;
        same(&o);
        assert_eq!(
            serde_json::to_string(&PaymentView(&o.payment)).unwrap(),
            payment_value(&o.payment).to_string()
        );
    }
}
