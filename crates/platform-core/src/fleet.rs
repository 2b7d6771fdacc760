//! How each terminal is doing, for the fleet view: its last payment, its
//! last error, today's charges, and flags for what staff should look at (a
//! terminal left in STANDALONE, which no POS can charge on; one whose last
//! charges all failed).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::clock;
use crate::entities::{payment_intents, terminals};
use crate::error::CoreError;
use crate::id::{PaymentIntentId, TerminalId};
use crate::states::{IntentStatus, OperatingMode};
use crate::tenancy::Scope;

/// A terminal is flagged when this many of its latest charges failed in a row.
pub const FAILED_STREAK: usize = 3;

/// What needs a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// In STANDALONE (or unknown) mode: a POS cannot charge on it.
    NotIntegrated,
    /// Its last [`FAILED_STREAK`] charges failed.
    Failing,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotIntegrated => "not_integrated",
            Self::Failing => "failing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastPayment {
    pub intent_id: PaymentIntentId,
    pub amount: i64,
    pub currency: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub intent_id: PaymentIntentId,
    /// Mercado Pago's or the pipeline's code (`status_detail` or the last
    /// error code), or the status when there is none.
    pub code: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub last_payment: Option<LastPayment>,
    pub last_error: Option<LastError>,
    /// Charges asked for since midnight UTC.
    pub intents_today: u64,
    pub flags: Vec<Flag>,
}

/// How many recent intents are read per terminal to find its last payment,
/// last error and failure streak (one query for the whole page).
const RECENT: u64 = 20;

fn is_failure(s: IntentStatus) -> bool {
    matches!(
        s,
        IntentStatus::Failed | IntentStatus::Expired | IntentStatus::ActionRequired
    )
}

/// The health of these terminals (a page of the list), by terminal id.
/// Every read is within `scope`.
pub async fn health(
    db: &impl ConnectionTrait,
    scope: &Scope,
    terminals: &[terminals::Model],
) -> Result<HashMap<TerminalId, Health>, CoreError> {
    let ids: Vec<TerminalId> = terminals.iter().map(|t| t.id.clone()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let midnight = clock::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let today: HashMap<TerminalId, i64> = scope
        .select::<payment_intents::Entity>()
        .filter(payment_intents::Column::TerminalId.is_in(ids.clone()))
        .filter(payment_intents::Column::CreatedAt.gte(midnight))
        .select_only()
        .column(payment_intents::Column::TerminalId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(payment_intents::Column::TerminalId)
        .into_tuple::<(TerminalId, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();

    // The latest RECENT intents of every terminal of the page in one query
    // (a window per terminal; SQLite and PostgreSQL both have ROW_NUMBER).
    let ranked = scope
        .select::<payment_intents::Entity>()
        .filter(payment_intents::Column::TerminalId.is_in(ids.clone()))
        .column_as(
            Expr::cust("ROW_NUMBER() OVER (PARTITION BY terminal_id ORDER BY id DESC)"),
            "recent_rank",
        )
        .into_query();
    let latest = Query::select()
        .column(Asterisk)
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("recent_rank")).lte(RECENT))
        .to_owned();
    let mut by_terminal: HashMap<TerminalId, Vec<payment_intents::Model>> = HashMap::new();
    for row in payment_intents::Model::find_by_statement(db.get_database_backend().build(&latest))
        .all(db)
        .await?
    {
        by_terminal
            .entry(row.terminal_id.clone())
            .or_default()
            .push(row);
    }

    let mut out = HashMap::new();
    for t in terminals {
        // Newest first; ids are time-sortable.
        let mut recent = by_terminal.remove(&t.id).unwrap_or_default();
        recent.sort_by(|a, b| b.id.cmp(&a.id));
        let mut last_payment = recent
            .iter()
            .find(|i| matches!(i.status, IntentStatus::Processed | IntentStatus::Refunded))
            .map(payment_of);
        if last_payment.is_none() && recent.len() as u64 == RECENT {
            // Older than the recent window: one more look.
            last_payment = scope
                .select::<payment_intents::Entity>()
                .filter(payment_intents::Column::TerminalId.eq(&t.id))
                .filter(
                    payment_intents::Column::Status
                        .is_in([IntentStatus::Processed, IntentStatus::Refunded]),
                )
                .order_by_desc(payment_intents::Column::Id)
                .one(db)
                .await?
                .as_ref()
                .map(payment_of);
        }
        let last_error = recent
            .iter()
            .find(|i| is_failure(i.status))
            .map(|i| LastError {
                intent_id: i.id.clone(),
                code: i
                    .status_detail
                    .clone()
                    .or_else(|| i.last_error_code.clone())
                    .unwrap_or_else(|| i.status.as_str().to_owned()),
                at: i.finalized_at.unwrap_or(i.updated_at),
            });
        // The streak counts ended charges only: an open one has not failed yet.
        let ended: Vec<IntentStatus> = recent
            .iter()
            .map(|i| i.status)
            .filter(|s| s.is_final())
            .take(FAILED_STREAK)
            .collect();
        let mut flags = Vec::new();
        if t.operating_mode != OperatingMode::Pdv {
            flags.push(Flag::NotIntegrated);
        }
        if ended.len() == FAILED_STREAK && ended.iter().all(|s| is_failure(*s)) {
            flags.push(Flag::Failing);
        }
        out.insert(
            t.id.clone(),
            Health {
                last_payment,
                last_error,
                intents_today: u64::try_from(today.get(&t.id).copied().unwrap_or(0)).unwrap_or(0),
                flags,
            },
        );
    }
    Ok(out)
}

fn payment_of(i: &payment_intents::Model) -> LastPayment {
    LastPayment {
        intent_id: i.id.clone(),
        amount: i.amount,
        currency: i.currency.clone(),
        at: i.finalized_at.unwrap_or(i.updated_at),
    }
}
