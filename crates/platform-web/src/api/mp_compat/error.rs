//! Mercado Pago's own error envelopes (reference §3.8, §8): the Orders and
//! Terminals APIs answer `{"errors":[{code,message}]}` (flat `{code,message}`
//! for authentication); the legacy Point API answers the classic
//! `{message,error,status,cause}`. Every failure of this surface goes
//! through [`MpError`], never through the native `{code,message}` shape.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use platform_core::CoreError;
use serde_json::{Value, json};

use crate::error::ApiError;

/// Which envelope an API family uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Legacy Point Integration API: `{message,error,status,cause}`.
    Classic,
    /// Orders and Terminals APIs: `{"errors":[{code,message}]}`.
    Orders,
}

#[derive(Debug)]
pub struct MpError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<Duration>,
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl MpError {
    pub fn orders(code: u16, error: &str, message: impl Into<String>) -> Self {
        MpError {
            status: status(code),
            body: json!({"errors": [{"code": error, "message": message.into()}]}),
            retry_after: None,
        }
    }

    pub fn classic(code: u16, error: &str, message: impl Into<String>) -> Self {
        MpError {
            status: status(code),
            body: json!({"message": message.into(), "error": error, "status": code, "cause": []}),
            retry_after: None,
        }
    }

    /// The classic shape of the stores and classic POS APIs, whose
    /// documented `errorKey` is both `error` and `cause[0].code`.
    pub fn classic_key(code: u16, key: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        MpError {
            status: status(code),
            body: json!({"message": message, "error": key, "status": code,
                         "cause": [{"code": key, "description": message}]}),
            retry_after: None,
        }
    }

    /// Mercado Pago's own answer to a call Puente made for the caller (a
    /// store, a POS, a QR order, a payment read): its 4xx as it came, in
    /// this family's envelope; a seller whose grant it refused must link
    /// again; an outage is a 502.
    pub fn from_upstream(shape: Shape, e: platform_core::mercadopago::MpError) -> Self {
        use platform_core::mercadopago::MpError as Up;
        match e {
            Up::Api {
                status,
                code,
                message,
            } => Self::of(
                shape,
                status,
                code.as_deref().unwrap_or("bad_request"),
                message,
            ),
            Up::Unauthorized { .. } => Self::of(
                shape,
                409,
                "seller_not_linked",
                "Mercado Pago refused the seller's authorization; the seller must link the account again",
            ),
            Up::RateLimited { retry_after } => {
                let mut out = Self::of(
                    shape,
                    429,
                    "too_many_requests",
                    "Mercado Pago is rate limiting; retry later",
                );
                out.retry_after = retry_after;
                out
            }
            other => Self::of(
                shape,
                502,
                "bad_gateway",
                format!("Mercado Pago did not answer as expected: {other}"),
            ),
        }
    }

    /// A registry change that did not happen ([`platform_core::mp_registry`]).
    pub fn from_mirror(shape: Shape, e: platform_core::mp_registry::MirrorError) -> Self {
        use platform_core::mp_registry::MirrorError as M;
        match e {
            M::NotLinked => Self::of(
                shape,
                409,
                "seller_not_linked",
                "the seller is not linked; reconnect it first",
            ),
            M::Upstream(up) => Self::from_upstream(shape, up),
            M::Core(c) => Self::from_core(shape, c),
        }
    }

    /// The flat `{code,message}` of the newer APIs' authentication errors.
    pub fn flat(code: u16, error: &str, message: impl Into<String>) -> Self {
        MpError {
            status: status(code),
            body: json!({"code": error, "message": message.into()}),
            retry_after: None,
        }
    }

    pub fn of(shape: Shape, code: u16, error: &str, message: impl Into<String>) -> Self {
        match shape {
            Shape::Classic => Self::classic(code, error, message),
            Shape::Orders => Self::orders(code, error, message),
        }
    }

    /// An authentication failure of [`super::caller`] (native `ApiError`),
    /// re-shaped: 401 flat/classic, 429 with `Retry-After`.
    pub fn from_auth(shape: Shape, e: ApiError) -> Self {
        let mut out = match e.status.as_u16() {
            401 => match shape {
                Shape::Orders => Self::flat(401, "unauthorized", e.message),
                Shape::Classic => Self::classic(401, "unauthorized", e.message),
            },
            429 => Self::of(shape, 429, "too_many_requests", e.message),
            code => Self::of(shape, code, "internal_error", e.message),
        };
        out.retry_after = e.retry_after;
        out
    }

    /// A domain error in this surface's words. Codes Mercado Pago documents
    /// are used where one fits; Puente's own conditions keep Puente's code.
    pub fn from_core(shape: Shape, e: CoreError) -> Self {
        match e {
            CoreError::NotFound { kind } => {
                Self::of(shape, 404, "not_found", format!("{kind} not found"))
            }
            CoreError::Conflict { reason, message } => Self::of(shape, 409, reason.code(), message),
            CoreError::Forbidden { reason, message } => {
                Self::of(shape, 403, reason.code(), message)
            }
            CoreError::Invalid { message, .. } => match shape {
                Shape::Orders => Self::orders(400, "property_value", message),
                Shape::Classic => Self::classic(400, "bad_request", message),
            },
            other => {
                let api: ApiError = other.into();
                let code = if api.status == StatusCode::SERVICE_UNAVAILABLE {
                    "service_unavailable"
                } else {
                    "internal_error"
                };
                Self::of(shape, api.status.as_u16(), code, api.message)
            }
        }
    }
}

impl std::fmt::Display for MpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl ResponseError for MpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.insert_header(("Retry-After", secs.max(1).to_string()));
        }
        res.json(&self.body)
    }
}
