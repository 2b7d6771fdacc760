//! /sandbox helpers, fault injection, notification retries and the HTML console.

use crate::common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn unknown_routes_and_bad_input_are_json_errors() {
    let c = start().await;
    let r = c.get("/nope/nothing", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "not_found");
    let s = c.seller("MLB", 1).await;
    let t = tok(&s);
    let r = c
        .http
        .post(c.url("/v1/orders/ORD01JQ4S4KY8HWQ6NA5PXB65B3D3/events"))
        .bearer_auth(&t)
        .body(vec![0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .http
        .patch(c.url("/terminals/v1/setup"))
        .bearer_auth(&t)
        .body("[1,2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post("/sandbox/sellers", None, json!({"site_id": "ZZZ"}))
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post("/sandbox/clock/advance", None, json!({"seconds": -1}))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn faults_errors_retry_after_latency_and_clearing() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let t = tok(&s);
    let r = c
        .post(
            "/sandbox/faults",
            None,
            json!({"path_prefix": "/users/me", "error_status": 429, "retry_after": 7, "count": 1}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = c.get("/users/me", Some(&t)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "7");
    assert_eq!(r.body["error"], "local_rate_limited");
    assert_eq!(
        c.get("/users/me", Some(&t)).await.status,
        200,
        "count=1 used up"
    );
    for code in [500, 502, 503] {
        c.post(
            "/sandbox/faults",
            None,
            json!({"path_prefix": "/users/me", "method": "GET", "error_status": code, "count": 1}),
        )
        .await;
        assert_eq!(c.get("/users/me", Some(&t)).await.status, code);
    }
    c.post(
        "/sandbox/faults",
        None,
        json!({"path_prefix": "/terminals", "error_rate": 1.0, "error_status": 503}),
    )
    .await;
    assert_eq!(c.get("/terminals/v1/list", Some(&t)).await.status, 503);
    assert_eq!(
        c.get("/sandbox/faults", None).await.body["faults"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        c.call("DELETE", "/sandbox/faults", None, None, &[])
            .await
            .status,
        200
    );
    assert_eq!(c.get("/terminals/v1/list", Some(&t)).await.status, 200);
    // Hang: the client's own timeout fires.
    c.post(
        "/sandbox/faults",
        None,
        json!({"path_prefix": "/users/me", "hang": true, "count": 1}),
    )
    .await;
    let r = c
        .http
        .get(c.url("/users/me"))
        .bearer_auth(&t)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    assert_eq!(c.get("/users/me", Some(&t)).await.status, 200);
    // Latency still answers.
    let f = c
        .post(
            "/sandbox/faults",
            None,
            json!({"path_prefix": "/users/me", "latency_ms": 50}),
        )
        .await;
    assert_eq!(c.get("/users/me", Some(&t)).await.status, 200);
    let id = f.body["id"].as_u64().unwrap();
    assert_eq!(
        c.call("DELETE", &format!("/sandbox/faults/{id}"), None, None, &[])
            .await
            .body["removed"],
        1
    );
}

async fn order_on(c: &Ctx, s: &serde_json::Value, key: &str) -> String {
    let body = json!({"type": "point", "external_reference": key, "transactions": {"payments": [{"amount": "10.00"}]},
                      "config": {"point": {"terminal_id": terminal(s)}}});
    let r = c
        .call(
            "POST",
            "/v1/orders",
            Some(&tok(s)),
            Some(body),
            &[("x-idempotency-key", key)],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn notifications_retry_on_the_clock_until_acknowledged() {
    let c = start().await;
    let rx = Receiver::start().await;
    rx.set_status(500);
    let app = c.app_with_webhook(&rx.url).await;
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "client_id": app["client_id"]}),
        )
        .await
        .body;
    let id = order_on(&c, &s, "r1").await;
    rx.wait_count(1).await;
    let n = wait_for("attempt recorded", || async {
        let n = c
            .notifications(&format!("data_id={id}"))
            .await
            .into_iter()
            .next()?;
        (n["attempts"].as_array()?.len() == 1 && n["next_attempt_at"].is_string()).then_some(n)
    })
    .await;
    assert_eq!(n["status"], "pending");
    // Nothing happens until the clock moves 15 minutes.
    c.sb.clock().advance(Duration::from_secs(14 * 60));
    assert_eq!(rx.all().len(), 1);
    rx.set_status(201);
    c.sb.clock().advance(Duration::from_secs(60));
    let got = rx.wait_count(2).await;
    assert_eq!(got[1].x_retry, "1");
    assert!(verify_signature(
        &got[1],
        app["webhook_secret"].as_str().unwrap()
    ));
    assert_ne!(got[0].x_request_id, got[1].x_request_id);
    wait_for("delivered", || async {
        let n = c
            .notifications(&format!("data_id={id}"))
            .await
            .into_iter()
            .next()?;
        (n["status"] == "delivered").then_some(())
    })
    .await;
    c.assert_indexes_agree().await;
    rx.stop().await;
}

#[tokio::test]
async fn notification_drop_duplicate_and_reorder_faults() {
    let c = start().await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let mk = || {
        c.post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "client_id": app["client_id"]}),
        )
    };
    let (s1, s2, s3, s4) = (
        mk().await.body,
        mk().await.body,
        mk().await.body,
        mk().await.body,
    );
    c.post(
        "/sandbox/faults",
        None,
        json!({"drop_notifications": true, "count": 1}),
    )
    .await;
    let dropped = order_on(&c, &s1, "d1").await;
    wait_for("dropped", || async {
        let n = c
            .notifications(&format!("data_id={dropped}"))
            .await
            .into_iter()
            .next()?;
        (n["status"] == "dropped").then_some(())
    })
    .await;
    c.post(
        "/sandbox/faults",
        None,
        json!({"duplicate_notifications": true, "count": 1}),
    )
    .await;
    let dup = order_on(&c, &s2, "d2").await;
    let got = rx.wait_count(2).await;
    assert!(
        got.iter()
            .all(|g| g.data_id.as_deref() == Some(dup.as_str()))
    );
    c.post(
        "/sandbox/faults",
        None,
        json!({"reorder_notifications": true, "count": 1}),
    )
    .await;
    let first = order_on(&c, &s3, "d3").await;
    wait_for("held", || async {
        let n = c
            .notifications(&format!("data_id={first}"))
            .await
            .into_iter()
            .next()?;
        (n["status"] == "held").then_some(())
    })
    .await;
    let second = order_on(&c, &s4, "d4").await;
    let got = rx.wait_count(4).await;
    assert_eq!(got[2].data_id.as_deref(), Some(second.as_str()));
    assert_eq!(got[3].data_id.as_deref(), Some(first.as_str()));
    assert!(
        rx.all()
            .iter()
            .all(|g| g.data_id.as_deref() != Some(dropped.as_str()))
    );
    c.assert_indexes_agree().await;
    rx.stop().await;
}

#[tokio::test]
async fn console_page_plays_a_manual_terminal_without_javascript() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, dev) = (tok(&s), terminal(&s));
    let id = c
        .post(
            &format!("/point/integration-api/devices/{dev}/payment-intents"),
            Some(&t),
            json!({"amount": 1500}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let html = c
        .http
        .get(c.url("/sandbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&dev) && html.contains(&id) && html.contains("<form method=\"post\""));
    assert!(!html.contains("<script"));
    let r = c
        .http
        .post(c.url(&format!("/sandbox/ui/terminals/{dev}/charge")))
        .form(&[("outcome", "approved")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    wait_for("finished", || async {
        (c.get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&t),
        )
        .await
        .body["state"]
            == "FINISHED")
            .then_some(())
    })
    .await;
    let charges = c
        .get(&format!("/sandbox/charges?terminal_id={dev}"), None)
        .await
        .body;
    assert_eq!(charges["charges"].as_array().unwrap().len(), 1);
    assert_eq!(charges["charges"][0]["status"], "approved");
    // Seller and terminal helpers.
    let uid = s["user_id"].as_u64().unwrap();
    let r = c.get(&format!("/sandbox/sellers/{uid}"), None).await;
    assert_eq!(r.body["terminals"][0]["mode"], "manual");
    let r = c
        .call(
            "PATCH",
            &format!("/sandbox/terminals/{dev}"),
            None,
            Some(json!({"mode": "auto"})),
            &[],
        )
        .await;
    assert_eq!(r.body["mode"], "auto");
    let r = c
        .post(&format!("/sandbox/terminals/{dev}/charge"), None, json!({}))
        .await;
    assert_eq!(r.status, 409, "nothing queued");
    let r = c
        .post(&format!("/sandbox/sellers/{uid}/tokens"), None, json!({}))
        .await;
    assert_eq!(
        c.get("/users/me", r.body["access_token"].as_str())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn human_timings_move_on_the_manual_clock() {
    let mut cfg = mp_sandbox::SandboxConfig::for_tests();
    cfg.timings = mp_sandbox::Timings::Human;
    let c = start_with(cfg).await;
    let s = c.seller("MLB", 1).await;
    let (t, dev) = (tok(&s), terminal(&s));
    let id = c
        .post(
            &format!("/point/integration-api/devices/{dev}/payment-intents"),
            Some(&t),
            json!({"amount": 1500}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let state = || async {
        c.get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&t),
        )
        .await
        .body["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state().await, "OPEN");
    c.sb.clock().advance(Duration::from_secs(2));
    assert_eq!(state().await, "ON_TERMINAL");
    c.sb.clock().advance(Duration::from_secs(5));
    assert_eq!(state().await, "PROCESSING");
    c.sb.clock().advance(Duration::from_secs(3));
    assert_eq!(state().await, "FINISHED");
}

#[tokio::test]
async fn application_terminal_and_resend_helpers() {
    let c = start().await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let cid = app["client_id"].as_str().unwrap();
    let r = c.get(&format!("/sandbox/applications/{cid}"), None).await;
    assert_eq!(r.body["webhook_secret"], app["webhook_secret"]);
    assert_eq!(c.get("/sandbox/applications/nope", None).await.status, 404);
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLA", "client_id": cid, "terminals": 2}),
        )
        .await
        .body;
    assert_ne!(s["terminals"][0]["id"], s["terminals"][1]["id"]);
    let dev = terminal(&s);
    let r = c.get(&format!("/sandbox/terminals/{dev}"), None).await;
    assert_eq!(
        (r.body["mode"].as_str(), r.body["current"].is_null()),
        (Some("auto"), true)
    );
    let id = order_on(&c, &s, "rs1").await;
    rx.wait_count(1).await;
    let n = c.notifications(&format!("data_id={id}")).await;
    let nid = n[0]["id"].as_u64().unwrap();
    let r = c
        .post(
            &format!("/sandbox/notifications/{nid}/resend"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202);
    let got = rx.wait_count(2).await;
    assert_eq!(got[1].data_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        c.post("/sandbox/notifications/999/resend", None, json!({}))
            .await
            .status,
        404
    );
    // An app without a webhook URL records notifications as no_url.
    c.call(
        "PATCH",
        &format!("/sandbox/applications/{cid}"),
        None,
        Some(json!({"webhook_url": null})),
        &[],
    )
    .await;
    let id = order_on(&c, &s, "rs2").await;
    let n = wait_for("recorded", || async {
        c.notifications(&format!("data_id={id}"))
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(n["status"], "no_url");
    c.assert_indexes_agree().await;
    rx.stop().await;
}
