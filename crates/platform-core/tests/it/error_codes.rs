//! Error codes are the error types' business: callers decide on a typed
//! reason (`Conflict::TerminalBusy`, `Invalid::Url`, `MpError::is_terminal_busy`),
//! never on a code string. This reads the sources of the service crates and
//! fails on any comparison of a code string outside the error types.

use crate::sources::{SERVICE_CRATES, rust_files};

/// The files that own a vocabulary of codes and may compare them.
const OWNERS: &[&str] = &[
    "crates/platform-core/src/error.rs",
    "crates/platform-core/src/mercadopago/error.rs",
];

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
    if matches_on_code(l)
        && next.iter().take(4).any(|n| {
            let n = n.trim_start();
            ["\"", "Some(\"", "(\""].iter().any(|p| n.starts_with(p)) && n.contains("=>")
        })
    {
        return Some("matches a code string in a match");
    }
    None
}

/// Whether the line opens a `match` whose scrutinee is a code: `code`,
/// `code.as_str()`, `err.code()`, `i.last_error_code.as_deref()`,
/// `(code, status)`, … (an identifier `code` or ending in `_code`).
fn matches_on_code(line: &str) -> bool {
    let Some(body) = line.strip_suffix('{') else {
        return false;
    };
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut words = body.split(|c: char| !ident(c)).filter(|w| !w.is_empty());
    if !words.any(|w| w == "match") {
        return false;
    }
    words.any(|w| w == "code" || w.ends_with("_code"))
}

#[test]
fn no_code_string_drives_control_flow_outside_the_error_types() {
    let files = rust_files(SERVICE_CRATES);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut found = Vec::new();
    for (rel, text) in &files {
        if OWNERS.contains(&rel.as_str()) {
            continue;
        }
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
    assert!(
        offence(
            "let code = match code.as_str() {",
            &[r#"    "order_already_canceled" => "order_already_canceled","#]
        )
        .is_some()
    );
    assert!(offence("match e.code() {", &[r#"    Some("invalid_grant") => 1,"#]).is_some());
    assert!(
        offence(
            "match intent.last_error_code.as_deref() {",
            &[r#"    Some("x") => 1,"#]
        )
        .is_some()
    );
    assert!(offence("match (code, status) {", &[r#"    ("x", 409) => 1,"#]).is_some());
    assert!(offence("match reason {", &[r#"    Invalid::Url => 1,"#]).is_none());
    assert!(
        offence(
            "let code = match reason {",
            &[r#"    CancelRefusal::Other => "cannot_cancel_order","#]
        )
        .is_none()
    );
    assert!(offence("match status_code {", &[r#"    "x" => 1,"#]).is_some());
    assert!(offence(r#"// code == "x" in a comment"#, none).is_none());
}
