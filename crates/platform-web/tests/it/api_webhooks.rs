//! `/v1/webhook-endpoints` and `/v1/webhook-deliveries` over HTTP on both
//! databases: the endpoint lifecycle, validation that changes nothing,
//! scopes (narrowed keys 403/404, other integrators 404), the delivery log
//! and replays.

use crate::common;

use std::time::Duration;

use common::{TestApp, json};
use platform_core::events;
use platform_core::id::WebhookDeliveryId;
use platform_core::jobs;
use platform_core::on_both_databases;
use platform_core::states::ScopeKind;
use platform_core::testing::{Seeded, TestDb};
use platform_core::webhooks::test_receiver::{Receiver, Reply};
use platform_core::webhooks::{DeliveryPolicy, Outcome, WebhookHttp, deliver_once};
use serde_json::{Value, json};

const EP: &str = "/v1/webhook-endpoints";

async fn emit(app: &TestApp, s: &Seeded) -> Vec<WebhookDeliveryId> {
    let txn = app.state.db.begin_write().await.unwrap();
    let ids = events::emit(
        &txn,
        &s.integrator,
        Some(&s.seller),
        "seller.linked",
        &json!({"seller_id": s.seller}),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    ids
}

async fn create(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    json(app.post(key, EP).json(&body).send().await.unwrap()).await
}

async fn endpoint_lifecycle(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(9000).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;

    // Bad input: clear errors, nothing created.
    for (body, status, code) in [
        (json!({"url": "ftp://example.com"}), 422, "invalid_url"),
        (
            json!({"url": "https://u:p@example.com/h"}),
            422,
            "invalid_url",
        ),
        (
            json!({"url": "https://example.com/h", "event_types": ["nope"]}),
            422,
            "invalid_event_type",
        ),
        (
            json!({"url": "https://example.com/h", "seller_id": "sel_nope"}),
            422,
            "invalid_seller",
        ),
        (json!({"url": "http://10.0.0.1/h"}), 422, "url_not_allowed"),
        (
            json!({"url": "https://example.com/h", "extra": 1}),
            422,
            "invalid_body",
        ),
        (json!({}), 422, "invalid_body"),
    ] {
        let (st, b) = create(&app, &key, body.clone()).await;
        assert_eq!(
            (st, b["code"].as_str().unwrap()),
            (status, code),
            "{body}: {b}"
        );
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let res = app
        .post(&key, EP)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (_, list) = json(app.get(&key, EP).send().await.unwrap()).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only the seeded endpoint"
    );

    let (st, ep) = create(
        &app,
        &key,
        json!({
            "url": "https://example.com/hooks/puente",
            "description": "ERP",
            "event_types": ["seller.linked", "payment_intent.processed"],
            "seller_id": s.seller,
        }),
    )
    .await;
    assert_eq!(st, 201, "{ep}");
    let id = ep["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wep_"));
    assert!(ep["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(ep["object"], "webhook_endpoint");
    assert_eq!(ep["status"], "enabled");
    assert_eq!(
        ep["event_types"],
        json!(["payment_intent.processed", "seller.linked"])
    );

    // The secret is never shown again.
    let (st, got) = json(app.get(&key, &format!("{EP}/{id}")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    assert!(got.get("secret").is_none());
    let (_, list) = json(app.get(&key, EP).send().await.unwrap()).await;
    assert!(!list.to_string().contains("whsec_"));
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    // A bad patch changes nothing.
    let patch = |body: Value| {
        app.http
            .patch(format!("{}{EP}/{id}", app.url))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let (st, b) = json(
        patch(json!({"url": "https://example.org/x", "event_types": ["bad"]}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, b["code"].as_str().unwrap()),
        (422, "invalid_event_type")
    );
    let (_, got) = json(app.get(&key, &format!("{EP}/{id}")).send().await.unwrap()).await;
    assert_eq!(got["url"], "https://example.com/hooks/puente");
    let (st, b) = json(
        patch(json!({"url": "https://example.org/x", "description": null, "seller_id": null, "enabled": false}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["url"], "https://example.org/x");
    assert_eq!(b["description"], Value::Null);
    assert_eq!(b["seller_id"], Value::Null);
    assert_eq!(b["status"], "disabled");
    assert!(b["disabled_reason"].as_str().is_some());
    let (_, b) = json(patch(json!({"enabled": true})).await.unwrap()).await;
    assert_eq!(b["status"], "enabled");
    assert_eq!(b["disabled_reason"], Value::Null);

    // Rotation: a new secret, the old one valid for 24 h more.
    let res = app
        .post(&key, &format!("{EP}/{id}/rotate-secret"))
        .send()
        .await
        .unwrap();
    let (st, rot) = json(res).await;
    assert_eq!(st, 200);
    assert_ne!(rot["secret"], ep["secret"]);
    assert!(rot["previous_secret_expires_at"].as_str().is_some());

    let (st, del) = json(
        app.delete(&key, &format!("{EP}/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, del["deleted"].as_bool()), (200, Some(true)));
    let (st, b) = json(app.get(&key, &format!("{EP}/{id}")).send().await.unwrap()).await;
    assert_eq!((st, b["code"].as_str().unwrap()), (404, "not_found"));
}

async fn scopes_are_enforced(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(9100).await;
    let other = app.seed(9200).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let seller_key = app
        .key(&s, ScopeKind::Seller, Some(s.seller.as_str()))
        .await;
    let other_key = app.key(&other, ScopeKind::Integrator, None).await;
    let ep = &s.endpoint;
    let delivery = &s.delivery;

    let (st, b) = create(&app, &seller_key, json!({"url": "https://example.com/h"})).await;
    assert_eq!(
        (st, b["code"].as_str().unwrap()),
        (403, "insufficient_scope")
    );
    let (st, _) = json(app.get(&seller_key, EP).send().await.unwrap()).await;
    assert_eq!(st, 403);

    // Narrowed keys and other integrators: 404 on every id route.
    for k in [&seller_key, &other_key] {
        let reqs = [
            app.get(k, &format!("{EP}/{ep}")),
            app.http
                .patch(format!("{}{EP}/{ep}", app.url))
                .bearer_auth(k)
                .json(&json!({"enabled": false})),
            app.delete(k, &format!("{EP}/{ep}")),
            app.post(k, &format!("{EP}/{ep}/rotate-secret")),
            app.get(k, &format!("{EP}/{ep}/deliveries")),
            app.post(k, &format!("{EP}/{ep}/replay"))
                .json(&json!({"since": "2020-01-01T00:00:00Z"})),
            app.get(k, &format!("/v1/webhook-deliveries/{delivery}")),
            app.post(k, &format!("/v1/webhook-deliveries/{delivery}/replay")),
        ];
        for r in reqs {
            let (st, b) = json(r.send().await.unwrap()).await;
            assert_eq!((st, b["code"].as_str().unwrap()), (404, "not_found"), "{b}");
        }
    }
    // The other integrator's list does not include it.
    let (_, list) = json(app.get(&other_key, EP).send().await.unwrap()).await;
    assert!(!list.to_string().contains(ep.as_str()));
    // And nothing changed for the owner.
    let (st, b) = json(app.get(&key, &format!("{EP}/{ep}")).send().await.unwrap()).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("enabled")));
}

async fn deliveries_log_and_replay(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(9300).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    // The seeded endpoint (example.com) is switched off: only ours receives.
    let res = app
        .http
        .patch(format!("{}{EP}/{}", app.url, s.endpoint))
        .bearer_auth(&key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rx = Receiver::start().await;
    rx.set_default(Reply::status(500).with_body("down for maintenance"));
    // Sandbox mode: http and loopback are allowed for the demo receiver.
    let (st, ep) = create(
        &app,
        &key,
        json!({"url": rx.url, "event_types": ["seller.linked"]}),
    )
    .await;
    assert_eq!(st, 201, "{ep}");
    let ep_id = ep["id"].as_str().unwrap().to_owned();

    let http = WebhookHttp::from_settings(&app.state.settings);
    let mut policy = DeliveryPolicy::default();
    policy.retry.schedule.truncate(1);
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.extend(emit(&app, &s).await);
    }
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let mut dead = Vec::new();
    for id in &mine {
        if let Ok(Outcome::Dead) =
            deliver_once(&app.state.db, &app.keyring, &http, &policy, id, now).await
        {
            dead.push(id.clone());
        }
    }
    rx.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(mine.len(), 3, "one delivery per event");
    assert_eq!(dead.len(), 3);

    // Paged list, newest first.
    let (st, p1) = json(
        app.get(&key, &format!("{EP}/{ep_id}/deliveries?limit=2"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{p1}");
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    assert_eq!(p1["has_more"], true);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = json(
        app.get(
            &key,
            &format!("{EP}/{ep_id}/deliveries?limit=2&before={cursor}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(p2["data"].as_array().unwrap().len(), 1);
    assert_eq!(p2["has_more"], false);
    let (_, dead_only) = json(
        app.get(&key, &format!("{EP}/{ep_id}/deliveries?status=dead"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(dead_only["data"].as_array().unwrap().len(), 3);
    for (q, code) in [
        ("limit=0", "invalid_limit"),
        ("status=lost", "invalid_status"),
    ] {
        let (st, b) = json(
            app.get(&key, &format!("{EP}/{ep_id}/deliveries?{q}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, b["code"].as_str().unwrap()), (422, code));
    }

    // One delivery with its attempt log.
    let d = &dead[0];
    let (st, got) = json(
        app.get(&key, &format!("/v1/webhook-deliveries/{d}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["status"], "dead");
    let attempts = got["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[0]["response_snippet"], "down for maintenance");
    assert!(attempts[0]["latency_ms"].as_i64().unwrap() >= 0);

    // Replay one: pending again and queued.
    let before = app
        .state
        .queue
        .stats(jobs::WEBHOOK_DELIVERY)
        .await
        .unwrap()
        .depth;
    let (st, r) = json(
        app.post(&key, &format!("/v1/webhook-deliveries/{d}/replay"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, r["status"].as_str()), (202, Some("pending")), "{r}");
    let after = app
        .state
        .queue
        .stats(jobs::WEBHOOK_DELIVERY)
        .await
        .unwrap()
        .depth;
    assert_eq!(after, before + 1);
    let (st, b) = json(
        app.post(&key, &format!("/v1/webhook-deliveries/{d}/replay"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str().unwrap()), (409, "delivery_pending"));

    // Replay everything that failed since the first event: the two others.
    let (st, b) = json(
        app.post(&key, &format!("{EP}/{ep_id}/replay"))
            .json(&json!({"since": "2020-01-01T00:00:00Z"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["count"].as_u64()), (202, Some(2)), "{b}");
    let (st, b) = json(
        app.post(&key, &format!("{EP}/{ep_id}/replay"))
            .json(&json!({"since": "yesterday"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str().unwrap()), (422, "invalid_body"));

    // Delivered this time.
    rx.set_default(Reply::status(200));
    for id in &dead {
        let out = deliver_once(&app.state.db, &app.keyring, &http, &policy, id, now)
            .await
            .unwrap();
        assert_eq!(out, Outcome::Succeeded);
    }
}

on_both_databases!(
    endpoint_lifecycle,
    scopes_are_enforced,
    deliveries_log_and_replay
);
