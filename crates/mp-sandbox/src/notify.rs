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
    /// The JSON body, serialized once (it is sent as is on every attempt).
    pub body: Box<str>,
    pub created_at: DateTime<Utc>,
    pub status: Delivery,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub in_flight: bool,
    /// Send one extra copy on the next delivery (duplication fault).
    pub duplicate: bool,
    /// A held notification is released once this later one has been sent.
    pub release_after: Option<u64>,
    /// The time it is filed under in `State::notes_due`, if any.
    pub sched: Option<DateTime<Utc>>,
    /// Counted in `State::open_notes` (not finished yet).
    pub open: bool,
    /// When it was filed as finished in the retention queue.
    pub finished_at: Option<DateTime<Utc>>,
}

impl Notification {
    pub fn is_final(&self) -> bool {
        matches!(
            self.status,
            Delivery::Delivered | Delivery::NoUrl | Delivery::Dropped | Delivery::GaveUp
        )
    }

    /// When the ticker must look at it: its next attempt, or the end of a hold.
    fn wake(&self) -> Option<DateTime<Utc>> {
        match self.status {
            Delivery::Pending if !self.in_flight => self.next_attempt_at,
            Delivery::Held => Some(self.created_at + chrono::Duration::seconds(HOLD_SECS)),
            _ => None,
        }
    }

    pub fn body_json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "client_id": self.client_id, "user_id": self.user_id,
            "topic": self.topic, "data_id": self.data_id, "url": self.url, "body": self.body_json(),
            "created_at": self.created_at.to_rfc3339(), "status": self.status.as_str(),
            "next_attempt_at": self.next_attempt_at.map(|t| t.to_rfc3339()),
            "attempts": self.attempts.iter().map(|a| json!({
                "at": a.at.to_rfc3339(), "request_id": a.request_id, "x_signature": a.x_signature,
                "status": a.status, "error": a.error})).collect::<Vec<_>>(),
        })
    }
}

/// A held notification nobody overtook goes out after this long.
const HOLD_SECS: i64 = 60;

impl State {
    /// Files a notification again after any change to it: due set, held
    /// set, open count and (once finished) the retention queue.
    pub fn touch_note(&mut self, id: u64, now: DateTime<Utc>) {
        let Some(n) = self.notifications.get_mut(&id) else {
            return;
        };
        let want = n.wake();
        if n.sched != want {
            if let Some(t) = n.sched {
                self.notes_due.remove(&(t, id));
            }
            if let Some(t) = want {
                self.notes_due.insert((t, id));
            }
            n.sched = want;
        }
        if n.status == Delivery::Held {
            self.notes_held.insert(id);
        } else {
            self.notes_held.remove(&id);
        }
        let done = n.is_final();
        if done && n.finished_at.is_none() {
            n.finished_at = Some(now);
            self.retained.notifications.push(now, id);
        } else if !done {
            // Resent: it is filed again when it finishes again.
            n.finished_at = None;
        }
        if done == n.open {
            n.open = !done;
            if done {
                let (topic, data_id) = (n.topic.clone(), n.data_id.clone());
                let left = self.open_notes.get_mut(&data_id).map(|c| {
                    *c -= 1;
                    *c
                });
                if left == Some(0) {
                    self.open_notes.remove(&data_id);
                    self.unblock(&topic, &data_id, now);
                }
            } else {
                *self.open_notes.entry(n.data_id.clone()).or_default() += 1;
            }
        }
    }
}

/// Checks the notification indexes against the notifications (O(n); for tests).
pub fn check_index(st: &State) -> Result<(), String> {
    let mut due = 0;
    let mut open: std::collections::HashMap<&str, u32> = Default::default();
    for (id, n) in &st.notifications {
        if n.sched != n.wake() {
            return Err(format!(
                "notification {id} filed at {:?}, due {:?}",
                n.sched,
                n.wake()
            ));
        }
        if let Some(t) = n.sched {
            due += 1;
            if !st.notes_due.contains(&(t, *id)) {
                return Err(format!("notification {id} missing from the due set"));
            }
        }
        if (n.status == Delivery::Held) != st.notes_held.contains(id) {
            return Err(format!("notification {id}: held set disagrees"));
        }
        if n.open == n.is_final() {
            return Err(format!("notification {id}: open flag disagrees"));
        }
        if n.open {
            *open.entry(&n.data_id).or_default() += 1;
        }
    }
    if due != st.notes_due.len() {
        return Err(format!(
            "due set has {} entries for {due}",
            st.notes_due.len()
        ));
    }
    let counted: std::collections::HashMap<&str, u32> = st
        .open_notes
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    if counted != open {
        return Err("open notification counts disagree".into());
    }
    Ok(())
}

