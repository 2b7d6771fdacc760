//! CSV exports of payment intents, refunds and webhook deliveries, and the
//! daily totals report, in the caller's scope.
//!
//! An [`Export`] is a cursor: [`Export::next_chunk`] answers the header,
//! then one page of rows at a time (keyset pagination, [`PAGE`] rows), then
//! `None`. The web layer streams the chunks as they come, so an export of a
//! year holds one page in memory, not the year. Times are ISO 8601 UTC;
//! amounts are in major units (`15.50`) next to their currency.

pub mod csv;
mod daily;
mod deliveries;
mod intents;
mod refunds;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::error::{CoreError, Forbidden};
use crate::id::{SellerId, WebhookEndpointId};
use crate::intents::IntentFilter;
use crate::reports::SummaryQuery;
use crate::states::{DeliveryStatus, RefundStatus};
use crate::tenancy::Scope;

/// Rows per page read from the database.
pub const PAGE: u64 = 500;

/// Which refunds to export. The ids are as the caller sent them (text).
#[derive(Debug, Clone, Default)]
pub struct RefundFilter {
    pub status: Option<RefundStatus>,
    pub seller_id: Option<String>,
    pub intent_id: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

/// Which webhook deliveries to export (the endpoint id as sent: text).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

/// What to export.
#[derive(Debug, Clone)]
pub enum ExportKind {
    PaymentIntents(IntentFilter),
    Refunds(RefundFilter),
    WebhookDeliveries(DeliveryFilter),
    /// Per UTC day, seller, store and currency: gross, refunded, net, count.
    Daily(SummaryQuery),
}

impl ExportKind {
    /// The file name offered to the browser.
    pub fn file_name(&self) -> String {
        match self {
            Self::PaymentIntents(_) => "payment-intents.csv".into(),
            Self::Refunds(_) => "refunds.csv".into(),
            Self::WebhookDeliveries(_) => "webhook-deliveries.csv".into(),
            Self::Daily(q) => format!("daily-{}-{}.csv", q.period.from(), q.period.to()),
        }
    }
}

enum Cursor {
    Intents(intents::Rows),
    Refunds(refunds::Rows),
    Deliveries(deliveries::Rows),
    Daily(daily::Rows),
}

/// An export in progress.
pub struct Export {
    scope: Scope,
    header: Option<String>,
    cursor: Cursor,
    page: u64,
}

impl Export {
    /// Checks the request (a seller filter inside the scope, an
    /// integrator-wide caller for deliveries) before any byte is sent, so a
    /// refusal is still a clean error response.
    pub async fn start(
        db: &impl ConnectionTrait,
        scope: &Scope,
        kind: ExportKind,
    ) -> Result<Export, CoreError> {
        // The filters' ids are as the caller sent them: a malformed one is
        // not found, as an unknown one is.
        let seller = match &kind {
            ExportKind::PaymentIntents(f) => {
                f.seller_id.as_deref().map(SellerId::parse_or_not_found)
            }
            ExportKind::Refunds(f) => f.seller_id.as_deref().map(SellerId::parse_or_not_found),
            ExportKind::WebhookDeliveries(_) => None,
            ExportKind::Daily(q) => q.seller_id.clone().map(Ok),
        };
        if let Some(seller) = seller {
            crate::sellers::in_scope(db, scope, &seller?).await?;
        }
        let (header, cursor) = match kind {
            ExportKind::PaymentIntents(f) => {
                (intents::HEADER, Cursor::Intents(intents::Rows::new(f)))
            }
            ExportKind::Refunds(f) => (refunds::HEADER, Cursor::Refunds(refunds::Rows::new(f))),
            ExportKind::WebhookDeliveries(f) => {
                if !scope.is_integrator_wide() {
                    return Err(CoreError::Forbidden {
                        reason: Forbidden::InsufficientScope,
                        message: "only integrator-wide keys can export webhook deliveries".into(),
                    });
                }
                if let Some(endpoint) = &f.endpoint_id {
                    let endpoint = WebhookEndpointId::parse_or_not_found(endpoint)?;
                    scope
                        .find::<crate::entities::webhook_endpoints::Entity>(db, &endpoint)
                        .await?;
                }
                (
                    deliveries::HEADER,
                    Cursor::Deliveries(deliveries::Rows::new(f)),
                )
            }
            ExportKind::Daily(q) => (daily::HEADER, Cursor::Daily(daily::Rows::new(q))),
        };
        Ok(Export {
            scope: scope.clone(),
            header: Some(csv::header(header)),
            cursor,
            page: PAGE,
        })
    }

