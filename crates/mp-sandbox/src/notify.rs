//! Outgoing notifications: the Orders `order` topic, the legacy
//! `point_integration_wh` topic and `mp-connect`, signed per reference 4.6
//! and retried on the sandbox clock until the receiver answers 200/201.

use crate::SignatureTs;
use crate::faults::NotificationFaults;
use crate::ids;
use crate::sandbox::Sandbox;
use crate::state::State;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// The app has no webhook URL configured: recorded, never sent.
    NoUrl,
    /// A fault knob dropped it.
    Dropped,
    /// Held back so a later notification overtakes it (reordering fault).
    Held,
    /// Gave up after the maximum number of attempts.
    GaveUp,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::NoUrl => "no_url",
            Self::Dropped => "dropped",
            Self::Held => "held",
            Self::GaveUp => "gave_up",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub request_id: String,
    pub x_signature: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Notification {
    pub id: u64,
    pub client_id: String,
    pub user_id: u64,
    pub topic: String,
    pub data_id: String,
    pub url: Option<String>,
    pub body: Value,
    pub created_at: DateTime<Utc>,
    pub status: Delivery,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub in_flight: bool,
    /// Send one extra copy on the next delivery (duplication fault).
    pub duplicate: bool,
    /// A held notification is released once this later one has been sent.
    pub release_after: Option<u64>,
}

impl Notification {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "client_id": self.client_id, "user_id": self.user_id,
            "topic": self.topic, "data_id": self.data_id, "url": self.url, "body": self.body,
            "created_at": self.created_at.to_rfc3339(), "status": self.status.as_str(),
            "next_attempt_at": self.next_attempt_at.map(|t| t.to_rfc3339()),
            "attempts": self.attempts.iter().map(|a| json!({
                "at": a.at.to_rfc3339(), "request_id": a.request_id, "x_signature": a.x_signature,
                "status": a.status, "error": a.error})).collect::<Vec<_>>(),
        })
    }
}

/// Records a notification for `client_id`'s webhook; delivery happens on the next tick.
pub fn enqueue(
    st: &mut State,
    client_id: &str,
    user_id: u64,
    topic: &str,
    data_id: &str,
    body: Value,
    now: DateTime<Utc>,
) {
    let url = st
        .apps
        .get(client_id)
        .and_then(|a| a.cfg.webhook_url.clone());
    let faults: NotificationFaults = crate::faults::notification_faults(st);
    let id = st.notifications.len() as u64 + 1;
    let mut n = Notification {
        id,
        client_id: client_id.to_string(),
        user_id,
        topic: topic.to_string(),
        data_id: data_id.to_string(),
        url: url.clone(),
        body,
        created_at: now,
        status: Delivery::Pending,
        attempts: vec![],
        next_attempt_at: Some(now),
        in_flight: false,
        duplicate: faults.duplicate,
        release_after: None,
    };
    if url.is_none() {
        n.status = Delivery::NoUrl;
        n.next_attempt_at = None;
    } else if faults.drop {
        n.status = Delivery::Dropped;
        n.next_attempt_at = None;
    } else if faults.reorder {
        n.status = Delivery::Held;
        n.next_attempt_at = None;
    } else {
        // A held notification goes out once this one was sent: the receiver sees them swapped.
        for h in st.notifications.iter_mut().filter(|h| {
            h.status == Delivery::Held && h.client_id == client_id && h.release_after.is_none()
        }) {
            h.release_after = Some(id);
        }
    }
    st.notifications.push(n);
}

/// What a delivery task needs, copied out of the state.
pub struct DueDelivery {
    pub id: u64,
    pub url: String,
    pub topic: String,
    pub data_id: String,
    pub body: Value,
    pub secret: String,
    pub retry: usize,
    pub copies: usize,
}

pub fn take_due(st: &mut State, now: DateTime<Utc>) -> Vec<DueDelivery> {
    // Held notifications nobody overtook within a minute go out anyway.
    for n in st.notifications.iter_mut() {
        if n.status == Delivery::Held && now - n.created_at >= chrono::Duration::seconds(60) {
            n.status = Delivery::Pending;
            n.next_attempt_at = Some(now);
        }
    }
    let mut due: Vec<&mut Notification> = st
        .notifications
        .iter_mut()
        .filter(|n| {
            n.status == Delivery::Pending
                && !n.in_flight
                && n.next_attempt_at.is_some_and(|t| t <= now)
        })
        .collect();
    due.sort_by_key(|n| n.next_attempt_at);
    let mut out = vec![];
    for n in due {
        n.in_flight = true;
        let copies = if n.duplicate { 2 } else { 1 };
        n.duplicate = false;
        out.push(DueDelivery {
            id: n.id,
            url: n.url.clone().unwrap_or_default(),
            topic: n.topic.clone(),
            data_id: n.data_id.clone(),
            body: n.body.clone(),
            secret: String::new(),
            retry: n.attempts.len(),
            copies,
        });
    }
    for d in out.iter_mut() {
        let client = &st.notifications[(d.id - 1) as usize].client_id;
        d.secret = st
            .apps
            .get(client)
            .map(|a| a.cfg.webhook_secret.clone())
            .unwrap_or_default();
    }
    out
}

/// Reference 4.1: every 15 minutes for the first three retries, then growing (capped at 6 h).
pub fn retry_delay(attempts_made: usize) -> chrono::Duration {
    let base = 15i64;
    let mins = if attempts_made <= 3 {
        base
    } else {
        (base << (attempts_made - 3).min(5)).min(360)
    };
    chrono::Duration::minutes(mins)
}

