//! `webhook-deliveries.csv`: one row per delivery of an event to an
//! endpoint, newest first (integrator-wide callers only).

use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};

use super::csv::Row;
use super::{DeliveryFilter, Keyset};
use crate::entities::webhook_deliveries;
use crate::error::CoreError;
use crate::tenancy::Scope;

pub const HEADER: &[&str] = &[
    "id",
    "created_at",
    "completed_at",
    "endpoint_id",
    "event_id",
    "event_type",
    "status",
    "attempt_count",
    "last_status_code",
    "last_error",
    "next_attempt_at",
];

pub struct Rows {
    filter: DeliveryFilter,
    keyset: Keyset,
}

impl Rows {
    pub fn new(filter: DeliveryFilter) -> Self {
        Self {
            filter,
            keyset: Keyset::default(),
        }
    }

    pub async fn next(
        &mut self,
        db: &impl ConnectionTrait,
        scope: &Scope,
        page_size: u64,
    ) -> Result<Option<String>, CoreError> {
        let f = &self.filter;
        let mut q = scope.select::<webhook_deliveries::Entity>();
        if let Some(e) = &f.endpoint_id {
            q = q.filter(webhook_deliveries::Column::EndpointId.eq(e.as_str()));
        }
        if let Some(s) = f.status {
            q = q.filter(webhook_deliveries::Column::Status.eq(s));
        }
        if let Some(t) = &f.event_type {
            q = q.filter(webhook_deliveries::Column::EventType.eq(t.as_str()));
        }
        if let Some(a) = f.created_after {
            q = q.filter(webhook_deliveries::Column::CreatedAt.gt(a));
        }
        if let Some(b) = f.created_before {
            q = q.filter(webhook_deliveries::Column::CreatedAt.lt(b));
        }
        let page = self
            .keyset
            .next(db, q, page_size, |r| r.id.to_string())
            .await?;
        if page.is_empty() {
            return Ok(None);
        }
        let mut out = String::with_capacity(page.len() * 160);
        for d in &page {
            Row::new()
                .plain(d.id.as_str())
                .time(&d.created_at)
                .opt_time(d.completed_at.as_ref())
                .plain(d.endpoint_id.as_str())
                .plain(d.event_id.as_str())
                .plain(&d.event_type)
                .plain(d.status.as_str())
                .number(d.attempt_count)
                .plain(
                    &d.last_status_code
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                )
                .opt_text(d.last_error.as_deref())
                .opt_time(d.next_attempt_at.as_ref())
                .end(&mut out);
        }
        Ok(Some(out))
    }
}