    /// Rows per page (default [`PAGE`]); small pages test the cursor.
    pub fn with_page_size(mut self, rows: u64) -> Self {
        self.page = rows.max(1);
        self
    }

    /// The header, then a page of rows per call; `None` once done.
    pub async fn next_chunk(
        &mut self,
        db: &impl ConnectionTrait,
    ) -> Result<Option<String>, CoreError> {
        if let Some(header) = self.header.take() {
            return Ok(Some(header));
        }
        let (scope, page) = (&self.scope, self.page);
        match &mut self.cursor {
            Cursor::Intents(rows) => rows.next(db, scope, page).await,
            Cursor::Refunds(rows) => rows.next(db, scope, page).await,
            Cursor::Deliveries(rows) => rows.next(db, scope, page).await,
            // Aggregated by windows of days, not paged by rows.
            Cursor::Daily(rows) => rows.next(db, scope).await,
        }
    }
}

/// Where a paged export is: below the last id it wrote, or done.
#[derive(Debug, Default)]
struct Keyset {
    after: Option<String>,
    done: bool,
}

impl Keyset {
    /// The next page of `q`, newest first by id (ids sort by creation), and
    /// moves past it; empty once the rows are out.
    async fn next<E: crate::tenancy::TenantEntity>(
        &mut self,
        db: &impl ConnectionTrait,
        q: sea_orm::Select<E>,
        page_size: u64,
        id_of: impl Fn(&E::Model) -> String,
    ) -> Result<Vec<E::Model>, CoreError>
    where
        E::Model: Send + Sync,
    {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
        if self.done {
            return Ok(Vec::new());
        }
        let mut q = q;
        if let Some(after) = &self.after {
            q = q.filter(E::id_column().lt(after.as_str()));
        }
        let page = q
            .order_by_desc(E::id_column())
            .limit(page_size)
            .all(db)
            .await?;
        self.done = (page.len() as u64) < page_size;
        if let Some(last) = page.last() {
            self.after = Some(id_of(last));
        }
        Ok(page)
    }
}

/// Display names fetched once per export (sellers' nicknames, terminals'
/// device ids), for the ids a page names.
#[derive(Debug, Default)]
struct Names(std::collections::HashMap<String, String>);

impl Names {
    async fn fill<E: crate::tenancy::TenantEntity>(
        &mut self,
        db: &impl ConnectionTrait,
        scope: &Scope,
        ids: impl IntoIterator<Item = String>,
        name: impl Fn(E::Model) -> (String, String),
    ) -> Result<(), CoreError>
    where
        E::Model: Send + Sync,
    {
        use sea_orm::{ColumnTrait, QueryFilter};
        let mut missing: Vec<String> = ids
            .into_iter()
            .filter(|id| !id.is_empty() && !self.0.contains_key(id))
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        // The ids come from rows of the export, inside the scope; a store or
        // POS scope could not read its seller's row, so names are read in
        // the integrator's.
        let whole = Scope::integrator(scope.integrator_id().clone());
        for row in whole
            .select::<E>()
            .filter(E::id_column().is_in(missing))
            .all(db)
            .await?
        {
            let (id, n) = name(row);
            self.0.insert(id, n);
        }
        Ok(())
    }

    fn get(&self, id: &str) -> &str {
        self.0.get(id).map(String::as_str).unwrap_or("")
    }
}
