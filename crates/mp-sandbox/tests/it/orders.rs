//! Orders API for Point and the Terminals API over HTTP.

use crate::common;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

fn order_body(terminal: &str, amount: &str) -> Value {
    json!({"type": "point", "external_reference": "ext_ref_1234", "expiration_time": "PT16M",
           "transactions": {"payments": [{"amount": amount}]},
           "config": {"point": {"terminal_id": terminal, "print_on_terminal": "no_ticket"}, "payment_method": {"default_type": "credit_card"}},
           "description": "Point Smart 2",
           "integration_data": {"platform_id": "dev_1", "integrator_id": "dev_1", "sponsor": {"id": "446566691"}}})
}

async fn create(c: &Ctx, t: &str, key: &str, body: Value) -> Resp {
    c.call(
        "POST",
        "/v1/orders",
        Some(t),
        Some(body),
        &[("x-idempotency-key", key)],
    )
    .await
}

#[tokio::test]
async fn order_is_processed_and_a_signed_order_notification_arrives() {
    let c = start().await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLM", "client_id": app["client_id"]}),
        )
        .await
        .body;
    let (t, term) = (tok(&s), terminal(&s));
    assert!(term.starts_with("NEWLAND_N950__SBX"));
    let r = create(&c, &t, "key-1", order_body(&term, "24.00")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("ORD") && id.len() == 29);
    assert_eq!(r.body["status"], "created");
    assert_eq!(r.body["currency"], "MXN");
    assert_eq!(r.body["user_id"], s["user_id"].to_string());
    assert_eq!(r.body["integration_data"]["sponsor"]["id"], "446566691");
    assert_eq!(
        r.body["integration_data"]["application_id"],
        app["client_id"]
    );
    let pay = &r.body["transactions"]["payments"][0];
    assert!(pay["id"].as_str().unwrap().starts_with("PAY"));
    assert_eq!(pay["amount"], "24.00");
    let got = rx.wait_count(1).await;
    let n = &got[0];
    assert_eq!(n.topic.as_deref(), Some("order"));
    assert_eq!(n.data_id.as_deref(), Some(id.as_str()));
    assert!(n.query.contains(&format!("data.id={id}")) && n.query.contains("type=order"));
    assert_eq!(n.body["action"], "order.processed");
    assert_eq!(n.body["type"], "order");
    assert_eq!(n.body["data"]["status"], "processed");
    assert_eq!(
        n.body["data"]["transactions"]["payments"][0]["status_detail"],
        "accredited"
    );
    // Reference 4.3's example: the order's detail is `accredited` in the webhook.
    assert_eq!(n.body["data"]["status_detail"], "accredited");
    assert!(n.body["data"]["version"].as_u64().unwrap() >= 3);
    assert!(verify_signature(n, app["webhook_secret"].as_str().unwrap()));
    let ts = n
        .x_signature
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("ts=");
    assert_eq!(ts.len(), 13, "ts in milliseconds by default");
    let r = c.get(&format!("/v1/orders/{id}"), Some(&t)).await;
    assert_eq!(r.body["status"], "processed");
    assert_eq!(
        r.body["transactions"]["payments"][0]["paid_amount"],
        "24.00"
    );
    assert_eq!(r.body["integration_data"]["sponsor"]["id"], "446566691");
    // Delivery recorded as delivered.
    let ns = c.notifications(&format!("data_id={id}")).await;
    assert_eq!(ns[0]["status"], "delivered");
    rx.stop().await;
}

