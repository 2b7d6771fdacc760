//! `POST /webhooks/mercadopago[/{integrator_id}]`: Mercado Pago's
//! notifications. Checked against `x-signature` with the integrator's
//! secret, recorded (deduplicated), answered 200 at once, and handed to the
//! worker, which re-reads the resource from Mercado Pago before changing
//! anything. Unverified notifications are recorded as rejected (rate
//! limited per client address) and change nothing.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::accounts;
use platform_core::crypto::Aad;
use platform_core::entities::integrators;
use platform_core::id::{InboundNotificationId, IntegratorId};
use platform_core::jobs;
use platform_core::mercadopago::{Notification, parse_notification, verify_signature};
use platform_core::notifications::{self as inbound, NewNotification};
use platform_core::states::NotificationStatus;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// How far `ts` may be from our clock. Mercado Pago re-signs each delivery.
pub const SIGNATURE_TOLERANCE: Duration = Duration::from_secs(15 * 60);
const MAX_BODY: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/mercadopago")
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route(web::post().to(receive_unrouted)),
    )
    .service(
        web::resource("/webhooks/mercadopago/{integrator_id}")
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route(web::post().to(receive_routed)),
    );
}

async fn receive_routed(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // An unknown integrator is answered as a known one with a bad signature
    // (no candidate verifies it): the answer does not tell which ids exist.
    let integrator = match IntegratorId::parse(&path) {
        Ok(id) => accounts::integrator(&state.db, &id).await?,
        Err(_) => None,
    };
    receive(&state, &req, &body, integrator.into_iter().collect()).await
}

/// Without an integrator in the path: the candidates are the integrators
/// with a seller of the body's `user_id`, or whose Mercado Pago application
/// is the body's `application_id` / `client_id` (the legacy topic has no
/// `user_id`); the signature picks the one.
async fn receive_unrouted(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let parsed = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let app_ids: Vec<String> = [&parsed["application_id"], &parsed["client_id"]]
        .into_iter()
        .filter_map(number)
        .map(|n| n.to_string())
        .collect();
    let candidates = inbound::candidates(&state.db, number(&parsed["user_id"]), app_ids).await?;
    receive(&state, &req, &body, candidates).await
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn receive(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    candidates: Vec<integrators::Model>,
) -> Result<HttpResponse, ApiError> {
    let signature = header(req, "x-signature");
    let request_id = header(req, "x-request-id");
    let data_id = query_param(req, "data.id").or_else(|| query_param(req, "id"));
    let query_type = query_param(req, "type").or_else(|| query_param(req, "topic"));
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let topic = parsed["type"]
        .as_str()
        .map(str::to_owned)
        .or(query_type)
        .unwrap_or_else(|| {
            if parsed.get("state").is_some() {
                "point_integration_wh".into()
            } else {
                "unknown".into()
            }
        });

    // The first candidate whose secret verifies the signature.
    let now = platform_core::clock::now();
    let mut verified = None;
    if let Some(sig) = signature {
        for integrator in &candidates {
            let Some(sealed) = &integrator.mp_webhook_secret else {
                continue;
            };
            let Ok(secret) = state.keyring.open(
                sealed,
                Aad::new("integrators", "mp_webhook_secret", integrator.id.as_str()),
            ) else {
                continue;
            };
            if verify_signature(
                sig,
                request_id,
                data_id.as_deref(),
                &secret,
                now,
                SIGNATURE_TOLERANCE,
            )
            .is_ok()
            {
                verified = Some(integrator.id.clone());
                break;
            }
        }
    }

    let Some(integrator_id) = verified else {
        let peer = crate::client_ip::client_ip(req)
            .map(|ip| platform_core::sessions::throttle_net(&ip.to_string()))
            .unwrap_or_default();
        // Per client network (IPv6 by /64) and for all callers together,
        // so many addresses cannot fill the table either.
        if state
            .rate_limiter
            .check(&format!("unverified-notification:{peer}"))
            .await
            .is_ok()
            && state
                .rate_limiter
                .check("unverified-notification:*")
                .await
                .is_ok()
        {
            record(
                state,
                None,
                &topic,
                &parsed,
                data_id.as_deref(),
                request_id,
                false,
                body,
                NotificationStatus::Rejected,
            )
            .await?;
        }
        tracing::warn!(
            topic,
            peer,
            "rejected a notification with a missing or invalid x-signature"
        );
        metrics::counter!("puente_notifications_received_total", "verified" => "false")
            .increment(1);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "x-signature is missing or does not verify",
        ));
    };

    metrics::counter!("puente_notifications_received_total", "verified" => "true").increment(1);
    // An mp-connect names its seller in the signed `data.id`; a body that
    // names another one is refused before anything is stored.
    if let Ok(Notification::MpConnect(n)) = parse_notification(Some(&topic), body)
        && let Err(e) = n.signed_user_id(data_id.as_deref())
    {
        tracing::warn!(integrator = %integrator_id, "refused an mp-connect notification: {}", e.message());
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "user_id_mismatch",
            e.message(),
        ));
    }
    match record(
        state,
        Some(&integrator_id),
        &topic,
        &parsed,
        data_id.as_deref(),
        request_id,
        true,
        body,
        NotificationStatus::Received,
    )
    .await?
    {
        Some(id) => {
            if let Err(e) = state.queue.publish(jobs::NOTIFICATION, id.as_str()).await {
                tracing::warn!(error = %e, notification = %id, "could not queue the notification; the reconciler will");
            }
            Ok(HttpResponse::Ok().json(json!({"status": "received", "id": id})))
        }
        None => Ok(HttpResponse::Ok().json(json!({"status": "duplicate"}))),
    }
}

