//! Test helpers under `/sandbox/…` (like Stripe's test_helpers). This is a
//! stable contract for Puente's tests; it is documented in docs/sandbox.md.

use crate::errors::{ApiError, ApiResult, Shape, parse_json_opt};
use crate::faults::{self, Fault};
use crate::model::{Outcome, TerminalMode};
use crate::notify::Delivery;
use crate::oauth::{self, Params};
use crate::sandbox::Sandbox;
use crate::sites::{self, cents_to_decimal};
use crate::state::State;
use crate::work::Work;
use crate::{AppConfig, terminal_sim};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::time::Duration;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::classic(400, "bad_request", msg)
}

fn body_obj(body: &[u8]) -> Result<Value, ApiError> {
    Ok(parse_json_opt(body, Shape::Classic)?.unwrap_or_else(|| json!({})))
}

fn str_list(v: Option<&Value>) -> Result<Option<Vec<String>>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .ok_or_else(|| bad("expected a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad("expected a list of strings")),
    }
}

fn app_json(a: &AppConfig, owner: u64) -> Value {
    json!({"client_id": a.client_id, "client_secret": a.client_secret, "webhook_secret": a.webhook_secret,
           "redirect_uris": a.redirect_uris, "webhook_url": a.webhook_url, "owner_user_id": owner})
}

pub async fn create_application(sb: web::Data<Sandbox>, body: web::Bytes) -> ApiResult {
    let b = body_obj(&body)?;
    let redirect_uris = str_list(b.get("redirect_uris"))?.unwrap_or_default();
    let webhook_url = b
        .get("webhook_url")
        .and_then(Value::as_str)
        .map(String::from);
    let cfg = AppConfig::generate(redirect_uris, webhook_url);
    let now = sb.clock.now();
    let app = sb.lock().add_app(cfg, now);
    Ok(HttpResponse::Created().json(app_json(&app.cfg, app.owner_user_id)))
}

pub async fn patch_application(
    sb: web::Data<Sandbox>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let b = body_obj(&body)?;
    let uris = str_list(b.get("redirect_uris"))?;
    let mut st = sb.lock();
    let app = st
        .apps
        .get_mut(path.as_str())
        .ok_or_else(|| ApiError::classic(404, "not_found", "application not found"))?;
    if let Some(u) = uris {
        app.cfg.redirect_uris = u;
    }
    if let Some(w) = b.get("webhook_url") {
        app.cfg.webhook_url = w.as_str().map(String::from);
    }
    if let Some(s) = b.get("webhook_secret").and_then(Value::as_str) {
        app.cfg.webhook_secret = s.to_string();
    }
    Ok(HttpResponse::Ok().json(app_json(&app.cfg, app.owner_user_id)))
}

pub async fn get_application(sb: web::Data<Sandbox>, path: web::Path<String>) -> ApiResult {
    let st = sb.lock();
    let app = st
        .apps
        .get(path.as_str())
        .ok_or_else(|| ApiError::classic(404, "not_found", "application not found"))?;
    Ok(HttpResponse::Ok().json(app_json(&app.cfg, app.owner_user_id)))
}

pub fn seller_json(st: &State, user_id: u64) -> Value {
    let u = &st.users[&user_id];
    let stores: Vec<Value> = st
        .stores
        .values()
        .filter(|s| s.user_id == user_id)
        .map(|s| json!({"id": s.id, "name": s.name, "external_id": s.external_id}))
        .collect();
    let pos: Vec<Value> = st.pos.values().filter(|p| p.user_id == user_id).map(|p| json!({"id": p.id, "name": p.name, "store_id": p.store_id, "external_id": p.external_id, "external_store_id": p.external_store_id})).collect();
    let terminals: Vec<Value> = st
        .terminals
        .values()
        .filter(|t| t.user_id == user_id)
        .map(|t| terminal_json(st, t))
        .collect();
    json!({"user_id": u.id, "nickname": u.nickname, "password": u.password, "email": u.email, "site_id": u.site.id,
           "public_key": u.public_key, "description": u.description, "currency": u.site.currency, "stores": stores, "pos": pos, "terminals": terminals})
}

