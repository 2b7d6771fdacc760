//! The figures of the overview and of `GET /v1/reports/summary`: approved
//! payments per day and currency, outcomes and the approval rate, refunds,
//! the top sellers and stores, terminal activity.
//!
//! Everything is aggregated in the database (`GROUP BY`), so a year of
//! intents arrives here as a few hundred rows. Days are UTC days of the
//! intent's `created_at` (when the charge was asked for); refunds count on
//! the day they were asked for.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, PaginatorTrait, QueryFilter, QuerySelect,
    QueryTrait, Select,
};

use crate::entities::{payment_intents, refunds, sellers, stores, terminals};
use crate::error::{CoreError, Invalid};
use crate::id::SellerId;
use crate::states::{IntentStatus, RefundStatus};
use crate::tenancy::Scope;

/// The longest period one report covers.
pub const MAX_DAYS: i64 = 366;
/// How many sellers, stores and terminals the rankings show.
pub const TOP: usize = 5;

/// Whole UTC days, `from` to `to` inclusive; at most [`MAX_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, CoreError> {
        if from > to {
            return Err(CoreError::invalid(
                Invalid::ReportPeriod,
                "`from` must not be after `to`",
            ));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(CoreError::invalid(
                Invalid::ReportPeriod,
                format!("a report covers at most {MAX_DAYS} days"),
            ));
        }
        Ok(Self { from, to })
    }

    /// The `days` days ending with `today` (1 ≤ days ≤ [`MAX_DAYS`]).
    pub fn last_days(days: i64, today: NaiveDate) -> Self {
        let days = days.clamp(1, MAX_DAYS);
        Self {
            from: today - Duration::days(days - 1),
            to: today,
        }
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// Every day of the period, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let (from, to) = (self.from, self.to);
        from.iter_days().take_while(move |d| *d <= to)
    }

    /// The first instant of the period.
    pub fn start_time(&self) -> DateTime<Utc> {
        self.start()
    }

    /// The first instant after the period.
    pub fn end_time(&self) -> DateTime<Utc> {
        self.end()
    }

    pub(crate) fn start(&self) -> DateTime<Utc> {
        self.from.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// The first instant after the period.
    pub(crate) fn end(&self) -> DateTime<Utc> {
        (self.to + Duration::days(1))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
    }
}

/// What a report is about: a period, optionally one seller.
#[derive(Debug, Clone)]
pub struct SummaryQuery {
    pub period: Period,
    pub seller_id: Option<SellerId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub period: Period,
    pub seller_id: Option<SellerId>,
    /// One entry per currency charged in the period, most volume first.
    pub currencies: Vec<CurrencyFigures>,
    pub outcomes: Outcomes,
    pub terminals: TerminalActivity,
}

/// Approved payments and refunds in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrencyFigures {
    pub currency: String,
    /// Every day of the period (days without payments are zero).
    pub days: Vec<DayFigures>,
    /// Approved payments (processed, or refunded since) and their amount in
    /// minor units, before refunds.
    pub approved_count: u64,
    pub approved_amount: i64,
    /// Succeeded refunds asked for in the period.
    pub refund_count: u64,
    pub refunded_amount: i64,
    pub top_sellers: Vec<Ranked>,
    pub top_stores: Vec<Ranked>,
}

impl CurrencyFigures {
    /// Approved minus refunded, in minor units.
    pub fn net_amount(&self) -> i64 {
        self.approved_amount - self.refunded_amount
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFigures {
    pub day: NaiveDate,
    pub approved_count: u64,
    pub approved_amount: i64,
}

/// A seller, store or terminal with its approved payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The seller's, store's or terminal's id (rankings share one shape).
    pub id: String,
    /// The seller's nickname, the store's name, the terminal's device id.
    pub name: String,
    pub count: u64,
    pub amount: i64,
}

/// How the period's intents ended (all currencies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Processed, or refunded since.
    pub approved: u64,
    /// Failed, expired, or left needing action at the terminal.
    pub declined: u64,
    /// Canceled by the POS or staff before payment.
    pub canceled: u64,
    /// Not final yet (queued, sent, at the terminal).
    pub in_progress: u64,
}

