//! Every way a Mercado Pago call can fail, classified for the worker's retry
//! policy. Bodies are truncated; tokens never reach an error (the client never
//! echoes request headers, and token responses are not quoted on decode errors).

use reqwest::Response;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// How much of an upstream body an error keeps.
const BODY_LIMIT: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum MpError {
    /// The request did not complete within the client's timeout. Creates are
    /// safe to retry because they carry an idempotency key.
    #[error("Mercado Pago request timed out")]
    Timeout,
    /// No connection could be made (DNS, refused, TLS).
    #[error("could not connect to Mercado Pago: {0}")]
    Connect(String),
    /// The connection broke mid-exchange.
    #[error("transport error talking to Mercado Pago: {0}")]
    Transport(String),
    /// HTTP 429 (§1.2 `local_rate_limited`, §8: honour `Retry-After` seconds).
    #[error("rate limited by Mercado Pago (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx.
    #[error("Mercado Pago server error {status}: {body}")]
    Server { status: u16, body: String },
    /// HTTP 401: the token is invalid, expired or revoked. The caller refreshes
    /// it once and retries; a second 401 means the seller must re-link.
    #[error("Mercado Pago rejected the credentials ({code:?}: {message})")]
    Unauthorized {
        code: Option<String>,
        message: String,
    },
    /// Any other 4xx, with the code from whichever envelope the API used.
    #[error("Mercado Pago API error {status} {code:?}: {message}")]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A 2xx whose body did not have the documented shape.
    #[error("unexpected Mercado Pago response: {0}")]
    Decode(String),
    /// The request could not be built (bad input from the caller).
    #[error("invalid Mercado Pago request: {0}")]
    InvalidRequest(String),
}

/// Why Mercado Pago refused to cancel an order or intent, from the code it
/// answered (the worker keeps it on the intent as `last_error_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefusal {
    /// `order_already_canceled`: it was canceled before this request.
    AlreadyCanceled,
    /// Anything else: the terminal holds it, it is already final, ….
    Other,
}

impl CancelRefusal {
    pub fn of_code(code: &str) -> Self {
        match code {
            "order_already_canceled" => CancelRefusal::AlreadyCanceled,
            _ => CancelRefusal::Other,
        }
    }
}

impl MpError {
    /// Whether the same call may succeed later unchanged. 423 Locked, 424
    /// Failed Dependency and 425 Too Early are transient per §8 and §3.4.
    /// `Unauthorized` is not: refresh the token first.
    pub fn is_retryable(&self) -> bool {
        match self {
            MpError::Timeout
            | MpError::Connect(_)
            | MpError::Transport(_)
            | MpError::RateLimited { .. }
            | MpError::Server { .. } => true,
            MpError::Api { status, .. } => matches!(status, 423..=425),
            MpError::Unauthorized { .. } | MpError::Decode(_) | MpError::InvalidRequest(_) => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            MpError::RateLimited { .. } => Some(429),
            MpError::Server { status, .. } | MpError::Api { status, .. } => Some(*status),
            MpError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// The upstream error code (`order_not_found`, `invalid_grant`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            MpError::Api { code, .. } | MpError::Unauthorized { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Mercado Pago's "this terminal already has a queued order/intent"
    /// (§2.3, §3.1): the Orders code, or the classic API's message.
    pub fn is_terminal_busy(&self) -> bool {
        match self {
            MpError::Api {
                status: 409,
                code,
                message,
            } => {
                code.as_deref() == Some("already_queued_order_for_terminal")
                    || message.contains("queued payment intent")
            }
            _ => false,
        }
    }

    /// The OAuth grant (a refresh token, a code) is revoked, expired or used.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, MpError::Api { code: Some(c), .. } if c == "invalid_grant")
    }

    pub(crate) fn from_transport(e: reqwest::Error) -> Self {
        // Without the URL: keeps error strings short and query-free.
        let e = e.without_url();
        if e.is_timeout() {
            MpError::Timeout
        } else if e.is_connect() {
            MpError::Connect(error_chain(&e))
        } else if e.is_builder() {
            MpError::InvalidRequest(e.to_string())
        } else {
            MpError::Transport(error_chain(&e))
        }
    }

    pub(crate) async fn from_response(resp: Response) -> Self {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match resp.bytes().await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.is_timeout() => return MpError::Timeout,
            Err(e) => return MpError::Transport(error_chain(&e.without_url())),
        };
        Self::classify(status, retry_after, &body)
    }

