//! Inbound Mercado Pago notifications as rows: which integrators an
//! unrouted one may belong to, recording one (deduplicated), and the worker's
//! and reconciler's reads and updates. Parsing and signatures are in
//! [`crate::mercadopago`].

use crate::db::Db;
use chrono::{DateTime, Utc};

use crate::clock;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set, SqlErr,
};

use crate::entities::{inbound_notifications, integrators, sellers};
use crate::error::CoreError;
use crate::id::{InboundNotificationId, IntegratorId};
use crate::states::NotificationStatus;

/// The integrators a notification without an integrator in its path may
/// belong to: those with a seller of Mercado Pago user `mp_user_id`, or
/// whose Mercado Pago application is one of `application_ids`.
pub async fn candidates(
    db: &Db,
    mp_user_id: Option<i64>,
    application_ids: Vec<String>,
) -> Result<Vec<integrators::Model>, CoreError> {
    let mut owners: Vec<IntegratorId> = Vec::new();
    if let Some(uid) = mp_user_id {
        owners = sellers::Entity::find()
            .filter(sellers::Column::MpUserId.eq(uid))
            .all(db)
            .await?
            .into_iter()
            .map(|s| s.integrator_id)
            .collect();
    }
    Ok(integrators::Entity::find()
        .filter(
            Condition::any()
                .add(integrators::Column::Id.is_in(owners))
                .add(integrators::Column::MpClientId.is_in(application_ids)),
        )
        .all(db)
        .await?)
}

/// A notification to record, as received (already cut to the columns' sizes).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: InboundNotificationId,
    pub integrator_id: Option<IntegratorId>,
    pub topic: String,
    pub action: Option<String>,
    pub resource_id: Option<String>,
    pub mp_user_id: Option<i64>,
    pub request_id: Option<String>,
    pub signature_valid: bool,
    pub dedupe_key: String,
    pub body: String,
    pub status: NotificationStatus,
    pub error: Option<String>,
}

/// Stores a notification, received now. `false` when it is a duplicate (its
/// `dedupe_key` is already stored) and nothing was written.
pub async fn record(db: &Db, n: NewNotification) -> Result<bool, CoreError> {
    let row = inbound_notifications::ActiveModel {
        id: Set(n.id),
        integrator_id: Set(n.integrator_id),
        topic: Set(n.topic),
        action: Set(n.action),
        resource_id: Set(n.resource_id),
        mp_user_id: Set(n.mp_user_id),
        request_id: Set(n.request_id),
        signature_valid: Set(n.signature_valid),
        dedupe_key: Set(n.dedupe_key),
        body: Set(n.body),
        status: Set(n.status),
        error: Set(n.error),
        received_at: Set(clock::now()),
        processed_at: Set(None),
    };
    match row.insert(db).await {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A recorded notification by id (worker: the queue message names it).
pub async fn find(
    db: &Db,
    id: &InboundNotificationId,
) -> Result<Option<inbound_notifications::Model>, CoreError> {
    Ok(inbound_notifications::Entity::find_by_id(id.clone())
        .one(db)
        .await?)
}

/// Records how a notification was processed, now.
pub async fn mark_processed(
    db: &Db,
    row: inbound_notifications::Model,
    status: NotificationStatus,
    error: Option<String>,
) -> Result<(), CoreError> {
    let mut active = row.into_active_model();
    active.status = Set(status);
    active.error = Set(error);
    active.processed_at = Set(Some(clock::now()));
    active.update(db).await?;
    Ok(())
}

/// Notifications still `received` that arrived at or before `stale` (the
/// reconciler re-queues them), at most `limit`.
pub async fn unprocessed_before(
    db: &Db,
    stale: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<inbound_notifications::Model>, CoreError> {
    Ok(inbound_notifications::Entity::find()
        .filter(inbound_notifications::Column::Status.eq(NotificationStatus::Received))
        .filter(inbound_notifications::Column::ReceivedAt.lte(stale))
        .limit(limit)
        .all(db)
        .await?)
}
