//! Fault injection: added latency, error responses (500/502/503/429 with
//! Retry-After), hangs, and notification drop/duplicate/reorder knobs.

use crate::errors::ApiError;
use crate::ids;
use crate::sandbox::Sandbox;
use crate::state::State;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub id: u64,
    /// Applies to request paths starting with this (default: every API path).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// HTTP method to match (default: any).
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Probability 0..=1 of answering with `error_status` instead of serving.
    #[serde(default)]
    pub error_rate: Option<f64>,
    #[serde(default)]
    pub error_status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Never answer (until the client gives up), for timeout tests.
    #[serde(default)]
    pub hang: bool,
    /// Serve the request first, then answer the error instead: the work is
    /// done but its answer is lost (a create that happened, reported as 5xx).
    #[serde(default)]
    pub after: bool,
    /// Only the next N matching requests (or notifications); unlimited when absent.
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub drop_notifications: bool,
    #[serde(default)]
    pub duplicate_notifications: bool,
    #[serde(default)]
    pub reorder_notifications: bool,
}

impl Fault {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "path_prefix": self.path_prefix, "method": self.method,
               "latency_ms": self.latency_ms, "error_rate": self.error_rate, "error_status": self.error_status,
               "retry_after": self.retry_after, "hang": self.hang, "after": self.after, "count": self.count,
               "drop_notifications": self.drop_notifications, "duplicate_notifications": self.duplicate_notifications,
               "reorder_notifications": self.reorder_notifications})
    }

    fn is_request_fault(&self) -> bool {
        self.latency_ms.is_some()
            || self.error_rate.is_some()
            || self.error_status.is_some()
            || self.hang
    }

    fn is_notification_fault(&self) -> bool {
        self.drop_notifications || self.duplicate_notifications || self.reorder_notifications
    }
}

#[derive(Default, Clone, Copy)]
pub struct NotificationFaults {
    pub drop: bool,
    pub duplicate: bool,
    pub reorder: bool,
}

/// Consumes one use of each matching notification fault.
pub fn notification_faults(st: &mut State) -> NotificationFaults {
    let mut out = NotificationFaults::default();
    for f in st
        .faults
        .iter_mut()
        .filter(|f| f.is_notification_fault() && f.count != Some(0))
    {
        out.drop |= f.drop_notifications;
        out.duplicate |= f.duplicate_notifications;
        out.reorder |= f.reorder_notifications;
        if let Some(c) = f.count.as_mut() {
            *c -= 1;
        }
    }
    out
}

/// The fault to apply to this request, consuming one use.
fn request_fault(sb: &Sandbox, method: &str, path: &str) -> Option<Fault> {
    let mut st = sb.lock();
    let f = st.faults.iter_mut().find(|f| {
        f.is_request_fault()
            && f.count != Some(0)
            && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
            && f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    })?;
    if let Some(c) = f.count.as_mut() {
        *c -= 1;
    }
    Some(f.clone())
}

/// Middleware: applies request faults to everything except the `/sandbox` helpers.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let sb = req.app_data::<web::Data<Sandbox>>();
    // No fault was ever added: no need to take the state lock for every request.
    let armed = sb.is_some_and(|sb| sb.faults_armed.load(Ordering::Relaxed));
    let fault = match sb {
        Some(sb) if armed && !req.path().starts_with("/sandbox") => {
            request_fault(sb, req.method().as_str(), req.path())
        }
        _ => None,
    };
    if let Some(f) = fault {
        if f.hang {
            // Hold the connection until the client gives up (or the server stops).
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if let Some(ms) = f.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let rate = f
            .error_rate
            .unwrap_or(if f.error_status.is_some() { 1.0 } else { 0.0 });
        let roll = (ids::random_u64() % 1_000_000) as f64 / 1_000_000.0;
        if rate > 0.0 && roll < rate {
            let status = f.error_status.unwrap_or(500);
            let err = fault_error(status, f.retry_after);
            let resp: HttpResponse = err.error_response();
            if f.after {
                let served = next.call(req).await?;
                let (req, _) = served.into_parts();
                return Ok(ServiceResponse::new(req, resp).map_into_right_body());
            }
            return Ok(req.into_response(resp).map_into_right_body());
        }
    }
    next.call(req).await.map(|r| r.map_into_left_body())
}

fn fault_error(status: u16, retry_after: Option<u64>) -> ApiError {
    let (code, msg) = match status {
        429 => ("local_rate_limited", "Too many requests"),
        502 => ("bad_gateway", "Bad gateway"),
        503 => ("service_unavailable", "Service unavailable"),
        _ => ("internal_error", "Internal server error"),
    };
    let mut e = ApiError::classic(status, code, msg);
    if status == 429 || retry_after.is_some() {
        e = e.with_header("retry-after", retry_after.unwrap_or(1).to_string());
    }
    e
}

pub fn add(sb: &Sandbox, mut f: Fault) -> Value {
    let mut st = sb.lock();
    f.id = st.faults.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    let v = f.to_json();
    st.faults.push(f);
    sb.faults_armed.store(true, Ordering::Relaxed);
    v
}

pub fn clear(sb: &Sandbox, id: Option<u64>) -> usize {
    let mut st = sb.lock();
    let before = st.faults.len();
    match id {
        Some(id) => st.faults.retain(|f| f.id != id),
        None => st.faults.clear(),
    }
    sb.faults_armed
        .store(!st.faults.is_empty(), Ordering::Relaxed);
    before - st.faults.len()
}

pub fn list(sb: &Sandbox) -> Value {
    let st = sb.lock();
    json!(st.faults.iter().map(Fault::to_json).collect::<Vec<_>>())
}
