//! One clock: the service crates read the wall clock only through
//! `platform_core::clock::now()`, so a test can set the time for all of
//! them (`clock::TestClock`). This fails on any other `Utc::now()` there.

use crate::sources::{SERVICE_CRATES, rust_files};

/// The one place allowed to read the system clock.
const CLOCK: &str = "crates/platform-core/src/clock.rs";

fn reads_the_system_clock(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.contains("Utc::now()") || code.contains("SystemTime::now()")
}

#[test]
fn service_code_reads_the_time_from_the_one_clock() {
    let files = rust_files(SERVICE_CRATES);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut found = Vec::new();
    for (rel, text) in &files {
        if rel == CLOCK {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            if reads_the_system_clock(line) {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "read the time with platform_core::clock::now():\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_catches_the_system_clock_and_passes_the_one_clock() {
    assert!(reads_the_system_clock("    let now = Utc::now();"));
    assert!(reads_the_system_clock("let t = chrono::Utc::now() + d;"));
    assert!(reads_the_system_clock(
        "let t = std::time::SystemTime::now();"
    ));
    assert!(!reads_the_system_clock("    let now = clock::now();"));
    assert!(!reads_the_system_clock(
        "    // not Utc::now(): tests move the clock"
    ));
}
