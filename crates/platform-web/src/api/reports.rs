//! `GET /v1/reports/summary`: the overview's figures for a period, in the
//! caller's scope (the same numbers the dashboard's home page charts).

use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate};
use platform_core::CoreError;
use platform_core::clock;
use platform_core::id::SellerId;
use platform_core::reports::{self, CurrencyFigures, Period, Ranked, Summary, SummaryQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/reports/summary", web::get().to(summary));
}

/// Days of the default period (ending today, UTC).
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SummaryParams {
    /// First day, `YYYY-MM-DD` (UTC); default 29 days before `to`.
    from: Option<NaiveDate>,
    /// Last day, included, `YYYY-MM-DD` (UTC); default today. At most 366 days.
    to: Option<NaiveDate>,
    /// Only this seller's payments and terminals.
    seller_id: Option<String>,
}

impl SummaryParams {
    /// The query for the core, or the reason the parameters are refused.
    pub(crate) fn query(self) -> Result<SummaryQuery, ApiError> {
        let to = self.to.unwrap_or_else(|| clock::now().date_naive());
        let from = self
            .from
            .unwrap_or_else(|| to - Duration::days(DEFAULT_DAYS - 1));
        let period = Period::new(from, to).map_err(|e| match e {
            CoreError::Invalid { reason, message } => ApiError::bad_request(reason.code(), message),
            other => other.into(),
        })?;
        let seller_id = match self.seller_id {
            // A malformed id is no seller of the caller's.
            Some(s) => Some(SellerId::parse_or_not_found(&s)?),
            None => None,
        };
        Ok(SummaryQuery { period, seller_id })
    }
}

async fn summary(
    state: web::Data<AppState>,
    caller: ApiCaller,
    params: web::Query<SummaryParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_inner().query()?;
    let summary = reports::summary(&state.db, &caller.scope, &query).await?;
    Ok(HttpResponse::Ok().json(SummaryOut::from(&summary)))
}

/// Payments, refunds, outcomes and terminal activity for a period. Amounts
/// are integer minor units of each currency.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportSummary)]
pub struct SummaryOut {
    #[schema(schema_with = super::openapi::schemas::object::report_summary)]
    object: &'static str,
    from: NaiveDate,
    to: NaiveDate,
    seller_id: Option<String>,
    /// One entry per currency charged in the period, most volume first.
    currencies: Vec<CurrencyOut>,
    outcomes: OutcomesOut,
    terminals: TerminalsOut,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportCurrency)]
pub struct CurrencyOut {
    currency: String,
    /// Approved payments (processed, or refunded since), before refunds.
    approved_count: u64,
    approved_amount: i64,
    /// Succeeded refunds asked for in the period.
    refund_count: u64,
    refunded_amount: i64,
    /// `approved_amount - refunded_amount`.
    net_amount: i64,
    /// Every day of the period, days without payments included.
    days: Vec<DayOut>,
    top_sellers: Vec<RankedOut>,
    top_stores: Vec<RankedOut>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportDay)]
pub struct DayOut {
    date: NaiveDate,
    approved_count: u64,
    approved_amount: i64,
}

/// A seller, store or terminal with its count and approved amount.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportRanked)]
pub struct RankedOut {
    id: String,
    /// Nickname (seller), name (store) or device id (terminal).
    name: String,
    count: u64,
    amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportOutcomes)]
pub struct OutcomesOut {
    approved: u64,
    /// Failed, expired or needing action at the terminal.
    declined: u64,
    canceled: u64,
    /// Not final yet.
    in_progress: u64,
    /// approved ÷ (approved + declined); cancels are left out. Null while
    /// nothing has ended.
    approval_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportTerminals)]
pub struct TerminalsOut {
    total: u64,
    /// Terminals with at least one intent in the period.
    active: u64,
    /// The busiest terminals by intents (any outcome); `amount` is approved.
    busiest: Vec<RankedOut>,
}

impl From<&Ranked> for RankedOut {
    fn from(r: &Ranked) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            count: r.count,
            amount: r.amount,
        }
    }
}

impl From<&CurrencyFigures> for CurrencyOut {
    fn from(c: &CurrencyFigures) -> Self {
        Self {
            currency: c.currency.clone(),
            approved_count: c.approved_count,
            approved_amount: c.approved_amount,
            refund_count: c.refund_count,
            refunded_amount: c.refunded_amount,
            net_amount: c.net_amount(),
            days: c
                .days
                .iter()
                .map(|d| DayOut {
                    date: d.day,
                    approved_count: d.approved_count,
                    approved_amount: d.approved_amount,
                })
                .collect(),
            top_sellers: c.top_sellers.iter().map(RankedOut::from).collect(),
            top_stores: c.top_stores.iter().map(RankedOut::from).collect(),
        }
    }
}

impl From<&Summary> for SummaryOut {
    fn from(s: &Summary) -> Self {
        Self {
            object: "report_summary",
            from: s.period.from(),
            to: s.period.to(),
            seller_id: s.seller_id.as_ref().map(|id| id.as_str().to_owned()),
            currencies: s.currencies.iter().map(CurrencyOut::from).collect(),
            outcomes: OutcomesOut {
                approved: s.outcomes.approved,
                declined: s.outcomes.declined,
                canceled: s.outcomes.canceled,
                in_progress: s.outcomes.in_progress,
                approval_rate: s.outcomes.approval_rate(),
            },
            terminals: TerminalsOut {
                total: s.terminals.total,
                active: s.terminals.active,
                busiest: s.terminals.busiest.iter().map(RankedOut::from).collect(),
            },
        }
    }
}
