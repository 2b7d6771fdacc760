//! Reading JSON bodies ourselves (handlers need the raw bytes for
//! idempotency fingerprints) with the same errors as the extractors.
//!
//! Handlers take `web::Payload`, which reads nothing by itself, and call
//! [`read`] once the caller is authenticated: a stranger cannot make Puente
//! buffer a body, and an oversized one is a JSON `413 payload_too_large`
//! for a known caller only.

use actix_web::http::StatusCode;
use actix_web::web;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body the API reads.
pub const MAX_BODY: usize = 256 * 1024;

/// Why a body could not be read.
pub enum Unreadable {
    TooLarge,
    Broken(String),
}

/// The whole body, at most [`MAX_BODY`].
pub async fn read_raw(payload: web::Payload) -> Result<web::Bytes, Unreadable> {
    match payload.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(Unreadable::Broken(e.to_string())),
        Err(_) => Err(Unreadable::TooLarge),
    }
}

/// [`read_raw`] with the native API's errors.
pub async fn read(payload: web::Payload) -> Result<web::Bytes, ApiError> {
    read_raw(payload).await.map_err(|e| match e {
        Unreadable::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {} KiB", MAX_BODY / 1024),
        ),
        Unreadable::Broken(why) => {
            ApiError::bad_request("invalid_body", format!("the body could not be read: {why}"))
        }
    })
}

pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the body does not match the expected shape: {e}"),
            )
        } else {
            ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
        }
    })
}
