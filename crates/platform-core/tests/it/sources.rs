//! Reading the workspace's own sources, for the lint tests (error codes,
//! layering, the one clock).

use std::path::{Path, PathBuf};

/// The service crates' source folders.
pub const SERVICE_CRATES: &[&str] = &[
    "crates/platform-core/src",
    "crates/platform-web/src",
    "crates/platform-worker/src",
];

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the crate sits in crates/ of the workspace")
        .to_path_buf()
}

/// Every `.rs` file under the given workspace folders, as (path relative to
/// the workspace, text).
pub fn rust_files(folders: &[&str]) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source folder is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = workspace();
    let mut paths = Vec::new();
    for folder in folders {
        walk(&root.join(folder), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("source is readable");
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, text)
        })
        .collect()
}
