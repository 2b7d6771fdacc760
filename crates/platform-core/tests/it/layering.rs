//! Queries live in platform-core: web and worker call its named functions
//! (which take the tenant `Scope` where the table is a tenant's), and never
//! build an ORM query themselves. This reads their sources and fails on any
//! mention of `sea_orm` there (their tests may arrange rows directly).

use crate::sources::rust_files;

const CRATES: &[&str] = &["crates/platform-web/src", "crates/platform-worker/src"];

/// Whether a line reaches for the ORM (in code or in a comment: either way
/// the query it names belongs in core).
fn mentions_the_orm(line: &str) -> bool {
    line.contains("sea_orm")
}

#[test]
fn web_and_worker_sources_never_mention_sea_orm() {
    let files = rust_files(CRATES);
    assert!(files.len() > 30, "found only {} source files", files.len());
    let mut found = Vec::new();
    for (rel, text) in &files {
        for (i, line) in text.lines().enumerate() {
            if mentions_the_orm(line) {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "build the query in the platform-core module that owns the table and call it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_catches_an_orm_import_and_a_path_and_passes_a_core_call() {
    assert!(mentions_the_orm(
        "use platform_core::sea_orm::{ColumnTrait, QueryFilter};"
    ));
    assert!(mentions_the_orm("use sea_orm::EntityTrait;"));
    assert!(mentions_the_orm(
        "        .filter(sea_orm::Condition::any().add(x))"
    ));
    assert!(!mentions_the_orm(
        "    let rows = registry::terminals_by_ids(&state.db, &auth.scope, ids).await?;"
    ));
}
