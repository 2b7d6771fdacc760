//! The database handle the rest of the code uses: reads on a pool, writes
//! through one path (on a SQLite file, the process's one writer; on
//! PostgreSQL and in-memory SQLite, the pool).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement,
};

use super::BeginWrite;
use super::writer::Writer;
use crate::lookups::{Lookups, Stale};

/// Cheap to clone; every clone shares the pools and the writer.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    /// Reads (and, without a writer, writes too).
    pool: DatabaseConnection,
    writer: Option<Writer>,
    /// Rarely changing rows kept in memory (`crate::lookups`).
    lookups: Arc<Lookups>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.inner.pool.get_database_backend())
            .field("writer", &self.inner.writer.is_some())
            .finish()
    }
}

/// Whether a statement only reads, and may go to the read pool. Anything
/// else (including `INSERT … RETURNING`, which returns rows) is a write.
fn only_reads(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case("select"))
}

impl Db {
    pub(super) fn new(pool: DatabaseConnection, writer: Option<Writer>) -> Db {
        Db {
            inner: Arc::new(Inner {
                pool,
                writer,
                lookups: Arc::default(),
            }),
        }
    }

    /// Runs `work` in one write transaction and commits it; an `Err` rolls
    /// back what it wrote. On SQLite `work` runs on the writer's thread in a
    /// batch with other units (see `writer`): it must do only database work
    /// on the transaction it is given, and must not itself write through
    /// `Db`.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
    {
        if let Some(writer) = &self.inner.writer {
            return writer.run(work).await;
        }
        let txn = self.inner.pool.begin_write().await?;
        match work(&txn).await {
            Ok(v) => {
                txn.commit().await?;
                Ok(v)
            }
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }

    /// A write transaction on the pool, outside the writer: for rare
    /// changes (settings, team, onboarding) whose work borrows what a unit
    /// of [`Db::write`] cannot. On SQLite it takes the database's write lock
    /// like the writer's batches do, so the two take turns.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.inner.pool.begin_write().await
    }

    /// The rows this process keeps in memory.
    pub fn lookups(&self) -> &Lookups {
        &self.inner.lookups
    }

    /// After a commit that changed cached rows: this process forgets them
    /// at once, the others are told over the event bus.
    pub async fn changed(&self, kind: Stale) {
        self.inner.lookups.changed(kind).await
    }

    /// Hears other processes' change notices on `bus` (web and worker do
    /// this at start; without it, entries only expire).
    pub fn attach_bus(&self, bus: &platform_queue::Queue) {
        self.inner.lookups.attach(bus)
    }

    /// The pool itself, for what needs a plain connection (migrations).
    pub fn pool(&self) -> &DatabaseConnection {
        &self.inner.pool
    }

    /// Closes the pool; the writer's thread ends with the last handle.
    pub async fn close(self) -> Result<(), DbErr> {
        self.inner.pool.clone().close().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.inner.writer {
            Some(w) if !only_reads(&stmt.sql) => w.execute(stmt).await,
            _ => self.inner.pool.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.inner.writer {
            Some(w) if !only_reads(sql) => w.execute_unprepared(sql.to_owned()).await,
            _ => self.inner.pool.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.inner.writer {
            Some(w) if !only_reads(&stmt.sql) => w.query_one(stmt).await,
            _ => self.inner.pool.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.inner.writer {
            Some(w) if !only_reads(&stmt.sql) => w.query_all(stmt).await,
            _ => self.inner.pool.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        self.inner.pool.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use super::only_reads;

    #[test]
    fn selects_read_everything_else_writes() {
        assert!(only_reads("SELECT 1"));
        assert!(only_reads("  select \"id\" FROM x"));
        assert!(!only_reads("INSERT INTO x VALUES (1) RETURNING id"));
        assert!(!only_reads("UPDATE x SET a = 1"));
        assert!(!only_reads("WITH a AS (SELECT 1) DELETE FROM x"));
        assert!(!only_reads("SEL"));
    }
}
