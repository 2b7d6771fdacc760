//! Legacy Point Integration API (reference §2): devices, operating mode,
//! payment intents (create, get, cancel) and their events. Errors in the
//! classic `{message,error,status,cause}` envelope.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, SecondsFormat, TimeZone, Utc};
use platform_core::entities::{payment_intents, terminals};
use platform_core::error::Conflict;
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::intents::{self, CancelAsk, NewIntent, Origin};
use platform_core::states::{EventSource, IntentStatus};
use serde_json::{Value, json};

use super::error::{MpError, Shape};
use super::{caller, idem, ids, state, view};
use crate::idempotency::Done;
use crate::intent_wait::{self, CancelAnswer};
use crate::state::AppState;

const S: Shape = Shape::Classic;
const BASE: &str = "/point/integration-api";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{BASE}/devices"), web::get().to(devices))
        .route(
            &format!("{BASE}/devices/{{device_id}}"),
            web::patch().to(set_mode),
        )
        .route(
            &format!("{BASE}/devices/{{device_id}}/payment-intents"),
            web::post().to(create),
        )
        .route(
            &format!("{BASE}/devices/{{device_id}}/payment-intents/{{id}}"),
            web::delete().to(cancel),
        )
        // Before `/payment-intents/{id}`, which would swallow it.
        .route(
            &format!("{BASE}/payment-intents/events"),
            web::get().to(events),
        )
        .route(
            &format!("{BASE}/payment-intents/{{id}}"),
            web::get().to(get),
        )
        .route(
            &format!("{BASE}/payment-intents/{{id}}/events"),
            web::get().to(last_event),
        );
}

fn err(status: u16, error: &str, message: impl Into<String>) -> MpError {
    MpError::classic(status, error, message)
}

fn core(e: platform_core::CoreError) -> MpError {
    MpError::from_core(S, e)
}

fn unknown_device() -> MpError {
    err(
        403,
        "forbidden",
        "Integrator isn't registered for this device",
    )
}

fn intent_not_found() -> MpError {
    err(404, "not_found", "Payment intent doesn't exist")
}

async fn device(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    device_id: &str,
) -> Result<terminals::Model, MpError> {
    super::terminal_by_device(state, scope, device_id)
        .await
        .map_err(core)?
        .ok_or_else(unknown_device)
}

async fn find(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    id: &str,
) -> Result<payment_intents::Model, MpError> {
    super::intent_in_scope(state, scope, ids::intent_from_legacy(id), id)
        .await
        .map_err(core)?
        .ok_or_else(intent_not_found)
}

async fn device_of(state: &AppState, i: &payment_intents::Model) -> Result<String, MpError> {
    Ok(view::ctx(state, i).await.map_err(core)?.device_id)
}

async fn devices(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let (limit, offset) = super::terminals::paging(&query, S, 50)?;
    if let Some(p) = query.get("pos_id")
        && p.parse::<i64>().is_err()
    {
        return Err(err(
            400,
            "bad_request",
            "query param pos_id has an invalid format",
        ));
    }
    let (list, total) = super::terminals::devices(
        &state,
        &caller.scope,
        query.get("store_id").map(String::as_str),
        query.get("pos_id").map(String::as_str),
        offset,
        limit,
    )
    .await
    .map_err(core)?;
    Ok(HttpResponse::Ok().json(json!({
        "devices": list,
        "paging": {"total": total, "offset": offset, "limit": limit},
    })))
}

async fn set_mode(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let body: Value = serde_json::from_slice(&raw)
        .map_err(|_| err(400, "bad_request", "the body is not valid JSON"))?;
    let mode = super::terminals::parse_mode(body.get("operating_mode"), S)?;
    let terminal = device(&state, &caller.scope, &path).await?;
    let saved = super::terminals::set_mode(&state, &req, &caller, terminal, mode, S).await?;
    Ok(HttpResponse::Ok().json(json!({"operating_mode": saved.operating_mode.as_str()})))
}

fn bad(message: impl Into<String>) -> MpError {
    err(400, "bad_request", message)
}

/// The create body (§2.3), checked field by field.
fn parse_create(raw: &[u8]) -> Result<NewIntent, MpError> {
    let v: Value =
        serde_json::from_slice(raw).map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad("the body must be a JSON object"));
    }
    let amount = v
        .get("amount")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("Field amount is missing or incorrect: an integer in cents"))?;
    let text = |v: &Value, field: &str| -> Result<Option<String>, MpError> {
        match v.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("Field {field} is incorrect: a string"))),
        }
    };
    let description = text(&v, "description")?;
    let empty = json!({});
    let payment = v.get("payment").unwrap_or(&empty);
    let additional = v.get("additional_info").unwrap_or(&empty);
    if !payment.is_object() || !additional.is_object() {
        return Err(bad("payment and additional_info must be objects"));
    }
    // Fields the reference does not list are refused, as on the Orders
    // surface and the native API: a misspelt field must not be dropped
    // silently on a charge.
    let unknown = |v: &Value, known: &[&str], prefix: &str| -> Result<(), MpError> {
        match v
            .as_object()
            .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
        {
            Some(k) => Err(bad(format!(
                "Field {prefix}{k} is not a field of a payment intent"
            ))),
            None => Ok(()),
        }
    };
    unknown(
        &v,
        &["amount", "description", "payment", "additional_info"],
        "",
    )?;
    unknown(
        payment,
        &["type", "installments", "installments_cost", "voucher_type"],
        "payment.",
    )?;
    unknown(
        additional,
        &["external_reference", "print_on_terminal", "ticket_number"],
        "additional_info.",
    )?;
    let payment_type = text(payment, "type")?;
    let installments = match payment.get("installments") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| bad("Field payment.installments is incorrect: an integer"))?,
        ),
    };
    let installments_cost = text(payment, "installments_cost")?;
    let print_on_terminal = match additional.get("print_on_terminal") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(bad(
                "Field additional_info.print_on_terminal is incorrect: a boolean",
            ));
        }
    };
    Ok(NewIntent {
        amount,
        description,
        external_reference: text(additional, "external_reference")?,
        print_on_terminal,
        payment_type,
        installments,
        installments_cost,
    })
}

