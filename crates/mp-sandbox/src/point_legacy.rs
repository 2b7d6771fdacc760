//! Legacy Point Integration API (reference 2): devices, payment intents,
//! their events, refund intents and integrator settings. Classic error shape.

use crate::auth::{header, principal};
use crate::errors::{ApiError, ApiResult, Shape, parse_json_object};
use crate::model::*;
use crate::sandbox::Sandbox;
use crate::work::Work;
use crate::{ids, terminal_sim};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;

const S: Shape = Shape::Classic;
type Query = web::Query<HashMap<String, String>>;

fn err(status: u16, code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::classic(status, code, msg)
}

fn device_json(t: &Terminal, st: &crate::state::State) -> Value {
    let ext = st.pos.get(&t.pos_id).map(|p| p.external_id.clone());
    json!({"id": t.id, "pos_id": t.pos_id, "store_id": t.store_id.to_string(),
           "external_pos_id": ext, "operating_mode": t.operating_mode.as_str()})
}

/// Lists the seller's terminals, filtered by store/POS and paged; shared with `/terminals/v1/list`.
pub fn list_terminals(
    st: &crate::state::State,
    user_id: u64,
    q: &HashMap<String, String>,
    shape: Shape,
) -> Result<(Vec<Value>, usize, usize, usize), ApiError> {
    let num = |k: &str, default: usize| -> Result<usize, ApiError> {
        match q.get(k) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| {
                ApiError::of(
                    shape,
                    400,
                    "bad_request",
                    format!("query param {k} has an invalid format"),
                )
            }),
        }
    };
    let limit = num("limit", 50)?.clamp(1, 50);
    let offset = num("offset", 0)?;
    let pos_filter = match q.get("pos_id") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::of(
                shape,
                400,
                "bad_request",
                "query param pos_id has an invalid format",
            )
        })?),
    };
    let all: Vec<&Terminal> = st
        .terminals
        .values()
        .filter(|t| t.user_id == user_id)
        .filter(|t| {
            q.get("store_id")
                .is_none_or(|s| *s == t.store_id.to_string())
        })
        .filter(|t| pos_filter.is_none_or(|p| p == t.pos_id))
        .collect();
    let page = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|t| device_json(t, st))
        .collect();
    Ok((page, all.len(), offset, limit))
}

pub async fn devices(sb: web::Data<Sandbox>, req: HttpRequest, q: Query) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    let (devices, total, offset, limit) = list_terminals(&st, p.user_id, &q, S)?;
    Ok(HttpResponse::Ok().json(
        json!({"devices": devices, "paging": {"total": total, "offset": offset, "limit": limit}}),
    ))
}

pub async fn patch_device(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    if !path.contains("__") {
        return Err(err(400, "bad_request", "device id has an invalid format"));
    }
    let b = parse_json_object(&body, S)?;
    let mode = b
        .get("operating_mode")
        .and_then(Value::as_str)
        .and_then(OperatingMode::parse_settable)
        .ok_or_else(|| {
            err(
                400,
                "bad_request",
                "operating_mode must be PDV or STANDALONE",
            )
        })?;
    let mut st = sb.lock();
    let t = st
        .terminals
        .get_mut(path.as_str())
        .filter(|t| t.user_id == p.user_id);
    let Some(t) = t else {
        return Err(err(403, "forbidden", "User not logged into the device"));
    };
    t.operating_mode = mode;
    Ok(HttpResponse::Ok().json(json!({"operating_mode": mode.as_str()})))
}

fn validate_intent(b: &Value, site: &crate::sites::Site) -> Result<(i64, Value), ApiError> {
    let bad = |m: &str| {
        err(
            400,
            "bad_request",
            format!("Field is missing o incorrect: {m}"),
        )
    };
    let amount = b
        .get("amount")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("amount"))?;
    if amount < site.min_cents || amount > site.max_cents {
        return Err(bad(&format!(
            "amount must be between {} and {}",
            site.min_cents, site.max_cents
        )));
    }
    let payment = b.get("payment").cloned().unwrap_or(json!({}));
    if !payment.is_object() {
        return Err(bad("payment"));
    }
    let ptype = payment.get("type").and_then(Value::as_str);
    if let Some(t) = payment.get("type")
        && !matches!(
            t.as_str(),
            Some("credit_card" | "debit_card" | "voucher_card")
        )
    {
        return Err(bad("payment.type"));
    }
    if let Some(n) = payment.get("installments") {
        let ok = n.as_i64().is_some_and(|n| (1..=72).contains(&n)) && ptype == Some("credit_card");
        if !ok {
            return Err(bad("payment.installments"));
        }
        if n.as_i64().unwrap_or(1) > 1 && amount / n.as_i64().unwrap_or(1) < 500 {
            return Err(bad(
                "payment.installments: each installment must be at least 5.00",
            ));
        }
    }
    if let Some(c) = payment.get("installments_cost")
        && (!matches!(c.as_str(), Some("seller" | "buyer")) || ptype != Some("credit_card"))
    {
        return Err(bad("payment.installments_cost"));
    }
    if let Some(v) = payment.get("voucher_type")
        && (!matches!(v.as_str(), Some("sodexo" | "alelo")) || ptype != Some("voucher_card"))
    {
        return Err(bad("payment.voucher_type"));
    }
    if b.get("description")
        .is_some_and(|d| !d.is_string() && !d.is_null())
    {
        return Err(bad("description"));
    }
    let info = b.get("additional_info").cloned().unwrap_or(json!({}));
    if !info.is_object() {
        return Err(bad("additional_info"));
    }
    Ok((amount, payment))
}

