//! Orders API for Point (reference §3): `POST /v1/orders`, `GET /v1/orders`
//! (search), `GET /v1/orders/{id}`, `POST /v1/orders/{id}/cancel`,
//! `POST /v1/orders/{id}/refund`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform_core::entities::{payment_intents, refunds as refund_rows};
use platform_core::error::{Conflict, Invalid};
use platform_core::id::{PaymentIntentId, RefundId};
use platform_core::idempotency::{Claimed, StoredResponse};
use platform_core::intents::{self, CancelAsk, NewIntent, OrderSearch, Origin};
use platform_core::mercadopago::{Amount, CancelRefusal};
use platform_core::refunds;
use platform_core::states::{EventSource, IntentStatus, RefundStatus};
use serde_json::{Map, Value, json};

use super::error::{MpError, Shape};
use super::{caller, idem, ids, state, view};
use crate::idempotency::Done;
use crate::intent_wait::{self, CancelAnswer};
use crate::state::AppState;
use platform_core::order_details::{self as details, RequestDetails};

const S: Shape = Shape::Orders;

/// Mercado Pago refuses a Point order below 5.00 at create time.
const ORDER_MIN_CENTS: i64 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/orders", web::post().to(create))
        .route("/v1/orders", web::get().to(search))
        .route("/v1/orders/{id}", web::get().to(get))
        .route("/v1/orders/{id}/cancel", web::post().to(cancel))
        .route("/v1/orders/{id}/refund", web::post().to(refund));
}

fn bad(code: &str, message: impl Into<String>) -> MpError {
    MpError::orders(400, code, message)
}

fn not_found() -> MpError {
    MpError::orders(404, "order_not_found", "Order not found.")
}

fn core(e: platform_core::CoreError) -> MpError {
    MpError::from_core(S, e)
}

/// A validated create body.
struct OrderIn {
    terminal_id: String,
    details: RequestDetails,
    new: NewIntent,
}

fn string_at<'a>(v: &'a Value, field: &str) -> Result<Option<&'a str>, MpError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad("property_type", format!("{field} must be a string"))),
    }
}

fn object_at<'a>(v: &'a Value, field: &str) -> Result<Option<&'a Map<String, Value>>, MpError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(bad("property_type", format!("{field} must be an object"))),
    }
}

fn only(o: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), MpError> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(
            "unsupported_properties",
            format!("property {at}{k} is not supported"),
        )),
        None => Ok(()),
    }
}

/// ISO-8601 duration in seconds (`PT16M`, `PT1H30M`, `PT30S`), if simple.
fn duration_secs(s: &str) -> Option<u64> {
    let rest = s.strip_prefix("PT")?;
    let (mut total, mut num) = (0u64, String::new());
    for c in rest.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            'H' => 3600,
            'M' => 60,
            'S' => 1,
            _ => return None,
        };
    }
    (num.is_empty() && !rest.is_empty()).then_some(total)
}

