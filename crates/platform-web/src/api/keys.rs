//! `/v1/api-keys`: integrator-wide keys create, list and revoke keys.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform_core::api_keys::{self, NewApiKey};
use platform_core::entities::api_keys as rows;
use platform_core::id::ApiKeyId;
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::secret::SecretString;
use platform_core::states::{KeyAccess, KeyMode, ScopeKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
use crate::idempotency::Done;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/api-keys", web::post().to(create))
        .route("/v1/api-keys", web::get().to(list))
        .route("/v1/api-keys/{id}", web::delete().to(revoke));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKeyIn)]
pub(crate) struct KeyIn {
    name: String,
    /// `integrator` (default), `seller`, `store` or `pos`.
    #[schema(schema_with = super::openapi::schemas::scope_kind_or_null)]
    scope: Option<ScopeKind>,
    /// The seller, store or POS id for narrowed keys.
    scope_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    /// `full` (default) or `read_only`: a key for reporting tools that may
    /// only send `GET` requests.
    #[schema(schema_with = super::openapi::schemas::key_access_or_null)]
    access: Option<KeyAccess>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct KeyOut {
    id: String,
    #[schema(schema_with = super::openapi::schemas::object::api_key)]
    object: &'static str,
    name: String,
    prefix: String,
    #[schema(schema_with = super::openapi::schemas::key_mode)]
    mode: KeyMode,
    #[schema(schema_with = super::openapi::schemas::scope_kind)]
    scope: ScopeKind,
    seller_id: Option<String>,
    store_id: Option<String>,
    pos_id: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    #[schema(schema_with = super::openapi::schemas::key_access)]
    access: KeyAccess,
}

impl From<&rows::Model> for KeyOut {
    fn from(k: &rows::Model) -> Self {
        KeyOut {
            id: k.id.to_string(),
            object: "api_key",
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            mode: k.mode,
            scope: k.scope_kind,
            seller_id: k.seller_id.as_ref().map(ToString::to_string),
            store_id: k.store_id.as_ref().map(ToString::to_string),
            pos_id: k.pos_id.as_ref().map(ToString::to_string),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            access: k.access,
        }
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
        let input: KeyIn = body::parse(raw)?;
        let new = NewApiKey {
            name: input.name,
            scope_kind: input.scope.unwrap_or(ScopeKind::Integrator),
            target_id: input.scope_id,
            expires_at: input.expires_at,
            // Keys inherit the mode of the key that made them.
            mode: caller.key.mode,
            // A read-only caller never gets here (it may only read), so a
            // key never grants more than the key that made it.
            access: input.access.unwrap_or(KeyAccess::Full),
        };
        // The only time the key is ever shown (and replayed, sealed, within
        // the idempotency window).
        let out_of = |(row, secret): &(rows::Model, SecretString)| {
            let mut out = serde_json::to_value(KeyOut::from(row)).unwrap_or_default();
            out["key"] = json!(secret.expose_secret());
            out
        };
        let render =
            |created: &(rows::Model, SecretString)| StoredResponse::created(&out_of(created));
        let completion =
            Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
        let created = api_keys::create(
            &state.db,
            &caller.scope,
            new,
            Some(caller.key.id.to_string()),
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
    let keys = api_keys::list(&state.db, &caller.scope).await?;
    let data: Vec<KeyOut> = keys.iter().map(KeyOut::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data, "has_more": false })))
}

async fn revoke(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key_id = ApiKeyId::parse_or_not_found(&path)?;
    let row = api_keys::revoke(&state.db, &caller.scope, &key_id).await?;
    Ok(HttpResponse::Ok().json(KeyOut::from(&row)))
}
