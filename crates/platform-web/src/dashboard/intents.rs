//! `/app/intents`: payment intents with filters and live status, one
//! intent's page with its event timeline, and cancel.
//!
//! The status cells and the intent page update themselves over
//! [`super::live`] (server-sent events) when JavaScript runs; without it
//! the pages are current on every load.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use platform_core::entities::refunds;
use platform_core::entities::{
    payment_intent_events, payment_intents, pos, sellers, stores, terminals,
};
use platform_core::id::{PaymentIntentId, SellerId, TerminalId};
use platform_core::intents::{self, CancelAsk, CancelOutcome, IntentFilter};
use platform_core::paging::{Page, PageRequest};
use platform_core::permissions::Permission;
use platform_core::states::{CancelState, EventSource, IntentStatus, RefundStatus};
use platform_core::{audit, refunds as refund_svc, registry, sellers as seller_svc};
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{money, ok, render, see_other, urlencode, when};
use super::session::Auth;
use crate::state::AppState;

/// The text key of an intent status.
pub fn status_key(s: IntentStatus) -> &'static str {
    match s {
        IntentStatus::Queued => "intent.status_queued",
        IntentStatus::Created => "intent.status_created",
        IntentStatus::AtTerminal => "intent.status_at_terminal",
        IntentStatus::Processed => "intent.status_processed",
        IntentStatus::Failed => "intent.status_failed",
        IntentStatus::Canceled => "intent.status_canceled",
        IntentStatus::Expired => "intent.status_expired",
        IntentStatus::ActionRequired => "intent.status_action_required",
        IntentStatus::Refunded => "intent.status_refunded",
    }
}

fn source_key(s: EventSource) -> &'static str {
    match s {
        EventSource::Api => "intent.source_api",
        EventSource::Dashboard => "intent.source_dashboard",
        EventSource::Worker => "intent.source_worker",
        EventSource::Notification => "intent.source_notification",
        EventSource::Sync => "intent.source_sync",
    }
}

/// The integrator's sellers by id, for names in tables and filters.
pub async fn seller_names(state: &AppState, auth: &Auth) -> Result<Vec<sellers::Model>, PageError> {
    seller_svc::by_nickname(&state.db, &auth.scope, 500)
        .await
        .page(auth.lang)
}

/// Nicknames of the sellers a page of rows names (id → nickname), for
/// tables that would otherwise show `sel_…` ids.
pub async fn nicknames<'a>(
    state: &AppState,
    auth: &Auth,
    ids: impl Iterator<Item = &'a SellerId>,
) -> Result<HashMap<SellerId, String>, PageError> {
    let mut ids: Vec<SellerId> = ids.cloned().collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(seller_svc::by_ids(&state.db, &auth.scope, ids)
        .await
        .page(auth.lang)?
        .into_iter()
        .map(|s| (s.id, s.nickname))
        .collect())
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    seller: String,
    #[serde(default)]
    terminal: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: Option<String>,
}

/// The list's filters as read from the query (bad values dropped), and
/// the core filter they make: the list and its CSV export share them.
struct Filters {
    status: Option<IntentStatus>,
    seller: String,
    terminal: String,
    reference: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    date_error: bool,
    filter: IntentFilter,
}

impl ListQuery {
    fn filters(&self) -> Filters {
        let status = IntentStatus::parse(self.status.trim());
        let seller = id_param(&self.seller);
        let terminal = id_param(&self.terminal);
        let reference: String = self.reference.trim().chars().take(64).collect();
        let (from, to) = (parse_day(&self.from), parse_day(&self.to));
        let date_error = from.is_err() || to.is_err();
        let from = from.ok().flatten();
        let to = to.ok().flatten();
        let filter = IntentFilter {
            status,
            seller_id: (!seller.is_empty()).then(|| seller.clone()),
            terminal_id: (!terminal.is_empty()).then(|| terminal.clone()),
            external_reference: (!reference.is_empty()).then(|| reference.clone()),
            created_after: from.and_then(start_of),
            // Through the end of the `to` day.
            created_before: to.and_then(|d| d.succ_opt()).and_then(start_of),
        };
        Filters {
            status,
            seller,
            terminal,
            reference,
            from,
            to,
            date_error,
            filter,
        }
    }
}

/// `/app/intents/export.csv`: the list's rows for its filters, as CSV. A bad
/// date goes back to the list, which says what is wrong.
pub async fn export(
    state: web::Data<AppState>,
    auth: Auth,
    req: actix_web::HttpRequest,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let f = q.filters();
    if f.date_error {
        return Ok(super::forms::see_other(&format!(
            "/app/intents?{}",
            req.query_string()
        )));
    }
    let kind = platform_core::exports::ExportKind::PaymentIntents(f.filter);
    crate::csv_download::respond(&state, &auth.scope, kind)
        .await
        .page(auth.lang)
}

