//! `/app`: the integrator's start page, and `/`, which leads to it.

use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::audit;
use platform_core::entities::audit_log;
use platform_core::paging::PageRequest;
use platform_core::reports;
use platform_core::states::LinkStatus;
use platform_core::{integrator_app, registry, sellers as seller_svc};

use super::charts::{self, BarChart, Segment};
use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{money, ok, when};
use super::session::Auth;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/overview.html")]
struct Overview {
    c: Chrome,
    org_name: String,
    app_configured: bool,
    linked: u64,
    reconnect: u64,
    terminals: u64,
    recent: Vec<audit_log::Model>,
    figures: Figures,
}

/// The periods the overview offers, in days ending today (UTC).
const PERIODS: [i64; 3] = [7, 30, 90];

/// One of the offered periods; anything else is the default month.
pub fn period_days(days: Option<&str>) -> i64 {
    days.and_then(|d| d.parse::<i64>().ok())
        .filter(|d| PERIODS.contains(d))
        .unwrap_or(30)
}

/// The charts and tables of the overview (the `GET /v1/reports/summary`
/// figures, drawn).
struct Figures {
    days: i64,
    periods: [i64; 3],
    /// The seller filter (`sel_…`), empty for all.
    seller: String,
    sellers: Vec<(String, String)>,
    from: String,
    to: String,
    currencies: Vec<CurrencyPanel>,
    outcomes: OutcomeRow,
    outcome_bar: Vec<Segment>,
    /// The approval rate as text (`92.5 %`), `–` while nothing ended.
    approval_rate: String,
    terminals_total: u64,
    terminals_active: u64,
    busiest: Vec<RankRow>,
}

struct CurrencyPanel {
    currency: String,
    approved_count: u64,
    approved_amount: String,
    refund_count: u64,
    refunded_amount: String,
    net_amount: String,
    volume: BarChart,
    counts: BarChart,
    /// (day, count, amount) for the table next to the charts.
    days: Vec<(String, u64, String)>,
    top_sellers: Vec<RankRow>,
    top_stores: Vec<RankRow>,
}

struct RankRow {
    id: String,
    name: String,
    count: u64,
    amount: String,
    /// Bar width, per mille of the first row's.
    share: u32,
}

struct OutcomeRow {
    approved: u64,
    declined: u64,
    canceled: u64,
    in_progress: u64,
}

fn rank_rows(rows: &[reports::Ranked], by_count: bool) -> Vec<RankRow> {
    let value = |r: &reports::Ranked| if by_count { r.count as i64 } else { r.amount };
    let largest = rows.first().map(value).unwrap_or(0);
    rows.iter()
        .map(|r| RankRow {
            id: r.id.clone(),
            name: r.name.clone(),
            count: r.count,
            amount: money(r.amount),
            share: charts::share(value(r), largest),
        })
        .collect()
}

fn figures(summary: &reports::Summary, days: i64, sellers: Vec<(String, String)>) -> Figures {
    let currencies = summary
        .currencies
        .iter()
        .map(|c| {
            let short = |d: &reports::DayFigures| d.day.format("%m-%d").to_string();
            let volume: Vec<(String, i64, String)> = c
                .days
                .iter()
                .map(|d| {
                    let shown = format!("{} {}", money(d.approved_amount), c.currency);
                    (short(d), d.approved_amount, shown)
                })
                .collect();
            let counts: Vec<(String, i64, String)> = c
                .days
                .iter()
                .map(|d| {
                    (
                        short(d),
                        d.approved_count as i64,
                        d.approved_count.to_string(),
                    )
                })
                .collect();
            CurrencyPanel {
                currency: c.currency.clone(),
                approved_count: c.approved_count,
                approved_amount: money(c.approved_amount),
                refund_count: c.refund_count,
                refunded_amount: money(c.refunded_amount),
                net_amount: money(c.net_amount()),
                volume: BarChart::new(&volume),
                counts: BarChart::new(&counts),
                days: c
                    .days
                    .iter()
                    .map(|d| {
                        (
                            d.day.to_string(),
                            d.approved_count,
                            money(d.approved_amount),
                        )
                    })
                    .collect(),
                top_sellers: rank_rows(&c.top_sellers, false),
                top_stores: rank_rows(&c.top_stores, false),
            }
        })
        .collect();
    let o = &summary.outcomes;
    Figures {
        days,
        periods: PERIODS,
        seller: summary
            .seller_id
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        sellers,
        from: summary.period.from().to_string(),
        to: summary.period.to().to_string(),
        currencies,
        outcome_bar: charts::stacked(&[
            ("seg-approved", o.approved, o.approved.to_string()),
            ("seg-declined", o.declined, o.declined.to_string()),
            ("seg-canceled", o.canceled, o.canceled.to_string()),
            ("seg-progress", o.in_progress, o.in_progress.to_string()),
        ]),
        outcomes: OutcomeRow {
            approved: o.approved,
            declined: o.declined,
            canceled: o.canceled,
            in_progress: o.in_progress,
        },
        approval_rate: o
            .approval_rate()
            .map(|r| format!("{:.1} %", r * 100.0))
            .unwrap_or_else(|| "–".into()),
        terminals_total: summary.terminals.total,
        terminals_active: summary.terminals.active,
        busiest: rank_rows(&summary.terminals.busiest, true),
    }
}

impl Overview {
    fn when(&self, e: &audit_log::Model) -> String {
        when(&e.created_at)
    }
}

pub async fn page(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<super::exports::PeriodQuery>,
) -> Result<HttpResponse, PageError> {
    let lang = auth.lang;
    let db = &state.db;
    let days = query.days();
    let summary_query = query.summary().page(lang)?;
    let summary = reports::summary(db, &auth.scope, &summary_query)
        .await
        .page(lang)?;
    let sellers = super::intents::seller_names(&state, &auth)
        .await?
        .into_iter()
        .map(|s| (s.id.into_string(), s.nickname))
        .collect();
    let app = integrator_app::view(db, &auth.scope).await.page(lang)?;
    let count = |status: LinkStatus| seller_svc::count_with_status(db, &auth.scope, status);
    let linked = count(LinkStatus::Linked).await.page(lang)?;
    let reconnect = count(LinkStatus::NeedsReconnect).await.page(lang)?;
    let terminals = registry::terminal_count(db, &auth.scope).await.page(lang)?;
    let recent = audit::list(db, &auth.scope, None, None, &PageRequest::first(8))
        .await
        .page(lang)?;
    let page = Overview {
        c: Chrome::new(&auth, &state, "home"),
        org_name: app.name,
        app_configured: app.client_id.is_some() && app.has_client_secret,
        linked,
        reconnect,
        terminals,
        recent: recent.items,
        figures: figures(&summary, days, sellers),
    };
    ok(&page, lang)
}
