//! Error codes are the error types' business: callers decide on a typed
//! reason (`Conflict::TerminalBusy`, `Invalid::Url`, `MpError::is_terminal_busy`),
//! never on a code string. This reads the sources of the service crates and
//! fails on any comparison of a code string outside the error types.

use std::path::{Path, PathBuf};

/// The files that own a vocabulary of codes and may compare them.
const OWNERS: &[&str] = &[
    "crates/platform-core/src/error.rs",
    "crates/platform-core/src/mercadopago/error.rs",
];

const CRATES: &[&str] = &[
    "crates/platform-core/src",
    "crates/platform-web/src",
    "crates/platform-worker/src",
];

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

/// What a line does wrong, if it compares a code string.
fn offence(line: &str, next: &[&str]) -> Option<&'static str> {
    let l = line.trim();
    if l.starts_with("//") {
        return None;
    }
    let squeezed: String = l.chars().filter(|c| !c.is_whitespace()).collect();
    if squeezed.contains("code==\"") || squeezed.contains("code!=\"") {
        return Some("compares a code to a string");
    }
    if squeezed.contains("code.as_deref()==Some(\"") || squeezed.contains("code()==Some(\"") {
        return Some("compares an optional code to a string");
    }
    if squeezed.contains("Conflict{code")
        || squeezed.contains("Invalid{code")
        || squeezed.contains("Forbidden{code")
    {
        return Some("matches a core error by its code string");
    }
    let matches_code = squeezed.starts_with("matchcode{")
        || squeezed.starts_with("match(code,")
        || squeezed.ends_with("=>matchcode{");
    if matches_code
        && next
            .iter()
            .take(4)
            .any(|n| n.trim_start().starts_with('"') && n.contains("=>"))
    {
        return Some("matches a code string in a match");
    }
    None
}

#[test]
fn no_code_string_drives_control_flow_outside_the_error_types() {
    let root = workspace();
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root.join(krate), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if OWNERS.contains(&rel.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if let Some(why) = offence(line, &lines[i + 1..]) {
                found.push(format!("{rel}:{}: {why}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "decide on a typed reason, not a code string:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_catches_each_shape() {
    let none: &[&str] = &[];
    assert!(offence(r#"if code == "too_many_endpoints" {"#, none).is_some());
    assert!(offence(r#"code.as_deref() == Some("invalid_grant")"#, none).is_some());
    assert!(
        offence(
            r#"CoreError::Conflict { code: "terminal_busy", .. } => x,"#,
            none
        )
        .is_some()
    );
    assert!(offence("match code {", &[r#"    "invalid_url" => 1,"#]).is_some());
    assert!(
        offence(
            r#"Err(Invalid { code, .. }) => match code {"#,
            &[r#""x" => 1,"#]
        )
        .is_some()
    );
    assert!(offence("match reason {", &[r#"    Invalid::Url => 1,"#]).is_none());
    assert!(offence(r#"// code == "x" in a comment"#, none).is_none());
}
