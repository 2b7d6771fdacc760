//! Runs the official SDK scenarios (sdk-tests/node with `node --test`,
//! sdk-tests/python with pytest) against a sandbox on port 0.
//! Missing SDK installs fail loudly: run scripts/setup-sdk-tests.sh.

use crate::common;
use common::*;
use mp_sandbox::SandboxConfig;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

fn sdk_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../sdk-tests")
        .join(sub)
}

/// A sandbox, a seller with an auto terminal and a manual one (each on its own POS,
/// in one store), and the env the scenarios read (sdk-tests/README.md).
async fn target() -> (Ctx, Vec<(String, String)>) {
    let c = start_with(SandboxConfig::for_tests()).await;
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "terminals": 2}),
        )
        .await
        .body;
    let manual = s["terminals"][1]["id"].as_str().unwrap().to_string();
    let r = c
        .call(
            "PATCH",
            &format!("/sandbox/terminals/{manual}"),
            None,
            Some(json!({"mode": "manual"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let app = c.sb.default_app();
    let env = vec![
        ("MP_TARGET".into(), "sandbox".into()),
        ("MP_BASE_URL".into(), c.base.clone()),
        ("MP_SANDBOX_URL".into(), c.base.clone()),
        ("MP_ACCESS_TOKEN".into(), tok(&s)),
        ("MP_TERMINAL_ID".into(), terminal(&s)),
        ("MP_MANUAL_TERMINAL_ID".into(), manual),
        ("MP_USER_ID".into(), s["user_id"].to_string()),
        (
            "MP_STORE_EXTERNAL_ID".into(),
            s["pos"][0]["external_store_id"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
        (
            "MP_POS_EXTERNAL_ID".into(),
            s["pos"][0]["external_id"].as_str().unwrap().to_string(),
        ),
        ("MP_CLIENT_ID".into(), app.client_id),
        ("MP_WEBHOOK_SECRET".into(), app.webhook_secret),
    ];
    (c, env)
}

/// A child process with no `MP_*` variable from this process's environment:
/// only what the driver sets.
fn command(program: &str, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MP_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs a child process off the async runtime (the sandbox keeps serving meanwhile).
async fn run(mut cmd: Command, what: &str) {
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap();
    let out =
        out.unwrap_or_else(|e| panic!("cannot run {what}: {e}. Run scripts/setup-sdk-tests.sh"));
    let text = format!(
        "--- {what} stdout ---\n{}\n--- {what} stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed\n{text}");
    println!("{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_scenarios() {
    let dir = sdk_dir("node");
    assert!(
        dir.join("node_modules/mercadopago/package.json").exists(),
        "npm mercadopago is not installed in sdk-tests/node: run scripts/setup-sdk-tests.sh"
    );
    let (c, env) = target().await;
    let mut cmd = command("node", &dir);
    cmd.args(["--test", "--test-concurrency=1", "test/"])
        .envs(env);
    run(cmd, "node --test").await;
    c.sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_scenarios() {
    let dir = sdk_dir("python");
    let check = Command::new("python3")
        .args(["-c", "import mercadopago, pytest"])
        .output();
    assert!(
        check.as_ref().is_ok_and(|o| o.status.success()),
        "PyPI mercadopago / pytest are not installed: run scripts/setup-sdk-tests.sh"
    );
    let (c, env) = target().await;
    let mut cmd = command("python3", &dir);
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        // Only pytest itself: plugins installed for other tools stay out.
        .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        .envs(env);
    run(cmd, "pytest").await;
    c.sb.stop().await;
}
