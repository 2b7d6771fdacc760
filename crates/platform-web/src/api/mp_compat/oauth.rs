//! `POST /oauth/token` (reference §1.2), for a POS that holds a Puente key.
//!
//! A Puente key is the POS's whole credential: it stands for a Mercado Pago
//! token of the key's reach, and Puente holds the sellers' real grants.
//! So:
//!
//! - `client_credentials` with `client_id` = the key's id and
//!   `client_secret` = the key answers Mercado Pago's token shape for that
//!   key: `access_token` is the key itself (what the POS then sends as its
//!   Bearer token), `user_id` the seller's Mercado Pago user id for a key
//!   narrowed to a seller (else the integrator's, its sponsor id). Never a
//!   seller's token.
//! - `authorization_code` and `refresh_token` answer `400 invalid_grant`:
//!   a seller's grant is obtained by Puente, through the integrator's
//!   onboarding link, never by a POS; the message says so.
//! - anything else: `400 unsupported_grant_type`.
//!
//! The body is JSON or form-encoded (both are seen in the wild, §1.2), and
//! query parameters count too. Errors use the classic shape with the OAuth
//! codes.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::states::{KeyAccess, KeyMode};
use serde_json::{Value, json};

use super::error::{MpError, Shape};
use super::state;

const S: Shape = Shape::Classic;

/// Mercado Pago's lifetime of a `client_credentials` token (§1.2: 6 hours).
const APP_TOKEN_SECS: i64 = 6 * 3600;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/token", web::post().to(token));
}

fn oauth_error(code: &str, message: impl Into<String>) -> MpError {
    MpError::classic(400, code, message)
}

/// The request's parameters: the JSON or form body, then the query string.
fn params(req: &HttpRequest, raw: &[u8]) -> Result<HashMap<String, String>, MpError> {
    let mut out: HashMap<String, String> = HashMap::new();
    if !raw.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(o)) => {
                for (k, v) in o {
                    let v = match v {
                        Value::String(s) => s,
                        Value::Null => continue,
                        other => other.to_string(),
                    };
                    out.insert(k, v);
                }
            }
            Ok(_) => {
                return Err(oauth_error(
                    "invalid_request",
                    "the body must be a JSON object",
                ));
            }
            Err(_) => {
                let form: Vec<(String, String)> =
                    serde_urlencoded::from_bytes(raw).map_err(|_| {
                        oauth_error("invalid_request", "the body must be JSON or form-encoded")
                    })?;
                out.extend(form);
            }
        }
    }
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    for (k, v) in query {
        out.entry(k).or_insert(v);
    }
    Ok(out)
}

async fn token(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let raw = super::read_body(payload, S).await?;
    let p = params(&req, &raw)?;
    match p.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some("authorization_code" | "refresh_token") => {
            return Err(oauth_error(
                "invalid_grant",
                "Puente does not exchange Mercado Pago grants: a seller links its Mercado Pago account through the integrator's onboarding link (Puente dashboard, Sellers), and a POS uses a Puente API key as its token. A key id and the key as client_id and client_secret with grant_type client_credentials answer a token for that key.",
            ));
        }
        Some(other) => {
            return Err(oauth_error(
                "unsupported_grant_type",
                format!(
                    "grant_type {other} is not supported; use client_credentials with a Puente API key"
                ),
            ));
        }
        None => return Err(oauth_error("invalid_request", "grant_type is required")),
    }
    let (Some(client_id), Some(secret)) = (p.get("client_id"), p.get("client_secret")) else {
        return Err(oauth_error(
            "invalid_client",
            "client_id (the API key's id) and client_secret (the API key) are required",
        ));
    };
    let caller = crate::api::auth::authenticate(&req, Some(secret.clone()))
        .await
        .map_err(|e| match e.status.as_u16() {
            429 => MpError::from_auth(S, e),
            403 => oauth_error("unauthorized_client", e.message),
            _ => oauth_error("invalid_client", "the client credentials are not valid"),
        })?;
    if caller.key_id().as_str() != client_id {
        return Err(oauth_error(
            "invalid_client",
            "the client credentials are not valid",
        ));
    }
    let now = platform_core::clock::now();
    let expires_in = caller
        .key
        .expires_at
        .map(|e| (e - now).num_seconds().clamp(0, APP_TOKEN_SECS))
        .unwrap_or(APP_TOKEN_SECS);
    let user_id = match caller.scope.seller_id() {
        Some(seller) => Some(
            platform_core::sellers::in_scope(&state.db, &caller.scope, seller)
                .await
                .map_err(|e| MpError::from_core(S, e))?
                .mp_user_id,
        ),
        None => platform_core::accounts::integrator(&state.db, caller.scope.integrator_id())
            .await
            .map_err(|e| MpError::from_core(S, e))?
            .and_then(|i| i.sponsor_id)
            .and_then(|s| s.parse::<i64>().ok()),
    };
    let scope = match caller.key.access {
        KeyAccess::Full => "read write",
        KeyAccess::ReadOnly => "read",
    };
    Ok(HttpResponse::Ok().json(json!({
        "access_token": secret,
        "token_type": "bearer",
        "expires_in": expires_in,
        "scope": scope,
        "user_id": user_id,
        "live_mode": caller.key.mode == KeyMode::Live,
    })))
}
