//! In-store QR orders (reference §6): v2
//! `PUT /instore/qr/seller/collectors/{user_id}[/stores/{external_store_id}]/pos/{external_pos_id}/orders`
//! (204), `GET`/`DELETE …/collectors/{user_id}/pos/{external_pos_id}/orders`,
//! and the legacy `POST /mpmobile/instore/qr/{user_id}/{external_id}`.
//! Classic errors.
//!
//! Through `platform_core::qr_orders`, like the native API's QR orders: the
//! POS of the scope (by the seller's user id and the POS's external id), the
//! order sent to Mercado Pago with the seller's token and the integrator's
//! sponsor (whatever sponsor the POS sent is replaced; a POS can neither omit
//! nor forge it), recorded so the dashboard, the native API and the payment
//! that pays it find it. The legacy create is sent as a v2 order.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::{pos, qr_orders as qr_rows, sellers};
use platform_core::error::Invalid;
use platform_core::id::{IdempotencyRecordId, PosId};
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::mercadopago::{Amount, QrCashOut, QrItem, QrOrderRequest};
use platform_core::states::QrOrderStatus;
use platform_core::{mp_registry, qr_orders};
use serde_json::{Map, Value, json};

use super::error::{MpError, Shape};
use super::{caller, idem, state};
use crate::idempotency::Done;
use crate::state::AppState;

const S: Shape = Shape::Classic;
const BASE: &str = "/instore/qr/seller/collectors/{user_id}";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("{BASE}/stores/{{store}}/pos/{{pos}}/orders"),
        web::put().to(put_with_store),
    )
    .route(
        &format!("{BASE}/pos/{{pos}}/orders"),
        web::put().to(put_without_store),
    )
    .route(&format!("{BASE}/pos/{{pos}}/orders"), web::get().to(get))
    .route(
        &format!("{BASE}/pos/{{pos}}/orders"),
        web::delete().to(delete),
    )
    .route(
        "/mpmobile/instore/qr/{user_id}/{external_id}",
        web::post().to(legacy),
    );
}

fn bad(code: &str, message: impl Into<String>) -> MpError {
    MpError::classic(400, code, message)
}

fn no_order() -> MpError {
    MpError::classic(
        404,
        "point_of_sale_in_store_order_not_found",
        "There is no order for this point of sale",
    )
}

fn core(e: platform_core::CoreError) -> MpError {
    match e {
        platform_core::CoreError::Invalid {
            reason: Invalid::ExternalReference,
            message,
        } => bad("invalid_external_reference", message),
        platform_core::CoreError::Invalid {
            reason: Invalid::AmountOutOfRange,
            message,
        } => bad("invalid_total_amount", message),
        other => MpError::from_core(S, other),
    }
}

/// The seller (by Mercado Pago user id) and its POS (by external id) in the
/// scope; anything else is an unknown collector or POS, as at Mercado Pago.
async fn target(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    user: &str,
    external_pos: &str,
) -> Result<(sellers::Model, pos::Model), MpError> {
    let unknown_collector = || {
        bad(
            "invalid_collectorId",
            "collector id is not valid for this token",
        )
    };
    let user = user.parse::<i64>().map_err(|_| unknown_collector())?;
    let seller = mp_registry::seller_by_mp_user(&state.db, scope, user)
        .await
        .map_err(core)?
        .ok_or_else(unknown_collector)?;
    let p = mp_registry::pos_by_external_id(&state.db, scope, &seller.id, external_pos)
        .await
        .map_err(core)?
        .ok_or_else(|| bad("invalid_externalPosId", "external_pos_id does not exist"))?;
    Ok((seller, p))
}

/// A JSON number as an amount (at most 2 decimals), never through floats.
fn amount(v: Option<&Value>, code: &str) -> Result<Amount, MpError> {
    match v {
        Some(Value::Number(n)) => {
            let text = n.to_string();
            let text = text.strip_suffix(".0").unwrap_or(&text);
            Amount::parse_decimal(text)
                .ok()
                .filter(|a| a.cents() > 0)
                .ok_or_else(|| {
                    bad(
                        code,
                        format!("{code}: a positive amount with up to 2 decimals"),
                    )
                })
        }
        _ => Err(bad(code, format!("{code}: a positive number"))),
    }
}