#[tokio::test]
async fn create_validation_errors_use_the_errors_envelope() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let (t, term) = (tok(&s), terminal(&s));
    let r = c
        .post("/v1/orders", Some(&t), order_body(&term, "10.00"))
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (400, Some("empty_required_header"))
    );
    let cases = [
        (json!({"type": "online"}), "property_value"),
        (json!({"foo": 1}), "unsupported_properties"),
        (json!({"transactions": {"payments": []}}), "minimum_items"),
        (
            json!({"transactions": {"payments": [{"amount": "1"}, {"amount": "2"}]}}),
            "maximum_items",
        ),
        (
            json!({"transactions": {"payments": [{"amount": 10}]}}),
            "property_type",
        ),
        (
            json!({"transactions": {"payments": [{"amount": "10.001"}]}}),
            "property_value",
        ),
        (
            json!({"transactions": {"payments": [{"amount": "1.00"}]}}),
            "property_value",
        ),
        (json!({"expiration_time": "PT10S"}), "property_value"),
        (json!({"external_reference": "has space"}), "property_value"),
        (json!({"config": {"point": {}}}), "required_properties"),
        // Required by the create-order reference (3.1).
        (json!({"external_reference": null}), "required_properties"),
    ];
    for (i, (patch, code)) in cases.into_iter().enumerate() {
        let mut b = order_body(&term, "10.00");
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = create(&c, &t, &format!("v{i}"), b).await;
        assert_eq!(r.status, 400, "case {i}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], code, "case {i}");
    }
    let r = c
        .call(
            "POST",
            "/v1/orders",
            Some(&t),
            None,
            &[
                ("x-idempotency-key", "x"),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .http
        .post(c.url("/v1/orders"))
        .bearer_auth(&t)
        .header("x-idempotency-key", "j")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["errors"][0]["code"], "json_syntax_error");
    // Auth errors are flat.
    let r = create(&c, "APP_USR-bad", "a", order_body(&term, "10.00")).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let r = c
        .call(
            "POST",
            "/v1/orders",
            None,
            Some(order_body(&term, "10.00")),
            &[("x-idempotency-key", "a")],
        )
        .await;
    assert_eq!(r.body["message"], "authorization value not present");
}

#[tokio::test]
async fn idempotency_replays_and_conflicts() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, term) = (tok(&s), terminal(&s));
    let a = create(&c, &t, "same", order_body(&term, "10.00")).await;
    let b = create(&c, &t, "same", order_body(&term, "10.00")).await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_eq!(a.body["id"], b.body["id"]);
    let r = create(&c, &t, "same", order_body(&term, "11.00")).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (409, Some("idempotency_key_already_used"))
    );
    // One queued order per terminal.
    let r = create(&c, &t, "other", order_body(&term, "12.00")).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (409, Some("already_queued_order_for_terminal"))
    );
    // Keys expire after 24 h: the same key can then create again (once the terminal is free).
    let id = a.body["id"].as_str().unwrap();
    let r = c
        .call(
            "POST",
            &format!("/v1/orders/{id}/cancel"),
            Some(&t),
            None,
            &[("x-idempotency-key", "c1")],
        )
        .await;
    assert_eq!(r.status, 200);
    c.sb.clock().advance(Duration::from_secs(24 * 3600 + 1));
    let r = create(&c, &t, "same", order_body(&term, "11.00")).await;
    assert_eq!(r.status, 201);
    assert_ne!(r.body["id"], a.body["id"]);
}

