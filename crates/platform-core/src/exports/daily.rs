//! `daily.csv`: per UTC day, seller, store and currency, the approved
//! payments (count, gross), the succeeded refunds asked for that day
//! (count, amount) and the net, to reconcile with Mercado Pago's reports.
//! Written 31 days at a time.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use super::Names;
use super::csv::Row;
use crate::entities::{payment_intents, refunds, sellers, stores};
use crate::error::CoreError;
use crate::reports::{Period, SummaryQuery, day_of, sum_amount};
use crate::states::{IntentStatus, RefundStatus};
use crate::tenancy::Scope;

pub const HEADER: &[&str] = &[
    "date",
    "seller_id",
    "seller_nickname",
    "store_id",
    "store_name",
    "currency",
    "payments",
    "gross_amount",
    "refunds",
    "refunded_amount",
    "net_amount",
];

/// Days read per chunk.
const WINDOW_DAYS: i64 = 31;

type Key = (NaiveDate, String, String, String);

/// A grouped row: (day, seller, store, currency, count, sum). The store and
/// currency of a refund come from its intent, so they may be missing.
type Group<S> = (String, String, Option<String>, S, i64, i64);

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    payments: i64,
    gross: i64,
    refunds: i64,
    refunded: i64,
}

pub struct Rows {
    query: SummaryQuery,
    next_day: Option<NaiveDate>,
    sellers: Names,
    stores: Names,
}

impl Rows {
    pub fn new(query: SummaryQuery) -> Self {
        Self {
            next_day: Some(query.period.from()),
            query,
            sellers: Names::default(),
            stores: Names::default(),
        }
    }

    pub async fn next(
        &mut self,
        db: &impl ConnectionTrait,
        scope: &Scope,
    ) -> Result<Option<String>, CoreError> {
        loop {
            let Some(from) = self.next_day else {
                return Ok(None);
            };
            let to = (from + Duration::days(WINDOW_DAYS - 1)).min(self.query.period.to());
            self.next_day = (to < self.query.period.to()).then(|| to + Duration::days(1));
            let window = Period::new(from, to)?;
            let out = self.window(db, scope, &window).await?;
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    async fn window(
        &mut self,
        db: &impl ConnectionTrait,
        scope: &Scope,
        window: &Period,
    ) -> Result<String, CoreError> {
        let backend = db.get_database_backend();
        let seller = self.query.seller_id.as_ref().map(|s| s.as_str().to_owned());
        let mut totals: BTreeMap<Key, Totals> = BTreeMap::new();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();

        let mut intents = scope
            .select::<payment_intents::Entity>()
            .filter(payment_intents::Column::CreatedAt.gte(window.start()))
            .filter(payment_intents::Column::CreatedAt.lt(window.end()))
            .filter(
                payment_intents::Column::Status
                    .is_in([IntentStatus::Processed, IntentStatus::Refunded]),
            );
        if let Some(s) = &seller {
            intents = intents.filter(payment_intents::Column::SellerId.eq(s.as_str()));
        }
        let approved: Vec<Group<String>> = intents
            .select_only()
            .column_as(day_of(backend, "created_at"), "day")
            .column(payment_intents::Column::SellerId)
            .column(payment_intents::Column::StoreId)
            .column(payment_intents::Column::Currency)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .column_as(sum_amount(), "total")
            .group_by(day_of(backend, "created_at"))
            .group_by(payment_intents::Column::SellerId)
            .group_by(payment_intents::Column::StoreId)
            .group_by(payment_intents::Column::Currency)
            .into_tuple()
            .all(db)
            .await?;
        for (d, seller, store, currency, n, total) in approved {
            let Some(d) = day(&d) else { continue };
            let t = totals
                .entry((d, seller, store.unwrap_or_default(), currency))
                .or_default();
            t.payments += n;
            t.gross += total;
        }

        let scoped_intents = scope
            .select::<payment_intents::Entity>()
            .select_only()
            .column(payment_intents::Column::Id)
            .into_query();
        let mut refunded = refunds::Entity::find()
            .filter(refunds::Column::IntegratorId.eq(scope.integrator_id()))
            .filter(refunds::Column::IntentId.in_subquery(scoped_intents))
            .filter(refunds::Column::Status.eq(RefundStatus::Succeeded))
            .filter(refunds::Column::CreatedAt.gte(window.start()))
            .filter(refunds::Column::CreatedAt.lt(window.end()));
        if let Some(s) = &seller {
            refunded = refunded.filter(refunds::Column::SellerId.eq(s.as_str()));
        }
        let store_of = "(SELECT p.store_id FROM payment_intents p WHERE p.id = refunds.intent_id)";
        let currency_of =
            "(SELECT p.currency FROM payment_intents p WHERE p.id = refunds.intent_id)";
        let refund_rows: Vec<Group<Option<String>>> = refunded
            .select_only()
            .column_as(day_of(backend, "refunds.created_at"), "day")
            .column(refunds::Column::SellerId)
            .column_as(Expr::cust(store_of), "store")
            .column_as(Expr::cust(currency_of), "currency")
            .column_as(Expr::cust("COUNT(*)"), "n")
            .column_as(sum_amount(), "total")
            // By position: the store and currency are subqueries.
            .group_by(Expr::cust("1"))
            .group_by(Expr::cust("2"))
            .group_by(Expr::cust("3"))
            .group_by(Expr::cust("4"))
            .into_tuple()
            .all(db)
            .await?;
        for (d, seller, store, currency, n, total) in refund_rows {
            let Some(d) = day(&d) else { continue };
            let t = totals
                .entry((
                    d,
                    seller,
                    store.unwrap_or_default(),
                    currency.unwrap_or_default(),
                ))
                .or_default();
            t.refunds += n;
            t.refunded += total;
        }

        self.sellers
            .fill::<sellers::Entity>(db, scope, totals.keys().map(|k| k.1.clone()), |s| {
                (s.id.into_string(), s.nickname)
            })
            .await?;
        self.stores
            .fill::<stores::Entity>(db, scope, totals.keys().map(|k| k.2.clone()), |s| {
                (s.id.into_string(), s.name)
            })
            .await?;
        let mut out = String::new();
        for ((d, seller, store, currency), t) in &totals {
            Row::new()
                .plain(&d.to_string())
                .plain(seller)
                .text(self.sellers.get(seller))
                .plain(store)
                .text(self.stores.get(store))
                .plain(currency)
                .number(t.payments)
                .amount(t.gross)
                .number(t.refunds)
                .amount(t.refunded)
                .amount(t.gross - t.refunded)
                .end(&mut out);
        }
        Ok(out)
    }
}
