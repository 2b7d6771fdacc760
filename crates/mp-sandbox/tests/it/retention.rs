//! Retention: finished work leaves memory after the window (or beyond the
//! count cap), unfinished work never does, and `/sandbox/stats` shows it.

use crate::common;
use common::*;
use mp_sandbox::{Retention, SandboxConfig};
use serde_json::{Value, json};
use std::time::Duration;

fn order_body(terminal: &str, n: usize) -> Value {
    json!({"type": "point", "external_reference": format!("ret_{n}"),
           "transactions": {"payments": [{"amount": "24.00"}]},
           "config": {"point": {"terminal_id": terminal}}})
}

async fn create(c: &Ctx, token: &str, terminal: &str, n: usize) -> String {
    let key = format!("ret-{n}");
    let r = c
        .call(
            "POST",
            "/v1/orders",
            Some(token),
            Some(order_body(terminal, n)),
            &[("x-idempotency-key", &key)],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn stats(c: &Ctx) -> Value {
    let r = c.get("/sandbox/stats?check=1", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["check"], "ok", "indexes agree with the records");
    r.body
}

fn count(s: &Value, what: &str) -> u64 {
    s["counts"][what].as_u64().unwrap()
}

/// Creates one order per terminal and waits until every one of them is processed.
async fn round(c: &Ctx, token: &str, terminals: &[String], first: usize) -> Vec<String> {
    let mut ids = vec![];
    for (i, t) in terminals.iter().enumerate() {
        ids.push(create(c, token, t, first + i).await);
    }
    for id in &ids {
        wait_for("processed", || async {
            let r = c.get(&format!("/v1/orders/{id}"), Some(token)).await;
            (r.body["status"] == "processed").then_some(())
        })
        .await;
    }
    ids
}

#[tokio::test]
async fn finished_orders_go_after_the_window_and_unfinished_work_stays() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.retention = Retention {
        window: Duration::from_secs(60),
        max_finished: 100_000,
    };
    let c = start_with(cfg).await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let seller = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "terminals": 10, "client_id": app["client_id"]}),
        )
        .await
        .body;
    let token = tok(&seller);
    let terminals: Vec<String> = seller["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();

    // Unfinished: an order waiting on a manual terminal, and a processed order
    // whose notification its receiver keeps refusing (still being delivered).
    let manual = c.manual_seller("MLB").await;
    let waiting = create(&c, &tok(&manual), &terminal(&manual), 0).await;
    let refusing = Receiver::start().await;
    refusing.set_status(500);
    let app2 = c.app_with_webhook(&refusing.url).await;
    let s2 = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "client_id": app2["client_id"]}),
        )
        .await
        .body;
    let undelivered = round(&c, &tok(&s2), &[terminal(&s2)], 1).await.remove(0);
    refusing.wait_count(1).await;

    // Ten rounds of ten orders, the clock moving past the window after each.
    let mut first_round = vec![];
    let mut peak = 0;
    for r in 0..10 {
        let ids = round(&c, &token, &terminals, 100 + r * 10).await;
        if r == 0 {
            first_round = ids;
        }
        rx.wait_count((r + 1) * 10).await;
        let s = stats(&c).await;
        peak = peak.max(count(&s, "orders"));
        c.sb.clock().advance(Duration::from_secs(61));
    }
    let s = stats(&c).await;
    // Only the two unfinished orders survive a window with no new work.
    assert_eq!(count(&s, "orders"), 2, "{s}");
    assert!(peak <= 12, "at most one round plus the unfinished: {peak}");
    assert_eq!(s["evicted"]["orders"], 100);
    assert_eq!(
        count(&s, "charges"),
        1,
        "the undelivered order's charge stays"
    );
    assert_eq!(count(&s, "payments"), 1);
    assert_eq!(s["unfinished"]["orders"], 1);
    assert_eq!(s["unfinished"]["notifications"], 1);

    // An evicted order reads as an unknown one.
    let gone = &first_round[0];
    let r = c.get(&format!("/v1/orders/{gone}"), Some(&token)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["errors"][0]["code"], "order_not_found");
    let charges = c.get("/sandbox/charges", None).await.body;
    assert_eq!(charges["charges"].as_array().unwrap().len(), 1);
    assert!(c.notifications(&format!("data_id={gone}")).await.is_empty());
    // Its idempotency key went with it: the same request makes a new order.
    let again = create(&c, &token, &terminals[0], 100).await;
    assert_ne!(&again, gone);

    // Unfinished work is all still there.
    let r = c
        .get(&format!("/v1/orders/{waiting}"), Some(&tok(&manual)))
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("created"))
    );
    let r = c
        .get(&format!("/v1/orders/{undelivered}"), Some(&tok(&s2)))
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("processed"))
    );
    let n = c.notifications(&format!("data_id={undelivered}")).await;
    assert_eq!(n[0]["status"], "pending");

    // Once its notification is delivered the order gets a window of its own.
    refusing.set_status(200);
    c.sb.clock().advance(Duration::from_secs(15 * 60));
    wait_for("delivered", || async {
        let n = c.notifications(&format!("data_id={undelivered}")).await;
        (n[0]["status"] == "delivered").then_some(())
    })
    .await;
    c.sb.clock().advance(Duration::from_secs(30));
    let r = c
        .get(&format!("/v1/orders/{undelivered}"), Some(&tok(&s2)))
        .await;
    assert_eq!(r.status, 200, "inside its new window");
    c.sb.clock().advance(Duration::from_secs(31));
    let r = c
        .get(&format!("/v1/orders/{undelivered}"), Some(&tok(&s2)))
        .await;
    assert_eq!(r.status, 404);
    assert!(
        c.notifications(&format!("data_id={undelivered}"))
            .await
            .is_empty()
    );
    let s = stats(&c).await;
    assert_eq!(s["unfinished"]["notifications"], 0);
    rx.stop().await;
    refusing.stop().await;
}

