//! Puente's Mercado Pago-compatible API end to end: the sandbox as Mercado
//! Pago, Puente web + worker, a linked sandbox seller with an auto terminal
//! and a manual one. Orders are dispatched, processed, refunded and
//! canceled through the real chain; then the official SDKs' scenarios
//! (sdk-tests/node with `node --test`, sdk-tests/python with pytest) run
//! against Puente with only the base URL and the token changed, and what
//! Puente refuses on purpose is checked to be documented. Missing SDK
//! installs fail loudly: run scripts/setup-sdk-tests.sh.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Env, QueueKind, link_seller, setup, setup_in_sandbox_mode};
use platform_core::api_keys::{self, NewApiKey};
use platform_core::audit::Actor;
use platform_core::on_both_databases;
use platform_core::registry;
use platform_core::states::{KeyAccess, KeyMode, ScopeKind, UpstreamApi};
use platform_core::tenancy::Scope;
use platform_core::testing::TestDb;
use serde_json::{Value, json};

/// A second sandbox seller whose terminal waits for "charge" (cancel
/// scenarios), linked to the same integrator. Returns its device id.
async fn manual_terminal(env: &Env, db: &platform_core::db::Db) -> String {
    let base = env.sandbox.base_url();
    let seller: Value = env
        .http
        .post(format!("{base}/sandbox/sellers"))
        .json(&json!({"site_id": "MLB", "terminals": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device = seller["terminals"][0]["id"].as_str().unwrap().to_owned();
    let res = env
        .http
        .patch(format!("{base}/sandbox/terminals/{device}"))
        .json(&json!({"mode": "manual"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    link_seller(db, &env.keyring, &env.integrator_id, &seller).await;
    device
}

async fn call(
    env: &Env,
    method: &str,
    path: &str,
    idem: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = env
        .http
        .request(method.parse().unwrap(), format!("{}{path}", env.url))
        .bearer_auth(&env.key);
    if let Some(k) = idem {
        r = r.header("X-Idempotency-Key", k);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap();
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

async fn order_until(env: &Env, id: &str, status: &str) -> Value {
    for _ in 0..200 {
        let (_, o) = call(env, "GET", &format!("/v1/orders/{id}"), None, None).await;
        if o["status"] == status {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {id} never became {status}");
}

fn order_body(device: &str, amount: &str) -> Value {
    json!({"type": "point", "external_reference": "chain_1",
           "transactions": {"payments": [{"amount": amount}]},
           "config": {"point": {"terminal_id": device}},
           "integration_data": {"sponsor": {"id": "446566691"}}})
}

async fn orders_through_the_chain(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let manual = manual_terminal(&env, &t.db).await;

    // Created at once with a stable id; processed upstream; same id throughout.
    let (st, o) = call(
        &env,
        "POST",
        "/v1/orders",
        Some("c1"),
        Some(order_body(&env.device_id, "30.00")),
    )
    .await;
    assert_eq!(st, 201, "{o}");
    let id = o["id"].as_str().unwrap().to_owned();
    let done = order_until(&env, &id, "processed").await;
    assert_eq!(done["id"], id.as_str());
    assert_eq!(
        done["transactions"]["payments"][0]["status_detail"],
        "accredited"
    );
    assert_eq!(done["integration_data"]["sponsor"]["id"], "999000");
    // Upstream got one charge, with the integrator's sponsor.
    let pi = format!("pi_{}", id[3..].to_ascii_lowercase());
    let native = env.wait_final(&pi).await;
    assert_eq!(native["status"], "processed");
    let upstream_id = native["upstream"]["id"].as_str().unwrap().to_owned();
    assert_eq!(env.charges(&pi).await.len(), 1);
    // The upstream order id finds the same order.
    let (st, same) = call(
        &env,
        "GET",
        &format!("/v1/orders/{upstream_id}"),
        None,
        None,
    )
    .await;
    assert_eq!((st, same["id"].as_str()), (200, Some(id.as_str())));

    // Partial, then total refund, through platform_core::refunds and the worker.
    let pay = done["transactions"]["payments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, p) = call(
        &env,
        "POST",
        &format!("/v1/orders/{id}/refund"),
        Some("r1"),
        Some(json!({"transactions": [{"id": pay, "amount": "10.00"}]})),
    )
    .await;
    assert_eq!(st, 201, "{p}");
    assert_eq!(
        (p["status"].as_str(), p["status_detail"].as_str()),
        (Some("processed"), Some("partially_refunded"))
    );
    assert_eq!(p["transactions"]["refunds"][0]["status"], "processed");
    let (st, f) = call(
        &env,
        "POST",
        &format!("/v1/orders/{id}/refund"),
        Some("r2"),
        None,
    )
    .await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(f["status"], "refunded");
    assert_eq!(f["transactions"]["refunds"].as_array().unwrap().len(), 2);
    let (st, b) = call(
        &env,
        "POST",
        &format!("/v1/orders/{id}/refund"),
        Some("r3"),
        None,
    )
    .await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (409, Some("order_already_refunded"))
    );

    // Cancel of an order already at Mercado Pago (manual terminal): the worker cancels it.
    let (st, o) = call(
        &env,
        "POST",
        "/v1/orders",
        Some("c2"),
        Some(order_body(&manual, "15.00")),
    )
    .await;
    assert_eq!(st, 201, "{o}");
    let id2 = o["id"].as_str().unwrap().to_owned();
    let pi2 = format!("pi_{}", id2[3..].to_ascii_lowercase());
    for _ in 0..200 {
        let (_, n) = call(
            &env,
            "GET",
            &format!("/v1/payment-intents/{pi2}"),
            None,
            None,
        )
        .await;
        if n["status"] != "queued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (st, c) = call(
        &env,
        "POST",
        &format!("/v1/orders/{id2}/cancel"),
        Some("k1"),
        None,
    )
    .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["status"], "canceled");
    let (st, b) = call(
        &env,
        "POST",
        &format!("/v1/orders/{id2}/cancel"),
        Some("k2"),
        None,
    )
    .await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (409, Some("order_already_canceled"))
    );

    // Operating mode, forwarded to Mercado Pago by both APIs.
    let (st, s) = call(
        &env,
        "PATCH",
        "/terminals/v1/setup",
        None,
        Some(json!({"terminals": [{"id": env.device_id, "operating_mode": "PDV"}]})),
    )
    .await;
    assert_eq!(st, 200, "{s}");
    assert_eq!(
        s["terminals"][0],
        json!({"id": env.device_id, "operating_mode": "PDV"})
    );
    let (st, m) = call(
        &env,
        "PATCH",
        &format!("/point/integration-api/devices/{manual}"),
        None,
        Some(json!({"operating_mode": "STANDALONE"})),
    )
    .await;
    assert_eq!(
        (st, m["operating_mode"].as_str()),
        (200, Some("STANDALONE")),
        "{m}"
    );
    let (_, l) = call(&env, "GET", "/terminals/v1/list", None, None).await;
    let modes: Vec<(&str, &str)> = l["data"]["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap(),
                t["operating_mode"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        modes.contains(&(manual.as_str(), "STANDALONE")),
        "{modes:?}"
    );
    // A STANDALONE terminal cannot take orders.
    let (st, b) = call(
        &env,
        "POST",
        "/v1/orders",
        Some("c3"),
        Some(order_body(&manual, "15.00")),
    )
    .await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (409, Some("terminal_not_integrated")),
        "{b}"
    );
    env.shutdown().await;
}

/// Issue 13: the Payments API for terminal payments Puente knows (an
/// Orders API payment under its `reference_id`), refunds through it, and
/// Orders refunds when the integrator's upstream is the legacy API (sent
/// through the payment, `/v1/payments/{id}/refunds`).
async fn payments_and_legacy_upstream_refunds(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;

    // An Orders API order, processed: its payment is a Payments API payment.
    let (st, o) = call(
        &env,
        "POST",
        "/v1/orders",
        Some("p1"),
        Some(order_body(&env.device_id, "40.00")),
    )
    .await;
    assert_eq!(st, 201, "{o}");
    let id = o["id"].as_str().unwrap().to_owned();
    order_until(&env, &id, "processed").await;
    let mut reference = None;
    for _ in 0..200 {
        let (_, g) = call(&env, "GET", &format!("/v1/orders/{id}"), None, None).await;
        if let Some(r) = g["transactions"]["payments"][0]["reference_id"].as_str() {
            reference = Some(r.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let payment = reference.expect("the order's payment reference");
    let (st, p) = call(&env, "GET", &format!("/v1/payments/{payment}"), None, None).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["id"].to_string(), payment);
    assert_eq!(p["status"], "approved", "{p}");
    // A partial refund through the Payments API: Puente's refund, Mercado Pago's answer.
    let (st, r) = call(
        &env,
        "POST",
        &format!("/v1/payments/{payment}/refunds"),
        Some("pr1"),
        Some(json!({"amount": 15.5})),
    )
    .await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(
        (r["status"].as_str(), r["amount"].as_f64()),
        (Some("approved"), Some(15.5)),
        "{r}"
    );
    let (st, again) = call(
        &env,
        "POST",
        &format!("/v1/payments/{payment}/refunds"),
        Some("pr1"),
        Some(json!({"amount": 15.5})),
    )
    .await;
    assert_eq!(
        (st, again["id"].clone()),
        (201, r["id"].clone()),
        "replayed, not refunded twice"
    );
    let (_, g) = call(&env, "GET", &format!("/v1/orders/{id}"), None, None).await;
    assert_eq!(g["status_detail"], "partially_refunded", "{g}");
    assert_eq!(g["transactions"]["refunds"].as_array().unwrap().len(), 1);
    let (st, list) = call(
        &env,
        "GET",
        &format!("/v1/payments/{payment}/refunds"),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let (st, one) = call(
        &env,
        "GET",
        &format!("/v1/payments/{payment}/refunds/{}", r["id"]),
        None,
        None,
    )
    .await;
    assert_eq!((st, one["amount"].as_f64()), (200, Some(15.5)), "{one}");
    let (st, b) = call(
        &env,
        "POST",
        &format!("/v1/payments/{payment}/refunds"),
        Some("pr2"),
        Some(json!({"amount": 100})),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (400, Some("bad_request")), "{b}");

    // The legacy upstream: an Orders API order is a legacy intent at Mercado
    // Pago, and its refund goes through the payment.
    env.use_legacy_upstream().await;
    let (st, o) = call(
        &env,
        "POST",
        "/v1/orders",
        Some("l1"),
        Some(order_body(&env.device_id, "20.00")),
    )
    .await;
    assert_eq!(st, 201, "{o}");
    let id = o["id"].as_str().unwrap().to_owned();
    let done = order_until(&env, &id, "processed").await;
    let legacy_payment = done["transactions"]["payments"][0]["reference_id"]
        .as_str()
        .expect("the legacy payment id")
        .to_owned();
    let pay = done["transactions"]["payments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, p) = call(
        &env,
        "POST",
        &format!("/v1/orders/{id}/refund"),
        Some("lr1"),
        Some(json!({"transactions": [{"id": pay, "amount": "5.00"}]})),
    )
    .await;
    assert_eq!(st, 201, "{p}");
    assert_eq!(p["status_detail"], "partially_refunded", "{p}");
    let (st, f) = call(
        &env,
        "POST",
        &format!("/v1/orders/{id}/refund"),
        Some("lr2"),
        None,
    )
    .await;
    assert_eq!((st, f["status"].as_str()), (201, Some("refunded")), "{f}");
    let (st, p) = call(
        &env,
        "GET",
        &format!("/v1/payments/{legacy_payment}"),
        None,
        None,
    )
    .await;
    assert_eq!((st, p["status"].as_str()), (200, Some("refunded")), "{p}");
    env.shutdown().await;
}

/// A QR order made through the compatible surface, paid by a buyer at
/// Mercado Pago: the payment is recorded on it (by the verified `payment`
/// notification, re-read, or by the first read of the payment if that comes
/// first), the order is paid, and the Payments API finds the payment and
/// refunds it at Mercado Pago, idempotently and audited.
async fn qr_order_paid_and_its_payment(t: &TestDb) {
    use platform_core::audit::Actor;
    use platform_core::states::UpstreamApi;
    use platform_core::tenancy::Scope;
    let env = setup(t, QueueKind::Memory).await;
    let scope = Scope::integrator(env.integrator_id.clone());
    platform_core::registry::sync_seller(
        &env.ctx.db,
        &env.keyring,
        &env.ctx.mp,
        &scope,
        &env.seller_id,
        UpstreamApi::Orders,
        &Actor::system(),
    )
    .await
    .unwrap();
    let user = env.seller["user_id"].as_i64().unwrap();
    let pos = env.seller["pos"][0]["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/instore/qr/seller/collectors/{user}/pos/{pos}/orders");
    let body = json!({"external_reference": "qr_paid_1", "title": "Mesa 1", "total_amount": 12.5,
                      "items": [{"title": "Pizza", "unit_price": 12.5, "quantity": 1, "unit_measure": "unit", "total_amount": 12.5}],
                      "sponsor": {"id": 1}});
    let (st, b) = call(&env, "PUT", &path, None, Some(body)).await;
    assert_eq!(st, 204, "{b}");
    let paid: Value = env
        .http
        .post(format!("{}/sandbox/qr/pay", env.sandbox.base_url()))
        .json(&json!({"user_id": user, "external_pos_id": pos}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payment = paid["payment_id"].to_string();
    assert_eq!(paid["status"], "approved", "{paid}");
    let mut found = None;
    for _ in 0..200 {
        let (st, p) = call(&env, "GET", &format!("/v1/payments/{payment}"), None, None).await;
        if st == 200 {
            found = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p = found.expect("the QR payment is found");
    assert_eq!(p["external_reference"], "qr_paid_1", "{p}");
    assert_eq!(
        p["sponsor_id"].to_string(),
        "999000",
        "the integrator's sponsor: {p}"
    );
    let (st, _) = call(&env, "GET", &path, None, None).await;
    assert_eq!(st, 404, "paid: no order waits on the POS");
    let (st, r) = call(
        &env,
        "POST",
        &format!("/v1/payments/{payment}/refunds"),
        Some("qr-r1"),
        Some(json!({"amount": 2.5})),
    )
    .await;
    assert_eq!((st, r["amount"].as_f64()), (201, Some(2.5)), "{r}");
    let (st, again) = call(
        &env,
        "POST",
        &format!("/v1/payments/{payment}/refunds"),
        Some("qr-r1"),
        Some(json!({"amount": 2.5})),
    )
    .await;
    assert_eq!(
        (st, &again["id"]),
        (201, &r["id"]),
        "replayed, not refunded twice"
    );
    let (st, rest) = call(
        &env,
        "POST",
        &format!("/v1/payments/{payment}/refunds"),
        Some("qr-r2"),
        Some(json!({})),
    )
    .await;
    assert_eq!((st, rest["amount"].as_f64()), (201, Some(10.0)), "{rest}");
    let (_, p) = call(&env, "GET", &format!("/v1/payments/{payment}"), None, None).await;
    assert_eq!(
        (
            p["status"].as_str(),
            p["transaction_amount_refunded"].as_f64()
        ),
        (Some("refunded"), Some(12.5)),
        "{p}"
    );
    let (st, b) = call(
        &env,
        "POST",
        &format!("/v1/payments/{payment}/refunds"),
        Some("qr-r3"),
        Some(json!({})),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (400, Some("bad_request")), "{b}");
    // Audited as the API key's action, with the payment.
    let scope = Scope::integrator(env.integrator_id.clone());
    let log = platform_core::audit::list(
        &env.ctx.db,
        &scope,
        Some("qr_payment."),
        None,
        &platform_core::paging::PageRequest::first(50),
    )
    .await
    .unwrap();
    assert_eq!(log.items.len(), 2, "{:?}", log.items);
    assert!(
        log.items
            .iter()
            .all(|e| e.detail.as_deref().unwrap_or("").contains(&payment)),
        "{:?}",
        log.items
    );
    env.shutdown().await;
}

fn sdk_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../sdk-tests")
        .join(sub)
}

/// The scenarios' environment, pointing the SDKs at Puente (sdk-tests/README.md):
/// an integrator-wide key for Point/Orders/Terminals, a key scoped to the seller for
/// its account (users, stores, POS, QR, payments), the seller's store and POS
/// mirrored into Puente as a registry sync does, and the sandbox behind Puente for
/// the `/sandbox` helpers (a buyer paying a QR, the notifications Puente received).
/// Puente runs in sandbox mode, as `puente all` (or web + worker + `puente
/// sandbox`) does: the SDKs' test-user call is served only there.
async fn target(t: &TestDb) -> (Env, Vec<(String, String)>) {
    let env = setup_in_sandbox_mode(t, QueueKind::Memory).await;
    let manual = manual_terminal(&env, &t.db).await;
    let scope = Scope::integrator(env.integrator_id.clone());
    let synced = registry::sync_seller(
        &env.ctx.db,
        &env.keyring,
        &env.ctx.mp,
        &scope,
        &env.seller_id,
        UpstreamApi::Orders,
        &Actor::system(),
    )
    .await;
    assert!(synced.is_ok(), "{synced:?}");
    let (_, seller_key) = api_keys::create(
        &t.db,
        &scope,
        NewApiKey {
            name: "seller pos".into(),
            scope_kind: ScopeKind::Seller,
            target_id: Some(env.seller_id.to_string()),
            expires_at: None,
            mode: KeyMode::Test,
            access: KeyAccess::Full,
        },
        None,
        None,
    )
    .await
    .unwrap();
    let webhook_secret = env.sandbox.default_app().webhook_secret;
    let pos = &env.seller["pos"][0];
    let vars = vec![
        ("MP_TARGET".into(), "puente".into()),
        ("MP_BASE_URL".into(), env.url.clone()),
        ("MP_ACCESS_TOKEN".into(), env.key.clone()),
        (
            "MP_SELLER_ACCESS_TOKEN".into(),
            seller_key.expose_secret().clone(),
        ),
        ("MP_USER_ID".into(), env.seller["user_id"].to_string()),
        ("MP_TERMINAL_ID".into(), env.device_id.clone()),
        ("MP_MANUAL_TERMINAL_ID".into(), manual),
        (
            "MP_STORE_EXTERNAL_ID".into(),
            pos["external_store_id"].as_str().unwrap().to_owned(),
        ),
        (
            "MP_POS_EXTERNAL_ID".into(),
            pos["external_id"].as_str().unwrap().to_owned(),
        ),
        ("MP_EXPECTED_SPONSOR_ID".into(), "999000".into()),
        ("MP_SANDBOX_URL".into(), env.sandbox.base_url()),
        ("MP_WEBHOOK_SECRET".into(), webhook_secret),
    ];
    (env, vars)
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

async fn node_sdk_against_puente(t: &TestDb) {
    let dir = sdk_dir("node");
    assert!(
        dir.join("node_modules/mercadopago/package.json").exists(),
        "npm mercadopago is not installed in sdk-tests/node: run scripts/setup-sdk-tests.sh"
    );
    let (env, vars) = target(t).await;
    let mut cmd = command("node", &dir);
    cmd.args(["--test", "--test-concurrency=1", "test/"])
        .envs(vars);
    run(cmd, "node --test").await;
    env.shutdown().await;
}

async fn python_sdk_against_puente(t: &TestDb) {
    let dir = sdk_dir("python");
    let check = Command::new("python3")
        .args(["-c", "import mercadopago, pytest"])
        .output();
    assert!(
        check.as_ref().is_ok_and(|o| o.status.success()),
        "PyPI mercadopago / pytest are not installed: run scripts/setup-sdk-tests.sh"
    );
    let (env, vars) = target(t).await;
    let mut cmd = command("python3", &dir);
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        // Only pytest itself: plugins installed for other tools stay out.
        .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        .envs(vars);
    run(cmd, "pytest").await;
    env.shutdown().await;
}

/// Every call the scenarios expect Puente to refuse on purpose
/// (sdk-tests/refusals.json, column `puente`) is a documented difference:
/// its `doc` text appears in docs/mp-compat.md.
#[test]
fn puente_refusals_are_documented_in_mp_compat() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let refusals: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("sdk-tests/refusals.json")).unwrap(),
    )
    .unwrap();
    let doc = std::fs::read_to_string(root.join("docs/mp-compat.md")).unwrap();
    let missing: Vec<String> = refusals["calls"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| !c["puente"].is_null())
        .filter(|(_, c)| !doc.contains(c["doc"].as_str().unwrap()))
        .map(|(name, c)| format!("{name} ({}): {}", c["http"], c["reason"]))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/mp-compat.md does not document these deliberate differences:\n{}",
        missing.join("\n")
    );
}

on_both_databases!(
    orders_through_the_chain,
    payments_and_legacy_upstream_refunds,
    qr_order_paid_and_its_payment,
    node_sdk_against_puente,
    python_sdk_against_puente
);
