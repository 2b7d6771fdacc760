//! Runs the official SDK scenarios (sdk-tests/node with `node --test`,
//! sdk-tests/python with pytest) against a sandbox on port 0.
//! Missing SDK installs fail loudly: run scripts/setup-sdk-tests.sh.

use crate::common;
use common::*;
use mp_sandbox::SandboxConfig;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

fn sdk_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../sdk-tests")
        .join(sub)
}

/// A sandbox, a seller with an auto terminal and a manual one, and the env the scenarios read.
async fn target() -> (Ctx, Vec<(String, String)>) {
    let mut cfg = SandboxConfig::for_tests();
    cfg.default_app.redirect_uris = vec![REDIRECT.to_string()];
    let c = start_with(cfg).await;
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
        ("MP_BASE_URL".into(), c.base.clone()),
        ("MP_SANDBOX_URL".into(), c.base.clone()),
        ("MP_ACCESS_TOKEN".into(), tok(&s)),
        (
            "MP_REFRESH_TOKEN".into(),
            s["refresh_token"].as_str().unwrap().to_string(),
        ),
        ("MP_TERMINAL_ID".into(), terminal(&s)),
        ("MP_MANUAL_TERMINAL_ID".into(), manual),
        ("MP_CLIENT_ID".into(), app.client_id),
        ("MP_CLIENT_SECRET".into(), app.client_secret),
        ("MP_WEBHOOK_SECRET".into(), app.webhook_secret),
        ("MP_REDIRECT_URI".into(), REDIRECT.into()),
    ];
    (c, env)
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
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .args(["--test", "--test-concurrency=1", "test/"])
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
    let mut cmd = Command::new("python3");
    cmd.current_dir(&dir)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .envs(env);
    run(cmd, "pytest").await;
    c.sb.stop().await;
}
