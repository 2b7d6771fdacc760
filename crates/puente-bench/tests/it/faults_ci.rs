//! The small fault suite, in the normal test run: 200 intents per setup
//! (embedded, then PostgreSQL + Redis) through sandbox 5xx/hangs/duplicate
//! and reordered notifications and repeated `kill -9` of workers, with POS
//! cancels and same-key retries racing the pipeline; every intent checked.
//! Needs the debug `puente` binary (built by `cargo test --workspace` /
//! `scripts/test.sh`) and the PostgreSQL and Redis server binaries (it
//! starts its own, on other ports); fails loudly without them.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn fault_suite_small() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_puente-bench"));
    let puente = bench.parent().unwrap().join("puente");
    assert!(
        puente.is_file(),
        "{} is missing: build it first (cargo build -p puente)",
        puente.display()
    );
    let out = Command::new(&bench)
        .args([
            "faults",
            "--intents",
            "200",
            "--rate",
            "25",
            "--sellers",
            "2",
            "--setup",
            "both",
            "--no-restarts",
            "--kill-every",
            "3",
            "--settle-secs",
            "100",
        ])
        .env("PUENTE_BIN", &puente)
        .output()
        .expect("run puente-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "fault suite failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.matches("result: PASS").count(), 2, "{stdout}");
    // Every fifth create was sent twice at once with one Idempotency-Key.
    assert_eq!(
        stdout
            .matches("retries racing the first create:      40  (0 answered with another intent)")
            .count(),
        2,
        "{stdout}"
    );
}