async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    // The SDKs send one on every POST; the legacy docs do not require it.
    let key = idem::key(&req, S, false)?;
    let device_id = path.into_inner();
    let (state_ref, caller_ref, raw_ref, device_id_ref) = (&state, &caller, &raw, &device_id);
    let outcome = idem::run(
        &state,
        &caller,
        &req,
        &raw,
        S,
        key.as_deref(),
        |record| async move {
            let (state, caller, raw, device_id) = (state_ref, caller_ref, raw_ref, device_id_ref);
            let new = parse_create(raw)?;
            let terminal = device(state, &caller.scope, device_id).await?;
            // The stored answer commits with the intent (see intents' create).
            let render = |i: &payment_intents::Model| StoredResponse {
                status: 200,
                body: view::legacy_json(i, &terminal.device_id, false).to_string(),
            };
            let completion =
                Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
            let origin = Origin {
                api_key_id: Some(caller.key_id()),
                source: EventSource::Api,
            };
            let intent = intents::create(
                &state.db,
                &caller.scope,
                &terminal.id,
                new,
                origin,
                completion.as_ref(),
            )
            .await
            .map_err(|e| match e {
                platform_core::CoreError::Conflict {
                    reason: Conflict::TerminalBusy { .. },
                    ..
                } => err(409, "conflict", "Device has a queued payment intent"),
                other => core(other),
            })?
            .publish(&state.queue)
            .await;
            let body = view::legacy_json(&intent, &terminal.device_id, false);
            Ok(Done::created(StatusCode::OK, body, &intent.id))
        },
    )
    .await?;
    match outcome {
        idem::Outcome::Fresh(status, body) => Ok(HttpResponse::build(status).json(body)),
        idem::Outcome::Replay(status, body) => match idem::replay_error(status, body.clone()) {
            Some(e) => Err(e),
            None => Ok(HttpResponse::build(status).json(body)),
        },
    }
}

async fn get(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let intent = find(&state, &caller.scope, &path).await?;
    let device = device_of(&state, &intent).await?;
    Ok(HttpResponse::Ok().json(view::legacy_json(&intent, &device, true)))
}

async fn cancel(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let (device_id, id) = path.into_inner();
    let intent = find(&state, &caller.scope, &id).await?;
    if device_of(&state, &intent).await? != device_id {
        return Err(intent_not_found());
    }
    let refuse = |i: &payment_intents::Model| match i.status {
        IntentStatus::AtTerminal => err(409, "conflict", "Payment intent is blocked by terminal"),
        _ => err(
            409,
            "conflict",
            format!(
                "Payment intent is {} and cannot be canceled",
                view::legacy_state(i)
            ),
        ),
    };
    // The legacy API cancels only OPEN intents (§2.5): never at the terminal.
    let ask = CancelAsk {
        intent_id: &intent.id,
        at_terminal: false,
        source: EventSource::Api,
    };
    let legacy = ids::legacy_id(&intent.id);
    match intent_wait::cancel(&state, &caller.scope, ask)
        .await
        .map_err(core)?
    {
        CancelAnswer::Canceled(_) => Ok(HttpResponse::Ok().json(json!({"id": legacy}))),
        CancelAnswer::AtTerminal(now) | CancelAnswer::Final(now) => Err(refuse(&now)),
        CancelAnswer::Refused { intent: now, .. } | CancelAnswer::Accepted(now) => {
            Err(refuse(&now))
        }
        CancelAnswer::Pending(_) => Err(err(
            504,
            "cancel_pending",
            "Mercado Pago has not answered the cancel yet; it stays requested",
        )),
    }
}

fn date_param(q: &HashMap<String, String>, name: &str) -> Result<NaiveDate, MpError> {
    q.get(name)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| bad(format!("{name} is required, as YYYY-MM-DD")))
}

/// Most events one listing returns.
const MAX_EVENTS: u64 = 1000;

async fn events(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let start = date_param(&query, "startDate")?;
    let end = date_param(&query, "endDate")?;
    if end < start || (end - start).num_days() > 30 {
        return Err(bad(
            "endDate must be on or after startDate, at most 30 days later",
        ));
    }
    let from = Utc.from_utc_datetime(&start.and_hms_opt(0, 0, 0).unwrap_or_default());
    let to = Utc.from_utc_datetime(
        &end.succ_opt()
            .unwrap_or(end)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default(),
    );
    let rows = intents::created_between(&state.db, &caller.scope, from, to, MAX_EVENTS)
        .await
        .map_err(core)?;
    let events: Vec<Value> = rows
        .iter()
        .map(|i| {
            json!({
                "payment_intent_id": ids::legacy_id(&i.id),
                "status": view::legacy_state(i),
                "created_on": i.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"events": events})))
}

async fn last_event(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let intent = find(&state, &caller.scope, &path).await?;
    Ok(HttpResponse::Ok().json(json!({
        "status": view::legacy_state(&intent),
        "created_on": intent.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
    })))
}
