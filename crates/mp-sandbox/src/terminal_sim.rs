//! The simulated terminals: they pick up queued intents/orders and walk them
//! through the documented states, by the simulator amounts or a forced outcome.

use crate::ids;
use crate::model::*;
use crate::notify;
use crate::state::State;
use crate::work::Work;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

fn after(now: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

fn terminal_mode(st: &State, id: &str) -> TerminalMode {
    st.terminals.get(id).map(|t| t.mode).unwrap_or_default()
}

/// When a freshly queued item is first looked at: auto terminals pick it up, manual ones wait.
pub fn initial_step(st: &State, terminal_id: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match terminal_mode(st, terminal_id) {
        TerminalMode::Auto => Some(after(now, st.steps.pickup)),
        TerminalMode::Manual => None,
    }
}

/// Runs every due transition until nothing else is due (at most 10,000
/// steps a call; the caller runs again for the rest). True when it stopped
/// on that budget.
pub fn run_due(st: &mut State, now: DateTime<Utc>) -> bool {
    for _ in 0..10_000 {
        let Some(w) = st.pop_due(now) else {
            return false;
        };
        step(st, &w, now);
        st.touch(&w, now);
    }
    true
}

/// One due transition of one item (taken off the schedule by `pop_due`).
fn step(st: &mut State, w: &Work, now: DateTime<Utc>) {
    match w {
        Work::Intent(id) => {
            let Some(i) = st.intents.get(id) else {
                return;
            };
            if i.state.is_final() {
                return;
            }
            if i.next_step_at.is_some_and(|t| t <= now) {
                advance_intent(st, id, now);
            } else if i.deadline <= now
                && matches!(i.state, IntentState::Open | IntentState::OnTerminal)
            {
                let to = if i.state == IntentState::Open {
                    IntentState::Abandoned
                } else {
                    IntentState::Canceled
                };
                set_intent_state(st, id, to, now);
            }
        }
        Work::Order(id) => {
            let Some(o) = st.orders.get(id) else {
                return;
            };
            if o.status.is_active() && o.expires_at <= now {
                finish_order(st, id, OrderStatus::Expired, None, now);
            } else if o.next_step_at.is_some_and(|t| t <= now) {
                advance_order(st, id, now);
            }
        }
        Work::Refund(id) => {
            let due = st
                .refunds
                .get(id)
                .is_some_and(|r| !r.state.is_final() && r.next_step_at.is_some_and(|t| t <= now));
            if due {
                advance_refund(st, id, now);
            }
        }
    }
}

// ---- legacy payment intents ----

pub fn set_intent_state(st: &mut State, id: &str, to: IntentState, now: DateTime<Utc>) -> bool {
    let Some(i) = st.intents.get_mut(id) else {
        return false;
    };
    if !i.state.can_go(to) {
        return false;
    }
    i.state = to;
    i.history.push((to, now));
    i.next_step_at = None;
    if to == IntentState::OnTerminal {
        i.deadline = after(now, st.steps.terminal_timeout);
    }
    if to.is_final() {
        let i = i.clone();
        let body = intent_notification_body(st, &i).to_string();
        notify::enqueue(
            st,
            &i.client_id,
            i.user_id,
            "point_integration_wh",
            &i.id,
            body,
            now,
        );
    }
    st.touch(&Work::Intent(id.to_string()), now);
    true
}

fn advance_intent(st: &mut State, id: &str, now: DateTime<Utc>) {
    let Some(i) = st.intents.get(id).cloned() else {
        return;
    };
    let auto = terminal_mode(st, &i.device_id) == TerminalMode::Auto || i.outcome.is_some();
    match i.state {
        IntentState::Open => {
            set_intent_state(st, id, IntentState::OnTerminal, now);
            let next = auto.then(|| after(now, st.steps.card));
            if let Some(x) = st.intents.get_mut(id) {
                x.next_step_at = next;
            }
        }
        IntentState::OnTerminal => {
            set_intent_state(st, id, IntentState::Processing, now);
            let pid = charge_intent(st, &i, now);
            let next = Some(after(now, st.steps.processing));
            if let Some(x) = st.intents.get_mut(id) {
                x.payment_id = Some(pid);
                x.next_step_at = next;
            }
        }
        IntentState::Processing => {
            set_intent_state(st, id, IntentState::Processed, now);
            if let Some(x) = st.intents.get_mut(id) {
                x.next_step_at = Some(now);
            }
        }
        IntentState::Processed => {
            let outcome = i.outcome.unwrap_or(Outcome::from_cents(i.amount));
            let (state, pay) = match outcome {
                Outcome::Approved => (IntentState::Finished, "approved"),
                Outcome::Rejected => (IntentState::Finished, "rejected"),
                Outcome::Reversed => (IntentState::Finished, "cancelled"),
                Outcome::Error => (IntentState::Error, "rejected"),
                Outcome::ConfirmationRequired | Outcome::ActionRequired => {
                    (IntentState::ConfirmationRequired, "in_process")
                }
            };
            if let Some(x) = st.intents.get_mut(id) {
                x.payment_state = Some(pay.to_string());
            }
            settle_charge(st, &i.id, pay);
            set_intent_state(st, id, state, now);
        }
        _ => {}
    }
}

/// Records the charge the terminal makes and its Payments API view.
fn charge_intent(st: &mut State, i: &Intent, now: DateTime<Utc>) -> u64 {
    let pid = 10_000_000_000 + ids::random_u64() % 90_000_000_000;
    let ptype = i
        .payment_req
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("credit_card")
        .to_string();
    let currency = st
        .users
        .get(&i.user_id)
        .map(|u| u.site.currency)
        .unwrap_or("BRL");
    crate::payments::insert(
        st,
        pid,
        json!({"status": "in_process", "status_detail": "pending_contingency",
               "transaction_amount": i.amount as f64 / 100.0, "currency_id": currency,
               "payment_type_id": ptype, "collector_id": i.user_id,
               "external_reference": i.additional_info.get("external_reference"),
               "date_created": now.to_rfc3339(),
               "point_of_interaction": {"type": "POINT", "device_id": i.device_id, "payment_intent_id": i.id}}),
    );
    st.charges.push(Charge {
        terminal_id: i.device_id.clone(),
        user_id: i.user_id,
        kind: "payment_intent",
        resource_id: i.id.clone(),
        payment_id: pid.to_string(),
        amount_cents: i.amount,
        status: "in_process".into(),
        external_reference: i
            .additional_info
            .get("external_reference")
            .and_then(Value::as_str)
            .map(String::from),
        at: now,
    });
    pid
}

fn settle_charge(st: &mut State, resource_id: &str, status: &str) {
    if let Some(c) = st.charges.of_mut(resource_id) {
        c.status = status.to_string();
        if let Ok(pid) = c.payment_id.parse::<u64>()
            && let Some(p) = st.payments.get_mut(&pid)
        {
            p["status"] = json!(status);
            p["status_detail"] = json!(if status == "approved" {
                "accredited"
            } else {
                status
            });
        }
    }
}

/// The `point_integration_wh` body: the intent itself (reference 4.4).
pub fn intent_notification_body(st: &State, i: &Intent) -> Value {
    let mut body = json!({
        "amount": i.amount, "caller_id": i.user_id,
        "client_id": i.client_id.parse::<u64>().map(Value::from).unwrap_or(json!(i.client_id)),
        "created_at": i.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        "id": i.id, "state": i.state.as_str(), "device_id": i.device_id,
        "additional_info": i.additional_info,
    });
    let ptype = i
        .payment_req
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("credit_card");
    match i.state {
        IntentState::Finished => {
            body["payment"] = json!({"id": i.payment_id, "state": i.payment_state, "type": ptype});
        }
        IntentState::ConfirmationRequired => {
            body["payment"] = json!({"id": i.payment_id, "state": "", "type": ""});
        }
        _ => {}
    }
    let _ = st;
    body
}

// ---- terminal actions (helpers and the /sandbox page) ----

/// The operator presses "charge": the terminal pulls its queued item.
/// With `outcome`, the walk then completes by itself.
pub fn press_charge(
    st: &mut State,
    terminal: &str,
    outcome: Option<Outcome>,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let work = st
        .busy
        .get(terminal)
        .cloned()
        .ok_or("nothing queued on this terminal")?;
    let r = press(st, work.id(), outcome, now);
    st.touch(&work, now);
    r
}

fn press(
    st: &mut State,
    work: &str,
    outcome: Option<Outcome>,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let work = work.to_string();
    if let Some(i) = st.intents.get_mut(&work) {
        if outcome.is_some() {
            i.outcome = outcome;
        }
        match i.state {
            IntentState::Open => {
                i.next_step_at = Some(now);
            }
            IntentState::OnTerminal => {
                i.next_step_at = Some(now);
                if outcome.is_none() {
                    i.outcome = Some(Outcome::from_cents(i.amount));
                }
            }
            _ => return Err("the intent is already being processed".into()),
        }
        return Ok(work);
    }
    if let Some(o) = st.orders.get_mut(&work) {
        if let Some(out) = outcome {
            o.forced = Some(forced_from_outcome(out));
        }
        if o.status == OrderStatus::AtTerminal && o.forced.is_none() {
            let out = Outcome::from_cents(o.payment.amount_cents);
            o.forced = Some(forced_from_outcome(out));
        }
        o.next_step_at = Some(now);
        return Ok(work);
    }
    if let Some(r) = st.refunds.get_mut(&work) {
        r.next_step_at = Some(now);
        return Ok(work);
    }
    Err("nothing queued on this terminal".into())
}

pub fn forced_from_outcome(out: Outcome) -> ForcedOrder {
    let (status, detail) = match out {
        Outcome::Approved => (OrderStatus::Processed, None),
        Outcome::Rejected => (OrderStatus::Failed, Some("rejected_by_issuer")),
        Outcome::Reversed => (OrderStatus::Failed, Some("failed")),
        Outcome::Error => (OrderStatus::Failed, Some("processing_error")),
        Outcome::ConfirmationRequired | Outcome::ActionRequired => {
            (OrderStatus::ActionRequired, None)
        }
    };
    ForcedOrder {
        status,
        status_detail: detail.map(String::from),
        method_type: None,
        method_id: None,
        installments: None,
    }
}

/// The operator cancels on the device: allowed before the card is processed.
pub fn cancel_on_device(
    st: &mut State,
    terminal: &str,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let work = st
        .terminal_busy(terminal)
        .ok_or("nothing queued on this terminal")?;
    if st.intents.contains_key(&work) {
        return if set_intent_state(st, &work, IntentState::Canceled, now) {
            Ok(work)
        } else {
            Err("the intent can no longer be canceled".into())
        };
    }
    if st.orders.contains_key(&work) {
        finish_order(
            st,
            &work,
            OrderStatus::Canceled,
            Some("canceled_on_terminal"),
            now,
        );
        return Ok(work);
    }
    if let Some(r) = st.refunds.get_mut(&work) {
        r.state = IntentState::Canceled;
        r.next_step_at = None;
        st.touch(&Work::Refund(work.clone()), now);
        return Ok(work);
    }
    Err("nothing to cancel".into())
}

// ---- orders ----

fn bump(o: &mut Order, now: DateTime<Utc>) {
    o.version += 1;
    o.updated = now;
}

fn advance_order(st: &mut State, id: &str, now: DateTime<Utc>) {
    let Some(o) = st.orders.get(id) else {
        return;
    };
    let manual = terminal_mode(st, &o.terminal_id) == TerminalMode::Manual;
    let (status, cancel_requested) = (o.status, o.cancel_requested);
    let forced = o.forced.clone();
    let (amount_cents, remaining) = (
        o.payment.amount_cents,
        o.payment.paid_cents.unwrap_or(0) - o.payment.refunded_cents,
    );
    match status {
        OrderStatus::Created => {
            let card = after(now, st.steps.card);
            let Some(x) = st.orders.get_mut(id) else {
                return;
            };
            x.status = OrderStatus::AtTerminal;
            x.status_detail = "at_terminal".into();
            x.payment.status = "at_terminal".into();
            x.payment.status_detail = "at_terminal".into();
            x.next_step_at = (!manual || x.forced.is_some() || x.cancel_requested).then_some(card);
            bump(x, now);
        }
        OrderStatus::AtTerminal => {
            if cancel_requested {
                finish_order(st, id, OrderStatus::Canceled, Some("canceled_by_api"), now);
                return;
            }
            let forced =
                forced.unwrap_or_else(|| forced_from_outcome(Outcome::from_cents(amount_cents)));
            apply_forced(st, id, &forced, now);
        }
        OrderStatus::Processed => {
            if forced
                .as_ref()
                .is_some_and(|f| f.status == OrderStatus::Refunded)
            {
                add_refund(st, id, remaining, now);
            }
            if let Some(x) = st.orders.get_mut(id) {
                x.next_step_at = None;
                x.forced = None;
            }
        }
        _ => {
            if let Some(x) = st.orders.get_mut(id) {
                x.next_step_at = None;
            }
        }
    }
}

fn apply_forced(st: &mut State, id: &str, f: &ForcedOrder, now: DateTime<Utc>) {
    match f.status {
        OrderStatus::Processed | OrderStatus::Failed | OrderStatus::Refunded => {
            let approved = f.status != OrderStatus::Failed;
            charge_order(st, id, f, approved, now);
            if approved {
                finish_order(st, id, OrderStatus::Processed, Some("accredited"), now);
                if f.status == OrderStatus::Refunded {
                    let remaining = st
                        .orders
                        .get(id)
                        .map(|o| o.payment.paid_cents.unwrap_or(0))
                        .unwrap_or(0);
                    add_refund(st, id, remaining, now);
                }
            } else {
                finish_order(
                    st,
                    id,
                    OrderStatus::Failed,
                    Some(f.status_detail.as_deref().unwrap_or("failed")),
                    now,
                );
            }
        }
        OrderStatus::ActionRequired => {
            finish_order(
                st,
                id,
                OrderStatus::ActionRequired,
                Some("check_on_terminal"),
                now,
            );
        }
        OrderStatus::Canceled => finish_order(
            st,
            id,
            OrderStatus::Canceled,
            Some("canceled_on_terminal"),
            now,
        ),
        OrderStatus::Expired => finish_order(st, id, OrderStatus::Expired, Some("expired"), now),
        OrderStatus::Created | OrderStatus::AtTerminal => {}
    }
    if let Some(o) = st.orders.get_mut(id) {
        o.forced = None;
        o.next_step_at = None;
    }
}

fn charge_order(st: &mut State, id: &str, f: &ForcedOrder, approved: bool, now: DateTime<Utc>) {
    let Some(o) = st.orders.get_mut(id) else {
        return;
    };
    let cfg: Option<Value> = o
        .payment_method_cfg
        .as_ref()
        .and_then(|c| serde_json::from_str(c.get()).ok());
    let default_type = cfg
        .as_ref()
        .and_then(|c| c.get("default_type"))
        .and_then(Value::as_str)
        .unwrap_or("credit_card");
    let ptype = f.method_type.clone().unwrap_or(default_type.to_string());
    let pid = f.method_id.clone().unwrap_or(if ptype == "debit_card" {
        "debvisa".into()
    } else {
        "master".into()
    });
    o.payment.method = Some((pid, ptype, f.installments.unwrap_or(1)));
    let reference = 100_000_000_000 + ids::random_u64() % 900_000_000_000;
    o.payment.reference_id = Some(reference.to_string());
    o.payment.charged_at = Some(now);
    if approved {
        o.payment.paid_cents = Some(o.payment.amount_cents);
    }
    // The Payments API shows this payment (its `reference_id`) from the order.
    st.order_payments.insert(reference, id.to_string());
    let Some(o) = st.orders.get(id) else {
        return;
    };
    st.charges.push(Charge {
        terminal_id: o.terminal_id.clone(),
        user_id: o.user_id,
        kind: "order",
        resource_id: o.id.clone(),
        payment_id: o.payment.id.clone(),
        amount_cents: o.payment.amount_cents,
        status: if approved {
            "approved".into()
        } else {
            "rejected".into()
        },
        external_reference: o.external_reference.clone(),
        at: now,
    });
}

/// Moves an order to a final (or processed) status, with the matching payment pair and webhook.
pub fn finish_order(
    st: &mut State,
    id: &str,
    to: OrderStatus,
    detail: Option<&str>,
    now: DateTime<Utc>,
) {
    let Some(o) = st.orders.get_mut(id) else {
        return;
    };
    if !o.status.can_go(to) {
        return;
    }
    o.status = to;
    o.status_detail = to.as_str().to_string();
    let (ps, pd) = match to {
        OrderStatus::Processed => ("processed", "accredited".to_string()),
        OrderStatus::Failed => ("failed", detail.unwrap_or("failed").to_string()),
        OrderStatus::Canceled => ("canceled", detail.unwrap_or("canceled").to_string()),
        OrderStatus::Expired => ("expired", "expired".to_string()),
        OrderStatus::Refunded => ("refunded", "refunded".to_string()),
        OrderStatus::ActionRequired => ("action_required", "check_on_terminal".to_string()),
        OrderStatus::Created | OrderStatus::AtTerminal => (to.as_str(), to.as_str().to_string()),
    };
    o.payment.status = ps.to_string();
    o.payment.status_detail = pd;
    o.next_step_at = None;
    bump(o, now);
    if let Some(action) = to.action() {
        let body = crate::order_view::order_body(o, action, now);
        let (client_id, user_id) = (o.client_id.clone(), o.user_id);
        notify::enqueue(st, &client_id, user_id, "order", id, body, now);
    }
    st.touch(&Work::Order(id.to_string()), now);
}

/// Adds a processed refund; a refund of the whole remaining amount makes the order refunded.
pub fn add_refund(st: &mut State, id: &str, cents: i64, now: DateTime<Utc>) -> Option<String> {
    let o = st.orders.get_mut(id)?;
    let rid = format!("REF{}", ids::ulid(now));
    let reference = 100_000_000_000 + ids::random_u64() % 900_000_000_000;
    // The Payments API view of the order's payment shows it too.
    o.refunds.push(OrderRefund {
        id: rid.clone(),
        transaction_id: o.payment.id.clone(),
        reference_id: reference.to_string(),
        amount_cents: cents,
        status: "processed".into(),
        at: now,
    });
    o.payment.refunded_cents += cents;
    let full = o.payment.refunded_cents >= o.payment.paid_cents.unwrap_or(0);
    if full {
        finish_order(st, id, OrderStatus::Refunded, None, now);
    } else {
        o.status_detail = "partially_refunded".into();
        o.payment.status_detail = "partially_refunded".into();
        bump(o, now);
    }
    if let Some(c) = st.charges.of_mut(id) {
        c.status = if full {
            "refunded".into()
        } else {
            "partially_refunded".into()
        };
    }
    st.touch(&Work::Order(id.to_string()), now);
    Some(rid)
}

// ---- legacy refund intents ----

fn advance_refund(st: &mut State, id: &str, now: DateTime<Utc>) {
    let steps = st.steps.clone();
    let Some(r) = st.refunds.get_mut(id) else {
        return;
    };
    let (next, delay) = match r.state {
        IntentState::Open => (IntentState::OnTerminal, steps.card),
        IntentState::OnTerminal => (IntentState::Processing, steps.processing),
        _ => (IntentState::Finished, std::time::Duration::ZERO),
    };
    r.state = next;
    r.next_step_at = (!next.is_final()).then(|| after(now, delay));
    if next == IntentState::Finished {
        let pid = r.payment_id;
        if let Some(p) = st.payments.get_mut(&pid) {
            p["status"] = json!("refunded");
            p["status_detail"] = json!("refunded");
        }
        if let Some(c) = st
            .charges
            .iter_mut()
            .find(|c| c.payment_id == pid.to_string())
        {
            c.status = "refunded".into();
        }
    }
}