pub struct Row {
    pub intent: payment_intents::Model,
    pub device: String,
    pub seller: String,
}

#[derive(Template)]
#[template(path = "dash/intents.html")]
struct IntentsPage {
    c: Chrome,
    rows: Page<Row>,
    statuses: &'static [IntentStatus],
    sellers: Vec<sellers::Model>,
    status: String,
    seller: String,
    terminal: String,
    terminal_name: Option<String>,
    reference: String,
    from: String,
    to: String,
    date_error: bool,
    filter_query: String,
    filtered: bool,
    live_url: String,
}

impl IntentsPage {
    fn status_key(&self, s: &IntentStatus) -> &'static str {
        status_key(*s)
    }
    fn amount(&self, i: &payment_intents::Model) -> String {
        format!("{} {}", money(i.amount), i.currency)
    }
    fn when(&self, i: &payment_intents::Model) -> String {
        when(&i.created_at)
    }
}

fn parse_day(s: &str) -> Result<Option<NaiveDate>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ())
}

fn start_of(d: NaiveDate) -> Option<DateTime<Utc>> {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
}

/// Keeps only id-shaped values (prefix, underscore, base32) from a query.
fn id_param(s: &str) -> String {
    let s = s.trim();
    if s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        s.to_owned()
    } else {
        String::new()
    }
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let lang = auth.lang;
    let Filters {
        status,
        seller,
        terminal,
        reference,
        from,
        to,
        date_error,
        filter,
    } = q.filters();
    let paging = PageRequest::new(q.before.as_deref(), Some(50));
    let (items, has_more) = intents::list(
        &state.db,
        &auth.scope,
        &filter,
        paging.before.as_deref(),
        paging.limit,
    )
    .await
    .page(lang)?;

    let sellers = seller_names(&state, &auth).await?;
    let terminal_ids: Vec<TerminalId> = items.iter().map(|i| i.terminal_id.clone()).collect();
    let devices: HashMap<TerminalId, String> =
        registry::terminals_by_ids(&state.db, &auth.scope, terminal_ids)
            .await
            .page(lang)?
            .into_iter()
            .map(|t| (t.id, t.device_id))
            .collect();
    // The filter as typed: an id that is not a terminal's names none.
    let terminal_name = match TerminalId::parse(&terminal) {
        Err(_) => None,
        Ok(id) => auth
            .scope
            .find::<terminals::Entity>(&state.db, &id)
            .await
            .ok()
            .map(|t| t.device_id),
    };
    let names: HashMap<&str, &str> = sellers
        .iter()
        .map(|s| (s.id.as_str(), s.nickname.as_str()))
        .collect();
    let next_before = if has_more {
        items.last().map(|i| i.id.to_string())
    } else {
        None
    };
    let rows = Page {
        items: items
            .into_iter()
            .map(|i| Row {
                device: devices
                    .get(&i.terminal_id)
                    .cloned()
                    .unwrap_or_else(|| i.terminal_id.to_string()),
                seller: names
                    .get(i.seller_id.as_str())
                    .map(|s| (*s).to_owned())
                    .unwrap_or_else(|| i.seller_id.to_string()),
                intent: i,
            })
            .collect(),
        next_before,
        has_previous: paging.before.is_some(),
    };
    let fmt_day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let status_str = status.map(|s| s.as_str()).unwrap_or("");
    let page = IntentsPage {
        c: Chrome::new(&auth, &state, "intents"),
        rows,
        statuses: IntentStatus::ALL,
        sellers,
        filter_query: format!(
            "status={status_str}&seller={seller}&terminal={terminal}&reference={}&from={}&to={}",
            urlencode(&reference),
            fmt_day(from),
            fmt_day(to)
        ),
        filtered: status.is_some()
            || !seller.is_empty()
            || !terminal.is_empty()
            || !reference.is_empty()
            || from.is_some()
            || to.is_some(),
        live_url: "/app/intents/stream".to_owned(),
        status: status_str.to_owned(),
        seller,
        terminal,
        terminal_name,
        reference,
        from: fmt_day(from),
        to: fmt_day(to),
        date_error,
    };
    ok(&page, lang)
}

#[derive(Template)]
#[template(path = "dash/intent.html")]
pub struct IntentPage {
    c: Chrome,
    i: payment_intents::Model,
    events: Vec<payment_intent_events::Model>,
    terminal: Option<terminals::Model>,
    seller: Option<sellers::Model>,
    store: Option<stores::Model>,
    pos: Option<pos::Model>,
    pub(super) cancel_error: Option<String>,
    refunds: Vec<refunds::Model>,
    /// What can still be refunded, when a refund is possible from here.
    refundable: Option<i64>,
    pub(super) refund_error: Option<String>,
    pub(super) refund_amount: String,
    /// The refund form's key ([`super::once`]), new on each rendering.
    pub(super) refund_form_key: String,
    live_url: String,
}