#[tokio::test]
async fn tenancy_terminal_403_and_order_404() {
    let c = start().await;
    let a = c.seller("MLB", 1).await;
    let b = c.seller("MLB", 1).await;
    let r = create(&c, &tok(&a), "k", order_body(&terminal(&b), "10.00")).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (403, Some("forbidden_checking_terminal_owner"))
    );
    let r = create(
        &c,
        &tok(&a),
        "k2",
        order_body("NEWLAND_N950__NOPE", "10.00"),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = create(&c, &tok(&a), "k3", order_body(&terminal(&a), "10.00")).await;
    let id = r.body["id"].as_str().unwrap();
    let r = c.get(&format!("/v1/orders/{id}"), Some(&tok(&b))).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let r = c
        .get("/v1/orders/ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", Some(&tok(&a)))
        .await;
    assert_eq!(r.status, 404);
    let r = c.get("/v1/orders/xyz", Some(&tok(&a))).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn cancel_created_at_terminal_with_and_without_header() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, term) = (tok(&s), terminal(&s));
    let id = create(&c, &t, "o1", order_body(&term, "10.00")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancel = |key: &'static str, hdr: bool| {
        let (c, t, id) = (&c, t.clone(), id.clone());
        async move {
            let mut h = vec![("x-idempotency-key", key)];
            if hdr {
                h.push(("x-allow-cancelable-status", "at_terminal"));
            }
            c.call(
                "POST",
                &format!("/v1/orders/{id}/cancel"),
                Some(&t),
                None,
                &h,
            )
            .await
        }
    };
    let r = c
        .call(
            "POST",
            &format!("/v1/orders/{id}/cancel"),
            Some(&t),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["errors"][0]["code"], "empty_required_header");
    let r = cancel("c1", false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "canceled");
    assert_eq!(
        r.body["transactions"]["payments"][0]["status_detail"],
        "canceled_by_api"
    );
    let r = cancel("c2", false).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (409, Some("order_already_canceled"))
    );
    // at_terminal: 409 without the header, 202 with it.
    let id = create(&c, &t, "o2", order_body(&term, "10.00")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.post(
        &format!("/sandbox/terminals/{term}/charge"),
        None,
        json!({}),
    )
    .await;
    wait_for("at_terminal", || async {
        (c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body["status"] == "at_terminal")
            .then_some(())
    })
    .await;
    let h = [("x-idempotency-key", "c3")];
    let r = c
        .call(
            "POST",
            &format!("/v1/orders/{id}/cancel"),
            Some(&t),
            None,
            &h,
        )
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (409, Some("cannot_cancel_order"))
    );
    let h = [
        ("x-idempotency-key", "c4"),
        ("x-allow-cancelable-status", "at_terminal"),
    ];
    let r = c
        .call(
            "POST",
            &format!("/v1/orders/{id}/cancel"),
            Some(&t),
            None,
            &h,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "at_terminal");
    assert_eq!(
        r.body["transactions"]["payments"][0]["status_detail"],
        "cancellation_requested"
    );
    wait_for("canceled", || async {
        (c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body["status"] == "canceled")
            .then_some(())
    })
    .await;
    let ns = c.notifications(&format!("data_id={id}")).await;
    assert_eq!(ns.last().unwrap()["body"]["action"], "order.canceled");
    let charges = c
        .get(&format!("/sandbox/charges?terminal_id={term}"), None)
        .await;
    assert_eq!(
        charges.body["charges"].as_array().unwrap().len(),
        0,
        "nothing was charged"
    );
    c.assert_indexes_agree().await;
}