fn terminal_json(st: &State, t: &crate::model::Terminal) -> Value {
    let work = st.terminal_busy(&t.id);
    json!({"id": t.id, "operating_mode": t.operating_mode.as_str(), "store_id": t.store_id.to_string(), "pos_id": t.pos_id,
           "external_pos_id": st.pos.get(&t.pos_id).map(|p| p.external_id.clone()), "user_id": t.user_id,
           "mode": match t.mode { TerminalMode::Auto => "auto", TerminalMode::Manual => "manual" },
           "current": work})
}

fn parse_mode(v: Option<&Value>) -> Result<Option<TerminalMode>, ApiError> {
    match v.and_then(Value::as_str) {
        None => Ok(None),
        Some("auto") => Ok(Some(TerminalMode::Auto)),
        Some("manual") => Ok(Some(TerminalMode::Manual)),
        Some(_) => Err(bad("terminal_mode must be auto or manual")),
    }
}

pub async fn create_seller(sb: web::Data<Sandbox>, body: web::Bytes) -> ApiResult {
    let b = body_obj(&body)?;
    let site = b.get("site_id").and_then(Value::as_str).unwrap_or("MLB");
    let site = sites::site(site).ok_or_else(|| bad("unknown site_id"))?;
    let n = b
        .get("terminals")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .min(50) as usize;
    let mode = parse_mode(b.get("terminal_mode"))?;
    let authorize = b.get("authorize").and_then(Value::as_bool).unwrap_or(true);
    let now = sb.clock.now();
    let mut st = sb.lock();
    let client_id = b
        .get("client_id")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| st.default_client_id.clone());
    if !st.apps.contains_key(&client_id) {
        return Err(ApiError::classic(404, "not_found", "application not found"));
    }
    let uid = st.create_user(
        site.id,
        b.get("description")
            .and_then(Value::as_str)
            .map(String::from),
        now,
    );
    st.provision_seller(uid, n, now);
    if let Some(m) = mode {
        for t in st.terminals.values_mut().filter(|t| t.user_id == uid) {
            t.mode = m;
        }
    }
    let mut out = seller_json(&st, uid);
    if authorize {
        let issued = st.issue_tokens(uid, &client_id, true, now);
        st.authorizations.insert((uid, client_id.clone()));
        out["access_token"] = json!(issued.access_token);
        out["refresh_token"] = json!(issued.refresh_token);
        out["client_id"] = json!(client_id);
    }
    Ok(HttpResponse::Created().json(out))
}

fn user_id(path: &str) -> Result<u64, ApiError> {
    path.parse().map_err(|_| bad("invalid user id"))
}

pub async fn get_seller(sb: web::Data<Sandbox>, path: web::Path<String>) -> ApiResult {
    let uid = user_id(&path)?;
    let st = sb.lock();
    if !st.users.contains_key(&uid) {
        return Err(ApiError::classic(404, "not_found", "seller not found"));
    }
    Ok(HttpResponse::Ok().json(seller_json(&st, uid)))
}

fn client_or_default(st: &State, b: &Value) -> String {
    b.get("client_id")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| st.default_client_id.clone())
}

pub async fn issue_tokens(
    sb: web::Data<Sandbox>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let uid = user_id(&path)?;
    let b = body_obj(&body)?;
    let now = sb.clock.now();
    let mut st = sb.lock();
    let cid = client_or_default(&st, &b);
    if !st.users.contains_key(&uid) || !st.apps.contains_key(&cid) {
        return Err(ApiError::classic(
            404,
            "not_found",
            "seller or application not found",
        ));
    }
    let i = st.issue_tokens(uid, &cid, true, now);
    st.authorizations.insert((uid, cid));
    Ok(HttpResponse::Created().json(json!({"access_token": i.access_token, "refresh_token": i.refresh_token, "user_id": uid, "expires_in": i.expires_in})))
}

