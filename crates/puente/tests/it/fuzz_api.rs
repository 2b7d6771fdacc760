//! A property/fuzz pass over the OpenAPI document with schemathesis (PyPI)
//! against a running `puente all`: no generated request may cause a 5xx,
//! and every response must have a documented status, content type and
//! headers, and match its schema.
//! `scripts/test.sh` installs schemathesis; without it this test fails.

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_puente");
const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../platform-web/openapi/openapi.json"
);

#[test]
fn generated_requests_get_documented_responses() {
    let st = which("st").unwrap_or_else(|| {
        panic!("schemathesis (`st`) is not installed: run `pip install schemathesis==4.32.5` or scripts/test.sh")
    });
    let dir = std::env::temp_dir().join(format!("puente-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let base = |cmd: &mut Command| {
        cmd.current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PUENTE_HTTP_ADDR", "127.0.0.1:0")
            .env("PUENTE_SANDBOX_ADDR", "127.0.0.1:0")
            .env("PUENTE_API_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn");
    };
    let mut create = Command::new(BIN);
    base(&mut create);
    let out = create
        .args([
            "integrator",
            "create",
            "--name",
            "Fuzz",
            "--email",
            "fuzz@example.com",
            "--password",
            "fuzzing password",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut server = Command::new(BIN);
    base(&mut server);
    let server_log = dir.join("server.stderr");
    let mut child = server
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&server_log).unwrap())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    // Keep draining stdout for the server's whole life: closing the pipe
    // early would be a different test (the binary survives it, see roles.rs).
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader};
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(u) = line.trim().strip_prefix("Open:") {
                let _ = tx.send(u.trim().trim_end_matches('/').to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("puente printed its URL");
    let run = Command::new(st)
        .current_dir(std::env::temp_dir())
        .args([
            "run",
            SPEC,
            "-u",
            &url,
            "-H",
            &format!("Authorization: Bearer {key}"),
        ])
        .args([
            "-c",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            "-n",
            "15",
            "--seed",
            "7",
        ])
        // A stream never ends; revoking the fuzzer's own key would end the run early.
        .args([
            "--exclude-path",
            "/v1/payment-intents/stream",
            "--exclude-operation-id",
            "revokeApiKey",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let still_running = child.try_wait().unwrap().is_none();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let server_stderr = std::fs::read_to_string(&server_log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let report =
        String::from_utf8_lossy(&run.stdout).to_string() + &String::from_utf8_lossy(&run.stderr);
    assert!(
        still_running,
        "puente exited during the fuzz run; its stderr:\n{server_stderr}"
    );
    assert!(
        run.status.success(),
        "schemathesis found failures:\n{report}\npuente stderr:\n{server_stderr}"
    );
    assert!(report.contains("passed"), "{report}");
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.is_file())
}
