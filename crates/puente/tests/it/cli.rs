//! The `puente` binary as a user runs it: start-up on an empty directory,
//! bad settings, secrets kept out of the output, key rotation, and the same
//! all-in-one process on PostgreSQL + Redis.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_puente");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("puente-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `puente` command in `dir` with a clean environment and free ports.
fn puente(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PUENTE_HTTP_ADDR", "127.0.0.1:0")
        .env("PUENTE_SANDBOX_ADDR", "127.0.0.1:0")
        .env("PUENTE_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug,sqlx=warn,hyper=info,reqwest=info")
        .stdin(Stdio::null());
    cmd
}

struct Running {
    child: Child,
    stdout_lines: Vec<String>,
    url: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// Reads a child's whole stderr in the background (so it never blocks on a full pipe).
fn collect_stderr(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    })
}

/// Starts `puente all` and waits for the printed URL (or the process to end).
fn start_all(mut cmd: Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let err_thread = collect_stderr(&mut child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let done = line.contains("Stop with Ctrl-C");
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let err = err_thread.join().unwrap();
                panic!("puente did not start; stdout: {lines:?}\nstderr: {err}");
            }
        }
    }
    let url = lines
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Open:")
                .map(|u| u.trim().trim_end_matches('/').to_owned())
        })
        .expect("printed URL");
    Running {
        child,
        stdout_lines: lines,
        url,
        stderr: Some(err_thread),
    }
}

impl Running {
    /// SIGTERM, then the exit status and everything written to stderr.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        let err = self.stderr.take().unwrap().join().unwrap();
        (status, err)
    }
}

/// A GET's status and body text, from a plain thread.
fn get_raw(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let res = reqwest::get(url).await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    })
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let (status, text) = get_raw(url);
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn get_text(url: &str) -> String {
    get_raw(url).1
}