pub async fn revoke(
    sb: web::Data<Sandbox>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let uid = user_id(&path)?;
    let b = body_obj(&body)?;
    let cid = b.get("client_id").and_then(Value::as_str).map(String::from);
    let now = sb.clock.now();
    let n = sb.lock().revoke_tokens(uid, cid.as_deref(), now);
    Ok(HttpResponse::Ok().json(json!({"revoked": n})))
}

pub async fn deauthorize(
    sb: web::Data<Sandbox>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let uid = user_id(&path)?;
    let b = body_obj(&body)?;
    let cid = client_or_default(&sb.lock(), &b);
    let n = oauth::deauthorize(&sb, uid, &cid);
    Ok(HttpResponse::Ok().json(json!({"revoked": n, "client_id": cid})))
}

/// The consent page's logic without the page: query of an authorization URL + user_id + decision.
pub async fn authorize(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    let mut p: Params = web::Query::<Params>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    if let Some(Value::Object(o)) = parse_json_opt(&body, Shape::Classic)? {
        for (k, v) in o {
            p.insert(
                k,
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string()),
            );
        }
    }
    let uid = p
        .get("user_id")
        .and_then(|u| u.parse::<u64>().ok())
        .ok_or_else(|| bad("user_id is required"))?;
    let allow = match p.get("decision").map(String::as_str) {
        None | Some("allow") => true,
        Some("deny") => false,
        Some(_) => return Err(bad("decision must be allow or deny")),
    };
    let to = oauth::decide(&sb, &p, uid, allow).map_err(bad)?;
    Ok(HttpResponse::Ok().json(json!({"redirect_to": to})))
}

pub async fn terminal_get(sb: web::Data<Sandbox>, path: web::Path<String>) -> ApiResult {
    let st = sb.lock();
    let t = st
        .terminals
        .get(path.as_str())
        .ok_or_else(|| ApiError::classic(404, "not_found", "terminal not found"))?;
    Ok(HttpResponse::Ok().json(terminal_json(&st, t)))
}

pub async fn terminal_patch(
    sb: web::Data<Sandbox>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let b = body_obj(&body)?;
    let mode = parse_mode(b.get("mode"))?;
    let mut st = sb.lock();
    let t = st
        .terminals
        .get_mut(path.as_str())
        .ok_or_else(|| ApiError::classic(404, "not_found", "terminal not found"))?;
    if let Some(m) = mode {
        t.mode = m;
    }
    let (uid, tid) = (t.user_id, t.id.clone());
    // Moving a terminal to another POS of the same seller (to set up 412 cases).
    if let Some(pos) = b.get("pos_id").and_then(Value::as_u64) {
        let store = st
            .pos
            .get(&pos)
            .filter(|p| p.user_id == uid)
            .map(|p| p.store_id)
            .ok_or_else(|| bad("unknown pos_id for this seller"))?;
        let t = st.terminals.get_mut(&tid).expect("exists");
        t.pos_id = pos;
        t.store_id = store;
    }
    let t = st.terminals[&tid].clone();
    Ok(HttpResponse::Ok().json(terminal_json(&st, &t)))
}

pub fn do_terminal_action(
    sb: &Sandbox,
    id: &str,
    action: &str,
    outcome: Option<&str>,
) -> Result<String, ApiError> {
    let outcome = match outcome {
        None | Some("") => None,
        Some(o) => Some(Outcome::parse(o).ok_or_else(|| bad("unknown outcome"))?),
    };
    let now = sb.clock.now();
    let mut st = sb.lock();
    if !st.terminals.contains_key(id) {
        return Err(ApiError::classic(404, "not_found", "terminal not found"));
    }
    let r = match action {
        "charge" => terminal_sim::press_charge(&mut st, id, outcome, now),
        "cancel" => terminal_sim::cancel_on_device(&mut st, id, now),
        _ => Err("unknown action".into()),
    };
    drop(st);
    sb.kick();
    r.map_err(|m| ApiError::classic(409, "conflict", m))
}

