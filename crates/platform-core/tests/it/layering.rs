//! Queries live in platform-core: web and worker call its named functions
//! (which take the tenant `Scope` where the table is a tenant's), and never
//! build an ORM query themselves. This reads their sources and fails on any
//! mention of `sea_orm` there (their tests may arrange rows directly).

use std::path::{Path, PathBuf};

const CRATES: &[&str] = &["crates/platform-web/src", "crates/platform-worker/src"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the crate sits in crates/ of the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a line reaches for the ORM (in code or in a comment: either way
/// the query it names belongs in core).
fn mentions_the_orm(line: &str) -> bool {
    line.contains("sea_orm")
}

#[test]
fn web_and_worker_sources_never_mention_sea_orm() {
    let root = workspace();
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root.join(krate), &mut files);
    }
    assert!(files.len() > 30, "found only {} source files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy();
        let text = std::fs::read_to_string(file).unwrap();
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
