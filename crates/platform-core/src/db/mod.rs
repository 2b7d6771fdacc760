//! Connecting to SQLite or PostgreSQL and applying migrations.

pub mod writer;

use std::time::Duration;

use puente_migration::Migrator;
use puente_migration::sea_orm_migration::MigratorTrait;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::config::DatabaseKind;

pub use sea_orm::DatabaseConnection as Db;

/// Opens a pool. For SQLite files the parent directory is created, and WAL
/// plus a busy timeout let the web and worker roles share one file.
pub async fn connect(url: &str, kind: DatabaseKind) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, kind, None).await
}

/// As [`connect`], with a PostgreSQL schema as `search_path` (tests give
/// each test its own schema).
pub async fn connect_with(
    url: &str,
    kind: DatabaseKind,
    pg_schema: Option<&str>,
) -> Result<DatabaseConnection, DbErr> {
    if kind == DatabaseKind::Sqlite {
        ensure_sqlite_dir(url);
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    match kind {
        DatabaseKind::Sqlite => {
            // In-memory SQLite is one database per connection: keep one.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            opts.max_connections(if in_memory { 1 } else { 8 })
                .min_connections(1)
                // Per connection (a PRAGMA through the pool reaches only one).
                .map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(SqliteJournalMode::Wal)
                        .busy_timeout(Duration::from_secs(10))
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                });
        }
        DatabaseKind::Postgres => {
            opts.max_connections(16).min_connections(1);
            if let Some(schema) = pg_schema {
                opts.set_schema_search_path(schema.to_owned());
            }
        }
    }
    Database::connect(opts).await
}

/// Starting a transaction that will write.
///
/// On SQLite a plain `BEGIN` is deferred: a transaction that reads and then
/// writes fails at once with "database is locked" when another connection
/// wrote in between, instead of waiting its turn. `BEGIN IMMEDIATE` takes
/// the write lock up front and waits (busy timeout). PostgreSQL ignores the
/// option.
pub trait BeginWrite: TransactionTrait {
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<Self::Transaction, DbErr>> + Send
    where
        Self: Sync,
    {
        self.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
    }
}

impl<T: TransactionTrait + ?Sized> BeginWrite for T {}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Migrations not yet applied (for `/readyz` and `puente migrate --check`).
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<usize, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.len())
}

pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

fn ensure_sqlite_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}