/// `ts=…,v1=…` over `id:{data.id};request-id:{x-request-id};ts:{ts};`.
pub fn sign(secret: &str, data_id: &str, request_id: &str, ts: &str) -> String {
    let manifest = format!("id:{data_id};request-id:{request_id};ts:{ts};");
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac accepts any key length");
    mac.update(manifest.as_bytes());
    format!("ts={ts},v1={}", ids::hex(&mac.finalize().into_bytes()))
}

fn target_url(url: &str, data_id: &str, topic: &str) -> String {
    let q = format!("data.id={}&type={}", url_encode(data_id), url_encode(topic));
    if url.contains('?') {
        format!("{url}&{q}")
    } else {
        format!("{url}?{q}")
    }
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn loopback_only_ok(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

pub fn spawn_delivery(sb: Arc<Sandbox>, d: DueDelivery) {
    let rt = sb.rt.clone();
    rt.spawn(async move { deliver(sb, d).await });
}

async fn deliver(sb: Arc<Sandbox>, d: DueDelivery) {
    let mut last: Option<Attempt> = None;
    for _ in 0..d.copies {
        let now = sb.clock.now();
        let ts = match sb.cfg.signature_ts {
            SignatureTs::Millis => now.timestamp_millis().to_string(),
            SignatureTs::Seconds => now.timestamp().to_string(),
        };
        let request_id = ids::uuid();
        let signed_id = if sb.cfg.lowercase_signature_data_id {
            d.data_id.to_lowercase()
        } else {
            d.data_id.clone()
        };
        let x_signature = sign(&d.secret, &signed_id, &request_id, &ts);
        let mut attempt = Attempt {
            at: now,
            request_id: request_id.clone(),
            x_signature: x_signature.clone(),
            status: None,
            error: None,
        };
        if !sb.cfg.allow_webhook_urls_anywhere && !loopback_only_ok(&d.url) {
            attempt.error = Some("webhook URL not allowed by sandbox config".into());
        } else {
            let resp = sb
                .http
                .post(target_url(&d.url, &d.data_id, &d.topic))
                .header("content-type", "application/json")
                .header("x-signature", x_signature)
                .header("x-request-id", request_id)
                .header("x-retry", d.retry.to_string())
                .header("x-socket-timeout", "22000")
                .header("user-agent", "restclient-node/4.15.3 (mp-sandbox)")
                .body(d.body.to_string())
                .send()
                .await;
            match resp {
                Ok(r) => attempt.status = Some(r.status().as_u16()),
                Err(e) => attempt.error = Some(e.to_string()),
            }
        }
        last = Some(attempt.clone());
        record_attempt(&sb, d.id, attempt, false);
    }
    if let Some(a) = last {
        record_attempt(&sb, d.id, a, true);
    }
}

fn record_attempt(sb: &Arc<Sandbox>, id: u64, a: Attempt, finish: bool) {
    let now = sb.clock.now();
    let max = sb.cfg.max_notification_attempts as usize;
    let mut st = sb.lock();
    let Some(n) = st.notifications.get_mut((id - 1) as usize) else {
        return;
    };
    if !finish {
        n.attempts.push(a);
        return;
    }
    n.in_flight = false;
    if matches!(a.status, Some(200) | Some(201)) {
        n.status = Delivery::Delivered;
        n.next_attempt_at = None;
    } else if n.attempts.len() >= max {
        n.status = Delivery::GaveUp;
        n.next_attempt_at = None;
    } else {
        n.next_attempt_at = Some(now + retry_delay(n.attempts.len()));
    }
    for h in st
        .notifications
        .iter_mut()
        .filter(|h| h.status == Delivery::Held && h.release_after == Some(id))
    {
        h.status = Delivery::Pending;
        h.next_attempt_at = Some(now);
    }
    drop(st);
    sb.kick();
}

/// Orders topic body (reference 4.3).
pub fn order_body(o: &crate::model::Order, action: &str, now: DateTime<Utc>) -> Value {
    let mut data = json!({
        "id": o.id, "external_reference": o.external_reference, "status": o.status.as_str(),
        "status_detail": o.status_detail, "type": "point", "version": o.version,
    });
    let no_transactions = matches!(action, "order.action_required" | "order.refunded");
    if !no_transactions {
        let paid = o.payment.paid_cents.map(crate::sites::cents_to_decimal);
        data["total_paid_amount"] = json!(paid.clone().unwrap_or_else(|| "0.00".into()));
        data["transactions"] = json!({"payments": [crate::orders::payment_json(&o.payment)]});
    }
    // The webhook example (reference 4.3) shows the payment's detail on the
    // order: `accredited` for a processed one, while `GET` keeps `processed`.
    match action {
        "order.action_required" => data["status_detail"] = json!("check_on_terminal"),
        "order.processed" => data["status_detail"] = json!("accredited"),
        _ => {}
    }
    json!({
        "action": action, "api_version": "v1", "application_id": o.client_id, "data": data,
        "date_created": now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "live_mode": true, "type": "order", "user_id": o.user_id.to_string(),
    })
}

/// mp-connect body (reference 4.5), in the generic envelope.
pub fn connect_body(client_id: &str, user_id: u64, action: &str, now: DateTime<Utc>) -> Value {
    json!({
        "id": ids::random_u64() % 10_000_000_000, "live_mode": true, "type": "mp-connect",
        "date_created": now.to_rfc3339(), "user_id": user_id, "api_version": "v1",
        "action": action, "application_id": client_id, "data": {"id": user_id.to_string()},
    })
}
