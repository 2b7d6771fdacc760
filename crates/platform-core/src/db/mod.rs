//! Connecting to SQLite or PostgreSQL and applying migrations.
//!
//! [`Db`] is the handle the rest of the code uses: reads go to a pool, and
//! on a SQLite file every write goes through the process's one writer
//! ([`writer`]), which commits the writes that arrive together in one
//! transaction. PostgreSQL (and in-memory SQLite) writes use the pool.

mod handle;
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

pub use handle::Db;
use writer::Writer;

/// Opens the database. For SQLite files the parent directory is created,
/// and WAL plus a busy timeout let the web and worker roles share one file.
pub async fn connect(url: &str, kind: DatabaseKind) -> Result<Db, DbErr> {
    connect_with(url, kind, None).await
}

/// As [`connect`], with a PostgreSQL schema as `search_path` (tests give
/// each test its own schema).
pub async fn connect_with(
    url: &str,
    kind: DatabaseKind,
    pg_schema: Option<&str>,
) -> Result<Db, DbErr> {
    match kind {
        DatabaseKind::Sqlite => {
            ensure_sqlite_dir(url);
            // In-memory SQLite is one database per connection: keep one,
            // and write through it too.
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Ok(Db::new(sqlite_pool(url, 1).await?, None));
            }
            // The writer first: it opens the file (and makes it WAL).
            let writer_url = url.to_owned();
            let writer =
                Writer::start(move || async move { sqlite_pool(&writer_url, 1).await }).await?;
            Ok(Db::new(sqlite_pool(url, 8).await?, Some(writer)))
        }
        DatabaseKind::Postgres => {
            let mut opts = options(url);
            opts.max_connections(16).min_connections(1);
            if let Some(schema) = pg_schema {
                opts.set_schema_search_path(schema.to_owned());
            }
            Ok(Db::new(Database::connect(opts).await?, None))
        }
    }
}

/// How long a pooled connection may sit unused before it is pinged on its
/// next acquire.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

fn options(url: &str) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        // A connection is pinged before use only after a quiet spell (when
        // a server, proxy or firewall may have dropped it). The default,
        // a ping on every acquire, is one more round trip per statement
        // outside a transaction and per transaction.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false);
    opts
}

async fn sqlite_pool(url: &str, connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = options(url);
    opts.max_connections(connections)
        .min_connections(1)
        // Per connection (a PRAGMA through the pool reaches only one).
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
        })
        .map_sqlx_sqlite_pool_opts(|p| {
            p.after_connect(|conn, _| Box::pin(async move { stable_plans(conn).await }))
        });
    Database::connect(opts).await
}

/// Turns on SQLite's query planner stability guarantee on a new connection.
///
/// Without it, a cached statement with a bound parameter the planner looked
/// at (every `LIMIT ?`, which is how the ORM writes `.one()`) is marked
/// expired each time that parameter is bound, and SQLite compiles it again
/// on every run: profiled at ~14 % of the database threads' time under load.
/// With it, a statement is compiled once per connection and its plan kept.
async fn stable_plans(
    conn: &mut sea_orm::sqlx::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    use libsqlite3_sys::{SQLITE_DBCONFIG_ENABLE_QPSG, SQLITE_OK, sqlite3_db_config};
    let mut handle = conn.lock_handle().await?;
    let mut now_on: std::os::raw::c_int = 0;
    // SAFETY: the locked handle guarantees sqlx's worker thread makes no
    // call on this connection meanwhile; the pointer is valid while it lives.
    let rc = unsafe {
        sqlite3_db_config(
            handle.as_raw_handle().as_ptr(),
            SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::os::raw::c_int,
            &mut now_on as *mut std::os::raw::c_int,
        )
    };
    if rc != SQLITE_OK || now_on != 1 {
        return Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused the query planner stability guarantee (code {rc})").into(),
        ));
    }
    Ok(())
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

pub async fn migrate(db: &Db) -> Result<(), DbErr> {
    Migrator::up(db.pool(), None).await
}

/// Migrations not yet applied (for `/readyz` and `puente migrate --check`).
pub async fn pending_migrations(db: &Db) -> Result<usize, DbErr> {
    Ok(Migrator::get_pending_migrations(db.pool()).await?.len())
}

pub async fn ping(db: &Db) -> Result<(), DbErr> {
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
