//! Refunds of processed intents, total or partial.
//!
//! Like intents, a refund is a row first (`queued`) and then a job: the
//! worker sends it to Mercado Pago with `X-Idempotency-Key` = the refund id,
//! so a retried refund is never paid out twice. An Orders API intent is
//! refunded through its order (§3.4); a legacy Integration API intent through
//! its payment (`/v1/payments/{id}/refunds`, §2.7).

use crate::clock;
use crate::db::Db;
use crate::error::{Conflict, Failure, Invalid};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use crate::effects::{Committed, Effects};
use crate::entities::{payment_intents, refunds};
use crate::error::CoreError;
use crate::events;
use crate::id::{PaymentIntentId, RefundId};
use crate::idempotency::Completion;
use crate::intents::{Applied, MoveFrom, UpstreamFacts, apply_in};
use crate::states::{EventSource, IntentStatus, RefundStatus};
use crate::tenancy::Scope;

/// The amount still refundable: the intent minus refunds not failed.
pub async fn refundable(
    db: &impl sea_orm::ConnectionTrait,
    intent: &payment_intents::Model,
) -> Result<i64, CoreError> {
    let taken: i64 = refunds::Entity::find()
        .filter(refunds::Column::IntentId.eq(intent.id.clone()))
        .filter(refunds::Column::Status.ne(RefundStatus::Failed))
        .all(db)
        .await?
        .iter()
        .map(|r| r.amount)
        .sum();
    Ok(intent.amount - taken)
}

