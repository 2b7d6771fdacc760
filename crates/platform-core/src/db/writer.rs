//! SQLite's one writer: every write of the process runs on one connection,
//! on a thread of its own, and the writes that arrive together commit
//! together.
//!
//! Why: SQLite has one write lock per database. Through a pool, a write
//! transaction holds that lock while its task waits for the runtime between
//! statements (each statement hops to sqlx's connection thread and back, and
//! then waits behind every other ready task), so under load the lock is held
//! for milliseconds per request and everything queues behind it. Here units
//! of work run back to back on a dedicated thread with its own runtime, and
//! every unit that arrived while one batch ran goes into the next
//! transaction (group commit): the lock is held for microseconds per unit and
//! one commit serves many.
//!
//! Guarantees:
//! - A unit runs inside a `SAVEPOINT`; one that fails (an `Err`, or a panic)
//!   is rolled back to it alone, and the others of its batch still commit.
//! - A single statement sent without a unit (through `Db`'s
//!   `ConnectionTrait`) needs no savepoint: SQLite undoes a failed statement
//!   by itself. Any error other than a constraint violation may have ended
//!   the whole transaction, so it fails the batch instead.
//! - A caller gets its answer only after its batch committed; if the commit
//!   fails, every unit of the batch gets the error (nothing was written).
//!
//! A unit must only do database work on the transaction it is given — no
//! network calls, no waiting on other tasks — since its whole batch waits
//! for it; and it must not send writes through `Db` itself (that would wait
//! for the writer, which waits for the unit).

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, ExecResult, QueryResult,
    RuntimeErr, SqlErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

/// Units taken into one transaction at most.
const MAX_BATCH: usize = 512;

/// Told once the unit's batch ended: `Ok` when it committed.
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A unit of work, its concrete types erased: runs on the transaction, says
/// whether it succeeded, and hands back what answers its caller.
type Unit = Box<dyn for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Done> + Send>;

struct Done {
    ok: bool,
    /// A failure that may have ended the whole transaction (not a unit's
    /// own refusal, nor a constraint violation SQLite undid by itself).
    fatal: bool,
    finish: Finish,
}

struct Envelope {
    unit: Unit,
    /// Whether the unit gets a savepoint of its own (a single statement
    /// does not need one).
    savepoint: bool,
}

/// The handle to the writer thread; cheap to clone. The thread ends when
/// the last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Envelope>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

fn stopped() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(
        "the database writer stopped before the write was applied".into(),
    ))
}

impl Writer {
    /// Starts the writer thread. `connect` opens its connection (a pool of
    /// one) on the writer's own runtime, so the connection's background work
    /// lives as long as the thread.
    pub async fn start<C, Fut>(connect: C) -> Result<Writer, DbErr>
    where
        C: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<DatabaseConnection, DbErr>>,
    {
        let (tx, rx) = mpsc::unbounded_channel::<Envelope>();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), DbErr>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(DbErr::Custom(format!(
                            "could not start the database writer: {e}"
                        ))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let conn = match connect().await {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    serve(&conn, rx).await;
                    let _ = conn.close().await;
                });
            })
            .map_err(|e| DbErr::Custom(format!("could not start the database writer: {e}")))?;
        ready_rx.await.map_err(|_| stopped())??;
        Ok(Writer { tx })
    }

    /// Runs `work` in a write transaction (its own savepoint inside the
    /// batch's) and answers once that transaction committed. An `Err` from
    /// `work` undoes what it wrote and is returned as it is.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
    {
        self.submit(true, move |txn| {
            Box::pin(async move {
                let out = work(txn).await;
                // A unit's own refusal leaves the transaction as it was.
                (out, false)
            })
        })
        .await
    }

    /// One statement that writes, committed with the current batch.
    pub async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.statement(move |txn| Box::pin(txn.execute_raw(stmt)))
            .await
    }

    /// One writing statement that returns rows (`INSERT … RETURNING`).
    pub async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.statement(move |txn| Box::pin(txn.query_one_raw(stmt)))
            .await
    }

    pub async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.statement(move |txn| Box::pin(txn.query_all_raw(stmt)))
            .await
    }

    pub async fn execute_unprepared(&self, sql: String) -> Result<ExecResult, DbErr> {
        self.statement(move |txn| Box::pin(async move { txn.execute_unprepared(&sql).await }))
            .await
    }

    async fn statement<T, F>(&self, work: F) -> Result<T, DbErr>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, DbErr>>
            + Send
            + 'static,
        T: Send + 'static,
    {
        self.submit(false, move |txn| {
            Box::pin(async move {
                let out = work(txn).await;
                // SQLite undoes a statement that broke a constraint and
                // keeps the transaction; other errors may have ended it.
                let fatal = match &out {
                    Err(e) => !matches!(
                        e.sql_err(),
                        Some(
                            SqlErr::UniqueConstraintViolation(_)
                                | SqlErr::ForeignKeyConstraintViolation(_)
                        )
                    ),
                    Ok(_) => false,
                };
                (out, fatal)
            })
        })
        .await
    }

    async fn submit<T, E, F>(&self, savepoint: bool, work: F) -> Result<T, E>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, (Result<T, E>, bool)>
            + Send
            + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
    {
        let (answer_tx, answer_rx) = oneshot::channel::<Result<T, E>>();
        let clock = crate::clock::Carried::here();
        let unit: Unit = Box::new(move |txn| {
            Box::pin(async move {
                let (out, fatal) = clock.run(work(txn)).await;
                let ok = out.is_ok();
                let finish: Finish = Box::new(move |committed| {
                    let answer = match (out, committed) {
                        (Ok(v), Ok(())) => Ok(v),
                        (Ok(_), Err(why)) => Err(E::from(DbErr::Exec(RuntimeErr::Internal(
                            format!("the transaction did not commit: {why}"),
                        )))),
                        (Err(e), _) => Err(e),
                    };
                    let _ = answer_tx.send(answer);
                });
                Done { ok, fatal, finish }
            })
        });
        self.tx
            .send(Envelope { unit, savepoint })
            .map_err(|_| E::from(stopped()))?;
        answer_rx.await.unwrap_or_else(|_| Err(E::from(stopped())))
    }
}

