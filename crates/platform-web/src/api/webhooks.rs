//! `/v1/webhook-endpoints` and `/v1/webhook-deliveries`: an integrator's
//! outgoing webhooks. Only integrator-wide keys manage them
//! (`insufficient_scope` otherwise); narrowed keys find no endpoint or
//! delivery (404), as their scope already says.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform_core::clock;
use platform_core::entities::{webhook_attempts, webhook_deliveries, webhook_endpoints};
use platform_core::id::{WebhookDeliveryId, WebhookEndpointId};
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::jobs;
use platform_core::paging::PageRequest;
use platform_core::secret::SecretString;
use platform_core::states::{DeliveryStatus, EndpointStatus};
use platform_core::webhooks::delivery;
use platform_core::webhooks::endpoints::{self, EndpointPatch, NewEndpoint, UrlRules};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
use crate::idempotency::Done;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/webhook-endpoints", web::post().to(create))
        .route("/v1/webhook-endpoints", web::get().to(list))
        .route("/v1/webhook-endpoints/{id}", web::get().to(get))
        .route("/v1/webhook-endpoints/{id}", web::patch().to(update))
        .route("/v1/webhook-endpoints/{id}", web::delete().to(delete))
        .route(
            "/v1/webhook-endpoints/{id}/rotate-secret",
            web::post().to(rotate_secret),
        )
        .route(
            "/v1/webhook-endpoints/{id}/deliveries",
            web::get().to(list_deliveries),
        )
        .route(
            "/v1/webhook-endpoints/{id}/replay",
            web::post().to(replay_since),
        )
        .route("/v1/webhook-deliveries/{id}", web::get().to(get_delivery))
        .route(
            "/v1/webhook-deliveries/{id}/replay",
            web::post().to(replay_delivery),
        );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookEndpointIn)]
pub(crate) struct EndpointIn {
    url: String,
    description: Option<String>,
    /// Empty or absent = every event type.
    #[serde(default)]
    event_types: Vec<String>,
    seller_id: Option<String>,
}

/// `Some(None)` for an explicit `null` (clear), `None` when absent.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookEndpointPatchIn)]
pub(crate) struct EndpointPatchIn {
    url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    seller_id: Option<Option<String>>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookReplayIn)]
pub(crate) struct ReplayIn {
    since: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// 1–100, default 25.
    limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    before: Option<String>,
    /// `pending`, `succeeded` or `dead`.
    status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookEndpoint)]
pub struct EndpointOut {
    id: String,
    #[schema(schema_with = super::openapi::schemas::object::webhook_endpoint)]
    object: &'static str,
    url: String,
    description: Option<String>,
    event_types: Vec<String>,
    seller_id: Option<String>,
    #[schema(schema_with = super::openapi::schemas::endpoint_status)]
    status: EndpointStatus,
    disabled_reason: Option<String>,
    failing_since: Option<DateTime<Utc>>,
    /// While set and in the future, the previous secret also signs.
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&webhook_endpoints::Model> for EndpointOut {
    fn from(e: &webhook_endpoints::Model) -> Self {
        EndpointOut {
            id: e.id.to_string(),
            object: "webhook_endpoint",
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: endpoints::event_types(e),
            seller_id: e.seller_id.as_ref().map(ToString::to_string),
            status: e.status,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookAttempt)]
pub struct AttemptOut {
    attempt_no: i32,
    status_code: Option<i32>,
    latency_ms: i64,
    response_snippet: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<&webhook_attempts::Model> for AttemptOut {
    fn from(a: &webhook_attempts::Model) -> Self {
        AttemptOut {
            attempt_no: a.attempt_no,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_snippet: a.response_snippet.clone(),
            error: a.error.clone(),
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryOut {
    id: String,
    #[schema(schema_with = super::openapi::schemas::object::webhook_delivery)]
    object: &'static str,
    endpoint_id: String,
    event_id: String,
    event_type: String,
    #[schema(schema_with = super::openapi::schemas::delivery_status)]
    status: DeliveryStatus,
    attempt_count: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<Vec<AttemptOut>>,
}

impl From<&webhook_deliveries::Model> for DeliveryOut {
    fn from(d: &webhook_deliveries::Model) -> Self {
        DeliveryOut {
            id: d.id.to_string(),
            object: "webhook_delivery",
            endpoint_id: d.endpoint_id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type.clone(),
            status: d.status,
            attempt_count: d.attempt_count,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            completed_at: d.completed_at,
            attempts: None,
        }
    }
}

fn with_secret(out: EndpointOut, secret: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(out).unwrap_or_default();
    // The only time the secret is ever shown.
    v["secret"] = json!(secret);
    v
}

/// Queues deliveries after their rows are committed; a failure only delays
/// them (the reconciler re-queues overdue rows).
async fn publish(state: &AppState, ids: &[WebhookDeliveryId]) {
    for id in ids {
        if let Err(e) = state
            .queue
            .publish(jobs::WEBHOOK_DELIVERY, id.as_str())
            .await
        {
            tracing::warn!(delivery = %id, error = %e, "could not queue a replayed webhook delivery; the reconciler will");
        }
    }
}

fn require_integrator_wide(caller: &ApiCaller) -> Result<(), ApiError> {
    if caller.scope.is_integrator_wide() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "only integrator-wide keys can manage webhook endpoints",
        ))
    }
}

async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let (state_ref, caller_ref, raw_ref) = (&state, &caller, &raw);
    idempotent::run(&state, &caller, &req, &raw, |record| async move {
        let (state, caller, raw) = (state_ref, caller_ref, raw_ref);
        let input: EndpointIn = body::parse(raw)?;
        let new = NewEndpoint {
            url: input.url,
            description: input.description,
            event_types: input.event_types,
            seller_id: input.seller_id,
        };
        let rules = UrlRules::from_settings(&state.settings);
        let out_of = |(row, secret): &(webhook_endpoints::Model, SecretString)| {
            with_secret(EndpointOut::from(row), secret.expose_secret())
        };
        let render = |created: &(webhook_endpoints::Model, SecretString)| {
            StoredResponse::created(&out_of(created))
        };
        let completion =
            Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
        let created = endpoints::create(
            &state.db,
            &state.keyring,
            &caller.scope,
            &rules,
            new,
            clock::now(),
            completion.as_ref(),
        )
        .await?;
        Ok(Done::created(
            StatusCode::CREATED,
            out_of(&created),
            &created.0.id,
        ))
    })
    .await
}

async fn list(state: web::Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    require_integrator_wide(&caller)?;
    let rows = endpoints::list(&state.db, &caller.scope).await?;
    let data: Vec<EndpointOut> = rows.iter().map(EndpointOut::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data, "has_more": false })))
}

