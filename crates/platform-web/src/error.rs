//! API errors: JSON `{code, message, details?}` with a stable `code`.
//!
//! Every failure of the HTTP layer, and every `CoreError`, becomes an
//! `ApiError` here and only here, so status codes and codes stay consistent.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use platform_core::CoreError;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    #[serde(skip)]
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(kind: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{kind} not found"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up, as Retry-After requires.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.insert_header(("Retry-After", secs.max(1).to_string()));
        }
        res.json(self)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound { kind } => ApiError::not_found(kind),
            CoreError::Conflict { reason, message } => {
                ApiError::new(StatusCode::CONFLICT, reason.code(), message)
            }
            CoreError::Forbidden { reason, message } => {
                ApiError::new(StatusCode::FORBIDDEN, reason.code(), message)
            }
            CoreError::Invalid { reason, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason.code(), message)
            }
            CoreError::Upstream {
                retryable: true,
                message,
                ..
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                format!("Mercado Pago is not answering now; retry: {message}"),
            ),
            CoreError::Upstream {
                retryable: false,
                code,
                message,
            } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upstream_rejected",
                message,
            )
            .with_details(serde_json::json!({ "upstream_code": code })),
            CoreError::Db(err) => {
                tracing::error!(error = %err, "database error");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database could not complete the request; try again",
                )
            }
            CoreError::Crypto(err) => {
                tracing::error!(error = %err, "stored secret could not be decrypted");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error",
                )
            }
            CoreError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error",
                )
            }
        }
    }
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // Mercado Pago's paths answer in Mercado Pago's words (docs/mp-compat.md).
    if let Some(res) = crate::api::mp_unknown_route(&req) {
        return Ok(res);
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

pub fn json_error_handler(
    err: actix_web::error::JsonPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        J::Overflow { .. } | J::OverflowKnownLength { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        ),
        J::Deserialize(e) if e.is_data() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("the body does not match the expected shape: {e}"),
        ),
        _ => ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {err}")),
    };
    api.into()
}

pub fn query_error_handler(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_query", format!("invalid query parameters: {err}")).into()
}

pub fn path_error_handler(
    err: actix_web::error::PathError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_path", format!("invalid path parameter: {err}")).into()
}