pub async fn create_intent(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let b = parse_json_object(&body, S)?;
    let key = header(&req, "x-idempotency-key");
    let now = sb.clock.now();
    let mut st = sb.lock();
    let device = path.into_inner();
    if let Some(k) = &key
        && let Ok(Some((status, resp))) =
            st.idem_lookup(p.user_id, "intents", k, &json!({"d": device, "b": b}), now)
    {
        return Ok(HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
        )
        .json(resp));
    }
    let site = st
        .users
        .get(&p.user_id)
        .map(|u| u.site)
        .ok_or_else(|| err(401, "unauthorized", "invalid access token"))?;
    let (amount, payment) = validate_intent(&b, site)?;
    if st.terminals.get(&device).map(|t| t.user_id) != Some(p.user_id) {
        return Err(err(
            403,
            "forbidden",
            "Integrator isn't registered for this device",
        ));
    }
    if st.terminal_busy(&device).is_some() {
        return Err(err(409, "conflict", "Device has a queued payment intent"));
    }
    let id = ids::uuid();
    let mut resp = json!({"id": id, "device_id": device, "amount": amount, "payment": payment,
                          "additional_info": b.get("additional_info").cloned().unwrap_or(json!({}))});
    if let Some(d) = b.get("description").filter(|d| d.is_string()) {
        resp["description"] = d.clone();
    }
    let intent = Intent {
        id: id.clone(),
        user_id: p.user_id,
        client_id: p.client_id.clone(),
        device_id: device.clone(),
        amount,
        description: b
            .get("description")
            .and_then(Value::as_str)
            .map(String::from),
        payment_req: payment,
        additional_info: resp["additional_info"].clone(),
        state: IntentState::Open,
        payment_id: None,
        payment_state: None,
        created_at: now,
        history: vec![(IntentState::Open, now)],
        next_step_at: terminal_sim::initial_step(&st, &device, now),
        deadline: now + chrono::Duration::from_std(st.steps.intent_abandon).unwrap_or_default(),
        outcome: None,
        idem_key: key.clone(),
        marks: Marks::default(),
    };
    st.intents.insert(id.clone(), intent);
    st.touch(&Work::Intent(id), now);
    if let Some(k) = &key {
        st.idem_store(
            p.user_id,
            "intents",
            k,
            json!({"d": device, "b": b}),
            200,
            resp.clone(),
            now,
        );
    }
    drop(st);
    sb.kick();
    Ok(HttpResponse::Ok().json(resp))
}

pub fn intent_json(i: &Intent) -> Value {
    let mut payment = i.payment_req.clone();
    if let Some(pid) = i.payment_id {
        payment["id"] = json!(pid);
    }
    let mut v = json!({"id": i.id, "state": i.state.as_str(), "amount": i.amount, "device_id": i.device_id,
                       "payment": payment, "additional_info": i.additional_info});
    if let Some(d) = &i.description {
        v["description"] = json!(d);
    }
    v
}

fn intent_not_found() -> ApiError {
    err(404, "not_found", "Payment intent doesn't exist")
}

pub async fn get_intent(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    match st.intents.get(path.as_str()) {
        Some(i) if i.user_id == p.user_id => Ok(HttpResponse::Ok().json(intent_json(i))),
        _ => Err(intent_not_found()),
    }
}

pub async fn cancel_intent(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let (device, id) = path.into_inner();
    let now = sb.clock.now();
    let mut st = sb.lock();
    let i = st
        .intents
        .get(&id)
        .filter(|i| i.user_id == p.user_id && i.device_id == device)
        .cloned();
    let Some(i) = i else {
        return Err(intent_not_found());
    };
    if i.state != IntentState::Open {
        return Err(err(
            409,
            "conflict",
            "Payment intent is blocked by terminal",
        ));
    }
    terminal_sim::set_intent_state(&mut st, &id, IntentState::Canceled, now);
    drop(st);
    sb.kick();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

pub async fn intent_events(sb: web::Data<Sandbox>, req: HttpRequest, q: Query) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let date = |k: &str| {
        q.get(k)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| {
                err(
                    400,
                    "bad_request",
                    format!("{k} is missing or incorrect (YYYY-MM-DD)"),
                )
            })
    };
    let (start, end) = (date("startDate")?, date("endDate")?);
    if end < start || (end - start).num_days() > 30 {
        return Err(err(
            400,
            "bad_request",
            "the date range must be at most 30 days",
        ));
    }
    let st = sb.lock();
    let mut events: Vec<(chrono::DateTime<chrono::Utc>, Value)> = vec![];
    for i in st.intents.values().filter(|i| i.user_id == p.user_id) {
        for (s, at) in &i.history {
            let d = at.date_naive();
            if d >= start && d <= end {
                events.push((*at, json!({"payment_intent_id": i.id, "status": s.as_str(), "created_on": at.to_rfc3339()})));
            }
        }
    }
    events.sort_by_key(|e| e.0);
    Ok(HttpResponse::Ok()
        .json(json!({"events": events.into_iter().map(|e| e.1).collect::<Vec<_>>()})))
}