impl IntentPage {
    fn status_key(&self) -> &'static str {
        status_key(self.i.status)
    }
    fn event_status(&self, s: &IntentStatus) -> &'static str {
        status_key(*s)
    }
    fn source_key(&self, e: &payment_intent_events::Model) -> &'static str {
        source_key(e.source)
    }
    fn amount(&self, minor: &i64) -> String {
        format!("{} {}", money(*minor), self.i.currency)
    }
    fn when(&self, t: &DateTime<Utc>) -> String {
        when(t)
    }
    fn refund_status_key(&self, r: &refunds::Model) -> &'static str {
        match r.status {
            RefundStatus::Queued => "refund.status_queued",
            RefundStatus::Pending => "refund.status_pending",
            RefundStatus::Succeeded => "refund.status_succeeded",
            RefundStatus::Failed => "refund.status_failed",
        }
    }
    fn cancel_requested(&self) -> bool {
        self.i
            .cancel_state
            .is_some_and(|c| matches!(c, CancelState::Requested | CancelState::Accepted))
    }
    fn cancelable(&self) -> bool {
        matches!(
            self.i.status,
            IntentStatus::Queued | IntentStatus::Created | IntentStatus::AtTerminal
        ) && !self.cancel_requested()
    }
}

pub async fn intent_page(
    state: &AppState,
    auth: &Auth,
    id: &PaymentIntentId,
) -> Result<IntentPage, PageError> {
    let db = &state.db;
    let lang = auth.lang;
    let i = auth
        .scope
        .find::<payment_intents::Entity>(db, id)
        .await
        .page(lang)?;
    let events = intents::history(db, &auth.scope, &i.id).await.page(lang)?;
    let terminal = auth
        .scope
        .find::<terminals::Entity>(db, &i.terminal_id)
        .await
        .ok();
    let seller = auth
        .scope
        .find::<sellers::Entity>(db, &i.seller_id)
        .await
        .ok();
    let store = match &i.store_id {
        Some(s) => auth.scope.find::<stores::Entity>(db, s).await.ok(),
        None => None,
    };
    let pos = match &i.pos_id {
        Some(p) => auth.scope.find::<pos::Entity>(db, p).await.ok(),
        None => None,
    };
    let refunds = refund_svc::list_for_intent(db, &auth.scope, &i.id)
        .await
        .page(lang)?;
    let refundable = if i.status == IntentStatus::Processed {
        Some(refund_svc::refundable(db, &i).await.page(lang)?).filter(|r| *r > 0)
    } else {
        None
    };
    Ok(IntentPage {
        c: Chrome::new(auth, state, "intents"),
        refund_amount: refundable.map(money).unwrap_or_default(),
        refunds,
        refundable,
        refund_error: None,
        refund_form_key: super::once::new_key(),
        live_url: format!("/app/intents/stream?intent={}", i.id),
        i,
        events,
        terminal,
        seller,
        store,
        pos,
        cancel_error: None,
    })
}

pub async fn detail(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = PaymentIntentId::parse_or_not_found(&path).page(auth.lang)?;
    let page = intent_page(&state, &auth, &id).await?;
    ok(&page, auth.lang)
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Cancels a queued intent at once; for one already on its way to the
/// terminal, asks Mercado Pago (the outcome arrives as a status change).
pub async fn cancel(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::Charge)?;
    auth.check_csrf(&form.csrf)?;
    // Staff press cancel looking at the intent's state, so a cancel at the
    // terminal is what they ask for; the page follows the outcome live.
    let id = PaymentIntentId::parse_or_not_found(&path).page(auth.lang)?;
    let ask = CancelAsk {
        intent_id: &id,
        at_terminal: true,
        source: EventSource::Dashboard,
    };
    let outcome = match intents::request_cancel(&state.db, &auth.scope, ask).await {
        Ok(c) => c.publish(&state.queue).await,
        Err(e) => return Err(PageError::from_core(e, auth.lang)),
    };
    let intent = match outcome {
        CancelOutcome::Canceled(i) | CancelOutcome::Requested(i) => i,
        CancelOutcome::AtTerminal(_) | CancelOutcome::Final(_) => {
            let mut page = intent_page(&state, &auth, &id).await?;
            page.cancel_error = Some(auth.t().get("intent.not_cancelable").to_owned());
            return render(StatusCode::CONFLICT, &page, auth.lang);
        }
    };
    let _ = audit::record(
        &state.db,
        &intent.integrator_id,
        &auth.actor(),
        "payment_intent.cancel_requested",
        Some(audit::Target::PaymentIntent(&intent.id)),
        None,
    )
    .await;
    Ok(see_other(&format!(
        "/app/intents/{}?done=intent_canceled",
        intent.id
    )))
}