async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint_id = WebhookEndpointId::parse_or_not_found(&path)?;
    let row = endpoints::get(&state.db, &caller.scope, &endpoint_id).await?;
    Ok(HttpResponse::Ok().json(EndpointOut::from(&row)))
}

async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let input: EndpointPatchIn = body::parse(&raw)?;
    let patch = EndpointPatch {
        url: input.url,
        description: input.description,
        event_types: input.event_types,
        seller_id: input.seller_id,
        enabled: input.enabled,
    };
    let rules = UrlRules::from_settings(&state.settings);
    let endpoint_id = WebhookEndpointId::parse_or_not_found(&path)?;
    let row = endpoints::update(
        &state.db,
        &caller.scope,
        &rules,
        &endpoint_id,
        patch,
        clock::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(EndpointOut::from(&row)))
}

async fn delete(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint_id = WebhookEndpointId::parse_or_not_found(&path)?;
    endpoints::delete(&state.db, &caller.scope, &endpoint_id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": path.as_str(),
        "object": "webhook_endpoint",
        "deleted": true,
    })))
}

async fn rotate_secret(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint_id = WebhookEndpointId::parse_or_not_found(&path)?;
    let (row, secret) = endpoints::rotate_secret(
        &state.db,
        &state.keyring,
        &caller.scope,
        &endpoint_id,
        clock::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(with_secret(EndpointOut::from(&row), secret.expose_secret())))
}

async fn list_deliveries(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(25);
    if !(1..=platform_core::paging::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
            format!("limit must be 1–{}", platform_core::paging::MAX_LIMIT),
        ));
    }
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_status",
                format!("status must be one of pending, succeeded, dead (got `{s}`)"),
            )
        })?),
    };
    let page = PageRequest::new(q.before.as_deref(), Some(limit));
    let endpoint_id = WebhookEndpointId::parse_or_not_found(&path)?;
    let page =
        delivery::list_for_endpoint(&state.db, &caller.scope, &endpoint_id, status, &page).await?;
    let data: Vec<DeliveryOut> = page.items.iter().map(DeliveryOut::from).collect();
    Ok(HttpResponse::Ok().json(json!({
        "object": "list",
        "data": data,
        "has_more": page.next_before.is_some(),
        "next_cursor": page.next_before,
    })))
}

async fn get_delivery(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let delivery_id = WebhookDeliveryId::parse_or_not_found(&path)?;
    let (d, attempts) = delivery::get_with_attempts(&state.db, &caller.scope, &delivery_id).await?;
    let mut out = DeliveryOut::from(&d);
    out.attempts = Some(attempts.iter().map(AttemptOut::from).collect());
    Ok(HttpResponse::Ok().json(out))
}

async fn replay_delivery(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let delivery_id = WebhookDeliveryId::parse_or_not_found(&path)?;
    let d = delivery::replay(&state.db, &caller.scope, &delivery_id, clock::now()).await?;
    publish(&state, std::slice::from_ref(&d.id)).await;
    Ok(HttpResponse::Accepted().json(DeliveryOut::from(&d)))
}

async fn replay_since(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let input: ReplayIn = body::parse(&raw)?;
    let now = clock::now();
    if input.since > now {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_since",
            "since is in the future",
        ));
    }
    let endpoint_id = WebhookEndpointId::parse_or_not_found(&path)?;
    let ids =
        delivery::replay_failed_since(&state.db, &caller.scope, &endpoint_id, input.since, now)
            .await?;
    publish(&state, &ids).await;
    Ok(HttpResponse::Accepted().json(json!({
        "object": "webhook_replay",
        "endpoint_id": path.as_str(),
        "since": input.since,
        "count": ids.len(),
        "delivery_ids": ids,
    })))
}