async fn serve(conn: &DatabaseConnection, mut rx: mpsc::UnboundedReceiver<Envelope>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        run_batch(conn, &mut batch).await;
    }
}

async fn begin(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    conn.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Runs one batch in one transaction. Units dropped without running (the
/// transaction could not start, or broke before their turn) answer their
/// callers with an error through their dropped channel.
///
/// The first unit that writes in a transaction runs without a savepoint
/// (one statement fewer, and no sub-journal): if it fails, the transaction
/// holds nothing else, so it is rolled back whole and a new one begun for
/// the rest of the batch. When the writer is not busy, most batches are
/// one unit.
async fn run_batch(conn: &DatabaseConnection, batch: &mut Vec<Envelope>) {
    let mut txn = match begin(conn).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, units = batch.len(), "database writer: could not begin a transaction");
            batch.clear();
            return;
        }
    };
    let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    // Nothing written in `txn` yet.
    let mut fresh = true;
    for (i, Envelope { unit, savepoint }) in batch.drain(..).enumerate() {
        if broken.is_some() {
            continue;
        }
        let own_savepoint = savepoint && !fresh;
        if own_savepoint && let Err(e) = txn.execute_unprepared(&format!("SAVEPOINT u{i}")).await {
            broken = Some(e.to_string());
            continue;
        }
        let done = AssertUnwindSafe(unit(&txn)).catch_unwind().await;
        let (ok, fatal) = match done {
            Ok(Done { ok, fatal, finish }) => {
                finishes.push(finish);
                (ok, fatal)
            }
            // The caller's channel went down with the unit: it hears "stopped".
            Err(_) => {
                tracing::error!("database writer: a unit of work panicked; it was rolled back");
                (false, false)
            }
        };
        if ok {
            fresh = false;
            continue;
        }
        if fatal {
            broken = Some("a statement failed and may have ended the transaction".into());
        } else if own_savepoint {
            if let Err(e) = txn.execute_unprepared(&format!("ROLLBACK TO u{i}")).await {
                // The transaction itself is gone (SQLite rolled it back).
                broken = Some(e.to_string());
            }
        } else if savepoint {
            // The first unit failed: undo it with its transaction and go on in a new one.
            if let Err(e) = txn.rollback().await {
                tracing::error!(error = %e, "database writer: rollback failed");
            }
            txn = match begin(conn).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, "database writer: could not begin a transaction");
                    // Nothing was written; the units left answer "stopped".
                    for finish in finishes {
                        finish(Err(e.to_string()));
                    }
                    // Returning drops the rest of the drained batch.
                    return;
                }
            };
        }
        // A failed single statement was undone by SQLite itself.
    }
    let outcome = match broken {
        Some(why) => {
            tracing::error!(error = %why, "database writer: batch rolled back");
            let _ = txn.rollback().await;
            Err(why)
        }
        None => txn.commit().await.map_err(|e| {
            tracing::error!(error = %e, "database writer: commit failed");
            e.to_string()
        }),
    };
    for finish in finishes {
        finish(outcome.clone());
    }
}