#[test]
fn all_starts_on_an_empty_directory_and_stops_on_sigterm() {
    let dir = temp_dir("empty");
    let mut cmd = puente(&dir);
    cmd.env("PUENTE_SANDBOX_RETENTION_SECS", "120")
        .env("PUENTE_SANDBOX_RETENTION_MAX", "500");
    let run = start_all(cmd);
    let (status, health) = get(&format!("{}/healthz", run.url));
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = get(&format!("{}/readyz", run.url));
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["queue"]["backend"], "memory");
    let demo = run
        .stdout_lines
        .iter()
        .find(|l| l.contains("Demo login:"))
        .expect("demo login printed");
    assert!(demo.contains("demo@puente.local"));
    let sandbox = run
        .stdout_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("Sandbox:"))
        .and_then(|l| l.split_whitespace().next())
        .expect("sandbox URL printed")
        .to_owned();
    // The retention flags reach the built-in sandbox.
    let (status, stats) = get(&format!("{sandbox}/stats"));
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["retention"]["window_secs"], 120);
    assert_eq!(stats["retention"]["max_finished"], 500);
    let (code, _) = run.terminate();
    assert!(code.success(), "graceful exit on SIGTERM: {code:?}");
    assert!(dir.join("data/puente.db").exists());

    // Again on the same directory: same data, no second demo account.
    let again = start_all(puente(&dir));
    assert!(!again.stdout_lines.iter().any(|l| l.contains("Demo login:")));
    let (code, _) = again.terminate();
    assert!(code.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["data/master.key", "data/sandbox-app.json"] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn secrets_never_appear_in_output_or_logs() {
    let dir = temp_dir("secrets");
    let key = "k1:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
    let mut cmd = puente(&dir);
    cmd.env("PUENTE_MASTER_KEYS", key);
    let run = start_all(cmd);
    let _ = get(&format!("{}/readyz", run.url));
    let out = run.stdout_lines.join("\n");
    let (_, err) = run.terminate();
    let app: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("data/sandbox-app.json")).unwrap())
            .unwrap();
    let needles = [
        "q83vEjRWeJq83vEjRWeJ",
        app["client_secret"].as_str().unwrap(),
        app["webhook_secret"].as_str().unwrap(),
    ];
    assert!(err.contains("\"level\""), "debug logs were produced: {err}");
    for n in needles {
        assert!(!out.contains(n) && !err.contains(n), "secret {n} leaked");
    }
    assert!(
        !dir.join("data/master.key").exists(),
        "no key generated when one is configured"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let dir = temp_dir("bad");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("PUENTE_HTTP_ADDR", "localhost")],
            "invalid PUENTE_HTTP_ADDR: ",
        ),
        (
            vec![("DATABASE_URL", "mysql://x")],
            "invalid DATABASE_URL: ",
        ),
        (vec![("REDIS_URL", "http://x")], "invalid REDIS_URL: "),
        (
            vec![("PUENTE_MASTER_KEYS", "k1:tooshort")],
            "invalid PUENTE_MASTER_KEYS: ",
        ),
        (
            vec![
                ("PUENTE_MP_API_URL", "https://api.mercadopago.com"),
                ("PUENTE_MP_AUTH_URL", "https://auth.mercadopago.com"),
            ],
            "invalid PUENTE_MASTER_KEYS: is required",
        ),
        (
            vec![("PUENTE_CONFIG", "missing.toml")],
            "invalid PUENTE_CONFIG: ",
        ),
    ];
    for (env, expected) in cases {
        let mut cmd = puente(&dir);
        cmd.env_remove("PUENTE_HTTP_ADDR");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(
            lines[0].starts_with(&format!("puente: {expected}")),
            "{env:?}: {stderr}"
        );
    }
    std::fs::write(dir.join("typo.toml"), "http_adr = \"127.0.0.1:1\"\n").unwrap();
    let out = puente(&dir)
        .env("PUENTE_CONFIG", "typo.toml")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("invalid PUENTE_CONFIG") && stderr.contains("http_adr"),
        "{stderr}"
    );
    assert!(
        !dir.join("data").exists(),
        "nothing created on a bad setting"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_generate_and_rotate_from_the_command_line() {
    let dir = temp_dir("rotate");
    let generate = |id: &str| {
        let out = puente(&dir)
            .args(["keys", "generate", "--id", id])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let old = generate("old");
    let new = generate("new");
    assert!(old.starts_with("old:") && new.starts_with("new:"));

    // Data sealed under `old` (the demo integrator's secrets).
    let run = start_all({
        let mut c = puente(&dir);
        c.env("PUENTE_MASTER_KEYS", &old);
        c
    });
    assert!(run.terminate().0.success());

    let rotate = |keys: &str| {
        let out = puente(&dir)
            .args(["keys", "rotate", "--batch-size", "1"])
            .env("PUENTE_MASTER_KEYS", keys)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    // Without the old key the stored values cannot be opened: refuse, change nothing.
    let (code, text) = rotate(&new);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("rotation stopped"), "{text}");
    let (code, text) = rotate(&format!("{new},{old}"));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Rotated to key `new`: 2 values re-encrypted"),
        "{text}"
    );
    // Only the new key is needed now.
    let (code, text) = rotate(&new);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("0 values re-encrypted, 2 already current"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn all_runs_on_postgres_and_redis() {
    let dir = temp_dir("pg");
    let pg = std::env::var("PUENTE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("pt_cli_{}", std::process::id());
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .arg(&pg)
            .arg("-qc")
            .arg(sql)
            .output()
            .expect("psql (PostgreSQL client) is installed");
        assert!(
            out.status.success(),
            "PostgreSQL at {pg} must be running: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ));
    let url = format!("{pg}?options=-c%20search_path%3D{schema}");
    let mut cmd = puente(&dir);
    cmd.env("DATABASE_URL", &url)
        .env("REDIS_URL", "redis://127.0.0.1:6379")
        .env("PUENTE_REDIS_PREFIX", format!("{schema}:"));
    let run = start_all(cmd);
    let (status, ready) = get(&format!("{}/readyz", run.url));
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["queue"]["backend"], "redis");
    assert!(run.stdout_lines.iter().any(|l| l.contains("Demo login:")));
    assert!(run.terminate().0.success());
    assert!(
        !dir.join("data/puente.db").exists(),
        "no SQLite file with PostgreSQL"
    );
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn integrator_create_prints_a_working_integrator_wide_key_once() {
    let dir = temp_dir("integrator");
    let out = puente(&dir)
        .args([
            "integrator",
            "create",
            "--name",
            "Acme POS",
            "--email",
            "Ops@Acme.example",
            "--sponsor-id",
            "123456",
            "--json",
        ])
        .env("PUENTE_INTEGRATOR_PASSWORD", "correct horse battery")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = created["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("pk_test_"), "sandbox mode makes test keys");
    assert_eq!(created["email"], "ops@acme.example");

    // The key works against the running server, integrator-wide.
    let run = start_all(puente(&dir));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt.block_on(async {
        let res = reqwest::Client::new()
            .get(format!("{}/v1/api-keys", run.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json::<serde_json::Value>().await.unwrap(),
        )
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["scope"], "integrator");
    assert!(body["data"][0].get("key").is_none(), "never shown again");
    assert!(run.terminate().0.success());

    // Bad input: a clear message, nothing created.
    for (args, expected) in [
        (vec!["--email", "ops@acme.example"], "already exists"),
        (vec!["--email", "not-an-email"], "valid e-mail"),
    ] {
        let mut cmd = puente(&dir);
        cmd.args(["integrator", "create", "--name", "Other"])
            .args(&args)
            .env("PUENTE_INTEGRATOR_PASSWORD", "correct horse battery");
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = puente(&dir)
        .args([
            "integrator",
            "create",
            "--name",
            "Short",
            "--email",
            "x@y.example",
            "--password",
            "short",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_logs_carry_the_request_id_and_tenant_and_no_secret() {
    let dir = temp_dir("logs");
    let password = "correct horse battery staple";
    let out = puente(&dir)
        .args([
            "integrator",
            "create",
            "--name",
            "Logs POS",
            "--email",
            "ops@logs.example",
            "--json",
        ])
        .env("PUENTE_INTEGRATOR_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = created["api_key"].as_str().unwrap().to_owned();
    let integrator_id = created["integrator_id"].as_str().unwrap().to_owned();

    let mut cmd = puente(&dir);
    cmd.env("RUST_LOG", "info");
    let run = start_all(cmd);
    let request_id = "req-logs-test-1";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, echoed) = rt.block_on(async {
        let res = reqwest::Client::new()
            .get(format!("{}/v1/api-keys", run.url))
            .bearer_auth(&key)
            .header("x-request-id", request_id)
            .send()
            .await
            .unwrap();
        let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        (res.status().as_u16(), echoed)
    });
    assert_eq!((status, echoed.as_str()), (200, request_id));
    let (code, err) = run.terminate();
    assert!(code.success());

    // One JSON object per line; the access-log line of our request names
    // the request and the tenant through its span.
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let ours = lines
        .iter()
        .find(|l| l["span"]["request_id"] == request_id && l["fields"]["message"] == "request")
        .unwrap_or_else(|| panic!("no log line for {request_id}: {err}"));
    assert_eq!(ours["level"], "INFO");
    assert_eq!(ours["fields"]["status"], 200);
    assert_eq!(ours["span"]["integrator_id"], integrator_id.as_str());
    assert_eq!(ours["span"]["path"], "/v1/api-keys");
    assert_eq!(ours["spans"][0]["name"], "http");
    for secret in [key.as_str(), password, &key[key.len() - 12..]] {
        assert!(!err.contains(secret), "a secret reached the logs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A supervisor that stops reading stdout (a closed pipe) must not stop the
/// server: the banner is written after the listener is up, so a broken pipe
/// there used to panic `main`.
#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    let dir = temp_dir("closed-stdout");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = puente(&dir);
    cmd.env("PUENTE_HTTP_ADDR", format!("127.0.0.1:{port}"));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before puente writes its banner.
    drop(child.stdout.take());
    let err_thread = collect_stderr(&mut child);
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut healthy = false;
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "puente exited ({status:?}) after its stdout closed:\n{}",
                err_thread.join().unwrap()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && get(&url).0 == 200 {
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(healthy, "puente never answered /healthz");
    // Still serving a moment later, once the banner has hit the closed pipe.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "puente exited");
    assert_eq!(get(&url).0, 200);
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let _ = err_thread.join();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A standalone worker serves its own `/metrics` (its dispatch, delivery
/// and refresh counters live only in its process) and health checks.
#[test]
fn a_standalone_worker_serves_metrics_and_health() {
    let dir = temp_dir("worker-metrics");
    let mut child = puente(&dir)
        .arg("worker")
        .env("PUENTE_METRICS_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let err_thread = collect_stderr(&mut child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Puente metrics on ") {
                let url = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(url.trim_end_matches("/metrics").to_owned());
            }
        }
    });
    let Ok(base) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!(
            "the worker printed no metrics address:\n{}",
            err_thread.join().unwrap()
        );
    };
    let (status, health) = get(&format!("{base}/healthz"));
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = get(&format!("{base}/readyz"));
    assert_eq!(status, 200, "{ready}");
    let metrics = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
            assert_eq!(res.status().as_u16(), 200);
            res.text().await.unwrap()
        })
    };
    assert!(
        metrics.contains("puente_queue_depth"),
        "queue gauges are rendered:\n{metrics}"
    );
    // Only the operations endpoints: no API, no dashboard here.
    assert_eq!(get(&format!("{base}/v1/payment-intents")).0, 404);
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let _ = err_thread.join();
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `PUENTE_METRICS_ADDR`, `/metrics` and `/readyz` leave the public
/// listener for their own; `/healthz` answers on both.
#[test]
fn metrics_addr_moves_metrics_and_readiness_off_the_public_listener() {
    let dir = temp_dir("all-metrics");
    let mut cmd = puente(&dir);
    cmd.env("PUENTE_METRICS_ADDR", "127.0.0.1:0");
    let run = start_all(cmd);
    let ops = run
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("Puente metrics on "))
        .and_then(|r| r.split_whitespace().next())
        .expect("the metrics address is printed")
        .trim_end_matches("/metrics")
        .to_owned();
    for path in ["/metrics", "/readyz"] {
        assert_eq!(get(&format!("{}{path}", run.url)).0, 404, "public {path}");
    }
    assert_eq!(get(&format!("{}/healthz", run.url)).0, 200);
    assert_eq!(get(&format!("{ops}/readyz")).0, 200);
    assert_eq!(get(&format!("{ops}/healthz")).0, 200);
    let metrics = get_text(&format!("{ops}/metrics"));
    assert!(metrics.contains("puente_queue_depth"), "{metrics}");
    assert_eq!(get(&format!("{ops}/v1/payment-intents")).0, 404);
    let (code, _) = run.terminate();
    assert!(code.success(), "{code:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

/// A dashboard user with the live stream open (an intent page left open in
/// a browser) must not hold `puente all` for its 10 s shutdown timeout.
#[test]
fn stopping_with_an_open_dashboard_stream_is_prompt() {
    let dir = temp_dir("stream-stop");
    let run = start_all(puente(&dir));
    let demo = run
        .stdout_lines
        .iter()
        .find(|l| l.contains("Demo login:"))
        .expect("demo login printed");
    let password = demo
        .split(" / ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("demo password")
        .to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut stream = rt.block_on(async {
        // Its own client, dropped after logging in: a browser's idle
        // keep-alive connections are the server's keep-alive to close.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = http
            .get(format!("{}/app/login", run.url))
            .send()
            .await
            .unwrap();
        let csrf = set_cookie(&form, "puente_csrf");
        let res = http
            .post(format!("{}/app/login", run.url))
            .header("cookie", format!("puente_csrf={csrf}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "demo@puente.local"),
                ("password", password.as_str()),
                ("next", "/app"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "logged in");
        let session = set_cookie(&res, "puente_session");
        drop(http);
        let mut stream = reqwest::Client::new()
            .get(format!("{}/app/intents/stream", run.url))
            .header("cookie", format!("puente_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        let first = stream.chunk().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).starts_with("retry:"));
        stream
    });
    // Keep reading the stream while the process stops, like a browser does.
    let reader = std::thread::spawn(move || {
        rt.block_on(async { while let Ok(Some(_)) = stream.chunk().await {} })
    });
    let started = std::time::Instant::now();
    let (code, _) = run.terminate();
    let took = started.elapsed();
    eprintln!("puente all stopped in {took:?} with a dashboard stream open");
    assert!(code.success(), "{code:?}");
    // Loose: the point is "not the 10 s timeout"; a loaded CI box is slow.
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
    reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
