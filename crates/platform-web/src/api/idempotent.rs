//! Running a create under an `Idempotency-Key`.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use platform_core::idempotency::{self, Claim};

use super::auth::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

/// Runs `work` once per (key, Idempotency-Key); a retry with the same body
/// gets the stored response (marked `Idempotent-Replayed: true`).
/// `work` gets the claimed record's id (when the request has a key) so it
/// can complete the record inside its own transaction
/// (`idempotency::complete_in`), and returns the status, the JSON body and
/// the created resource id.
pub async fn run<F, Fut>(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    body: &[u8],
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value, Option<String>), ApiError>>,
{
    let Some(key) = req.headers().get(HEADER) else {
        let (status, json, _) = work(None).await?;
        return Ok(HttpResponse::build(status).json(json));
    };
    let key = key.to_str().map_err(|_| {
        ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be visible ASCII",
        )
    })?;
    let fingerprint = idempotency::request_fingerprint(req.method().as_str(), req.path(), body);
    let claim = idempotency::claim(
        &state.db,
        &state.keyring,
        caller.scope.integrator_id().as_str(),
        caller.key_id(),
        key,
        &fingerprint,
    )
    .await
    .map_err(|e| match e {
        platform_core::CoreError::Invalid {
            code: "idempotency_key_reused",
            message,
        } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            message,
        ),
        other => other.into(),
    })?;
    let record_id = match claim {
        Claim::Replay { status, body } => {
            return Ok(
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .insert_header(("Idempotent-Replayed", "true"))
                    .content_type("application/json")
                    .body(body),
            );
        }
        Claim::Fresh { record_id } => record_id,
    };
    match work(Some(record_id.clone())).await {
        Ok((status, json, resource)) => {
            let text = json.to_string();
            idempotency::complete(
                &state.db,
                &state.keyring,
                &record_id,
                status.as_u16(),
                &text,
                resource.as_deref(),
            )
            .await?;
            Ok(HttpResponse::build(status)
                .content_type("application/json")
                .body(text))
        }
        // A rejected request is as final as an accepted one, except when
        // retrying later can succeed (busy terminal, rate limit, outages).
        Err(err) if err.status.is_client_error() && !matches!(err.status.as_u16(), 409 | 429) => {
            let text = serde_json::to_string(&err).unwrap_or_default();
            idempotency::complete(
                &state.db,
                &state.keyring,
                &record_id,
                err.status.as_u16(),
                &text,
                None,
            )
            .await?;
            Err(err)
        }
        Err(err) => {
            idempotency::release(&state.db, &record_id).await?;
            Err(err)
        }
    }
}