/// Validates a create body with the Orders API's error codes (§3.1).
fn parse_create(raw: &[u8]) -> Result<OrderIn, MpError> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| {
        bad(
            "json_syntax_error",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(top) = &v else {
        return Err(bad("property_type", "the body must be a JSON object"));
    };
    only(
        top,
        &[
            "type",
            "external_reference",
            "expiration_time",
            "transactions",
            "config",
            "description",
            "integration_data",
            "processing_mode",
        ],
        "",
    )?;
    match string_at(&v, "type")? {
        None => return Err(bad("required_properties", "property type is required")),
        Some("point") => {}
        Some(other) => {
            return Err(bad(
                "property_value",
                format!("type `{other}` is not supported here; use `point`"),
            ));
        }
    }
    if let Some(m) = string_at(&v, "processing_mode")?
        && m != "automatic"
    {
        return Err(bad("property_value", "processing_mode must be automatic"));
    }
    // Required by the create-order reference (§3.1), with its alphabet.
    let external_reference = match string_at(&v, "external_reference")? {
        None => {
            return Err(bad(
                "required_properties",
                "property external_reference is required",
            ));
        }
        Some(r)
            if r.is_empty()
                || r.len() > 64
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            return Err(bad(
                "property_value",
                "external_reference must be 1-64 characters of [A-Za-z0-9_-]",
            ));
        }
        Some(r) => Some(r.to_owned()),
    };
    let description = string_at(&v, "description")?.map(str::to_owned);
    let expiration_time = string_at(&v, "expiration_time")?.map(str::to_owned);
    if let Some(e) = &expiration_time {
        match duration_secs(e) {
            Some(s) if (30..=3 * 3600).contains(&s) => {}
            _ => {
                return Err(bad(
                    "property_value",
                    "expiration_time must be an ISO-8601 duration between PT30S and PT3H",
                ));
            }
        }
    }
    // Whatever the POS sends as sponsor is replaced by the integrator's; its
    // platform and integrator ids are kept and forwarded.
    let (mut platform_id, mut integrator_id) = (None, None);
    if let Some(data) = object_at(&v, "integration_data")? {
        let data = Value::Object(data.clone());
        for (field, slot) in [
            ("platform_id", &mut platform_id),
            ("integrator_id", &mut integrator_id),
        ] {
            match string_at(&data, field)? {
                Some(id) if id.is_empty() || id.len() > 64 => {
                    return Err(bad(
                        "property_value",
                        format!("integration_data.{field} must be 1-64 characters"),
                    ));
                }
                id => *slot = id.map(str::to_owned),
            }
        }
    }

    let tx = object_at(&v, "transactions")?
        .ok_or_else(|| bad("required_properties", "property transactions is required"))?;
    only(tx, &["payments"], "transactions.")?;
    let payments = match tx.get("payments") {
        Some(Value::Array(a)) => a,
        None => {
            return Err(bad(
                "required_properties",
                "property transactions.payments is required",
            ));
        }
        Some(_) => {
            return Err(bad(
                "property_type",
                "transactions.payments must be an array",
            ));
        }
    };
    let payment = match payments.as_slice() {
        [] => {
            return Err(bad(
                "minimum_items",
                "transactions.payments needs one payment",
            ));
        }
        [one] => one,
        _ => {
            return Err(bad(
                "maximum_items",
                "Point orders take exactly one payment",
            ));
        }
    };
    let Value::Object(p) = payment else {
        return Err(bad("property_type", "a payment must be an object"));
    };
    only(p, &["amount"], "transactions.payments[0].")?;
    let amount = match p.get("amount") {
        Some(Value::String(s)) => Amount::parse_decimal(s)
            .map_err(|e| bad("property_value", format!("amount: {e}")))?
            .cents(),
        None => {
            return Err(bad(
                "required_properties",
                "property transactions.payments[0].amount is required",
            ));
        }
        Some(_) => return Err(bad("property_type", "amount must be a decimal string")),
    };
    // The Orders API's own floor, below every site's legacy minimum (§3.1).
    if amount < ORDER_MIN_CENTS {
        return Err(bad(
            "property_value",
            "transactions.payments[0].amount: Must be greater than or equal to 5.00",
        ));
    }

    let config = object_at(&v, "config")?
        .ok_or_else(|| bad("required_properties", "property config.point is required"))?;
    only(config, &["point", "payment_method"], "config.")?;
    let point = match config.get("point") {
        Some(Value::Object(o)) => o,
        None => {
            return Err(bad(
                "required_properties",
                "property config.point is required",
            ));
        }
        Some(_) => return Err(bad("property_type", "config.point must be an object")),
    };
    only(
        point,
        &["terminal_id", "print_on_terminal", "screen_time"],
        "config.point.",
    )?;
    let terminal_id = match point.get("terminal_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        None => {
            return Err(bad(
                "required_properties",
                "property config.point.terminal_id is required",
            ));
        }
        Some(_) => return Err(bad("property_type", "terminal_id must be a string")),
    };
    let print_on_terminal = match point.get("print_on_terminal") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) if s == "seller_ticket" => true,
        Some(Value::String(s)) if s == "no_ticket" => false,
        Some(_) => {
            return Err(bad(
                "property_value",
                "print_on_terminal must be seller_ticket or no_ticket",
            ));
        }
    };
    let payment_type = match config.get("payment_method") {
        None | Some(Value::Null) => None,
        Some(Value::Object(pm)) => {
            only(pm, &["default_type"], "config.payment_method.")?;
            match pm.get("default_type") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) if t == "credit_card" || t == "debit_card" => {
                    Some(t.clone())
                }
                Some(_) => {
                    return Err(bad(
                        "property_value",
                        "default_type must be credit_card or debit_card",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(bad(
                "property_type",
                "config.payment_method must be an object",
            ));
        }
    };
    Ok(OrderIn {
        terminal_id,
        details: RequestDetails {
            expiration_time,
            platform_id,
            integrator_id,
        },
        new: NewIntent {
            amount,
            description,
            external_reference,
            print_on_terminal,
            payment_type,
            installments: None,
            installments_cost: None,
        },
    })
}

async fn render(state: &AppState, i: &payment_intents::Model) -> Result<Value, MpError> {
    let c = view::ctx(state, i).await.map_err(core)?;
    Ok(view::order_json(i, &c))
}

async fn find(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    id: &str,
) -> Result<payment_intents::Model, MpError> {
    super::intent_in_scope(state, scope, ids::intent_from_order(id), id)
        .await
        .map_err(core)?
        .ok_or_else(not_found)
}

/// A stored answer again: a success as the order is now (like Mercado
/// Pago, "the original resource"), an error as it was.
async fn replayed(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    status: StatusCode,
    body: Value,
) -> Result<HttpResponse, MpError> {
    if let Some(e) = idem::replay_error(status, body.clone()) {
        return Err(e);
    }
    let current = match body["id"].as_str() {
        Some(id) => match find(state, scope, id).await {
            Ok(i) => render(state, &i).await?,
            Err(_) => body,
        },
        None => body,
    };
    Ok(HttpResponse::build(status).json(current))
}

async fn create(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let key = idem::key(&req, S, true)?;
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
            let input = parse_create(raw)?;
            let terminal = super::terminal_by_device(state, &caller.scope, &input.terminal_id)
                .await
                .map_err(core)?
                .ok_or_else(|| {
                    MpError::orders(
                        403,
                        "forbidden_checking_terminal_owner",
                        "The terminal does not belong to the user",
                    )
                })?;
            // Committed with the intent: a replay re-renders the order from its
            // id (see `replayed`), so a lost commit acknowledgement cannot turn
            // the retry into a second order.
            let stored = |i: &payment_intents::Model| StoredResponse {
                status: 201,
                body: json!({ "id": ids::order_id(&i.id) }).to_string(),
            };
            let completion =
                Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&stored));
            let origin = Origin {
                api_key_id: Some(caller.key_id()),
                source: EventSource::Api,
            };
            let created = intents::create(
                &state.db,
                &caller.scope,
                &terminal.id,
                input.new,
                origin,
                completion.as_ref(),
            )
            .await
            .map_err(|e| match e {
                platform_core::CoreError::Conflict {
                    reason: Conflict::TerminalBusy { .. },
                    ..
                } => MpError::orders(
                    409,
                    "already_queued_order_for_terminal",
                    "The terminal already has a queued order; finish or cancel it first",
                ),
                other => core(other),
            })?;
            // Before the dispatch job is queued, so the worker forwards them.
            // The order exists already: a failure here loses only the echo.
            let intent = &created.value;
            if let Err(e) =
                details::save(&state.db, &intent.id, &intent.integrator_id, &input.details).await
            {
                tracing::warn!(intent_id = %intent.id, error = %e, "order details not recorded");
            }
            let intent = created.publish(&state.queue).await;
            Ok(Done::created(
                StatusCode::CREATED,
                render(state, &intent).await?,
                &intent.id,
            ))
        },
    )
    .await?;
    match outcome {
        idem::Outcome::Fresh(status, body) => Ok(HttpResponse::build(status).json(body)),
        idem::Outcome::Replay(status, body) => replayed(&state, &caller.scope, status, body).await,
    }
}