#[tokio::test]
async fn total_and_partial_refunds() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let (t, term) = (tok(&s), terminal(&s));
    let id = create(&c, &t, "o", order_body(&term, "30.00")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pay = wait_for("processed", || async {
        let b = c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body;
        (b["status"] == "processed").then(|| {
            b["transactions"]["payments"][0]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
    })
    .await;
    let refund = |key: &'static str, body: Option<Value>| {
        let (c, t, id) = (&c, t.clone(), id.clone());
        async move {
            c.call(
                "POST",
                &format!("/v1/orders/{id}/refund"),
                Some(&t),
                body,
                &[("x-idempotency-key", key)],
            )
            .await
        }
    };
    let r = refund(
        "r0",
        Some(json!({"transactions": [{"id": pay, "amount": "40.00"}]})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (400, Some("refund_amount_exceeds"))
    );
    let r = refund(
        "r00",
        Some(json!({"transactions": [{"id": "PAY01", "amount": "1.00"}]})),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = refund(
        "r1",
        Some(json!({"transactions": [{"id": pay, "amount": "10.00"}]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "processed");
    assert_eq!(r.body["status_detail"], "partially_refunded");
    assert!(
        r.body["transactions"]["refunds"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("REF")
    );
    // Replay of the same key does not refund twice.
    let r = refund(
        "r1",
        Some(json!({"transactions": [{"id": pay, "amount": "10.00"}]})),
    )
    .await;
    assert_eq!(
        r.body["transactions"]["refunds"].as_array().unwrap().len(),
        1
    );
    let r = refund("r2", None).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "refunded");
    assert_eq!(
        r.body["transactions"]["payments"][0]["refunded_amount"],
        "30.00"
    );
    let r = refund("r3", None).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (409, Some("order_already_refunded"))
    );
    let ns = c.notifications(&format!("data_id={id}")).await;
    let actions: Vec<&str> = ns
        .iter()
        .map(|n| n["body"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["order.processed", "order.refunded"]);
    assert!(ns[1]["body"]["data"].get("transactions").is_none());
    c.assert_indexes_agree().await;
}

#[tokio::test]
async fn simulated_events_and_amount_outcomes() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, term) = (tok(&s), terminal(&s));
    let id = create(&c, &t, "e1", order_body(&term, "10.00")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ev = |body: Value| {
        let (c, t, id) = (&c, t.clone(), id.clone());
        async move {
            c.post(&format!("/v1/orders/{id}/events"), Some(&t), body)
                .await
        }
    };
    assert_eq!(
        ev(json!({"status": "refunded"})).await.status,
        400,
        "refunded needs processed"
    );
    assert_eq!(
        ev(json!({"status": "failed", "status_detail": "nope"}))
            .await
            .status,
        400
    );
    assert_eq!(ev(json!({"status": "bogus"})).await.status, 400);
    let r = ev(json!({"status": "failed", "status_detail": "insufficient_amount", "payment_method_type": "debit_card"})).await;
    assert_eq!(r.status, 204);
    let b = wait_for("failed", || async {
        let b = c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body;
        (b["status"] == "failed").then_some(b)
    })
    .await;
    assert_eq!(
        b["transactions"]["payments"][0]["status_detail"],
        "insufficient_amount"
    );
    assert_eq!(
        b["transactions"]["payments"][0]["payment_method"]["type"],
        "debit_card"
    );
    let r = c
        .post(
            "/v1/orders/ORD123/events",
            Some(&t),
            json!({"status": "processed"}),
        )
        .await;
    assert_eq!(r.status, 400);
    // Amount-driven outcome on an auto terminal: 12.00 is rejected.
    let s2 = c.seller("MLB", 1).await;
    let id = create(&c, &tok(&s2), "e2", order_body(&terminal(&s2), "12.00"))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("failed by amount", || async {
        let b = c
            .get(&format!("/v1/orders/{id}"), Some(&tok(&s2)))
            .await
            .body;
        (b["status"] == "failed").then_some(())
    })
    .await;
    // action_required forced, then refunded on a processed order.
    let id = create(&c, &t, "e3", order_body(&term, "10.00")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.post(
        &format!("/v1/orders/{id}/events"),
        Some(&t),
        json!({"status": "processed", "payment_method_id": "visa"}),
    )
    .await;
    wait_for("processed", || async {
        (c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body["status"] == "processed")
            .then_some(())
    })
    .await;
    assert_eq!(
        c.post(
            &format!("/v1/orders/{id}/events"),
            Some(&t),
            json!({"status": "refunded"})
        )
        .await
        .status,
        204
    );
    wait_for("refunded", || async {
        (c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body["status"] == "refunded")
            .then_some(())
    })
    .await;
    c.assert_indexes_agree().await;
}

#[tokio::test]
async fn orders_expire_when_the_clock_passes_expiration_time() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, term) = (tok(&s), terminal(&s));
    let mut b = order_body(&term, "10.00");
    b["expiration_time"] = json!("PT30S");
    let id = create(&c, &t, "x", b).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.sb.clock().advance(Duration::from_secs(29));
    assert_eq!(
        c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body["status"],
        "created"
    );
    c.sb.clock().advance(Duration::from_secs(1));
    let b = c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body;
    assert_eq!(b["status"], "expired");
    assert_eq!(b["transactions"]["payments"][0]["status"], "expired");
    // Default expiry is 15 minutes.
    let id = create(
        &c,
        &t,
        "y",
        order_body(&term, "10.00")
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "expiration_time")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    )
    .await
    .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.sb.clock().advance(Duration::from_secs(15 * 60));
    assert_eq!(
        c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body["status"],
        "expired"
    );
    let ns = c.notifications(&format!("data_id={id}")).await;
    assert_eq!(ns[0]["body"]["action"], "order.expired");
    c.assert_indexes_agree().await;
}

#[tokio::test]
async fn terminals_list_and_setup() {
    let c = start().await;
    let s = c.seller("MLB", 2).await;
    let t = tok(&s);
    let r = c.get("/terminals/v1/list", Some(&t)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["terminals"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["paging"]["total"], 2);
    let r = c.get("/terminals/v1/list?limit=500", Some(&t)).await;
    assert_eq!(r.body["paging"]["limit"], 50, "limit clamped to 50");
    let r = c.get("/terminals/v1/list", Some("bad")).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let t0 = s["terminals"][0]["id"].as_str().unwrap();
    let body = json!({"terminals": [{"id": t0, "operating_mode": "STANDALONE"}]});
    let r = c
        .call(
            "PATCH",
            "/terminals/v1/setup",
            Some(&t),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, body));
    let r = c
        .call(
            "PATCH",
            "/terminals/v1/setup",
            Some(&t),
            Some(json!({"terminals": [{"id": t0, "operating_mode": "UNDEFINED"}]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .call(
            "PATCH",
            "/terminals/v1/setup",
            Some(&t),
            Some(json!({"terminals": [{"id": "X__Y", "operating_mode": "PDV"}]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);
    // Two PDV terminals on one POS: 412.
    let pos = s["terminals"][1]["pos_id"].as_u64().unwrap();
    let r = c
        .get(&format!("/terminals/v1/list?pos_id={pos}"), Some(&t))
        .await;
    assert_eq!(r.body["paging"]["total"], 1);
    let t1 = s["terminals"][1]["id"].as_str().unwrap();
    let both = json!({"terminals": [{"id": t0, "operating_mode": "PDV"}, {"id": t1, "operating_mode": "PDV"}]});
    let r = c
        .call("PATCH", "/terminals/v1/setup", Some(&t), Some(both), &[])
        .await;
    assert_eq!(r.status, 200, "different POS: allowed");
    // Put both terminals on one POS (sandbox helper): two PDV terminals there is a 412.
    let r = c
        .call(
            "PATCH",
            &format!("/sandbox/terminals/{t0}"),
            None,
            Some(json!({"pos_id": pos})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(
            "PATCH",
            "/terminals/v1/setup",
            Some(&t),
            Some(json!({"terminals": [{"id": t0, "operating_mode": "PDV"}]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(
        r.body["errors"][0]["message"],
        "Only one pos-store with PDV mode ON or SUSPENDED is allowed"
    );
    let co = c.seller("MCO", 1).await;
    let r = c
        .call(
            "PATCH",
            "/terminals/v1/setup",
            Some(&tok(&co)),
            Some(json!({"terminals": [{"id": terminal(&co), "operating_mode": "PDV"}]})),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (400, Some("unsupported_site"))
    );
}

#[tokio::test]
async fn signature_options_lowercase_data_id_and_seconds_ts() {
    let mut cfg = mp_sandbox::SandboxConfig::for_tests();
    cfg.lowercase_signature_data_id = true;
    cfg.signature_ts = mp_sandbox::SignatureTs::Seconds;
    let c = start_with(cfg).await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "client_id": app["client_id"]}),
        )
        .await
        .body;
    let id = create(&c, &tok(&s), "sig", order_body(&terminal(&s), "10.00"))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = rx.wait_count(1).await;
    let mut n = got[0].clone();
    let secret = app["webhook_secret"].as_str().unwrap();
    assert_eq!(
        n.data_id.as_deref(),
        Some(id.as_str()),
        "the query keeps the original case"
    );
    assert!(
        !verify_signature(&n, secret),
        "signed over the lower-cased id"
    );
    n.data_id = Some(id.to_lowercase());
    assert!(verify_signature(&n, secret));
    let ts = n
        .x_signature
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("ts=");
    assert_eq!(ts.len(), 10, "ts in seconds");
    rx.stop().await;
}
