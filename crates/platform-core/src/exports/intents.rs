//! `payment-intents.csv`: one row per intent, newest first, with what was
//! refunded of it and Mercado Pago's payment id.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::csv::Row;
use super::{Keyset, Names};
use crate::entities::{refunds, sellers, terminals};
use crate::error::CoreError;
use crate::id::PaymentIntentId;
use crate::intents::IntentFilter;
use crate::states::RefundStatus;
use crate::tenancy::Scope;

pub const HEADER: &[&str] = &[
    "id",
    "created_at",
    "finalized_at",
    "status",
    "status_detail",
    "amount",
    "refunded_amount",
    "currency",
    "mp_payment_id",
    "external_reference",
    "description",
    "payment_type",
    "installments",
    "seller_id",
    "seller_nickname",
    "store_id",
    "pos_id",
    "terminal_id",
    "device_id",
    "upstream_id",
];

pub struct Rows {
    filter: IntentFilter,
    keyset: Keyset,
    sellers: Names,
    devices: Names,
}

impl Rows {
    pub fn new(filter: IntentFilter) -> Self {
        Self {
            filter,
            keyset: Keyset::default(),
            sellers: Names::default(),
            devices: Names::default(),
        }
    }

    pub async fn next(
        &mut self,
        db: &impl ConnectionTrait,
        scope: &Scope,
        page_size: u64,
    ) -> Result<Option<String>, CoreError> {
        let q = crate::intents::select(scope, &self.filter);
        let page = self
            .keyset
            .next(db, q, page_size, |r| r.id.to_string())
            .await?;
        if page.is_empty() {
            return Ok(None);
        }

        let ids: Vec<PaymentIntentId> = page.iter().map(|i| i.id.clone()).collect();
        let refunded: HashMap<PaymentIntentId, i64> = refunds::Entity::find()
            .filter(refunds::Column::IntegratorId.eq(scope.integrator_id()))
            .filter(refunds::Column::IntentId.is_in(ids))
            .filter(refunds::Column::Status.eq(RefundStatus::Succeeded))
            .select_only()
            .column(refunds::Column::IntentId)
            .column_as(crate::reports::sum_amount(), "total")
            .group_by(refunds::Column::IntentId)
            .into_tuple::<(PaymentIntentId, i64)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        self.sellers
            .fill::<sellers::Entity>(
                db,
                scope,
                page.iter().map(|i| i.seller_id.to_string()),
                |s| (s.id.into_string(), s.nickname),
            )
            .await?;
        self.devices
            .fill::<terminals::Entity>(
                db,
                scope,
                page.iter().map(|i| i.terminal_id.to_string()),
                |t| (t.id.into_string(), t.device_id),
            )
            .await?;

        let mut out = String::with_capacity(page.len() * 256);
        for i in &page {
            Row::new()
                .plain(i.id.as_str())
                .time(&i.created_at)
                .opt_time(i.finalized_at.as_ref())
                .plain(i.status.as_str())
                .opt(i.status_detail.as_deref())
                .amount(i.amount)
                .amount(refunded.get(&i.id).copied().unwrap_or(0))
                .plain(&i.currency)
                .opt(i.mp_payment_id.as_deref())
                .opt_text(i.external_reference.as_deref())
                .opt_text(i.description.as_deref())
                .opt(i.payment_type.as_deref())
                .plain(&i.installments.map(|n| n.to_string()).unwrap_or_default())
                .plain(i.seller_id.as_str())
                .text(self.sellers.get(i.seller_id.as_str()))
                .opt(i.store_id.as_ref().map(|s| s.as_str()))
                .opt(i.pos_id.as_ref().map(|p| p.as_str()))
                .plain(i.terminal_id.as_str())
                .plain(self.devices.get(i.terminal_id.as_str()))
                .opt(i.upstream_id.as_deref())
                .end(&mut out);
        }
        Ok(Some(out))
    }
}
