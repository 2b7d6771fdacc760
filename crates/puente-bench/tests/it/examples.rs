//! The examples in docs/examples (Node and Python: charge, wait, refund,
//! cancel, webhook verification) run against a real `puente all`, through
//! `puente-bench examples`. Needs the debug `puente` binary (built by
//! `cargo test --workspace` / `scripts/test.sh`), `node` (18+) and
//! `python3`; fails loudly without them, never skips.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn docs_examples_run_against_puente_all() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_puente-bench"));
    let puente = bench.parent().unwrap().join("puente");
    assert!(
        puente.is_file(),
        "{} is missing: build it first (cargo build -p puente)",
        puente.display()
    );
    let out = Command::new(&bench)
        .arg("examples")
        .env("PUENTE_BIN", &puente)
        .output()
        .expect("run puente-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "the examples failed:\n{stdout}\n{stderr}"
    );
    for lang in ["node", "python"] {
        assert!(
            stdout.contains(&format!("examples {lang}: PASS")),
            "{lang} did not pass:\n{stdout}"
        );
    }
}
