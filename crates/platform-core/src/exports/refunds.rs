//! `refunds.csv`: one row per refund, newest first, with its intent's
//! currency, reference and Mercado Pago payment id.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use super::csv::Row;
use super::{Keyset, Names, RefundFilter};
use crate::entities::{payment_intents, refunds, sellers};
use crate::error::CoreError;
use crate::id::PaymentIntentId;
use crate::tenancy::Scope;

pub const HEADER: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "status",
    "amount",
    "currency",
    "intent_id",
    "mp_payment_id",
    "external_reference",
    "seller_id",
    "seller_nickname",
    "store_id",
    "upstream_id",
    "last_error_code",
];

pub struct Rows {
    filter: RefundFilter,
    keyset: Keyset,
    sellers: Names,
}

impl Rows {
    pub fn new(filter: RefundFilter) -> Self {
        Self {
            filter,
            keyset: Keyset::default(),
            sellers: Names::default(),
        }
    }

    pub async fn next(
        &mut self,
        db: &impl ConnectionTrait,
        scope: &Scope,
        page_size: u64,
    ) -> Result<Option<String>, CoreError> {
        // Refunds are scoped through their intent, so a store or POS key
        // sees the refunds of its own charges.
        let scoped_intents = scope
            .select::<payment_intents::Entity>()
            .select_only()
            .column(payment_intents::Column::Id)
            .into_query();
        let f = &self.filter;
        let mut q = refunds::Entity::find()
            .filter(refunds::Column::IntegratorId.eq(scope.integrator_id()))
            .filter(refunds::Column::IntentId.in_subquery(scoped_intents));
        if let Some(s) = f.status {
            q = q.filter(refunds::Column::Status.eq(s));
        }
        if let Some(s) = &f.seller_id {
            q = q.filter(refunds::Column::SellerId.eq(s.as_str()));
        }
        if let Some(i) = &f.intent_id {
            q = q.filter(refunds::Column::IntentId.eq(i.as_str()));
        }
        if let Some(a) = f.created_after {
            q = q.filter(refunds::Column::CreatedAt.gt(a));
        }
        if let Some(b) = f.created_before {
            q = q.filter(refunds::Column::CreatedAt.lt(b));
        }
        let page = self
            .keyset
            .next(db, q, page_size, |r| r.id.to_string())
            .await?;
        if page.is_empty() {
            return Ok(None);
        }

        let intents: HashMap<PaymentIntentId, payment_intents::Model> = scope
            .select::<payment_intents::Entity>()
            .filter(payment_intents::Column::Id.is_in(page.iter().map(|r| r.intent_id.clone())))
            .all(db)
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        self.sellers
            .fill::<sellers::Entity>(
                db,
                scope,
                page.iter().map(|r| r.seller_id.to_string()),
                |s| (s.id.into_string(), s.nickname),
            )
            .await?;

        let mut out = String::with_capacity(page.len() * 200);
        for r in &page {
            let intent = intents.get(&r.intent_id);
            Row::new()
                .plain(r.id.as_str())
                .time(&r.created_at)
                .time(&r.updated_at)
                .plain(r.status.as_str())
                .amount(r.amount)
                .plain(intent.map(|i| i.currency.as_str()).unwrap_or(""))
                .plain(r.intent_id.as_str())
                .opt(intent.and_then(|i| i.mp_payment_id.as_deref()))
                .opt_text(intent.and_then(|i| i.external_reference.as_deref()))
                .plain(r.seller_id.as_str())
                .text(self.sellers.get(r.seller_id.as_str()))
                .opt(intent.and_then(|i| i.store_id.as_ref()).map(|s| s.as_str()))
                .opt(r.upstream_id.as_deref())
                .opt(r.last_error_code.as_deref())
                .end(&mut out);
        }
        Ok(Some(out))
    }
}
