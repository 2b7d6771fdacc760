//! An intent's history (`payment_intent_events`): one row per status it
//! entered, written in the same transaction as the status itself.

use sea_orm::sea_query::{Asterisk, CommonTableExpression, Expr, Query, WithClause};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryTrait, Set, UpdateMany};

use crate::clock;
use crate::entities::{payment_intent_events, payment_intents};
use crate::error::CoreError;
use crate::id::IntentEventId;
use crate::states::{EventSource, IntentStatus};

/// Records that `intent` entered `to` (from `from`, none for a new intent).
pub(super) async fn record(
    txn: &impl ConnectionTrait,
    intent: &payment_intents::Model,
    from: Option<IntentStatus>,
    to: IntentStatus,
    source: EventSource,
    detail: Option<String>,
) -> Result<(), CoreError> {
    // Inside the caller's write transaction: one round trip, no read-back.
    payment_intent_events::Entity::insert(payment_intent_events::ActiveModel {
        id: Set(IntentEventId::new()),
        integrator_id: Set(intent.integrator_id.clone()),
        intent_id: Set(intent.id.clone()),
        from_status: Set(from),
        to_status: Set(to),
        source: Set(source),
        detail: Set(detail),
        created_at: Set(clock::now()),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Runs `update` (a move of one intent from `from` to `to`, conditional on
/// the row as read) and records the move in the history if it matched: the
/// row as written, or `None` when it matched nothing (and nothing was
/// written).
///
/// On PostgreSQL this is one statement: the update in a data-modifying
/// `WITH`, the history row inserted from what it returned. On SQLite (no
/// such statement; no round trips either, in the writer's thread) the
/// update, then the insert.
pub(super) async fn move_recorded(
    txn: &impl ConnectionTrait,
    update: UpdateMany<payment_intents::Entity>,
    from: IntentStatus,
    to: IntentStatus,
    source: EventSource,
    detail: Option<String>,
) -> Result<Option<payment_intents::Model>, CoreError> {
    if txn.get_database_backend() != DbBackend::Postgres {
        let Some(moved) = update.exec_with_returning(txn).await?.into_iter().next() else {
            return Ok(None);
        };
        record(txn, &moved, Some(from), to, source, detail).await?;
        return Ok(Some(moved));
    }
    use payment_intent_events::Column as H;
    let moved = "moved";
    let mut update = update.into_query();
    update.returning_all();
    let history = Query::insert()
        .into_table(payment_intent_events::Entity)
        .columns([
            H::Id,
            H::IntegratorId,
            H::IntentId,
            H::FromStatus,
            H::ToStatus,
            H::Source,
            H::Detail,
            H::CreatedAt,
        ])
        .select_from(
            Query::select()
                .expr(Expr::value(IntentEventId::new()))
                .column(payment_intents::Column::IntegratorId)
                .column(payment_intents::Column::Id)
                .expr(Expr::value(from))
                .expr(Expr::value(to))
                .expr(Expr::value(source))
                .expr(Expr::value(detail))
                .expr(Expr::value(clock::now()))
                .from(moved)
                .to_owned(),
        )
        .map_err(|e| CoreError::Internal(format!("the history row: {e}")))?
        .to_owned();
    let statement = Query::select()
        .column(Asterisk)
        .from(moved)
        .to_owned()
        .with(
            WithClause::new()
                .cte(
                    CommonTableExpression::new()
                        .query(update)
                        .table_name(moved)
                        .to_owned(),
                )
                .cte(
                    CommonTableExpression::new()
                        .query(history)
                        .table_name("recorded")
                        .to_owned(),
                )
                .to_owned(),
        );
    Ok(payment_intents::Entity::find()
        .from_raw_sql(txn.get_database_backend().build(&statement))
        .one(txn)
        .await?)
}