#[tokio::test]
async fn the_count_cap_bounds_finished_work_inside_the_window() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.retention = Retention {
        window: Duration::from_secs(3600),
        max_finished: 15,
    };
    let c = start_with(cfg).await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let seller = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "terminals": 10, "client_id": app["client_id"]}),
        )
        .await
        .body;
    let token = tok(&seller);
    let terminals: Vec<String> = seller["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let mut all = vec![];
    for r in 0..20 {
        all.extend(round(&c, &token, &terminals, r * 10).await);
        rx.wait_count((r + 1) * 10).await;
        // Eviction runs on the ticker: wait until the cap holds.
        let s = wait_for("the cap to hold", || async {
            let s = stats(&c).await;
            (count(&s, "orders") <= 15 && count(&s, "notifications") <= 15).then_some(s)
        })
        .await;
        assert!(
            count(&s, "charges") <= 15 && count(&s, "payments") <= 15,
            "{s}"
        );
        assert!(count(&s, "idempotency_keys") <= 15, "{s}");
    }
    let s = stats(&c).await;
    assert_eq!(
        s["evicted"]["orders"].as_u64().unwrap(),
        200 - count(&s, "orders")
    );
    // The newest are kept, the oldest went.
    let r = c
        .get(&format!("/v1/orders/{}", all[199]), Some(&token))
        .await;
    assert_eq!(r.status, 200);
    let r = c.get(&format!("/v1/orders/{}", all[0]), Some(&token)).await;
    assert_eq!(r.status, 404);
    rx.stop().await;
}

#[tokio::test]
async fn intents_payments_and_dead_credentials_are_evicted_too() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.retention = Retention {
        window: Duration::from_secs(60),
        max_finished: 1_000,
    };
    let c = start_with(cfg).await;
    let s = c.seller("MLB", 1).await;
    let (t, dev) = (tok(&s), terminal(&s));
    let r = c
        .post(
            &format!("/point/integration-api/devices/{dev}/payment-intents"),
            Some(&t),
            json!({"amount": 1500, "additional_info": {"external_reference": "ret_legacy"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let payment = wait_for("finished", || async {
        let r = c
            .get(
                &format!("/point/integration-api/payment-intents/{id}"),
                Some(&t),
            )
            .await;
        (r.body["state"] == "FINISHED").then(|| r.body["payment"]["id"].as_u64().unwrap())
    })
    .await;
    let r = c.get(&format!("/v1/payments/{payment}"), Some(&t)).await;
    assert_eq!(r.status, 200);

    // A second seller whose tokens are revoked: dead credentials.
    let other = c.seller("MLB", 1).await;
    let uid = other["user_id"].as_u64().unwrap();
    let r = c
        .post(&format!("/sandbox/sellers/{uid}/revoke"), None, json!({}))
        .await;
    assert_eq!(r.body["revoked"], 1);
    let before = stats(&c).await;

    c.sb.clock().advance(Duration::from_secs(61));
    let after = stats(&c).await;
    assert_eq!(count(&after, "intents"), 0, "{after}");
    assert_eq!(count(&after, "payments"), 0);
    assert_eq!(count(&after, "charges"), 0);
    assert_eq!(
        count(&after, "access_tokens"),
        count(&before, "access_tokens") - 1
    );
    assert_eq!(
        count(&after, "refresh_tokens"),
        count(&before, "refresh_tokens") - 1
    );
    assert_eq!(after["evicted"]["intents"], 1);
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c.get(&format!("/v1/payments/{payment}"), Some(&t)).await;
    assert_eq!(r.status, 404);
    // The live token still works; the revoked one is unknown, as before.
    let r = c.get("/users/me", Some(&t)).await;
    assert_eq!(r.status, 200);
    let r = c.get("/users/me", Some(&tok(&other))).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_key_reused_after_its_24_hours_stays_with_its_new_order() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.retention = Retention {
        window: Duration::from_secs(48 * 3600),
        max_finished: 1_000,
    };
    let c = start_with(cfg).await;
    let s = c.seller("MLB", 1).await;
    let (t, term) = (tok(&s), terminal(&s));
    let first = round(&c, &t, std::slice::from_ref(&term), 7)
        .await
        .remove(0);
    // After 24 hours the key is free again: the same request makes a second order.
    c.sb.clock().advance(Duration::from_secs(25 * 3600));
    let second = round(&c, &t, std::slice::from_ref(&term), 7)
        .await
        .remove(0);
    assert_ne!(first, second);
    // The first order leaves; the key stays with the second, which it replays.
    c.sb.clock().advance(Duration::from_secs(24 * 3600));
    let r = c.get(&format!("/v1/orders/{first}"), Some(&t)).await;
    assert_eq!(r.status, 404);
    let replay = create(&c, &t, &term, 7).await;
    assert_eq!(replay, second);
    assert_eq!(count(&stats(&c).await, "orders"), 1);
}
