//! The three error envelopes the reference documents: the classic
//! `{message,error,status,cause}` (OAuth, users, legacy Point, stores, classic
//! POS), the Orders/Terminals/POS-v2 `{"errors":[{code,message}]}`, and the
//! flat `{code,message}` those newer APIs use for authentication failures.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

/// Which envelope an API family uses for its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Classic,
    Orders,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn classic(status: u16, error: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status,
            body: json!({"message": message, "error": error, "status": status, "cause": []}),
            headers: vec![],
        }
    }

    /// Classic envelope carrying a legacy `errorKey` (POS, stores) as the cause code.
    pub fn classic_key(status: u16, key: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status,
            body: json!({"message": message, "error": key, "status": status,
                         "cause": [{"code": key, "description": message}]}),
            headers: vec![],
        }
    }

    pub fn orders(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({"errors": [{"code": code, "message": message.into()}]}),
            headers: vec![],
        }
    }

    pub fn flat(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({"code": code, "message": message.into()}),
            headers: vec![],
        }
    }

    /// A shape-dependent error: classic or orders envelope.
    pub fn of(shape: Shape, status: u16, code: &str, message: impl Into<String>) -> Self {
        match shape {
            Shape::Classic => Self::classic(status, code, message),
            Shape::Orders => Self::orders(status, code, message),
        }
    }

    pub fn not_found_route() -> Self {
        Self::classic(404, "not_found", "resource not found")
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        for (k, v) in &self.headers {
            resp.insert_header((k.as_str(), v.as_str()));
        }
        resp.json(&self.body)
    }
}

pub type ApiResult = Result<HttpResponse, ApiError>;

/// Parses a JSON body; an empty body is `None`. Bad JSON is a 400 in the family's shape.
pub fn parse_json_opt(body: &[u8], shape: Shape) -> Result<Option<Value>, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| match shape {
            Shape::Orders => {
                ApiError::orders(400, "json_syntax_error", format!("invalid JSON: {e}"))
            }
            Shape::Classic => ApiError::classic(400, "bad_request", format!("invalid JSON: {e}")),
        })
}

/// Parses a JSON body that must be an object.
pub fn parse_json_object(body: &[u8], shape: Shape) -> Result<Value, ApiError> {
    match parse_json_opt(body, shape)? {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(ApiError::of(
            shape,
            400,
            "bad_request",
            "body must be a JSON object",
        )),
        None => Err(match shape {
            Shape::Orders => ApiError::orders(400, "required_properties", "body is required"),
            Shape::Classic => ApiError::classic(400, "bad_request", "body is required"),
        }),
    }
}