/// Records a notification for `client_id`'s webhook; delivery happens on the next tick.
pub fn enqueue(
    st: &mut State,
    client_id: &str,
    user_id: u64,
    topic: &str,
    data_id: &str,
    body: String,
    now: DateTime<Utc>,
) {
    let url = st
        .apps
        .get(client_id)
        .and_then(|a| a.cfg.webhook_url.clone());
    let faults: NotificationFaults = crate::faults::notification_faults(st);
    st.next_notification += 1;
    let id = st.next_notification;
    let mut n = Notification {
        id,
        client_id: client_id.to_string(),
        user_id,
        topic: topic.to_string(),
        data_id: data_id.to_string(),
        url: url.clone(),
        body: body.into_boxed_str(),
        created_at: now,
        status: Delivery::Pending,
        attempts: vec![],
        next_attempt_at: Some(now),
        in_flight: false,
        duplicate: faults.duplicate,
        release_after: None,
        sched: None,
        open: false,
        finished_at: None,
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
        let State {
            notes_held,
            notifications,
            ..
        } = &mut *st;
        for h in notes_held.iter() {
            if let Some(h) = notifications.get_mut(h)
                && h.client_id == client_id
                && h.release_after.is_none()
            {
                h.release_after = Some(id);
            }
        }
    }
    st.notifications.insert(id, n);
    st.touch_note(id, now);
}

/// What a delivery task needs, copied out of the state.
pub struct DueDelivery {
    pub id: u64,
    pub url: String,
    pub topic: String,
    pub data_id: String,
    pub body: String,
    pub secret: String,
    pub retry: usize,
    pub copies: usize,
}

/// The notifications whose attempt is due, marked in flight, oldest due first.
pub fn take_due(st: &mut State, now: DateTime<Utc>) -> Vec<DueDelivery> {
    let mut out = vec![];
    while let Some(&(t, id)) = st.notes_due.first() {
        if t > now {
            break;
        }
        st.notes_due.pop_first();
        let Some(n) = st.notifications.get_mut(&id) else {
            continue;
        };
        n.sched = None;
        match n.status {
            // Held notifications nobody overtook within a minute go out anyway.
            Delivery::Held => {
                n.status = Delivery::Pending;
                n.next_attempt_at = Some(now);
            }
            Delivery::Pending if !n.in_flight && n.next_attempt_at.is_some_and(|t| t <= now) => {
                n.in_flight = true;
                let copies = if n.duplicate { 2 } else { 1 };
                n.duplicate = false;
                let secret = st
                    .apps
                    .get(&n.client_id)
                    .map(|a| a.cfg.webhook_secret.clone())
                    .unwrap_or_default();
                out.push(DueDelivery {
                    id: n.id,
                    url: n.url.clone().unwrap_or_default(),
                    topic: n.topic.clone(),
                    data_id: n.data_id.clone(),
                    body: n.body.to_string(),
                    secret,
                    retry: n.attempts.len(),
                    copies,
                });
            }
            _ => {}
        }
        st.touch_note(id, now);
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
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(DIGITS[usize::from(b >> 4)] as char);
                out.push(DIGITS[usize::from(b & 15)] as char);
            }
        }
    }
    out
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
    // The semaphore is never closed; signing waits for the permit (ts is the send time).
    let _permit = sb.deliveries.acquire().await;
    let mut attempts = Vec::with_capacity(d.copies);
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
                .body(d.body.clone())
                .send()
                .await;
            match resp {
                Ok(r) => attempt.status = Some(r.status().as_u16()),
                Err(e) => attempt.error = Some(e.to_string()),
            }
        }
        attempts.push(attempt);
    }
    record_attempts(&sb, d.id, attempts);
}

/// Records the attempts of one delivery (the last one decides) under one lock.
fn record_attempts(sb: &Arc<Sandbox>, id: u64, attempts: Vec<Attempt>) {
    let now = sb.clock.now();
    let max = sb.cfg.max_notification_attempts as usize;
    let mut st = sb.lock();
    let Some(n) = st.notifications.get_mut(&id) else {
        return;
    };
    let ok = attempts
        .last()
        .is_some_and(|a| matches!(a.status, Some(200) | Some(201)));
    n.attempts.extend(attempts);
    n.in_flight = false;
    if ok {
        n.status = Delivery::Delivered;
        n.next_attempt_at = None;
    } else if n.attempts.len() >= max {
        n.status = Delivery::GaveUp;
        n.next_attempt_at = None;
    } else {
        n.next_attempt_at = Some(now + retry_delay(n.attempts.len()));
    }
    st.touch_note(id, now);
    // A notification held back until this one was sent goes out now.
    let released: Vec<u64> = st
        .notes_held
        .iter()
        .copied()
        .filter(|h| {
            st.notifications
                .get(h)
                .is_some_and(|h| h.release_after == Some(id))
        })
        .collect();
    for h in &released {
        if let Some(h) = st.notifications.get_mut(h) {
            h.status = Delivery::Pending;
            h.next_attempt_at = Some(now);
        }
        st.touch_note(*h, now);
    }
    // What this notification kept (its order or intent) may go now, if it is past retention.
    let more = st.evict(now);
    drop(st);
    if more || !released.is_empty() {
        sb.kick();
    }
}

/// mp-connect body (reference 4.5), in the generic envelope.
pub fn connect_body(client_id: &str, user_id: u64, action: &str, now: DateTime<Utc>) -> Value {
    json!({
        "id": ids::random_u64() % 10_000_000_000, "live_mode": true, "type": "mp-connect",
        "date_created": now.to_rfc3339(), "user_id": user_id, "api_version": "v1",
        "action": action, "application_id": client_id, "data": {"id": user_id.to_string()},
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_encode_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(super::url_encode("Az09-_.~"), "Az09-_.~");
        assert_eq!(super::url_encode("a b/é?&="), "a%20b%2F%C3%A9%3F%26%3D");
    }
}