/// Minor units as the JSON number Mercado Pago writes (`24.05`).
fn number(cents: i64) -> Value {
    json!(cents as f64 / 100.0)
}

fn text(o: &Map<String, Value>, field: &str, code: &str) -> Result<Option<String>, MpError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(code, format!("{field} must be a string"))),
    }
}

/// The v2 body (§6) as the order Puente sends. `notification_url` is not
/// forwarded: Mercado Pago notifies Puente, which re-delivers to the
/// integrator's webhooks.
fn parse_v2(o: &Map<String, Value>) -> Result<QrOrderRequest, MpError> {
    const KEYS: &[&str] = &[
        "external_reference",
        "title",
        "description",
        "notification_url",
        "expiration_date",
        "total_amount",
        "items",
        "sponsor",
        "cash_out",
    ];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad("bad_request", format!("unknown field {k}")));
    }
    let external_reference = text(o, "external_reference", "invalid_external_reference")?
        .filter(|r| {
            !r.is_empty()
                && r.len() <= 64
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or_else(|| {
            bad(
                "invalid_external_reference",
                "external_reference is invalid",
            )
        })?;
    let total = amount(o.get("total_amount"), "invalid_total_amount")?;
    let items_in = o
        .get("items")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("invalid_items", "items are required"))?;
    let mut items = Vec::with_capacity(items_in.len());
    let mut sum = 0i64;
    for it in items_in {
        let Value::Object(it) = it else {
            return Err(bad("invalid_items", "each item must be an object"));
        };
        let unit_price = amount(it.get("unit_price"), "invalid_items.unit_price")?;
        let quantity = it
            .get("quantity")
            .and_then(Value::as_u64)
            .and_then(|q| u32::try_from(q).ok())
            .filter(|q| *q > 0)
            .ok_or_else(|| {
                bad(
                    "invalid_items.quantity",
                    "quantity must be a positive integer",
                )
            })?;
        let title = text(it, "title", "invalid_items.title")?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("invalid_items.title", "title is required"))?;
        let line = match it.get("total_amount") {
            None | Some(Value::Null) => {
                Amount::from_cents(unit_price.cents() * i64::from(quantity))
                    .map_err(|e| bad("invalid_items.total_amount", e.to_string()))?
            }
            v => amount(v, "invalid_items.total_amount")?,
        };
        sum += line.cents();
        items.push(QrItem {
            sku_number: text(it, "sku_number", "invalid_items.sku_number")?,
            category: text(it, "category", "invalid_items.category")?,
            title,
            description: text(it, "description", "invalid_items.description")?,
            unit_price,
            quantity,
            unit_measure: text(it, "unit_measure", "invalid_items.unit_measure")?
                .unwrap_or_else(|| "unit".into()),
            total_amount: line,
        });
    }
    if sum != total.cents() {
        return Err(bad(
            "invalid_total_amount",
            "total_amount must equal the sum of the items",
        ));
    }
    if let Some(s) = o.get("sponsor")
        && !s.is_null()
        && !s
            .get("id")
            .is_some_and(|id| id.is_number() || id.is_string())
    {
        return Err(bad("invalid_sponsor.id", "sponsor.id must be a number"));
    }
    let expiration_date = text(o, "expiration_date", "invalid_expiration_date")?;
    if let Some(d) = &expiration_date
        && chrono::DateTime::parse_from_rfc3339(d).is_err()
    {
        return Err(bad(
            "invalid_expiration_date",
            "expiration_date must be an ISO-8601 date with its offset",
        ));
    }
    let cash_out = match o.get("cash_out") {
        None | Some(Value::Null) => None,
        Some(c) => Some(QrCashOut {
            amount: amount(c.get("amount"), "invalid_cash_out.amount")?,
        }),
    };
    let title = text(o, "title", "invalid_title")?
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| items[0].title.clone());
    Ok(QrOrderRequest {
        external_reference,
        description: text(o, "description", "invalid_description")?
            .unwrap_or_else(|| title.clone()),
        title,
        notification_url: None,
        expiration_date,
        total_amount: total,
        items,
        sponsor: None,
        cash_out,
    })
}

