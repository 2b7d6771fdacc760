//! Read access to the seller / store / POS / terminal registry.

use actix_web::{HttpResponse, web};
use platform_core::entities::{pos, sellers, stores, terminals};
use platform_core::registry::{self, ListFilter};
use platform_core::tenancy::{self, TenantEntity};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::auth::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/sellers", web::get().to(list_sellers))
        .route("/v1/sellers/{id}", web::get().to(get_seller))
        .route("/v1/stores", web::get().to(list_stores))
        .route("/v1/stores/{id}", web::get().to(get_store))
        .route("/v1/pos", web::get().to(list_pos))
        .route("/v1/pos/{id}", web::get().to(get_pos))
        .route("/v1/terminals", web::get().to(list_terminals))
        .route("/v1/terminals/{id}", web::get().to(get_terminal));
}

/// The filters of every registry list; each list applies the ones that fit
/// its objects (see the operation) and ignores the others.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    seller_id: Option<String>,
    store_id: Option<String>,
    pos_id: Option<String>,
    /// Sellers: `linked`, `needs_reconnect` or `unlinked`.
    link_status: Option<String>,
    /// The previous page's `next_cursor`.
    starting_after: Option<String>,
    /// 1–100, default 50.
    limit: Option<u64>,
}

const MAX_PAGE: u64 = 100;

pub fn seller_json(s: &sellers::Model) -> Value {
    json!({
        "id": s.id, "object": "seller", "mp_user_id": s.mp_user_id, "nickname": s.nickname,
        "site_id": s.site_id, "live_mode": s.live_mode, "link_status": s.link_status,
        "label": s.label, "linked_at": s.linked_at, "created_at": s.created_at,
    })
}

pub fn store_json(s: &stores::Model) -> Value {
    json!({
        "id": s.id, "object": "store", "seller_id": s.seller_id, "mp_store_id": s.mp_store_id,
        "external_id": s.external_id, "name": s.name,
        "location": { "street_name": s.street_name, "street_number": s.street_number, "city_name": s.city_name,
                      "state_name": s.state_name, "latitude": s.latitude, "longitude": s.longitude, "reference": s.reference },
        "created_at": s.created_at,
    })
}

pub fn pos_json(p: &pos::Model) -> Value {
    json!({
        "id": p.id, "object": "pos", "seller_id": p.seller_id, "store_id": p.store_id, "mp_pos_id": p.mp_pos_id,
        "external_id": p.external_id, "name": p.name, "category": p.category, "created_at": p.created_at,
    })
}

pub(crate) fn terminal_json(t: &terminals::Model) -> Value {
    json!({
        "id": t.id, "object": "terminal", "seller_id": t.seller_id, "store_id": t.store_id, "pos_id": t.pos_id,
        "device_id": t.device_id, "model": t.model, "operating_mode": t.operating_mode, "updated_at": t.updated_at,
    })
}

/// The page size asked for, 1–[`MAX_PAGE`].
fn limit_of(q: &PageQuery) -> Result<u64, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1–{MAX_PAGE}"),
        ));
    }
    Ok(limit)
}

/// The filters of the query, for `registry::list_*`.
fn filter_of(q: &PageQuery) -> ListFilter {
    ListFilter {
        seller_id: q.seller_id.clone(),
        store_id: q.store_id.clone(),
        pos_id: q.pos_id.clone(),
        link_status: q.link_status.clone(),
    }
}

/// One page of the caller's scope (newest first) as a list object.
fn page<M>(rows: Vec<M>, has_more: bool, to_json: fn(&M) -> Value) -> HttpResponse {
    let data: Vec<Value> = rows.iter().map(to_json).collect();
    let next = if has_more {
        data.last()
            .and_then(|d| d["id"].as_str().map(str::to_owned))
    } else {
        None
    };
    HttpResponse::Ok()
        .json(json!({ "object": "list", "data": data, "has_more": has_more, "next_cursor": next }))
}

async fn list_sellers(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    if let Some(s) = &q.link_status
        && platform_core::states::LinkStatus::parse(s).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_link_status",
            "link_status is linked, needs_reconnect or unlinked",
        ));
    }
    let limit = limit_of(&q)?;
    let (rows, more) = registry::list_sellers(
        &state.db,
        &caller.scope,
        &filter_of(&q),
        q.starting_after.as_deref(),
        limit,
    )
    .await?;
    Ok(page(rows, more, seller_json))
}

async fn list_stores(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_of(&q)?;
    let (rows, more) = registry::list_stores(
        &state.db,
        &caller.scope,
        &filter_of(&q),
        q.starting_after.as_deref(),
        limit,
    )
    .await?;
    Ok(page(rows, more, store_json))
}

async fn list_pos(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_of(&q)?;
    let (rows, more) = registry::list_pos(
        &state.db,
        &caller.scope,
        &filter_of(&q),
        q.starting_after.as_deref(),
        limit,
    )
    .await?;
    Ok(page(rows, more, pos_json))
}

async fn list_terminals(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_of(&q)?;
    let (rows, more) = registry::list_terminals(
        &state.db,
        &caller.scope,
        &filter_of(&q),
        q.starting_after.as_deref(),
        limit,
    )
    .await?;
    Ok(page(rows, more, terminal_json))
}

async fn get_one<E: TenantEntity>(
    state: &AppState,
    caller: &ApiCaller,
    id: &str,
    to_json: fn(&E::Model) -> Value,
) -> Result<HttpResponse, ApiError>
where
    E::Model: Sync,
{
    let id = tenancy::parse_id::<E>(id)?;
    let row = caller.scope.find::<E>(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(to_json(&row)))
}

async fn get_seller(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get_one::<sellers::Entity>(&state, &caller, &id, seller_json).await
}
async fn get_store(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get_one::<stores::Entity>(&state, &caller, &id, store_json).await
}
async fn get_pos(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get_one::<pos::Entity>(&state, &caller, &id, pos_json).await
}
async fn get_terminal(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get_one::<terminals::Entity>(&state, &caller, &id, terminal_json).await
}
