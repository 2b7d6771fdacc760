//! Reading JSON bodies ourselves (handlers need the raw bytes for
//! idempotency fingerprints) with the same errors as the extractors.

use actix_web::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

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