async fn get(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let intent = find(&state, &caller.scope, &path).await?;
    Ok(HttpResponse::Ok().json(render(&state, &intent).await?))
}

async fn search(
    req: HttpRequest,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let number = |name: &str, default: u64, max: u64| -> Result<u64, MpError> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| bad("property_value", format!("{name} must be 0–{max}"))),
        }
    };
    let limit = number("limit", 50, u64::MAX)?.clamp(1, 100);
    let offset = number("offset", 0, 100_000)?;
    let mut search = OrderSearch {
        external_reference: query.get("external_reference").cloned(),
        statuses: None,
    };
    if let Some(s) = query.get("status") {
        let statuses = view::statuses_for_order_status(s)
            .ok_or_else(|| bad("property_value", format!("unknown status `{s}`")))?;
        search.statuses = Some(statuses);
    }
    let (rows, total) =
        intents::search_oldest_first(&state.db, &caller.scope, &search, offset, limit)
            .await
            .map_err(core)?;
    let mut data = Vec::with_capacity(rows.len());
    for r in &rows {
        data.push(render(&state, r).await?);
    }
    Ok(HttpResponse::Ok()
        .json(json!({"data": data, "paging": {"total": total, "offset": offset, "limit": limit}})))
}

async fn cancel(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let key = idem::key(&req, S, true)?;
    let allow_at_terminal = req
        .headers()
        .get("x-allow-cancelable-status")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|s| s.trim().eq_ignore_ascii_case("at_terminal"))
        });
    let intent = find(&state, &caller.scope, &path).await?;
    let outcome = idem::run(&state, &caller, &req, &raw, S, key.as_deref(), |_| async {
        let ask = CancelAsk {
            intent_id: &intent.id,
            at_terminal: allow_at_terminal,
            source: EventSource::Api,
        };
        // Answered as Mercado Pago answers (§3.3), from its own answer.
        match intent_wait::cancel(&state, &caller.scope, ask).await.map_err(core)? {
            CancelAnswer::Canceled(now) => Ok(Done::new(StatusCode::OK, render(&state, &now).await?)),
            CancelAnswer::Accepted(now) => {
                Ok(Done::new(StatusCode::ACCEPTED, render(&state, &now).await?))
            }
            CancelAnswer::AtTerminal(_) => Err(MpError::orders(
                409,
                "cannot_cancel_order",
                "The order is at the terminal; cancel it there, or send x-allow-cancelable-status: at_terminal",
            )),
            CancelAnswer::Refused { reason, message, .. } => {
                let code = match reason {
                    CancelRefusal::AlreadyCanceled => "order_already_canceled",
                    CancelRefusal::Other => "cannot_cancel_order",
                };
                Err(MpError::orders(409, code, message))
            }
            CancelAnswer::Final(now) if now.status == IntentStatus::Canceled => Err(MpError::orders(
                409,
                "order_already_canceled",
                "The order is already canceled",
            )),
            CancelAnswer::Final(now) => Err(MpError::orders(
                409,
                "cannot_cancel_order",
                format!("The order is {} and cannot be canceled", view::order_status(&now).0),
            )),
            CancelAnswer::Pending(_) => Err(MpError::orders(
                504,
                "cancel_pending",
                "Mercado Pago has not answered the cancel yet; it stays requested, and its outcome is notified",
            )),
        }
    })
    .await?;
    match outcome {
        idem::Outcome::Fresh(status, body) => Ok(HttpResponse::build(status).json(body)),
        idem::Outcome::Replay(status, body) => replayed(&state, &caller.scope, status, body).await,
    }
}