impl Outcomes {
    /// Approved ÷ (approved + declined). Cancels are left out: the buyer's
    /// card was never asked. `None` while nothing has ended.
    pub fn approval_rate(&self) -> Option<f64> {
        let decided = self.approved + self.declined;
        (decided > 0).then(|| self.approved as f64 / decided as f64)
    }

    fn add(&mut self, status: IntentStatus, count: u64) {
        use IntentStatus::*;
        let bucket = match status {
            Processed | Refunded => &mut self.approved,
            Failed | Expired | ActionRequired => &mut self.declined,
            Canceled => &mut self.canceled,
            Queued | Created | AtTerminal => &mut self.in_progress,
        };
        *bucket += count;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalActivity {
    /// Terminals in scope (of the seller, if one is chosen).
    pub total: u64,
    /// Terminals with at least one intent in the period.
    pub active: u64,
    /// The busiest terminals by intents (any outcome); `amount` is approved.
    pub busiest: Vec<Ranked>,
}

const APPROVED: [IntentStatus; 2] = [IntentStatus::Processed, IntentStatus::Refunded];

/// `YYYY-MM-DD` of a timestamp column, in UTC, in the database's dialect.
pub(crate) fn day_of(backend: DatabaseBackend, column: &str) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust(format!(
            "to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        )),
        // sqlx writes UTC timestamps as RFC 3339 text: the date comes first.
        _ => Expr::cust(format!("substr({column}, 1, 10)")),
    }
}

/// `SUM` as a 64-bit integer on both databases (PostgreSQL sums `bigint`
/// into `numeric`).
pub(crate) fn sum_amount() -> SimpleExpr {
    Expr::cust("CAST(COALESCE(SUM(amount), 0) AS BIGINT)")
}

/// The scope's intents (of the seller, if one), whenever created.
fn intents_of(scope: &Scope, seller: Option<&SellerId>) -> Select<payment_intents::Entity> {
    let select = scope.select::<payment_intents::Entity>();
    match seller {
        Some(seller) => select.filter(payment_intents::Column::SellerId.eq(seller)),
        None => select,
    }
}

/// The scope's intents created in the period (of the seller, if one).
fn intents_in(scope: &Scope, q: &SummaryQuery) -> Select<payment_intents::Entity> {
    intents_of(scope, q.seller_id.as_ref())
        .filter(payment_intents::Column::CreatedAt.gte(q.period.start()))
        .filter(payment_intents::Column::CreatedAt.lt(q.period.end()))
}

/// The summary for a period. A seller outside the scope is not found.
pub async fn summary(
    db: &impl ConnectionTrait,
    scope: &Scope,
    q: &SummaryQuery,
) -> Result<Summary, CoreError> {
    if let Some(seller) = &q.seller_id {
        crate::sellers::in_scope(db, scope, seller).await?;
    }
    let backend = db.get_database_backend();

    // Day × currency × status.
    let rows: Vec<(String, String, String, i64, i64)> = intents_in(scope, q)
        .select_only()
        .column_as(day_of(backend, "created_at"), "day")
        .column(payment_intents::Column::Currency)
        .column(payment_intents::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(sum_amount(), "total")
        .group_by(day_of(backend, "created_at"))
        .group_by(payment_intents::Column::Currency)
        .group_by(payment_intents::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut outcomes = Outcomes::default();
    let mut per_currency: BTreeMap<String, BTreeMap<NaiveDate, (u64, i64)>> = BTreeMap::new();
    for (day, currency, status, n, total) in rows {
        let Some(status) = IntentStatus::parse(&status) else {
            continue;
        };
        let n = u64::try_from(n).unwrap_or(0);
        outcomes.add(status, n);
        let days = per_currency.entry(currency).or_default();
        if APPROVED.contains(&status)
            && let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        {
            let slot = days.entry(day).or_default();
            slot.0 += n;
            slot.1 += total;
        }
    }

    // Refunds by the currency of their intent (which may be older than
    // the period).
    let scoped_intents = intents_of(scope, q.seller_id.as_ref())
        .select_only()
        .column(payment_intents::Column::Id)
        .into_query();
    let refund_rows: Vec<(Option<String>, i64, i64)> = scope
        .select::<refunds::Entity>()
        .filter(refunds::Column::Status.eq(RefundStatus::Succeeded))
        .filter(refunds::Column::CreatedAt.gte(q.period.start()))
        .filter(refunds::Column::CreatedAt.lt(q.period.end()))
        .filter(refunds::Column::IntentId.in_subquery(scoped_intents))
        .select_only()
        .column_as(
            Expr::cust("(SELECT p.currency FROM payment_intents p WHERE p.id = refunds.intent_id)"),
            "currency",
        )
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(sum_amount(), "total")
        .group_by(Expr::cust("1"))
        .into_tuple()
        .all(db)
        .await?;
    let mut refunds_by: HashMap<String, (u64, i64)> = HashMap::new();
    for (currency, n, total) in refund_rows {
        let slot = refunds_by.entry(currency.unwrap_or_default()).or_default();
        slot.0 += u64::try_from(n).unwrap_or(0);
        slot.1 += total;
    }

    let top_sellers = ranking(db, scope, q, payment_intents::Column::SellerId).await?;
    let top_stores = ranking(db, scope, q, payment_intents::Column::StoreId).await?;
    // The ids come from rows inside the scope; their names are read in the
    // integrator's, which a store or POS scope cannot filter sellers by.
    let whole = Scope::integrator(scope.integrator_id().clone());
    let seller_names = names::<sellers::Entity>(db, &whole, &top_sellers, |s| {
        (s.id.into_string(), s.nickname)
    })
    .await?;
    let store_names =
        names::<stores::Entity>(db, &whole, &top_stores, |s| (s.id.into_string(), s.name)).await?;

    let currency_names: Vec<String> = per_currency
        .keys()
        .chain(refunds_by.keys())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect();
    let mut currencies: Vec<CurrencyFigures> = currency_names
        .into_iter()
        .map(|currency| {
            let by_day = per_currency.get(&currency);
            let days: Vec<DayFigures> = q
                .period
                .days()
                .map(|day| {
                    let (n, total) = by_day.and_then(|d| d.get(&day)).copied().unwrap_or((0, 0));
                    DayFigures {
                        day,
                        approved_count: n,
                        approved_amount: total,
                    }
                })
                .collect();
            let (refund_count, refunded_amount) =
                refunds_by.get(&currency).copied().unwrap_or((0, 0));
            CurrencyFigures {
                approved_count: days.iter().map(|d| d.approved_count).sum(),
                approved_amount: days.iter().map(|d| d.approved_amount).sum(),
                refund_count,
                refunded_amount,
                top_sellers: top_of(&top_sellers, &currency, &seller_names),
                top_stores: top_of(&top_stores, &currency, &store_names),
                days,
                currency,
            }
        })
        .collect();
    currencies.sort_by(|a, b| {
        b.approved_amount
            .cmp(&a.approved_amount)
            .then_with(|| a.currency.cmp(&b.currency))
    });

    let terminals = terminal_activity(db, scope, q).await?;
    Ok(Summary {
        period: q.period,
        seller_id: q.seller_id.clone(),
        currencies,
        outcomes,
        terminals,
    })
}

/// (id, currency, count, amount) of approved payments grouped by `column`.
type Ranking = Vec<(String, String, u64, i64)>;

async fn ranking(
    db: &impl ConnectionTrait,
    scope: &Scope,
    q: &SummaryQuery,
    column: payment_intents::Column,
) -> Result<Ranking, CoreError> {
    let rows: Vec<(Option<String>, String, i64, i64)> = intents_in(scope, q)
        .filter(payment_intents::Column::Status.is_in(APPROVED))
        .filter(column.is_not_null())
        .select_only()
        .column(column)
        .column(payment_intents::Column::Currency)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(sum_amount(), "total")
        .group_by(column)
        .group_by(payment_intents::Column::Currency)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Ranking = rows
        .into_iter()
        .filter_map(|(id, cur, n, total)| Some((id?, cur, u64::try_from(n).unwrap_or(0), total)))
        .collect();
    out.sort_by(|a, b| {
        b.3.cmp(&a.3)
            .then_with(|| b.2.cmp(&a.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(out)
}

fn top_of(ranking: &Ranking, currency: &str, names: &HashMap<String, String>) -> Vec<Ranked> {
    ranking
        .iter()
        .filter(|(_, cur, _, _)| cur == currency)
        .take(TOP)
        .map(|(id, _, count, amount)| Ranked {
            name: names.get(id).cloned().unwrap_or_else(|| id.clone()),
            id: id.clone(),
            count: *count,
            amount: *amount,
        })
        .collect()
}

/// Display names of the ranked rows, read within the scope.
async fn names<E: crate::tenancy::TenantEntity>(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ranking: &Ranking,
    name: impl Fn(E::Model) -> (String, String),
) -> Result<HashMap<String, String>, CoreError>
where
    E::Model: Send + Sync,
{
    let ids: Vec<String> = {
        let mut ids: Vec<String> = ranking.iter().map(|r| r.0.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = scope
        .select::<E>()
        .filter(E::id_column().is_in(ids))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(name).collect())
}

async fn terminal_activity(
    db: &impl ConnectionTrait,
    scope: &Scope,
    q: &SummaryQuery,
) -> Result<TerminalActivity, CoreError> {
    let mut all = scope.select::<terminals::Entity>();
    if let Some(seller) = &q.seller_id {
        all = all.filter(terminals::Column::SellerId.eq(seller));
    }
    let total = all.count(db).await?;
    let rows: Vec<(String, i64, i64)> = intents_in(scope, q)
        .select_only()
        .column(payment_intents::Column::TerminalId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(
            Expr::cust(
                "CAST(COALESCE(SUM(CASE WHEN status IN ('processed', 'refunded') \
                 THEN amount ELSE 0 END), 0) AS BIGINT)",
            ),
            "approved",
        )
        .group_by(payment_intents::Column::TerminalId)
        .into_tuple()
        .all(db)
        .await?;
    let active = rows.len() as u64;
    let mut rows = rows;
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(TOP);
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let devices: HashMap<String, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        scope
            .select::<terminals::Entity>()
            .filter(terminals::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id.into_string(), t.device_id))
            .collect()
    };
    let busiest = rows
        .into_iter()
        .map(|(id, n, approved)| Ranked {
            name: devices.get(&id).cloned().unwrap_or_else(|| id.clone()),
            id,
            count: u64::try_from(n).unwrap_or(0),
            amount: approved,
        })
        .collect();
    Ok(TerminalActivity {
        total,
        active,
        busiest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_are_ordered_and_bounded() {
        assert!(Period::new(day("2026-12-02"), day("2026-12-01")).is_err());
        assert!(Period::new(day("2026-01-01"), day("2027-01-01")).is_ok());
        assert!(Period::new(day("2026-01-01"), day("2027-01-02")).is_err());
        let p = Period::last_days(7, day("2026-12-04"));
        assert_eq!((p.from(), p.to()), (day("2026-11-28"), day("2026-12-04")));
        assert_eq!(p.days().count(), 7);
        assert_eq!(p.end() - p.start(), Duration::days(7));
    }

    #[test]
    fn approval_rate_leaves_cancels_out() {
        let mut o = Outcomes::default();
        assert_eq!(o.approval_rate(), None);
        o.add(IntentStatus::Processed, 3);
        o.add(IntentStatus::Refunded, 1);
        o.add(IntentStatus::Failed, 1);
        o.add(IntentStatus::Canceled, 5);
        o.add(IntentStatus::AtTerminal, 2);
        assert_eq!(o.approval_rate(), Some(0.8));
        assert_eq!((o.canceled, o.in_progress), (5, 2));
    }
}
