//! The Mercado Pago-compatible surface (Orders API type point, legacy Point
//! Integration API, Terminals API), on SQLite and PostgreSQL, without a
//! worker: every endpoint's success and error paths in Mercado Pago's own
//! shapes, sponsor override, X-Idempotency-Key (sequential and concurrent),
//! the terminal lock under concurrent creates, and scope isolation for every
//! key type against every object type. The chain with the sandbox and the
//! official SDKs is in crates/platform-worker/tests/it/mp_compat.rs.

use crate::common;

use common::{TestApp, json};
use platform_core::entities::payment_intents;
use platform_core::intents::{self, UpstreamFacts};
use platform_core::on_both_databases;
use platform_core::states::{EventSource, IntentStatus, ScopeKind};
use platform_core::testing::{Seeded, TestDb};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

fn device(base: i64, n: u8) -> String {
    format!("NEWLAND_N950__SBX{base}{n}")
}

fn order_body(device: &str, amount: &str) -> Value {
    json!({
        "type": "point",
        "external_reference": "ext_ref_1234",
        "expiration_time": "PT16M",
        "transactions": {"payments": [{"amount": amount}]},
        "config": {"point": {"terminal_id": device, "print_on_terminal": "no_ticket"},
                   "payment_method": {"default_type": "credit_card"}},
        "description": "Point Smart 2",
        "integration_data": {"platform_id": "dev_1", "integrator_id": "dev_1", "sponsor": {"id": "446566691"}},
    })
}

