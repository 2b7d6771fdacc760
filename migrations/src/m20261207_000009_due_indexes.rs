//! Indexes for "what is due" that the per-row statements cannot pick.
//!
//! The worker's hottest statements (claim an intent, move it, claim a
//! delivery) find one row by primary key and also test its status. With an
//! index leading on `status` beside the primary key, PostgreSQL's cached
//! generic plan for such a prepared statement, made while the table was new
//! and small, could choose the status index over the key: every call then
//! walked every row of that status (about 1,000 buffers against 5), until the
//! next `ANALYZE` re-planned it. Those indexes served the reconciler's due
//! scans (every other status filter reads within one integrator's rows, on
//! the integrator's indexes), so they become partial indexes that hold just
//! the rows that can be due, on a column a per-row statement never uses alone:
//! - intents: `next_dispatch_at`, which a final intent clears;
//! - deliveries: `next_attempt_at` of pending deliveries (a pending delivery
//!   may have none, so the predicate is the status, written as a literal in
//!   the reconciler's scan; a statement with the status as a parameter cannot
//!   prove it and does not use the index).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One replaced index.
struct Change {
    table: &'static str,
    old: &'static str,
    old_columns: &'static [&'static str],
    new: &'static str,
    /// Partial indexes: the same SQL on SQLite and PostgreSQL.
    create_new: &'static str,
}

const CHANGES: &[Change] = &[
    Change {
        table: "payment_intents",
        old: "ix_payment_intents_status_next_dispatch_at",
        old_columns: &["status", "next_dispatch_at"],
        new: "ix_payment_intents_due",
        create_new: "CREATE INDEX IF NOT EXISTS ix_payment_intents_due \
            ON payment_intents (next_dispatch_at) WHERE next_dispatch_at IS NOT NULL",
    },
    Change {
        table: "webhook_deliveries",
        old: "ix_webhook_deliveries_status_next_attempt_at",
        old_columns: &["status", "next_attempt_at"],
        new: "ix_webhook_deliveries_pending",
        create_new: "CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_pending \
            ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'",
    },
];

/// By name, in SQL both databases read the same way (SQLite's `DROP INDEX`
/// names no table).
async fn drop_index(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for c in CHANGES {
            drop_index(manager, c.old).await?;
            manager
                .get_connection()
                .execute_unprepared(c.create_new)
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for c in CHANGES {
            drop_index(manager, c.new).await?;
            let mut index = Index::create();
            index.name(c.old).table(Alias::new(c.table)).if_not_exists();
            for col in c.old_columns {
                index.col(Alias::new(*col));
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }
}