pub async fn intent_last_event(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    let i = st
        .intents
        .get(path.as_str())
        .filter(|i| i.user_id == p.user_id)
        .ok_or_else(intent_not_found)?;
    let (s, at) = i.history.last().copied().unwrap_or((i.state, i.created_at));
    Ok(HttpResponse::Ok().json(json!({"status": s.as_str(), "created_on": at.to_rfc3339()})))
}

fn refund_json(r: &RefundIntent) -> Value {
    json!({"id": r.id, "payment_id": r.payment_id.to_string(), "device_id": r.device_id,
           "state": r.state.as_str(), "additional_info": r.additional_info})
}

pub async fn create_refund(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let b = parse_json_object(&body, S)?;
    let payment_id = match b.get("payment_id") {
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| {
        err(
            400,
            "bad_request",
            "Field is missing o incorrect: payment_id",
        )
    })?;
    let device = path.into_inner();
    let now = sb.clock.now();
    let mut st = sb.lock();
    if st.terminals.get(&device).map(|t| t.user_id) != Some(p.user_id) {
        return Err(err(
            403,
            "forbidden",
            "Integrator isn't registered for this device",
        ));
    }
    let charged_here = st.charges.iter().any(|c| {
        c.payment_id == payment_id.to_string()
            && c.terminal_id == device
            && c.user_id == p.user_id
            && c.status == "approved"
    });
    if !charged_here {
        return Err(err(
            400,
            "bad_request",
            "The payment was not approved on this device for this user",
        ));
    }
    if st.terminal_busy(&device).is_some() {
        return Err(err(409, "conflict", "Device has a queued payment intent"));
    }
    let r = RefundIntent {
        id: ids::uuid(),
        user_id: p.user_id,
        device_id: device.clone(),
        payment_id,
        additional_info: b.get("additional_info").cloned().unwrap_or(json!({})),
        state: IntentState::Open,
        next_step_at: terminal_sim::initial_step(&st, &device, now),
        marks: Marks::default(),
    };
    let mut out = refund_json(&r);
    out.as_object_mut().map(|o| o.remove("state"));
    let w = Work::Refund(r.id.clone());
    st.refunds.insert(r.id.clone(), r);
    st.touch(&w, now);
    drop(st);
    sb.kick();
    Ok(HttpResponse::Ok().json(out))
}

pub async fn get_refund(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let st = sb.lock();
    match st.refunds.get(path.as_str()) {
        Some(r) if r.user_id == p.user_id => Ok(HttpResponse::Ok().json(refund_json(r))),
        _ => Err(err(404, "not_found", "Refund intent doesn't exist")),
    }
}

pub async fn cancel_refund(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let (device, id) = path.into_inner();
    let now = sb.clock.now();
    let mut st = sb.lock();
    let r = st
        .refunds
        .get_mut(&id)
        .filter(|r| r.user_id == p.user_id && r.device_id == device);
    let Some(r) = r else {
        return Err(err(404, "not_found", "Refund intent doesn't exist"));
    };
    if r.state != IntentState::Open {
        return Err(err(409, "conflict", "Refund intent is blocked by terminal"));
    }
    r.state = IntentState::Canceled;
    r.next_step_at = None;
    st.touch(&Work::Refund(id.clone()), now);
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

pub async fn get_integrator(sb: web::Data<Sandbox>, req: HttpRequest) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let now = sb.clock.now().to_rfc3339();
    let mut st = sb.lock();
    let v = st
        .integrators
        .entry(p.user_id)
        .or_insert_with(|| json!({"id": p.user_id, "created_at": now, "updated_at": now, "notification_url_enabled": true, "event_channel_devices": ["email"]}))
        .clone();
    Ok(HttpResponse::Ok().json(v))
}

pub async fn patch_integrator(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult {
    let p = principal(&sb, &req, S)?;
    let b = parse_json_object(&body, S)?;
    let channels = b
        .get("event_channel_devices")
        .and_then(Value::as_array)
        .filter(|a| a.iter().all(|c| c.as_str() == Some("email")))
        .cloned()
        .ok_or_else(|| {
            err(
                400,
                "bad_request",
                "event_channel_devices must be a list of \"email\"",
            )
        })?;
    let now = sb.clock.now().to_rfc3339();
    let mut st = sb.lock();
    let v = st.integrators.entry(p.user_id).or_insert_with(
        || json!({"id": p.user_id, "created_at": now, "notification_url_enabled": true}),
    );
    v["event_channel_devices"] = json!(channels);
    v["updated_at"] = json!(now);
    Ok(HttpResponse::NoContent().finish())
}