pub async fn terminal_action(
    sb: web::Data<Sandbox>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let (id, action) = path.into_inner();
    let b = body_obj(&body)?;
    let work = do_terminal_action(&sb, &id, &action, b.get("outcome").and_then(Value::as_str))?;
    Ok(HttpResponse::Ok().json(json!({"terminal_id": id, "action": action, "resource_id": work})))
}

type Q = web::Query<std::collections::HashMap<String, String>>;

pub async fn charges(sb: web::Data<Sandbox>, q: Q) -> ApiResult {
    let st = sb.lock();
    let list: Vec<Value> = st
        .charges
        .iter()
        .filter(|c| q.get("terminal_id").is_none_or(|t| &c.terminal_id == t))
        .filter(|c| q.get("user_id").is_none_or(|u| &c.user_id.to_string() == u))
        .filter(|c| q.get("external_reference").is_none_or(|e| c.external_reference.as_ref() == Some(e)))
        .map(|c| json!({"terminal_id": c.terminal_id, "user_id": c.user_id, "kind": c.kind, "resource_id": c.resource_id,
                        "payment_id": c.payment_id, "amount": cents_to_decimal(c.amount_cents), "amount_cents": c.amount_cents,
                        "status": c.status, "external_reference": c.external_reference, "at": c.at.to_rfc3339()}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"charges": list})))
}

pub async fn notifications(sb: web::Data<Sandbox>, q: Q) -> ApiResult {
    let st = sb.lock();
    let list: Vec<Value> = st
        .notifications
        .values()
        .filter(|n| q.get("topic").is_none_or(|t| &n.topic == t))
        .filter(|n| q.get("data_id").is_none_or(|d| &n.data_id == d))
        .filter(|n| q.get("client_id").is_none_or(|c| &n.client_id == c))
        .filter(|n| q.get("user_id").is_none_or(|u| &n.user_id.to_string() == u))
        .filter(|n| q.get("status").is_none_or(|s| n.status.as_str() == s))
        .map(|n| n.to_json())
        .collect();
    Ok(HttpResponse::Ok().json(json!({"notifications": list})))
}

/// The resident process size (`VmRSS` of /proc/self/status), in kB, on Linux.
fn vm_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `GET /sandbox/stats`: how much the sandbox holds (O(1) per map), what is
/// unfinished, what was evicted; `?check=1` also verifies its indexes (O(n)).
pub async fn stats(sb: web::Data<Sandbox>, q: Q) -> ApiResult {
    let check = q.get("check").is_some_and(|v| v == "1" || v == "true");
    let st = sb.lock();
    let (mut intents, mut orders, mut refunds) = (0, 0, 0);
    for w in st.busy.values() {
        match w {
            Work::Intent(_) => intents += 1,
            Work::Order(_) => orders += 1,
            Work::Refund(_) => refunds += 1,
        }
    }
    let open_notes: u64 = st.open_notes.values().map(|n| u64::from(*n)).sum();
    let r = &st.retained;
    let e = r.evicted;
    let mut v = json!({
        "now": sb.clock.now().to_rfc3339(),
        "retention": {
            "window_secs": st.retention.window.as_secs(),
            "max_finished": st.retention.max_finished,
            "idempotency_secs": crate::retention::IDEMPOTENCY_TTL.num_seconds(),
        },
        "counts": {
            "orders": st.orders.len(), "intents": st.intents.len(),
            "refund_intents": st.refunds.len(), "payments": st.payments.len() + st.order_payments.len(),
            "charges": st.charges.len(), "notifications": st.notifications.len(),
            "idempotency_keys": st.idem.len(), "access_tokens": st.tokens.len(),
            "refresh_tokens": st.refresh.len(), "authorization_codes": st.codes.len(),
            "qr_orders": st.qr_orders.len(), "applications": st.apps.len(),
            "users": st.users.len(), "stores": st.stores.len(), "pos": st.pos.len(),
            "terminals": st.terminals.len(),
        },
        "unfinished": {
            "orders": orders, "intents": intents, "refund_intents": refunds,
            "notifications": open_notes,
        },
        "queued": {
            "scheduled_work": st.schedule.len(), "notifications_due": st.notes_due.len(),
            "retention": {
                "orders": r.orders.len(), "intents": r.intents.len(),
                "refund_intents": r.refunds.len(), "payments": r.payments.len(),
                "notifications": r.notifications.len(), "idempotency_keys": r.idem.len(),
                "credentials": r.creds.len(),
            },
        },
        "evicted": {
            "orders": e.orders, "intents": e.intents, "refund_intents": e.refund_intents,
            "payments": e.payments, "notifications": e.notifications,
            "idempotency_keys": e.idempotency_keys, "credentials": e.credentials,
        },
    });
    if check {
        v["check"] = json!(st.check_indexes().err().unwrap_or_else(|| "ok".into()));
    }
    drop(st);
    v["vm_rss_kb"] = json!(vm_rss_kb());
    Ok(HttpResponse::Ok().json(v))
}