/// Queues a refund of `amount` (minor units; `None` = everything left).
/// With a `completion`, the idempotency record's stored response commits
/// with the refund: a retried request can then never queue a second one.
/// The effect: the worker sends it.
pub async fn create(
    db: &Db,
    scope: &Scope,
    intent_id: &PaymentIntentId,
    amount: Option<i64>,
    completion: Option<&Completion<'_, refunds::Model>>,
) -> Result<Committed<refunds::Model>, CoreError> {
    let intent = scope.find::<payment_intents::Entity>(db, intent_id).await?;
    if intent.status != IntentStatus::Processed {
        return Err(CoreError::conflict(
            Conflict::IntentNotRefundable,
            format!(
                "the payment intent is {}; only processed intents can be refunded",
                intent.status
            ),
        ));
    }
    let txn = db.begin_write().await?;
    // Refunds of one intent are serialised on its row: PostgreSQL locks it
    // (FOR UPDATE) until the commit, so a concurrent refund waits and then
    // sees this one in the sum; SQLite's write lock (BEGIN IMMEDIATE) already
    // serialises the whole transaction. The status is checked again under it.
    let intent = payment_intents::Entity::find_by_id(intent.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound {
            kind: "payment intent",
        })?;
    if intent.status != IntentStatus::Processed {
        return Err(CoreError::conflict(
            Conflict::IntentNotRefundable,
            format!(
                "the payment intent is {}; only processed intents can be refunded",
                intent.status
            ),
        ));
    }
    let left = refundable(&txn, &intent).await?;
    let amount = amount.unwrap_or(left);
    if amount <= 0 || amount > left {
        return Err(CoreError::invalid(
            Invalid::RefundAmount,
            format!("the refund must be between 1 and {left} (minor units still refundable)"),
        ));
    }
    let now = clock::now();
    let row = refunds::ActiveModel {
        id: Set(RefundId::new()),
        integrator_id: Set(intent.integrator_id.clone()),
        seller_id: Set(intent.seller_id.clone()),
        intent_id: Set(intent.id.clone()),
        amount: Set(amount),
        status: Set(RefundStatus::Queued),
        upstream_id: Set(None),
        last_error_code: Set(None),
        last_error_message: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::idempotency::complete_with(completion, &txn, &row, row.id.as_str()).await?;
    txn.commit().await?;
    let effects = Effects::none().refund(&row.id);
    Ok(Committed::new(row, effects))
}

pub async fn list_for_intent(
    db: &Db,
    scope: &Scope,
    intent_id: &PaymentIntentId,
) -> Result<Vec<refunds::Model>, CoreError> {
    let intent = scope.find::<payment_intents::Entity>(db, intent_id).await?;
    Ok(refunds::Entity::find()
        .filter(refunds::Column::IntentId.eq(intent.id))
        .order_by_asc(refunds::Column::Id)
        .all(db)
        .await?)
}

/// The refunds of an intent the caller already holds that did not fail,
/// oldest first (the compatible view shows them).
pub async fn not_failed_of(
    db: &Db,
    intent: &payment_intents::Model,
) -> Result<Vec<refunds::Model>, CoreError> {
    Ok(refunds::Entity::find()
        .filter(refunds::Column::IntentId.eq(intent.id.clone()))
        .filter(refunds::Column::Status.ne(RefundStatus::Failed))
        .order_by_asc(refunds::Column::Id)
        .all(db)
        .await?)
}

/// Refunds still queued and not updated since `stale` (the reconciler
/// re-queues them), at most `limit`.
pub async fn stuck_since(
    db: &Db,
    stale: chrono::DateTime<Utc>,
    limit: u64,
) -> Result<Vec<refunds::Model>, CoreError> {
    Ok(refunds::Entity::find()
        .filter(refunds::Column::Status.eq(RefundStatus::Queued))
        .filter(refunds::Column::UpdatedAt.lte(stale))
        .limit(limit)
        .all(db)
        .await?)
}

/// Settles a refund (worker). Returns what the commit owes (webhooks, and
/// wake-ups of the intent). Applied only from `queued`/`pending`, so a
/// repeated settle does nothing. With `intent_refunded` (Mercado Pago now
/// shows the whole amount refunded) the intent becomes `refunded` in the
/// same transaction, so nobody ever sees the refund without the status.
pub async fn settle(
    db: &Db,
    refund_id: &RefundId,
    outcome: RefundStatus,
    upstream_id: Option<String>,
    error: Option<Failure>,
    intent_refunded: bool,
) -> Result<Effects, CoreError> {
    let refund_id = refund_id.clone();
    db.write(move |txn| {
        Box::pin(async move {
            let Some(refund) = refunds::Entity::find_by_id(refund_id.clone())
                .one(txn)
                .await?
            else {
                return Ok(Effects::none());
            };
            if !refund.status.can_become(outcome) {
                return Ok(Effects::none());
            }
            let mut update = refunds::Entity::update_many()
                .col_expr(refunds::Column::Status, Expr::value(outcome))
                .col_expr(refunds::Column::UpdatedAt, Expr::value(clock::now()))
                .filter(refunds::Column::Id.eq(&refund_id))
                .filter(refunds::Column::Status.eq(refund.status));
            if let Some(u) = upstream_id {
                update = update.col_expr(refunds::Column::UpstreamId, Expr::value(u));
            }
            if let Some(Failure { code, message }) = error {
                update = update
                    .col_expr(refunds::Column::LastErrorCode, Expr::value(code))
                    .col_expr(refunds::Column::LastErrorMessage, Expr::value(message));
            }
            if update.exec(txn).await?.rows_affected == 0 {
                return Ok(Effects::none());
            }
            let settled = refunds::Entity::find_by_id(refund_id.clone())
                .one(txn)
                .await?
                .ok_or(CoreError::NotFound { kind: "refund" })?;
            let event = match outcome {
                RefundStatus::Succeeded => Some("refund.succeeded"),
                RefundStatus::Failed => Some("refund.failed"),
                _ => None,
            };
            let deliveries = match event {
                Some(t) => {
                    events::emit(
                        txn,
                        &settled.integrator_id,
                        Some(&settled.seller_id),
                        t,
                        &RefundView::from(&settled),
                    )
                    .await?
                }
                None => Vec::new(),
            };
            let mut effects = Effects::none()
                .deliveries(deliveries)
                .changed(&settled.intent_id);
            if intent_refunded && outcome == RefundStatus::Succeeded {
                let intent = payment_intents::Entity::find_by_id(settled.intent_id.clone())
                    .one(txn)
                    .await?
                    .ok_or(CoreError::NotFound {
                        kind: "payment intent",
                    })?;
                let facts = UpstreamFacts {
                    status_detail: Some("refunded".into()),
                    ..Default::default()
                };
                let moved = apply_in(
                    txn,
                    &intent,
                    MoveFrom::Only(&[IntentStatus::Processed]),
                    IntentStatus::Refunded,
                    &facts,
                    EventSource::Worker,
                )
                .await?;
                if let Applied::Yes {
                    deliveries: more, ..
                } = moved
                {
                    effects = effects.deliveries(more);
                }
            }
            Ok(effects)
        })
    })
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundView {
    pub id: RefundId,
    pub object: &'static str,
    pub payment_intent_id: PaymentIntentId,
    pub amount: i64,
    pub status: RefundStatus,
    pub upstream_id: Option<String>,
    pub last_error: Option<crate::intents::ErrorView>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl From<&refunds::Model> for RefundView {
    fn from(r: &refunds::Model) -> Self {
        RefundView {
            id: r.id.clone(),
            object: "refund",
            payment_intent_id: r.intent_id.clone(),
            amount: r.amount,
            status: r.status,
            upstream_id: r.upstream_id.clone(),
            last_error: r
                .last_error_code
                .as_ref()
                .map(|c| crate::intents::ErrorView {
                    code: c.clone(),
                    message: r.last_error_message.clone().unwrap_or_default(),
                }),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
