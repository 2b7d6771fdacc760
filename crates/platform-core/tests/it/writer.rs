//! SQLite's one writer (`platform_core::db::writer`): units committed
//! together, one failing unit undone alone, answers only after the commit.

use std::sync::Arc;
use std::time::Duration;

use platform_core::db::writer::Writer;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};

struct Fixture {
    path: std::path::PathBuf,
    writer: Writer,
    /// Another connection, to see what was committed.
    reader: DatabaseConnection,
}

async fn open(path: &std::path::Path) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    opts.max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
        });
    Database::connect(opts).await
}

async fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join("puente-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("writer_{}.db", platform_core::id::new_body()));
    let reader = open(&path).await.unwrap();
    reader
        .execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
        .await
        .unwrap();
    let p = path.clone();
    let writer = Writer::start(move || async move { open(&p).await })
        .await
        .unwrap();
    Fixture {
        path,
        writer,
        reader,
    }
}

impl Fixture {
    async fn values(&self) -> Vec<String> {
        let rows = self
            .reader
            .query_all_raw(Statement::from_string(
                self.reader.get_database_backend(),
                "SELECT v FROM t ORDER BY v",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get::<String>("", "v").unwrap())
            .collect()
    }

    fn cleanup(self) {
        drop(self.writer);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

fn insert(v: &str) -> Statement {
    Statement::from_sql_and_values(
        sea_orm::DbBackend::Sqlite,
        "INSERT INTO t (v) VALUES (?)",
        [v.into()],
    )
}

/// Two inserts as one unit; `fail` makes it refuse after writing both.
async fn two_rows(w: &Writer, a: &str, b: &str, fail: bool) -> Result<(), DbErr> {
    let (a, b) = (insert(a), insert(b));
    w.run(move |txn| {
        Box::pin(async move {
            txn.execute_raw(a).await?;
            txn.execute_raw(b).await?;
            if fail {
                return Err(DbErr::Custom("refused after writing".into()));
            }
            Ok(())
        })
    })
    .await
}

#[tokio::test]
async fn many_units_at_once_all_commit_and_are_visible_when_answered() {
    let f = fixture().await;
    let writer = f.writer.clone();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move {
            two_rows(&w, &format!("a{i:03}"), &format!("b{i:03}"), false).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Answered means committed: another connection sees every row.
    assert_eq!(f.values().await.len(), 400);
    f.cleanup();
}

#[tokio::test]
async fn a_failing_unit_is_undone_alone() {
    let f = fixture().await;
    let w = Arc::new(f.writer.clone());
    // Sent together so that they share a batch (the writer takes whatever
    // has arrived); whichever batch they land in, only the refused one's
    // rows must be missing.
    let (ok1, bad, ok2, dup, single) = tokio::join!(
        two_rows(&w, "k1", "k2", false),
        two_rows(&w, "x1", "x2", true),
        two_rows(&w, "k3", "k4", false),
        // Breaks the unique rule on its second row: its first row goes too.
        two_rows(&w, "k5", "k1", false),
        w.execute(insert("s1")),
    );
    ok1.unwrap();
    ok2.unwrap();
    single.unwrap();
    assert!(matches!(bad, Err(DbErr::Custom(m)) if m == "refused after writing"));
    assert!(dup.is_err(), "the duplicate unit must fail");
    assert_eq!(f.values().await, ["k1", "k2", "k3", "k4", "s1"]);
    f.cleanup();
}

/// The first unit of a transaction runs without a savepoint: when it
/// fails, the transaction is rolled back and the rest of the batch goes on
/// in a new one. Held behind a unit that waits, the next units are sure to
/// form one batch, led by two failing ones.
#[tokio::test]
async fn a_failing_first_unit_is_undone_alone() {
    let f = fixture().await;
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let w = f.writer.clone();
    let hold = tokio::spawn(async move {
        w.run::<(), DbErr, _>(move |txn| {
            Box::pin(async move {
                txn.execute_raw(insert("held")).await?;
                let _ = held.await;
                Ok(())
            })
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let w = f.writer.clone();
    let next = tokio::spawn(async move {
        tokio::join!(
            two_rows(&w, "x1", "x2", true),
            two_rows(&w, "y1", "y2", true),
            two_rows(&w, "k1", "k2", false),
            w.execute(insert("s1")),
            two_rows(&w, "z1", "z2", true),
        )
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    release.send(()).unwrap();
    hold.await.unwrap().unwrap();
    let (x, y, ok, single, z) = next.await.unwrap();
    for refused in [x, y, z] {
        assert!(matches!(refused, Err(DbErr::Custom(m)) if m == "refused after writing"));
    }
    ok.unwrap();
    single.unwrap();
    assert_eq!(f.values().await, ["held", "k1", "k2", "s1"]);
    f.cleanup();
}

#[tokio::test]
async fn a_single_statement_breaking_a_rule_fails_alone() {
    let f = fixture().await;
    f.writer.execute(insert("one")).await.unwrap();
    let (dup, other) = tokio::join!(
        f.writer.execute(insert("one")),
        f.writer.execute(insert("two"))
    );
    let err = dup.unwrap_err();
    assert!(
        matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ),
        "{err}"
    );
    other.unwrap();
    assert_eq!(f.values().await, ["one", "two"]);
    f.cleanup();
}

#[tokio::test]
async fn a_panicking_unit_is_undone_and_the_writer_goes_on() {
    let f = fixture().await;
    let w = f.writer.clone();
    let s = insert("before-panic");
    let panicked = tokio::spawn(async move {
        w.run::<(), DbErr, _>(move |txn| {
            Box::pin(async move {
                txn.execute_raw(s).await?;
                panic!("a bug in a unit of work");
            })
        })
        .await
    })
    .await
    .unwrap();
    assert!(panicked.is_err());
    two_rows(&f.writer, "after1", "after2", false)
        .await
        .unwrap();
    assert_eq!(f.values().await, ["after1", "after2"]);
    f.cleanup();
}

#[tokio::test]
async fn returning_rows_come_back_from_the_writer() {
    let f = fixture().await;
    let row = f
        .writer
        .query_one(Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            "INSERT INTO t (v) VALUES (?) RETURNING id, v",
            ["ret".into()],
        ))
        .await
        .unwrap()
        .expect("a row");
    assert_eq!(row.try_get::<String>("", "v").unwrap(), "ret");
    f.cleanup();
}