/// Puts the order on the POS through `platform_core::qr_orders`; the stored
/// answer commits with the order (a retry replays it).
async fn put_order(
    state: &AppState,
    caller: &crate::api::auth::ApiCaller,
    pos_id: &PosId,
    request: QrOrderRequest,
    record: Option<IdempotencyRecordId>,
    answer: impl Fn(&qr_rows::Model) -> (StatusCode, Value) + Sync,
) -> Result<Done, MpError> {
    let stored = |r: &qr_rows::Model| {
        let (status, body) = answer(r);
        StoredResponse {
            status: status.as_u16(),
            body: body.to_string(),
        }
    };
    let completion = Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&stored));
    let row = qr_orders::put_request(
        &state.db,
        &state.keyring,
        &state.mp,
        &caller.scope,
        pos_id,
        request,
        completion.as_ref(),
    )
    .await
    .map_err(core)?;
    let (status, body) = answer(&row);
    Ok(Done::created(status, body, &row.id))
}

async fn put(
    req: HttpRequest,
    user: String,
    store: Option<String>,
    external_pos: String,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let key = idem::key(&req, S, false)?;
    let (state_ref, caller_ref, raw_ref) = (&state, &caller, &raw);
    let outcome = idem::run(
        &state,
        &caller,
        &req,
        &raw,
        S,
        key.as_deref(),
        |record| async move {
            let (state, caller, raw) = (state_ref, caller_ref, raw_ref);
            let (_, p) = target(state, &caller.scope, &user, &external_pos).await?;
            if let Some(store) = &store {
                let own = mp_registry::stores_by_ids(&state.db, vec![p.store_id.clone()])
                    .await
                    .map_err(core)?;
                if own.get(&p.store_id).and_then(|s| s.external_id.as_deref())
                    != Some(store.as_str())
                {
                    return Err(bad("invalid_externalPosId", "the POS is not in this store"));
                }
            }
            let request = parse_v2(&super::json_object(raw, S)?)?;
            put_order(state, caller, &p.id, request, record, |_| {
                (StatusCode::NO_CONTENT, Value::Null)
            })
            .await
        },
    )
    .await?;
    super::answer(outcome)
}

async fn put_with_store(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let (user, store, p) = path.into_inner();
    put(req, user, Some(store), p, payload).await
}

async fn put_without_store(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let (user, p) = path.into_inner();
    put(req, user, None, p, payload).await
}

/// The POS's current order, if one is waiting to be paid.
async fn current(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    pos_id: &PosId,
) -> Result<qr_rows::Model, MpError> {
    match qr_orders::current(&state.db, scope, pos_id).await {
        Ok(o) if o.status == QrOrderStatus::Active => Ok(o),
        Ok(_) | Err(platform_core::CoreError::NotFound { .. }) => Err(no_order()),
        Err(e) => Err(core(e)),
    }
}

/// The order as it was sent to Mercado Pago (an order made through the
/// native API has no stored body: its fields as Puente knows them).
fn order_json(o: &qr_rows::Model) -> Value {
    if let Some(v) = o
        .request
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
    {
        return v;
    }
    let total = number(o.total_amount);
    let sponsor = o
        .sponsor_id
        .as_deref()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|id| json!({"id": id}));
    json!({
        "external_reference": o.external_reference,
        "title": o.title,
        "description": o.title,
        "total_amount": total,
        "items": [{"title": o.title, "unit_price": total, "quantity": 1, "unit_measure": "unit", "total_amount": total}],
        "sponsor": sponsor,
        "expiration_date": o.expires_at.map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    })
}

async fn get(req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let (user, external_pos) = path.into_inner();
    let (_, p) = target(&state, &caller.scope, &user, &external_pos).await?;
    let o = current(&state, &caller.scope, &p.id).await?;
    Ok(HttpResponse::Ok().json(order_json(&o)))
}