/// Stores a notification; `None` when it is a duplicate of one already stored.
#[allow(clippy::too_many_arguments)]
async fn record(
    state: &AppState,
    integrator_id: Option<&IntegratorId>,
    topic: &str,
    parsed: &Value,
    data_id: Option<&str>,
    request_id: Option<&str>,
    valid: bool,
    body: &[u8],
    status: NotificationStatus,
) -> Result<Option<InboundNotificationId>, ApiError> {
    let id = InboundNotificationId::new();
    let resource_id = data_id
        .map(str::to_owned)
        .or_else(|| parsed["data"]["id"].as_str().map(str::to_owned))
        .or_else(|| parsed["id"].as_str().map(str::to_owned));
    // Same request id (Mercado Pago's retries reuse it) or same content.
    let dedupe_key = match (valid, request_id) {
        (true, Some(r)) => format!("{}:{r}", integrator_id.map_or("", IntegratorId::as_str)),
        (true, None) => format!(
            "{}:{}",
            integrator_id.map_or("", IntegratorId::as_str),
            platform_core::tokens::sha256_hex(&String::from_utf8_lossy(body))
        ),
        (false, _) => format!("rejected:{id}"),
    };
    let row = NewNotification {
        id: id.clone(),
        integrator_id: integrator_id.cloned(),
        topic: topic.chars().take(64).collect(),
        action: parsed["action"]
            .as_str()
            .map(|a| a.chars().take(64).collect()),
        resource_id: resource_id.map(|r| r.chars().take(128).collect()),
        mp_user_id: match &parsed["user_id"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        },
        request_id: request_id.map(|r| r.chars().take(128).collect()),
        signature_valid: valid,
        dedupe_key,
        body: if valid {
            String::from_utf8_lossy(body).into_owned()
        } else {
            unverified_excerpt(body)
        },
        status,
        // An unverified body is only kept as its hash and a short excerpt:
        // anyone can post one, so it must not cost storage.
        error: (!valid).then(|| {
            format!(
                "unverified; {} bytes; sha256={}",
                body.len(),
                platform_core::tokens::sha256_hex(&String::from_utf8_lossy(body))
            )
        }),
    };
    Ok(inbound::record(&state.db, row).await?.then_some(id))
}

/// What is kept of an unverified body: at most [`UNVERIFIED_EXCERPT`] bytes.
pub const UNVERIFIED_EXCERPT: usize = 1024;

fn unverified_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(UNVERIFIED_EXCERPT)]).into_owned();
    // A cut multi-byte character became U+FFFD (3 bytes): trim back to the limit.
    let mut end = text.len().min(UNVERIFIED_EXCERPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