/// The refund body: none for a total refund, or one payment and amount.
fn parse_refund(raw: &[u8], intent_id: &PaymentIntentId) -> Result<Option<i64>, MpError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(raw).map_err(|e| {
        bad(
            "json_syntax_error",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let Some(obj) = v.as_object() else {
        return Err(bad("property_type", "the body must be a JSON object"));
    };
    only(obj, &["transactions"], "")?;
    let items = match obj.get("transactions") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("property_type", "transactions must be an array")),
    };
    let item = match items.as_slice() {
        [] => return Ok(None),
        [one] => one,
        _ => {
            return Err(bad(
                "maximum_items",
                "Point orders have one payment to refund",
            ));
        }
    };
    let id = item["id"].as_str().ok_or_else(|| {
        bad(
            "required_properties",
            "property transactions[0].id is required",
        )
    })?;
    if ids::intent_from_payment(id).as_ref() != Some(intent_id) {
        return Err(MpError::orders(
            404,
            "transaction_not_found",
            "Transaction not found.",
        ));
    }
    match &item["amount"] {
        Value::Null => Ok(None),
        Value::String(a) => Amount::parse_decimal(a)
            .map(|a| Some(a.cents()))
            .map_err(|e| bad("property_value", format!("amount: {e}"))),
        _ => Err(bad("property_type", "amount must be a decimal string")),
    }
}