async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let (user, external_pos) = path.into_inner();
    let (_, p) = target(&state, &caller.scope, &user, &external_pos).await?;
    current(&state, &caller.scope, &p.id).await?;
    qr_orders::delete(&state.db, &state.keyring, &state.mp, &caller.scope, &p.id)
        .await
        .map_err(core)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The legacy body (§6: `external_reference`, `notification_url`,
/// `sponsor_id`, `items[]{id,title,currency_id,unit_price,quantity,
/// description,picture_url}`) as a v2 order.
fn parse_legacy(o: &Map<String, Value>) -> Result<QrOrderRequest, MpError> {
    const KEYS: &[&str] = &[
        "external_reference",
        "notification_url",
        "sponsor_id",
        "items",
    ];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad("bad_request", format!("unknown field {k}")));
    }
    match o.get("sponsor_id") {
        None | Some(Value::Null) | Some(Value::Number(_)) => {}
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => {}
        Some(_) => return Err(bad("invalid_sponsor_id", "sponsor_id is invalid")),
    }
    const ITEM: &[&str] = &[
        "id",
        "title",
        "currency_id",
        "unit_price",
        "quantity",
        "description",
        "picture_url",
    ];
    let items = o
        .get("items")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("invalid_items", "items are required"))?;
    let mut v2_items = Vec::with_capacity(items.len());
    let mut total = 0i64;
    for it in items {
        let Value::Object(it) = it else {
            return Err(bad("invalid_items", "each item must be an object"));
        };
        if let Some(k) = it.keys().find(|k| !ITEM.contains(&k.as_str())) {
            return Err(bad("invalid_items", format!("unknown item field {k}")));
        }
        let unit = amount(it.get("unit_price"), "invalid_items.unit_price")?;
        let quantity = it.get("quantity").and_then(Value::as_u64).unwrap_or(1);
        total += unit.cents() * quantity as i64;
        let mut item = json!({
            "title": it.get("title").cloned().unwrap_or_else(|| json!("Item")),
            "unit_price": it.get("unit_price"),
            "quantity": quantity,
            "unit_measure": "unit",
        });
        if let Some(id) = it.get("id") {
            item["sku_number"] = json!(
                id.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| id.to_string())
            );
        }
        if let Some(d) = it.get("description") {
            item["description"] = d.clone();
        }
        v2_items.push(item);
    }
    let total = Amount::from_cents(total).map_err(|e| bad("invalid_items", e.to_string()))?;
    let reference = o
        .get("external_reference")
        .cloned()
        .unwrap_or_else(|| json!(format!("qr_{}", uuid::Uuid::new_v4().simple())));
    let v2: Map<String, Value> = serde_json::from_value(json!({
        "external_reference": reference,
        "total_amount": number(total.cents()),
        "items": v2_items,
    }))
    .unwrap_or_default();
    parse_v2(&v2)
}

async fn legacy(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let key = idem::key(&req, S, false)?;
    let (user, external_pos) = path.into_inner();
    let (state_ref, caller_ref, raw_ref) = (&state, &caller, &raw);
    let outcome = idem::run(
        &state,
        &caller,
        &req,
        &raw,
        S,
        key.as_deref(),
        |record| async move {
            let (state, caller, raw) = (state_ref, caller_ref, raw_ref);
            let (seller, p) = target(state, &caller.scope, &user, &external_pos).await?;
            let body = super::json_object(raw, S)?;
            let request = parse_legacy(&body)?;
            let items = body.get("items").cloned().unwrap_or_else(|| json!([]));
            let notification_url = body.get("notification_url").cloned();
            put_order(state, caller, &p.id, request, record, |r| {
                (
                    StatusCode::OK,
                    legacy_json(r, &seller, &items, notification_url.clone()),
                )
            })
            .await
        },
    )
    .await?;
    super::answer(outcome)
}

/// The legacy answer: a merchant-order-like object (§6). Its `id` is a
/// number derived from Puente's order id (stable, JSON-safe).
fn legacy_json(
    o: &qr_rows::Model,
    seller: &sellers::Model,
    items: &Value,
    notification_url: Option<Value>,
) -> Value {
    let id = super::ids::id_number(o.id.as_str());
    let total = number(o.total_amount);
    let now = o
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "id": id,
        "status": "opened",
        "external_reference": o.external_reference,
        "preference_id": format!("{}-{}", seller.mp_user_id, o.id),
        "payments": [],
        "shipments": [],
        "collector": {"id": seller.mp_user_id},
        "collector_id": seller.mp_user_id,
        "sponsor_id": o.sponsor_id.as_deref().and_then(|s| s.parse::<u64>().ok()),
        "notification_url": notification_url,
        "items": items,
        "total_amount": total,
        "date_created": now,
        "last_updated": now,
        "order_status": "payment_required",
    })
}