/// Re-sends a notification now (any status but in flight).
pub async fn notification_resend(sb: web::Data<Sandbox>, path: web::Path<u64>) -> ApiResult {
    let now = sb.clock.now();
    let mut st = sb.lock();
    let n = st
        .notifications
        .get_mut(&path)
        .ok_or_else(|| ApiError::classic(404, "not_found", "notification not found"))?;
    if n.url.is_some() && !n.in_flight {
        n.status = Delivery::Pending;
        n.next_attempt_at = Some(now);
    }
    st.touch_note(*path, now);
    drop(st);
    sb.kick();
    Ok(HttpResponse::Accepted().json(json!({"id": *path})))
}

pub async fn add_fault(sb: web::Data<Sandbox>, body: web::Bytes) -> ApiResult {
    let f: Fault = serde_json::from_slice(&body).map_err(|e| bad(format!("invalid fault: {e}")))?;
    if f.error_status.is_some_and(|s| !(400..=599).contains(&s))
        || f.error_rate.is_some_and(|r| !(0.0..=1.0).contains(&r))
    {
        return Err(bad(
            "error_status must be 4xx/5xx and error_rate within 0..=1",
        ));
    }
    Ok(HttpResponse::Created().json(faults::add(&sb, f)))
}

pub async fn list_faults(sb: web::Data<Sandbox>) -> ApiResult {
    Ok(HttpResponse::Ok().json(json!({"faults": faults::list(&sb)})))
}

pub async fn clear_faults(sb: web::Data<Sandbox>) -> ApiResult {
    Ok(HttpResponse::Ok().json(json!({"removed": faults::clear(&sb, None)})))
}

pub async fn delete_fault(sb: web::Data<Sandbox>, path: web::Path<u64>) -> ApiResult {
    Ok(HttpResponse::Ok().json(json!({"removed": faults::clear(&sb, Some(*path))})))
}

pub async fn clock_get(sb: web::Data<Sandbox>) -> ApiResult {
    Ok(HttpResponse::Ok()
        .json(json!({"now": sb.clock.now().to_rfc3339(), "manual": sb.clock.is_manual()})))
}

pub async fn clock_advance(sb: web::Data<Sandbox>, body: web::Bytes) -> ApiResult {
    let b = body_obj(&body)?;
    let secs = b
        .get("seconds")
        .and_then(Value::as_f64)
        .filter(|s| (0.0..=3.2e9).contains(s))
        .ok_or_else(|| bad("seconds must be a number between 0 and 3.2e9 (about 100 years)"))?;
    let clock = sb.clock.clone();
    // The advance hook takes the state lock itself; run it off the async worker.
    web::block(move || clock.advance(Duration::from_secs_f64(secs)))
        .await
        .map_err(|_| ApiError::classic(500, "internal_error", "clock advance failed"))?;
    Ok(HttpResponse::Ok().json(json!({"now": sb.clock.now().to_rfc3339()})))
}