/// How long a refund waits for the worker to hear back from Mercado Pago.
const REFUND_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Total or partial refund (§3.4) through `platform_core::refunds`: the
/// refund is queued for the worker, and the answer waits (bounded) for its
/// outcome, so a POS sees `refunded` / `partially_refunded` as from
/// Mercado Pago.
async fn refund(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, MpError> {
    let state = state(&req)?;
    let caller = caller(&req, S).await?;
    let raw = super::read_body(payload, S).await?;
    let key = idem::key(&req, S, true)?;
    let intent = find(&state, &caller.scope, &path).await?;
    let (state_ref, caller_ref, raw_ref, intent_ref) = (&state, &caller, &raw, &intent);
    let outcome = idem::run(
        &state,
        &caller,
        &req,
        &raw,
        S,
        key.as_deref(),
        |record| async move {
            let (state, caller, raw, intent) = (state_ref, caller_ref, raw_ref, intent_ref);
            let amount = parse_refund(raw, &intent.id)?;
            if intent.status == IntentStatus::Refunded {
                return Err(MpError::orders(
                    409,
                    "order_already_refunded",
                    "The order is already refunded",
                ));
            }
            // The stored response commits with the refund: a retry after a lost
            // commit acknowledgement replays (the order as it is then), never
            // refunds twice. The final answer below replaces it.
            let order_ref = |_: &refund_rows::Model| StoredResponse {
                status: 201,
                body: json!({"id": intent.id}).to_string(),
            };
            let completion =
                Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&order_ref));
            let refund = refunds::create(
                &state.db,
                &caller.scope,
                &intent.id,
                amount,
                completion.as_ref(),
            )
            .await
            .map_err(|e| match e {
                platform_core::CoreError::Conflict { message, .. } => {
                    MpError::orders(409, "cannot_refund_order", message)
                }
                platform_core::CoreError::Invalid {
                    reason: Invalid::RefundAmount,
                    message,
                } => MpError::orders(400, "refund_amount_exceeds", message),
                other => core(other),
            })?;
            let refund = refund.publish(&state.queue).await;
            let settled = wait_refund(state, &caller.scope, &refund.id, &intent.id).await?;
            if settled.status == RefundStatus::Failed {
                let refused = MpError::orders(
                    409,
                    "cannot_refund_order",
                    settled
                        .last_error_message
                        .unwrap_or_else(|| "Mercado Pago refused the refund".into()),
                );
                // A repeat must replay the refusal, not the response stored
                // with the refund.
                if let Some(record_id) = record.as_ref() {
                    platform_core::idempotency::complete(
                        &state.db,
                        &state.keyring,
                        record_id,
                        refused.status.as_u16(),
                        &refused.body.to_string(),
                        Some(refund.id.as_str()),
                    )
                    .await
                    .map_err(core)?;
                }
                return Err(refused);
            }
            let now = caller
                .scope
                .find::<payment_intents::Entity>(&state.db, &intent.id)
                .await
                .map_err(core)?;
            Ok(Done::created(
                StatusCode::CREATED,
                render(state, &now).await?,
                &refund.id,
            ))
        },
    )
    .await?;
    match outcome {
        idem::Outcome::Fresh(status, body) => Ok(HttpResponse::build(status).json(body)),
        idem::Outcome::Replay(status, body) => replayed(&state, &caller.scope, status, body).await,
    }
}

/// Waits until the refund is settled and, when it completes the amount,
/// the order shows `refunded`; at most [`REFUND_WAIT`].
pub(super) async fn wait_refund(
    state: &AppState,
    scope: &platform_core::tenancy::Scope,
    refund_id: &RefundId,
    intent_id: &PaymentIntentId,
) -> Result<refund_rows::Model, MpError> {
    let mut watch = state.intent_feed.watch(intent_id.as_str());
    let deadline = tokio::time::Instant::now() + REFUND_WAIT;
    loop {
        let refund = scope
            .find::<refund_rows::Entity>(&state.db, refund_id)
            .await
            .map_err(core)?;
        let settled = matches!(
            refund.status,
            RefundStatus::Succeeded | RefundStatus::Failed
        );
        let complete = if refund.status == RefundStatus::Succeeded {
            let intent = scope
                .find::<payment_intents::Entity>(&state.db, intent_id)
                .await
                .map_err(core)?;
            let left = refunds::refundable(&state.db, &intent)
                .await
                .map_err(core)?;
            left > 0 || intent.status == IntentStatus::Refunded
        } else {
            true
        };
        let now = tokio::time::Instant::now();
        if (settled && complete) || now >= deadline {
            return Ok(refund);
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(200).min(deadline - now)) => {},
            // A refund's settlement announces its intent.
            open = watch.changed() => {
                // The server is stopping: answer with the refund as it is.
                if !open {
                    return Ok(refund);
                }
            },
        }
    }
}