async fn count(app: &TestApp) -> u64 {
    payment_intents::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn create_order(app: &TestApp, key: &str, idem: &str, body: &Value) -> (u16, Value) {
    json(
        app.post(key, "/v1/orders")
            .header("X-Idempotency-Key", idem)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn code(b: &Value) -> &str {
    b["errors"][0]["code"].as_str().unwrap_or_default()
}

fn pi_of_order(order_id: &str) -> String {
    format!("pi_{}", order_id[3..].to_ascii_lowercase())
}

async fn move_to(app: &TestApp, intent: &str, to: IntentStatus) {
    let r = intents::transition(
        &app.state.db,
        &platform_core::id::PaymentIntentId::parse(intent).unwrap(),
        to,
        UpstreamFacts::default(),
        EventSource::Worker,
    )
    .await
    .unwrap();
    assert!(matches!(r, intents::Transition::Applied { .. }));
}

async fn orders_create_validates_and_overrides_sponsor(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(100).await;
    let other = app.seed(200).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let free = device(100, 1);
    let before = count(&app).await;

    // Authentication: the flat `{code,message}` of the newer APIs.
    let (st, b) = json(
        app.http
            .get(format!(
                "{}/v1/orders/ORD01JQ4S4KY8HWQ6NA5PXB65B3D3",
                app.url
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (401, Some("unauthorized")), "{b}");
    let (st, b) = json(
        app.get("pk_test_nope", "/v1/orders/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (401, Some("unauthorized")), "{b}");

    // The header is required.
    let (st, b) = json(
        app.post(&key, "/v1/orders")
            .json(&order_body(&free, "15.00"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code(&b)), (400, "empty_required_header"), "{b}");

    let mut cases: Vec<(Value, u16, &str)> = Vec::new();
    let mut v = order_body(&free, "15.00");
    v["type"] = json!("bogus");
    cases.push((v, 400, "property_value"));
    let mut v = order_body(&free, "15.00");
    v.as_object_mut().unwrap().remove("type");
    cases.push((v, 400, "required_properties"));
    let mut v = order_body(&free, "15.00");
    v.as_object_mut().unwrap().remove("config");
    cases.push((v, 400, "required_properties"));
    let mut v = order_body(&free, "15.00");
    v["colour"] = json!("red");
    cases.push((v, 400, "unsupported_properties"));
    let mut v = order_body(&free, "15.00");
    v["transactions"]["payments"] = json!([{"amount": "1.00"}, {"amount": "2.00"}]);
    cases.push((v, 400, "maximum_items"));
    let mut v = order_body(&free, "15.00");
    v["transactions"]["payments"] = json!([]);
    cases.push((v, 400, "minimum_items"));
    let mut v = order_body(&free, "15.00");
    v["transactions"]["payments"][0]["amount"] = json!(15);
    cases.push((v, 400, "property_type"));
    cases.push((order_body(&free, "15.001"), 400, "property_value"));
    // Below the site's minimum (MLB 1.00).
    cases.push((order_body(&free, "0.50"), 400, "property_value"));
    let mut v = order_body(&free, "15.00");
    v["expiration_time"] = json!("PT5H");
    cases.push((v, 400, "property_value"));
    let mut v = order_body(&free, "15.00");
    v["config"]["point"]["print_on_terminal"] = json!("always");
    cases.push((v, 400, "property_value"));
    // Another tenant's terminal, and one that does not exist: same answer.
    cases.push((
        order_body(&device(200, 1), "15.00"),
        403,
        "forbidden_checking_terminal_owner",
    ));
    cases.push((
        order_body("PAX_A910__NOPE", "15.00"),
        403,
        "forbidden_checking_terminal_owner",
    ));
    for (i, (body, status, want)) in cases.iter().enumerate() {
        let (st, b) = create_order(&app, &key, &format!("bad-{i}"), body).await;
        assert_eq!((st, code(&b)), (*status, *want), "{body} -> {b}");
        assert!(
            b["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (st, b) = json(
        app.post(&key, "/v1/orders")
            .header("X-Idempotency-Key", "bad-json")
            .body("{nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code(&b)), (400, "json_syntax_error"));
    assert_eq!(count(&app).await, before, "nothing created");

    // Created: an ORD id, `created`, the integrator's sponsor (not the POS's).
    let (st, o) = create_order(&app, &key, "ok-1", &order_body(&free, "24.00")).await;
    assert_eq!(st, 201, "{o}");
    let id = o["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ORD") && id.len() == 29, "{id}");
    assert_eq!(o["type"], "point");
    assert_eq!(o["status"], "created");
    assert_eq!(o["status_detail"], "created");
    assert_eq!(o["integration_data"]["sponsor"]["id"], "100");
    assert_eq!(o["currency"], "BRL");
    assert_eq!(o["external_reference"], "ext_ref_1234");
    assert_eq!(o["config"]["point"]["terminal_id"], free);
    assert_eq!(o["config"]["point"]["print_on_terminal"], "no_ticket");
    assert_eq!(o["config"]["payment_method"]["default_type"], "credit_card");
    let pay = &o["transactions"]["payments"][0];
    assert!(pay["id"].as_str().unwrap().starts_with("PAY"));
    assert_eq!(
        (pay["amount"].as_str(), pay["status"].as_str()),
        (Some("24.00"), Some("created"))
    );
    assert_eq!(
        o["user_id"], "102",
        "the seller's Mercado Pago user id, as a string"
    );

    // The same intent in the native API, recorded like any other.
    let pi = pi_of_order(&id);
    let (st, n) = json(
        app.get(&key, &format!("/v1/payment-intents/{pi}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{n}");
    assert_eq!(
        (n["amount"].as_i64(), n["sponsor_id"].as_str()),
        (Some(2400), Some("100"))
    );
    assert_eq!(n["status"], "queued");
    let (_, h) = json(
        app.get(&key, &format!("/v1/payment-intents/{pi}/events"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(h["data"][0]["to_status"], "queued");
    let stats = app
        .state
        .queue
        .stats(platform_core::jobs::INTENT_DISPATCH)
        .await
        .unwrap();
    assert_eq!(stats.depth, 1, "queued for the worker");

    // Read back, found by search, unknown ids are order_not_found.
    let (st, g) = json(
        app.get(&key, &format!("/v1/orders/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, g["id"].as_str()), (200, Some(id.as_str())));
    let (st, f) = json(
        app.get(&key, "/v1/orders?external_reference=ext_ref_1234")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(f["paging"]["total"], 1);
    assert_eq!(f["data"][0]["id"], id);
    for unknown in ["ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", "nope", s.intent.as_str()] {
        let (st, b) = json(
            app.get(&key, &format!("/v1/orders/{unknown}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, code(&b)), (404, "order_not_found"), "{unknown}: {b}");
    }
    // Another integrator's key cannot see it.
    let other_key = app.key(&other, ScopeKind::Integrator, None).await;
    let (st, b) = json(
        app.get(&other_key, &format!("/v1/orders/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code(&b)), (404, "order_not_found"));
}

async fn orders_idempotency_and_terminal_lock(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(100).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let free = device(100, 1);
    let busy = device(100, 0);

    // The seeded intent holds terminal 0.
    let (st, b) = create_order(&app, &key, "busy", &order_body(&busy, "10.00")).await;
    assert_eq!(
        (st, code(&b)),
        (409, "already_queued_order_for_terminal"),
        "{b}"
    );
    // A busy terminal is not a final answer for the key: retried, it runs again.
    let (st, _) = create_order(&app, &key, "busy", &order_body(&busy, "10.00")).await;
    assert_eq!(st, 409);

    // Concurrent duplicates with one key: one intent, one id for all.
    let before = count(&app).await;
    let body = order_body(&free, "12.00");
    let tasks = (0..6).map(|_| create_order(&app, &key, "same-key", &body));
    let results = futures_util::future::join_all(tasks).await;
    let ids: Vec<&str> = results
        .iter()
        .map(|(st, b)| {
            assert_eq!(*st, 201, "{b}");
            b["id"].as_str().unwrap()
        })
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(count(&app).await, before + 1);
    // Sequential replay: the same order; another body: refused.
    let (st, again) = create_order(&app, &key, "same-key", &body).await;
    assert_eq!((st, again["id"].as_str()), (201, Some(ids[0])));
    let (st, b) = create_order(&app, &key, "same-key", &order_body(&free, "13.00")).await;
    assert_eq!((st, code(&b)), (409, "idempotency_key_already_used"));
    // The key belongs to this API key: another key's same string is its own.
    let key2 = app.key(&s, ScopeKind::Integrator, None).await;
    let (st, b) = create_order(&app, &key2, "same-key", &body).await;
    assert_eq!(
        (st, code(&b)),
        (409, "already_queued_order_for_terminal"),
        "{b}"
    );
    assert_eq!(count(&app).await, before + 1);

    // Terminal lock under concurrent creates with distinct keys: one wins.
    let order = ids[0].to_owned();
    let (st, _) = json(
        app.post(&key, &format!("/v1/orders/{order}/cancel"))
            .header("X-Idempotency-Key", "c-1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    let tasks = (0..8).map(|i| {
        let body = order_body(&free, "20.00");
        let app = &app;
        let key = &key;
        async move { create_order(app, key, &format!("race-{i}"), &body).await }
    });
    let results = futures_util::future::join_all(tasks).await;
    let won = results.iter().filter(|(st, _)| *st == 201).count();
    let lost = results
        .iter()
        .filter(|(st, b)| *st == 409 && code(b) == "already_queued_order_for_terminal")
        .count();
    assert_eq!((won, lost), (1, 7), "{results:?}");
}

async fn orders_cancel_and_refund(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(100).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let free = device(100, 1);
    let cancel = |id: String, idem: &'static str, header: Option<&'static str>| {
        let mut r = app.post(&key, &format!("/v1/orders/{id}/cancel"));
        if !idem.is_empty() {
            r = r.header("X-Idempotency-Key", idem);
        }
        if let Some(h) = header {
            r = r.header("x-allow-cancelable-status", h);
        }
        async move { json(r.send().await.unwrap()).await }
    };

    let (_, o) = create_order(&app, &key, "o1", &order_body(&free, "15.00")).await;
    let id = o["id"].as_str().unwrap().to_owned();
    let (st, b) = cancel(id.clone(), "", None).await;
    assert_eq!((st, code(&b)), (400, "empty_required_header"));
    // Not yet sent upstream: canceled at once.
    let (st, c) = cancel(id.clone(), "k1", None).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["status"], "canceled");
    assert_eq!(c["transactions"]["payments"][0]["status"], "canceled");
    assert_eq!(
        c["transactions"]["payments"][0]["status_detail"],
        "canceled_by_api"
    );
    // The same request again replays; a new one is refused.
    let (st, r) = cancel(id.clone(), "k1", None).await;
    assert_eq!((st, r["status"].as_str()), (200, Some("canceled")));
    let (st, b) = cancel(id.clone(), "k2", None).await;
    assert_eq!((st, code(&b)), (409, "order_already_canceled"));
    let (st, b) = cancel("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3".into(), "k3", None).await;
    assert_eq!((st, code(&b)), (404, "order_not_found"));

    // At the terminal: only with x-allow-cancelable-status, and then 202.
    let (_, o) = create_order(&app, &key, "o2", &order_body(&free, "15.00")).await;
    let id = o["id"].as_str().unwrap().to_owned();
    move_to(&app, &pi_of_order(&id), IntentStatus::AtTerminal).await;
    let (st, b) = cancel(id.clone(), "k4", None).await;
    assert_eq!((st, code(&b)), (409, "cannot_cancel_order"), "{b}");
    // With the header the cancel goes to Mercado Pago, whose answer decides;
    // with no worker here to ask it, the answer is "pending", never a success.
    let (st, c) = cancel(id.clone(), "k5", Some("at_terminal")).await;
    assert_eq!((st, code(&c)), (504, "cancel_pending"), "{c}");

    // Refunds: only processed orders; the header is required.
    let (st, b) = json(
        app.post(&key, &format!("/v1/orders/{id}/refund"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code(&b)), (400, "empty_required_header"));
    let (st, b) = json(
        app.post(&key, &format!("/v1/orders/{id}/refund"))
            .header("X-Idempotency-Key", "r1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code(&b)), (409, "cannot_refund_order"), "{b}");
    move_to(&app, &pi_of_order(&id), IntentStatus::Processed).await;
    let (st, b) = cancel(id.clone(), "k6", Some("at_terminal")).await;
    assert_eq!((st, code(&b)), (409, "cannot_cancel_order"));
    let (st, g) = json(
        app.get(&key, &format!("/v1/orders/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, g["status"].as_str()), (200, Some("processed")));
    assert_eq!(
        g["transactions"]["payments"][0]["status_detail"],
        "accredited"
    );
    for (i, (body, want)) in [
        (json!({"transactions": [{"id": "PAY01JQ4S4KY8HWQ6NA5PXB65B3D3", "amount": "1.00"}]}), (404, "transaction_not_found")),
        (json!({"transactions": [{"id": g["transactions"]["payments"][0]["id"], "amount": "99.00"}]}), (400, "refund_amount_exceeds")),
        (json!({"transactions": [{"id": g["transactions"]["payments"][0]["id"], "amount": 1}]}), (400, "property_type")),
    ]
    .into_iter()
    .enumerate()
    {
        let (st, b) = json(
            app.post(&key, &format!("/v1/orders/{id}/refund"))
                .header("X-Idempotency-Key", format!("r-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, code(&b)), want, "{body} -> {b}");
    }
}

async fn legacy_point_api(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(100).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let free = device(100, 1);
    let base = "/point/integration-api";

    // Devices, with filters and paging.
    let (st, d) = json(
        app.get(&key, &format!("{base}/devices"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["paging"]["total"], 2);
    let first = &d["devices"][0];
    assert_eq!(first["id"], device(100, 0));
    assert_eq!(
        (first["pos_id"].as_i64(), first["store_id"].as_str()),
        (Some(2000), Some("1000"))
    );
    assert_eq!(
        (
            first["external_pos_id"].as_str(),
            first["operating_mode"].as_str()
        ),
        (Some("SUC0POS1"), Some("PDV"))
    );
    let (_, d) = json(
        app.get(&key, &format!("{base}/devices?store_id=1001"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (
            d["paging"]["total"].as_u64(),
            d["devices"][0]["id"].as_str()
        ),
        (Some(1), Some(free.as_str()))
    );
    let (_, d) = json(
        app.get(&key, &format!("{base}/devices?pos_id=2000"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d["devices"][0]["id"], device(100, 0));
    let (_, d) = json(
        app.get(&key, &format!("{base}/devices?limit=1&offset=1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (
            d["devices"].as_array().unwrap().len(),
            d["paging"]["total"].as_u64()
        ),
        (1, Some(2))
    );
    assert_eq!(d["devices"][0]["id"], free);
    for q in ["limit=abc", "offset=-1", "pos_id=x", "limit=0"] {
        let (st, b) = json(
            app.get(&key, &format!("{base}/devices?{q}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (st, b["error"].as_str(), b["status"].as_u64()),
            (400, Some("bad_request"), Some(400)),
            "{q}: {b}"
        );
    }
    // Authentication: the classic envelope.
    let (st, b) = json(
        app.get("pk_test_nope", &format!("{base}/devices"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, b["error"].as_str(), b["status"].as_u64()),
        (401, Some("unauthorized"), Some(401))
    );

    // Mode change: validated before Mercado Pago is asked.
    let patch = |dev: String, body: Value| {
        let r = app
            .http
            .patch(format!("{}{base}/devices/{dev}", app.url))
            .bearer_auth(&key)
            .json(&body);
        async move { json(r.send().await.unwrap()).await }
    };
    let (st, b) = patch(free.clone(), json!({"operating_mode": "SIDEWAYS"})).await;
    assert_eq!((st, b["error"].as_str()), (400, Some("bad_request")));
    let (st, b) = patch(device(200, 0), json!({"operating_mode": "PDV"})).await;
    assert_eq!((st, b["error"].as_str()), (403, Some("forbidden")));

    // Create: validation, unknown devices, the lock.
    let post = |dev: String, body: Value, idem: Option<&'static str>| {
        let mut r = app
            .post(&key, &format!("{base}/devices/{dev}/payment-intents"))
            .json(&body);
        if let Some(k) = idem {
            r = r.header("X-Idempotency-Key", k);
        }
        async move { json(r.send().await.unwrap()).await }
    };
    for body in [
        json!({"amount": 1}),
        json!({"amount": "15.00"}),
        json!({}),
        json!({"amount": 1500, "payment": {"installments": 2}}),
        // Fields the reference does not list: refused, not dropped.
        json!({"amount": 1500, "amonut": 1500}),
        json!({"amount": 1500, "payment": {"type": "credit_card", "instalments": 3}}),
        json!({"amount": 1500, "additional_info": {"print_on_terminal": true, "external_ref": "x"}}),
    ] {
        let (st, b) = post(free.clone(), body.clone(), None).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some("bad_request")),
            "{body} -> {b}"
        );
        assert!(b["cause"].is_array() && b["message"].is_string());
    }
    let (st, b) = post("PAX_A910__NOPE".into(), json!({"amount": 1500}), None).await;
    assert_eq!((st, b["error"].as_str()), (403, Some("forbidden")));
    let (st, b) = post(device(100, 0), json!({"amount": 1500}), None).await;
    assert_eq!(
        (st, b["message"].as_str()),
        (409, Some("Device has a queued payment intent")),
        "{b}"
    );

    let body = json!({"amount": 1500, "description": "your payment intent description",
                      "payment": {"installments": 1, "type": "credit_card", "installments_cost": "seller"},
                      "additional_info": {"external_reference": "4561ads-das4das4", "print_on_terminal": true}});
    let (st, c) = post(free.clone(), body.clone(), Some("legacy-1")).await;
    assert_eq!(st, 200, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    assert!(c.get("state").is_none(), "the create response has no state");
    assert_eq!(
        (c["amount"].as_i64(), c["device_id"].as_str()),
        (Some(1500), Some(free.as_str()))
    );
    assert_eq!(c["payment"]["installments_cost"], "seller");
    assert_eq!(
        c["additional_info"]["external_reference"],
        "4561ads-das4das4"
    );
    // The SDKs' automatic X-Idempotency-Key replays.
    let (st, again) = post(free.clone(), body.clone(), Some("legacy-1")).await;
    assert_eq!((st, again["id"].as_str()), (200, Some(id.as_str())));
    let (st, b) = post(free.clone(), json!({"amount": 1600}), Some("legacy-1")).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (409, Some("idempotency_key_already_used"))
    );
    let (st, b) = post(free.clone(), json!({"amount": 1600}), None).await;
    assert_eq!(st, 409, "{b}");

    // Read, events.
    let (st, g) = json(
        app.get(&key, &format!("{base}/payment-intents/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        (g["state"].as_str(), g["amount"].as_i64()),
        (Some("OPEN"), Some(1500))
    );
    let (st, b) = json(
        app.get(
            &key,
            &format!("{base}/payment-intents/00000000-0000-0000-0000-000000000000"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (st, b["message"].as_str()),
        (404, Some("Payment intent doesn't exist"))
    );
    let today = chrono::Utc::now().date_naive().to_string();
    let (st, e) = json(
        app.get(
            &key,
            &format!("{base}/payment-intents/events?startDate={today}&endDate={today}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{e}");
    assert!(
        e["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["payment_intent_id"] == id.as_str() && v["status"] == "OPEN")
    );
    for q in [
        "",
        "startDate=2026-01-01",
        "startDate=2026-01-01&endDate=2026-03-01",
        "startDate=x&endDate=y",
    ] {
        let (st, _) = json(
            app.get(&key, &format!("{base}/payment-intents/events?{q}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 400, "{q}");
    }
    let (st, l) = json(
        app.get(&key, &format!("{base}/payment-intents/{id}/events"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, l["status"].as_str()), (200, Some("OPEN")));

    // Cancel: the right device only; then CANCELED; then refused.
    let (st, _) = json(
        app.delete(
            &key,
            &format!("{base}/devices/{}/payment-intents/{id}", device(100, 0)),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 404);
    let (st, c) = json(
        app.delete(&key, &format!("{base}/devices/{free}/payment-intents/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, c["id"].as_str()), (200, Some(id.as_str())), "{c}");
    let (_, g) = json(
        app.get(&key, &format!("{base}/payment-intents/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(g["state"], "CANCELED");
    let (st, b) = json(
        app.delete(&key, &format!("{base}/devices/{free}/payment-intents/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (409, Some("conflict")));
    // On the terminal: blocked.
    let (_, c) = post(free.clone(), json!({"amount": 1700}), None).await;
    let id2 = c["id"].as_str().unwrap().to_owned();
    let (_, native) = json(
        app.get(&key, "/v1/payment-intents?limit=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let pi = native["data"][0]["id"].as_str().unwrap().to_owned();
    move_to(&app, &pi, IntentStatus::AtTerminal).await;
    let (st, b) = json(
        app.delete(
            &key,
            &format!("{base}/devices/{free}/payment-intents/{id2}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (st, b["message"].as_str()),
        (409, Some("Payment intent is blocked by terminal"))
    );
    let (_, g) = json(
        app.get(&key, &format!("{base}/payment-intents/{id2}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(g["state"], "ON_TERMINAL");
    move_to(&app, &pi, IntentStatus::Processed).await;
    let (_, g) = json(
        app.get(&key, &format!("{base}/payment-intents/{id2}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(g["state"], "FINISHED");
}

async fn terminals_api(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(100).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let (st, l) = json(
        app.get(&key, "/terminals/v1/list?limit=500")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{l}");
    assert_eq!(
        l["paging"],
        json!({"total": 2, "offset": 0, "limit": 50}),
        "limit clamped to 50"
    );
    let t0 = &l["data"]["terminals"][0];
    assert_eq!(
        (
            t0["id"].as_str(),
            t0["pos_id"].as_i64(),
            t0["store_id"].as_str()
        ),
        (Some(device(100, 0).as_str()), Some(2000), Some("1000"))
    );
    assert_eq!(t0["external_pos_id"], "SUC0POS1");
    assert_eq!(t0["operating_mode"], "PDV");
    let (_, l) = json(
        app.get(&key, "/terminals/v1/list?store_id=1001")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(l["data"]["terminals"][0]["id"], device(100, 1));
    let (_, l) = json(
        app.get(&key, "/terminals/v1/list?store_id=999")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        l,
        json!({"data": {"terminals": []}, "paging": {"total": 0, "offset": 0, "limit": 50}})
    );
    let (st, b) = json(
        app.get(&key, "/terminals/v1/list?limit=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code(&b)), (400, "property_value"));
    let (st, b) = json(
        app.get("pk_live_nope", "/terminals/v1/list")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (401, Some("unauthorized")));

    let setup = |body: Value| {
        let r = app
            .http
            .patch(format!("{}/terminals/v1/setup", app.url))
            .bearer_auth(&key)
            .json(&body);
        async move { json(r.send().await.unwrap()).await }
    };
    for (body, want) in [
        (json!({}), (400, "required_properties")),
        (json!({"terminals": []}), (400, "property_value")),
        (
            json!({"terminals": [{"id": device(100, 0), "operating_mode": "NOPE"}]}),
            (400, "property_value"),
        ),
        (
            json!({"terminals": [{"id": device(100, 0), "operating_mode": "PDV"}], "x": 1}),
            (400, "unsupported_properties"),
        ),
        (
            json!({"terminals": [{"id": "PAX_A910__NOPE", "operating_mode": "PDV"}]}),
            (404, "not_found"),
        ),
    ] {
        let (st, b) = setup(body.clone()).await;
        assert_eq!((st, code(&b)), want, "{body} -> {b}");
    }
}

/// Every key type against every object type: terminals (devices), orders
/// and legacy payment intents of a sibling seller, and of another integrator.
async fn scope_isolation(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a: Seeded = app.seed(100).await;
    let b: Seeded = app.seed(200).await;
    let admin = app.key(&a, ScopeKind::Integrator, None).await;
    // An order and a legacy intent on seller 1's terminal (free).
    let (_, o) = create_order(&app, &admin, "iso", &order_body(&device(100, 1), "15.00")).await;
    let order = o["id"].as_str().unwrap().to_owned();
    // The seeded intent (seller 0) in both shapes.
    let (_, ev) = json(
        app.get(
            &admin,
            &format!(
                "/point/integration-api/payment-intents/events?startDate={0}&endDate={0}",
                chrono::Utc::now().date_naive()
            ),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let ids: Vec<String> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["payment_intent_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let own_order = format!("ORD{}", a.intent.as_str()[3..].to_ascii_uppercase());
    let sibling_legacy = {
        let (_, g) = json(
            app.get(&admin, &format!("/v1/orders/{order}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(g["id"], order.as_str());
        // The legacy id of the sibling's intent is the one not of seller 0.
        let (_, own) = json(
            app.get(&admin, "/point/integration-api/devices")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(own["paging"]["total"], 2);
        let mut found = None;
        for id in &ids {
            let (_, g) = json(
                app.get(
                    &admin,
                    &format!("/point/integration-api/payment-intents/{id}"),
                )
                .send()
                .await
                .unwrap(),
            )
            .await;
            if g["device_id"] == device(100, 1) {
                found = Some(id.clone());
            }
        }
        found.unwrap()
    };

    let keys = [
        (
            "seller",
            app.key(&a, ScopeKind::Seller, Some(a.seller.as_str()))
                .await,
        ),
        (
            "store",
            app.key(&a, ScopeKind::Store, Some(a.store.as_str())).await,
        ),
        (
            "pos",
            app.key(&a, ScopeKind::Pos, Some(a.pos.as_str())).await,
        ),
        (
            "other integrator",
            app.key(&b, ScopeKind::Integrator, None).await,
        ),
    ];
    for (kind, key) in &keys {
        let narrow = *kind != "other integrator";
        // Devices: only their own.
        let (_, d) = json(
            app.get(key, "/point/integration-api/devices")
                .send()
                .await
                .unwrap(),
        )
        .await;
        let listed: Vec<&str> = d["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        let (_, tl) = json(app.get(key, "/terminals/v1/list").send().await.unwrap()).await;
        assert_eq!(
            tl["paging"]["total"].as_u64(),
            Some(listed.len() as u64),
            "{kind}"
        );
        if narrow {
            assert_eq!(listed, vec![device(100, 0).as_str()], "{kind}");
        } else {
            assert_eq!(
                listed,
                vec![device(200, 0).as_str(), device(200, 1).as_str()],
                "{kind}"
            );
        }
        // Orders of the sibling seller: not found, never data.
        let (st, r) = json(
            app.get(key, &format!("/v1/orders/{order}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, code(&r)), (404, "order_not_found"), "{kind}: {r}");
        let (st, _) = json(
            app.post(key, &format!("/v1/orders/{order}/cancel"))
                .header("X-Idempotency-Key", "x")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 404, "{kind}");
        let (st, _) = json(
            app.post(key, &format!("/v1/orders/{order}/refund"))
                .header("X-Idempotency-Key", "x")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 404, "{kind}");
        let (_, f) = json(
            app.get(key, "/v1/orders?external_reference=ext_ref_1234")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(f["paging"]["total"], 0, "{kind}");
        // Legacy intents of the sibling seller.
        let (st, r) = json(
            app.get(
                key,
                &format!("/point/integration-api/payment-intents/{sibling_legacy}"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(
            (st, r["error"].as_str()),
            (404, Some("not_found")),
            "{kind}: {r}"
        );
        let (st, _) = json(
            app.get(
                key,
                &format!("/point/integration-api/payment-intents/{sibling_legacy}/events"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(st, 404, "{kind}");
        let (st, _) = json(
            app.delete(
                key,
                &format!(
                    "/point/integration-api/devices/{}/payment-intents/{sibling_legacy}",
                    device(100, 1)
                ),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(st, 404, "{kind}");
        // Charging on the sibling's terminal: the upstream's 403.
        let (st, r) = create_order(&app, key, "iso-2", &order_body(&device(100, 1), "15.00")).await;
        assert_eq!(
            (st, code(&r)),
            (403, "forbidden_checking_terminal_owner"),
            "{kind}"
        );
        let (st, _) = json(
            app.post(
                key,
                &format!(
                    "/point/integration-api/devices/{}/payment-intents",
                    device(100, 1)
                ),
            )
            .json(&json!({"amount": 1500}))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(st, 403, "{kind}");
        let (st, _) = json(
            app.http
                .patch(format!("{}/terminals/v1/setup", app.url))
                .bearer_auth(key)
                .json(&json!({"terminals": [{"id": device(100, 1), "operating_mode": "PDV"}]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 404, "{kind}");
        // Their own (seller 0's) order is visible to the narrowed keys.
        let (st, _) = json(
            app.get(key, &format!("/v1/orders/{own_order}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, if narrow { 200 } else { 404 }, "{kind}");
        let (_, ev) = json(
            app.get(
                key,
                &format!(
                    "/point/integration-api/payment-intents/events?startDate={0}&endDate={0}",
                    chrono::Utc::now().date_naive()
                ),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        // Each sees exactly one intent: seller 0's, or the other integrator's own.
        let ev = ev["events"].as_array().unwrap();
        assert_eq!(ev.len(), 1, "{kind}");
        let seen = ev[0]["payment_intent_id"].as_str().unwrap().to_owned();
        assert_ne!(seen, sibling_legacy, "{kind}");
        assert_eq!(ids.contains(&seen), narrow, "{kind}");
    }
}

/// Issue 13: what Mercado Pago refuses at create time is a 400 here too; the
/// order view carries the fields a POS reads; a legacy `payment.id` is an
/// integer; unknown Mercado Pago routes answer in Mercado Pago's shape.
async fn orders_fidelity_fields_and_create_rules(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(100).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let free = device(100, 1);
    let before = count(&app).await;
    // MLB's legacy floor is 1.00; the Orders API's is 5.00.
    let (st, b) = create_order(&app, &key, "min", &order_body(&free, "1.00")).await;
    assert_eq!((st, code(&b)), (400, "property_value"), "{b}");
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("5.00"));
    let mut v = order_body(&free, "15.00");
    v.as_object_mut().unwrap().remove("external_reference");
    let (st, b) = create_order(&app, &key, "noref", &v).await;
    assert_eq!((st, code(&b)), (400, "required_properties"), "{b}");
    v["external_reference"] = json!("has space");
    let (st, b) = create_order(&app, &key, "badref", &v).await;
    assert_eq!((st, code(&b)), (400, "property_value"), "{b}");
    let mut v = order_body(&free, "15.00");
    v["integration_data"]["platform_id"] = json!(7);
    let (st, b) = create_order(&app, &key, "badplat", &v).await;
    assert_eq!((st, code(&b)), (400, "property_type"), "{b}");
    assert_eq!(count(&app).await, before, "nothing created");

    // The view: the POS's expiration and integration ids, the application,
    // the totals.
    let (st, o) = create_order(&app, &key, "ok", &order_body(&free, "24.00")).await;
    assert_eq!(st, 201, "{o}");
    assert_eq!(o["expiration_time"], "PT16M");
    assert_eq!(o["integration_data"]["platform_id"], "dev_1");
    assert_eq!(o["integration_data"]["integrator_id"], "dev_1");
    assert_eq!(o["integration_data"]["application_id"], "1000");
    assert_eq!(o["integration_data"]["sponsor"]["id"], "100");
    assert_eq!(
        (o["total_amount"].as_str(), o["total_paid_amount"].as_str()),
        (Some("24.00"), Some("0.00"))
    );
    let id = o["id"].as_str().unwrap().to_owned();
    let pi = pi_of_order(&id);
    // What the worker records from Mercado Pago's order: brand and reference.
    let details = platform_core::entities::mp_order_details::Entity::find_by_id(
        platform_core::id::PaymentIntentId::parse(&pi).unwrap(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .expect("details recorded at create");
    assert_eq!(details.expiration_time.as_deref(), Some("PT16M"));
    let mut a: platform_core::entities::mp_order_details::ActiveModel = details.into();
    a.payment_method_id = sea_orm::Set(Some("master".into()));
    a.reference_id = sea_orm::Set(Some("12345678".into()));
    sea_orm::ActiveModelTrait::update(a, &app.state.db)
        .await
        .unwrap();
    move_to(&app, &pi, IntentStatus::AtTerminal).await;
    intents::transition(
        &app.state.db,
        &platform_core::id::PaymentIntentId::parse(&pi).unwrap(),
        IntentStatus::Processed,
        UpstreamFacts {
            mp_payment_id: Some("PAY01JQ4S4KY8HWQ6NA5PXB65B3D3".into()),
            ..Default::default()
        },
        EventSource::Worker,
    )
    .await
    .unwrap();
    let (_, g) = json(
        app.get(&key, &format!("/v1/orders/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let pay = &g["transactions"]["payments"][0];
    assert_eq!(pay["payment_method"]["id"], "master", "{g}");
    assert_eq!(pay["reference_id"], "12345678");
    assert_eq!(g["total_paid_amount"], "24.00");

    // Legacy: `payment.id` is an integer even when Mercado Pago's id is `PAY…`.
    let base = "/point/integration-api";
    let (st, c) = json(
        app.post(&key, &format!("{base}/devices/{free}/payment-intents"))
            .json(&json!({"amount": 1500}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{c}");
    let legacy = c["id"].as_str().unwrap().to_owned();
    let (_, native) = json(
        app.get(&key, "/v1/payment-intents?limit=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let lpi = native["data"][0]["id"].as_str().unwrap().to_owned();
    move_to(&app, &lpi, IntentStatus::AtTerminal).await;
    intents::transition(
        &app.state.db,
        &platform_core::id::PaymentIntentId::parse(&lpi).unwrap(),
        IntentStatus::Processed,
        UpstreamFacts {
            mp_payment_id: Some("PAY01JQ4S4KY8HWQ6NA5PXB65B3D3".into()),
            ..Default::default()
        },
        EventSource::Worker,
    )
    .await
    .unwrap();
    let (_, g) = json(
        app.get(&key, &format!("{base}/payment-intents/{legacy}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(g["state"], "FINISHED", "{g}");
    let n = g["payment"]["id"].as_i64().expect("an integer payment id");
    assert!(n > 0 && n < 1 << 53, "{n}");
    let (_, again) = json(
        app.get(&key, &format!("{base}/payment-intents/{legacy}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["payment"]["id"].as_i64(), Some(n), "stable");

    // Unknown routes of Mercado Pago's families: its classic 404.
    for path in [
        "/v1/orders/x/nope",
        "/point/integration-api/nope",
        "/merchant_orders/1",
    ] {
        let (st, b) = json(app.get(&key, path).send().await.unwrap()).await;
        assert_eq!(st, 404, "{path}");
        assert_eq!(
            (b["error"].as_str(), b["status"].as_i64()),
            (Some("not_found"), Some(404)),
            "{path}: {b}"
        );
        assert!(b["cause"].is_array(), "{path}: {b}");
    }
    // Puente's own paths keep Puente's shape.
    let (st, b) = json(app.get(&key, "/v1/nope").send().await.unwrap()).await;
    assert_eq!(
        (st, b["code"].as_str()),
        (404, Some("route_not_found")),
        "{b}"
    );
}

/// `GET /users/me`: a key narrowed to a seller (or its POS) is that seller's
/// account; an integrator-wide key is no one account.
async fn users_me_is_the_keys_seller(t: &TestDb) {
    use platform_core::entities::sellers;
    let app = TestApp::start(t, |_| {}).await;
    let a: Seeded = app.seed(300).await;
    let seller = sellers::Entity::find_by_id(a.seller.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    for key in [
        app.key(&a, ScopeKind::Seller, Some(a.seller.as_str()))
            .await,
        app.key(&a, ScopeKind::Pos, Some(a.pos.as_str())).await,
    ] {
        let (status, me) = json(app.get(&key, "/users/me").send().await.unwrap()).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(
            me["id"], seller.mp_user_id,
            "a number, as Mercado Pago answers"
        );
        assert_eq!(me["nickname"], seller.nickname.as_str());
        assert_eq!(
            (me["site_id"].as_str(), me["country_id"].as_str()),
            (Some("MLB"), Some("BR"))
        );
        assert!(
            me["tags"].as_array().unwrap().contains(&json!("test_user")),
            "{me}"
        );
    }
    let other = app
        .key(&a, ScopeKind::Seller, Some(a.other_seller.as_str()))
        .await;
    let (_, me) = json(app.get(&other, "/users/me").send().await.unwrap()).await;
    assert_ne!(
        me["id"], seller.mp_user_id,
        "each seller key its own account"
    );

    let admin = app.key(&a, ScopeKind::Integrator, None).await;
    let (status, body) = json(app.get(&admin, "/users/me").send().await.unwrap()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        (body["error"].as_str(), body["status"].as_u64()),
        (Some("forbidden"), Some(403))
    );
    let res = app
        .http
        .get(format!("{}/users/me", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

on_both_databases!(
    users_me_is_the_keys_seller,
    orders_create_validates_and_overrides_sponsor,
    orders_fidelity_fields_and_create_rules,
    orders_idempotency_and_terminal_lock,
    orders_cancel_and_refund,
    legacy_point_api,
    terminals_api,
    scope_isolation,
);
