//! `--pg-statements`: which SQL statements PostgreSQL ran for a phase, per
//! intent. On PostgreSQL + Redis the database is the largest CPU share, and
//! what costs there is the number of statements, so the profile counts them
//! (calls per intent) next to their time.
//!
//! The bench's own PostgreSQL loads `pg_stat_statements` when the machine
//! has it (Debian ships it with the server); tracking stays off unless the
//! flag asks for it, so an ordinary run pays nothing.

use std::path::Path;

use anyhow::Context;

use platform_core::db::Db;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Whether the PostgreSQL of this `pg_ctl` can preload the module (its
/// `lib/` beside `bin/`; a `pg_ctl` on PATH may be a link into that `bin/`).
pub fn available(pg_ctl: &Path) -> bool {
    std::fs::canonicalize(pg_ctl)
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("lib")))
        .is_some_and(|lib| lib.join("pg_stat_statements.so").is_file())
}

/// Turns tracking on (top-level and nested statements) and clears the counts.
pub async fn start(db: &Db) -> anyhow::Result<()> {
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .context(
            "--pg-statements needs PostgreSQL's pg_stat_statements module \
             (lib/pg_stat_statements.so beside the server's bin/)",
        )?;
    db.execute_unprepared("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        .await?;
    db.execute_unprepared("SELECT pg_reload_conf()").await?;
    reset(db).await
}

pub async fn reset(db: &Db) -> anyhow::Result<()> {
    db.execute_unprepared("SELECT pg_stat_statements_reset()")
        .await?;
    Ok(())
}

/// Prints the statements since the last reset, most total time first:
/// calls and milliseconds per intent, mean time, and the statement's text.
pub async fn print(db: &Db, label: &str, intents: usize, top: usize) -> anyhow::Result<()> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT calls::float8, total_exec_time, rows::float8, query \
             FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND query NOT LIKE '%pg_stat_statements%' \
             ORDER BY total_exec_time DESC",
        ))
        .await?;
    let per = intents.max(1) as f64;
    let mut calls_all = 0.0;
    let mut ms_all = 0.0;
    let mut lines = Vec::new();
    for r in &rows {
        let calls: f64 = r.try_get_by_index(0)?;
        let total: f64 = r.try_get_by_index(1)?;
        let n_rows: f64 = r.try_get_by_index(2)?;
        let query: String = r.try_get_by_index(3)?;
        calls_all += calls;
        ms_all += total;
        if lines.len() < top {
            let q: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
            let q = if q.chars().count() > 150 {
                format!("{}…", q.chars().take(150).collect::<String>())
            } else {
                q
            };
            lines.push(format!(
                "    {:>6.2} calls {:>7.3} ms/intent  mean {:>6.3} ms  rows/call {:>5.1}  {q}",
                calls / per,
                total / per,
                total / calls.max(1.0),
                n_rows / calls.max(1.0),
            ));
        }
    }
    eprintln!(
        "  PostgreSQL statements, {label}: {:.1} per intent, {:.3} ms executing per intent ({} distinct); top {}:",
        calls_all / per,
        ms_all / per,
        rows.len(),
        lines.len()
    );
    for l in lines {
        eprintln!("{l}");
    }
    Ok(())
}
