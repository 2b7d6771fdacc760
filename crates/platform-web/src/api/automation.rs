//! Integrator automation over the API: what the dashboard does to onboard
//! and equip sellers — onboarding links and terminal operating modes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::accounts;
use platform_core::audit::Actor;
use platform_core::clock;
use platform_core::entities::{onboarding_links, terminals};
use platform_core::id::{OnboardingLinkId, SellerId, TerminalId};
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::onboarding::{self, NewLink};
use platform_core::paging::PageRequest;
use platform_core::registry::RegistryError;
use platform_core::registry_edit::{self, Ctx, EditError};
use platform_core::secret::SecretString;
use platform_core::states::OperatingMode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::{body, idempotent};
use crate::error::ApiError;
use crate::idempotency::Done;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/terminals/{id}", web::patch().to(set_mode))
        .route("/v1/onboarding-links", web::post().to(create_link))
        .route("/v1/onboarding-links", web::get().to(list_links))
        .route("/v1/onboarding-links/{id}", web::delete().to(revoke_link));
}

fn actor(caller: &ApiCaller, req: &HttpRequest) -> Actor {
    Actor::api_key(
        &caller.key.id,
        crate::client_ip::client_ip(req).map(|ip| ip.to_string()),
    )
}

fn integrator_wide(caller: &ApiCaller) -> Result<(), ApiError> {
    if caller.scope.is_integrator_wide() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "only integrator-wide keys can manage onboarding links",
        ))
    }
}

fn edit_error(e: EditError) -> ApiError {
    match e {
        EditError::Fields(fields) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "some fields are not valid",
        )
        .with_details(json!(
            fields
                .iter()
                .map(|p| json!({"field": p.field, "code": p.rule.code()}))
                .collect::<Vec<_>>()
        )),
        EditError::Registry(RegistryError::NotLinked) => ApiError::new(
            StatusCode::CONFLICT,
            "seller_not_linked",
            "the seller must be linked again before changing its terminals",
        ),
        EditError::Registry(RegistryError::Upstream {
            code,
            message,
            retryable,
        }) => {
            let status = if retryable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            ApiError::new(
                status,
                "upstream_rejected",
                format!("Mercado Pago: {message}"),
            )
            .with_details(json!({ "upstream_code": code }))
        }
        EditError::Registry(RegistryError::Core(e)) => e.into(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TerminalModeIn)]
pub(crate) struct ModeIn {
    #[schema(schema_with = super::openapi::schemas::operating_mode)]
    operating_mode: OperatingMode,
}

/// Switches a terminal between PDV and STANDALONE at Mercado Pago, then
/// here. The terminal must be restarted for the change to take effect.
async fn set_mode(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    let input: ModeIn = body::parse(&raw)?;
    let terminal_id = TerminalId::parse_or_not_found(&path)?;
    let terminal = caller
        .scope
        .find::<terminals::Entity>(&state.db, &terminal_id)
        .await?;
    let integrator = accounts::integrator(&state.db, &terminal.integrator_id)
        .await?
        .ok_or_else(|| ApiError::not_found("integrator"))?;
    let ctx = Ctx {
        db: &state.db,
        keyring: &state.keyring,
        mp: &state.mp,
    };
    let saved = registry_edit::set_terminal_mode(
        ctx,
        &caller.scope,
        terminal,
        input.operating_mode,
        integrator.upstream_api,
        &actor(&caller, &req),
    )
    .await
    .map_err(edit_error)?;
    let mut out = super::registry::terminal_json(&saved);
    out["restart_required"] = json!(true);
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OnboardingLinkIn)]
pub(crate) struct LinkIn {
    label: Option<String>,
    /// Hours until the link expires (default 72).
    expires_in_hours: Option<i64>,
    /// Re-link this seller (after `needs_reconnect`).
    seller_id: Option<String>,
}

fn link_json(state: &AppState, l: &onboarding_links::Model) -> Value {
    let now = clock::now();
    json!({
        "id": l.id, "object": "onboarding_link", "label": l.label,
        "status": onboarding::effective_status(l, now), "expires_at": l.expires_at,
        "seller_id": l.seller_id, "used_at": l.used_at, "created_at": l.created_at,
        "public_base": state.settings.public_url.as_str(),
    })
}

async fn create_link(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = body::read(payload).await?;
    integrator_wide(&caller)?;
    let (state_ref, caller_ref, raw_ref, req_ref) = (&state, &caller, &raw, &req);
    idempotent::run(&state, &caller, &req, &raw, |record| async move {
        let (state, caller, raw, req) = (state_ref, caller_ref, raw_ref, req_ref);
        let input: LinkIn = body::parse(raw)?;
        let mut new = NewLink {
            label: input.label.unwrap_or_default(),
            ttl_hours: input.expires_in_hours.unwrap_or(72),
            seller_id: None,
        };
        if let Some(reason) = onboarding::validate_link(&new).first() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("{}: {}", reason.field(), reason.code()),
            ));
        }
        // Looked up after the form rules, as core does.
        new.seller_id = input
            .seller_id
            .as_deref()
            .map(SellerId::parse_or_not_found)
            .transpose()?;
        // Shown once: only the token's hash is kept on the link (and the
        // URL, sealed, in the idempotency record within its window).
        let out_of = |(link, token): &(onboarding_links::Model, SecretString)| {
            let mut out = link_json(state, link);
            out["url"] = json!(crate::dashboard::links::link_url(
                state,
                token.expose_secret()
            ));
            out
        };
        let render = |created: &(onboarding_links::Model, SecretString)| {
            StoredResponse::created(&out_of(created))
        };
        let completion =
            Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
        let created = onboarding::create_link(
            &state.db,
            &caller.scope,
            &actor(caller, req),
            new,
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The previous page's `next_cursor`.
    starting_after: Option<String>,
    /// 1–100.
    limit: Option<u64>,
}

async fn list_links(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    integrator_wide(&caller)?;
    let page = onboarding::list_links(
        &state.db,
        &caller.scope,
        &PageRequest::new(q.starting_after.as_deref(), q.limit),
    )
    .await?;
    let data: Vec<Value> = page.items.iter().map(|l| link_json(&state, l)).collect();
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data, "has_more": page.next_before.is_some(), "next_cursor": page.next_before })))
}

async fn revoke_link(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    integrator_wide(&caller)?;
    let link_id = OnboardingLinkId::parse_or_not_found(&path)?;
    onboarding::revoke_link(&state.db, &caller.scope, &actor(&caller, &req), &link_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