    pub(crate) fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> Self {
        let code = status.as_u16();
        if code == 429 {
            return MpError::RateLimited { retry_after };
        }
        if status.is_server_error() {
            return MpError::Server {
                status: code,
                body: truncate(body),
            };
        }
        let (err_code, message) = parse_error_body(body);
        let message = message.unwrap_or_else(|| truncate(body));
        if code == 401 {
            MpError::Unauthorized {
                code: err_code,
                message,
            }
        } else {
            MpError::Api {
                status: code,
                code: err_code,
                message,
            }
        }
    }

    /// A decode failure. serde's message can quote the offending value, which
    /// for token responses may be a token, so callers handling secrets use
    /// [`MpError::decode_redacted`] instead.
    pub(crate) fn decode(e: &serde_json::Error, body: &[u8]) -> Self {
        MpError::Decode(format!(
            "{e}; body: {}",
            truncate(&String::from_utf8_lossy(body))
        ))
    }

    pub(crate) fn decode_redacted(e: &serde_json::Error) -> Self {
        MpError::Decode(format!(
            "{:?} error at line {} column {} (body withheld: it may hold credentials)",
            e.classify(),
            e.line(),
            e.column()
        ))
    }
}

/// `(code, message)` from the three documented envelopes, in the order §3.8
/// prescribes: `{"errors":[{code,message}]}`, then flat `{code,message}`, then
/// classic `{message,error,status,cause}` (§8), whose `cause[0].code` is the
/// fallback when `error` is absent.
pub fn parse_error_body(body: &str) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return (None, None);
    };
    let text = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    if let Some(first) = v
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        let code = text(first.get("code"));
        let message = text(first.get("message")).or_else(|| text(first.get("description")));
        if code.is_some() || message.is_some() {
            return (code, message);
        }
    }
    if let Some(code) = text(v.get("code")) {
        return (Some(code), text(v.get("message")));
    }
    let cause_code = || {
        v.get("cause")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|c| text(c.get("code")))
    };
    let code = text(v.get("error")).or_else(cause_code);
    (code, text(v.get("message")))
}

fn truncate(s: &str) -> String {
    if s.len() <= BODY_LIMIT {
        return s.to_string();
    }
    let mut end = BODY_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> MpError {
        MpError::classify(StatusCode::from_u16(status).unwrap(), None, body)
    }

    #[test]
    fn errors_envelope_first() {
        let e = classify(
            404,
            r#"{"errors":[{"code":"order_not_found","message":"Order not found."}],"code":"x"}"#,
        );
        assert_eq!(e.code(), Some("order_not_found"));
        assert!(
            matches!(e, MpError::Api { status: 404, ref message, .. } if message == "Order not found.")
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn flat_envelope() {
        let e = classify(401, r#"{"code":"unauthorized","message":"user not found"}"#);
        assert!(
            matches!(e, MpError::Unauthorized { ref message, .. } if message == "user not found")
        );
        assert_eq!(e.code(), Some("unauthorized"));
        assert_eq!(e.status(), Some(401));
    }

    #[test]
    fn classic_envelope_and_cause_fallback() {
        let e = classify(
            400,
            r#"{"message":"Error validating grant.","error":"invalid_grant","status":400,"cause":[]}"#,
        );
        assert_eq!(e.code(), Some("invalid_grant"));
        let (code, msg) = parse_error_body(
            r#"{"message":"Card Token not found","status":400,"cause":[{"code":2006,"description":"x"}]}"#,
        );
        assert_eq!(code.as_deref(), Some("2006"));
        assert_eq!(msg.as_deref(), Some("Card Token not found"));
    }

    #[test]
    fn non_json_and_empty_bodies() {
        let e = classify(404, "<html>nope</html>");
        assert!(
            matches!(e, MpError::Api { code: None, ref message, .. } if message == "<html>nope</html>")
        );
        assert_eq!(parse_error_body(""), (None, None));
        assert_eq!(parse_error_body("[]"), (None, None));
        assert_eq!(parse_error_body(r#"{"errors":[]}"#), (None, None));
    }

    #[test]
    fn server_rate_limit_and_retryability() {
        let big = "x".repeat(5000);
        let e = classify(503, &big);
        assert!(e.is_retryable());
        let MpError::Server { body, status } = e else {
            panic!()
        };
        assert_eq!(status, 503);
        assert!(body.len() < 600 && body.ends_with("(5000 bytes)"));
        let e = MpError::classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(3)),
            "{}",
        );
        assert!(matches!(e, MpError::RateLimited { retry_after: Some(d) } if d.as_secs() == 3));
        assert!(e.is_retryable());
        assert!(classify(424, "{}").is_retryable());
        assert!(!classify(409, "{}").is_retryable());
        assert!(!classify(401, "{}").is_retryable());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(400);
        let t = truncate(&s);
        assert!(t.starts_with('é') && t.contains("(800 bytes)"));
    }
}
