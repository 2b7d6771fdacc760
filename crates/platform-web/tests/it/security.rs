//! Security hardening (issue 11) over HTTP, on both databases.

use crate::common;

use std::time::Duration;

use common::TestApp;
use platform_core::api_keys;
use platform_core::entities::api_keys as key_rows;
use platform_core::id::IntegratorId;
use platform_core::on_both_databases;
use platform_core::states::ScopeKind;
use platform_core::tenancy::Scope;
use platform_core::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

/// Reads the stream until it ends; None when it is still open after `limit`.
async fn ends_within(mut res: reqwest::Response, limit: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    let drained = async move { while let Ok(Some(_)) = res.chunk().await {} };
    tokio::time::timeout(limit, drained)
        .await
        .ok()
        .map(|_| started.elapsed())
}

/// A revoked key's open stream ends at the next keep-alive tick.
async fn sse_stream_ends_when_its_key_is_revoked(t: &TestDb) {
    let app = TestApp::start(t, |r| r.sse_keepalive_secs = Some(1)).await;
    let s = app.seed(9_100_000).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let res = app
        .get(&key, "/v1/payment-intents/stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let prefix = &key[..key.len().min(16)];
    let row = key_rows::Entity::find()
        .filter(key_rows::Column::IntegratorId.eq(s.integrator.clone()))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|k| prefix.starts_with(k.prefix.as_str()) || key.starts_with(k.prefix.as_str()))
        .expect("the key's row");
    let scope = Scope::integrator(s.integrator.clone());
    api_keys::revoke(&app.state.db, &scope, &row.id)
        .await
        .unwrap();
    let took = ends_within(res, Duration::from_secs(5)).await;
    println!("stream closed {took:?} after the revocation (tick 1 s)");
    assert!(
        took.is_some(),
        "the stream is still open 5 s after the revocation"
    );
    app.web.stop().await;
}

/// A stream ends after PUENTE_SSE_MAX_LIFETIME_SECS, key valid or not.
async fn sse_stream_lifetime_is_capped(t: &TestDb) {
    let app = TestApp::start(t, |r| {
        r.sse_keepalive_secs = Some(1);
        r.sse_max_lifetime_secs = Some(2);
    })
    .await;
    let s = app.seed(9_200_000).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let res = app
        .get(&key, "/v1/payment-intents/stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let took = ends_within(res, Duration::from_secs(6)).await;
    println!("stream with a 2 s lifetime closed after {took:?}");
    let took = took.expect("the stream outlived its lifetime");
    assert!(took >= Duration::from_millis(1500), "{took:?}");
}

/// Invented HTTP methods all count under one `method="other"` label.
async fn invented_methods_add_no_metric_series(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("puente_http_requests_total{"))
            .count()
    };
    // Warm up the labels of the routes this test uses.
    let warm = reqwest::Method::from_bytes(b"WARMUP").unwrap();
    app.http
        .request(warm, format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    let metrics = || async {
        app.http
            .get(format!("{}/metrics", app.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let _ = metrics().await;
    let before = series(&metrics().await);
    for i in 0..200 {
        let m = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        app.http
            .request(m, format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap();
    }
    let text = metrics().await;
    let after = series(&text);
    println!(
        "puente_http_requests_total series: {before} before, {after} after 200 invented methods"
    );
    assert_eq!(before, after);
    assert!(!text.contains("INVENTED"));
    app.web.stop().await;
}

/// An unsigned notification is kept only as a hash and a 1 KiB excerpt.
async fn unverified_notifications_keep_a_hash_and_an_excerpt(t: &TestDb) {
    use platform_core::entities::inbound_notifications;
    let app = TestApp::start(t, |_| {}).await;
    let body = format!(
        r#"{{"type":"order","action":"order.processed","pad":"{}"}}"#,
        "x".repeat(60 * 1024)
    );
    let res = app
        .http
        .post(format!(
            "{}/webhooks/mercadopago?data.id=ORD1&type=order",
            app.url
        ))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let rows = inbound_notifications::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(!row.signature_valid);
    println!(
        "unverified body of {} bytes stored as {} bytes",
        body.len(),
        row.body.len()
    );
    assert!(row.body.len() <= 1024, "{}", row.body.len());
    assert!(body.starts_with(&row.body));
    let digest = platform_core::tokens::sha256_hex(&body);
    assert!(
        row.error.as_deref().unwrap_or_default().contains(&digest),
        "{:?}",
        row.error
    );
    app.web.stop().await;
}

/// `/webhooks/mercadopago/{id}` answers an unknown integrator exactly as a
/// known one whose signature does not verify: the answer does not reveal
/// which integrator ids exist.
async fn unknown_and_known_integrators_are_answered_alike(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(9_300_000).await;
    let post = |id: String| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(format!(
                    "{}/webhooks/mercadopago/{id}?data.id=ORD1&type=order",
                    app.url
                ))
                .header("x-signature", "ts=1,v1=00")
                .header("x-request-id", "r-1")
                .header("content-type", "application/json")
                .body(r#"{"type":"order","action":"order.processed","data":{"id":"ORD1"}}"#)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            (status, body["code"].clone())
        }
    };
    let known = post(s.integrator.to_string()).await;
    let unknown = post(IntegratorId::new().to_string()).await;
    let malformed = post("not-an-id".into()).await;
    assert_eq!(known.0, 401, "{known:?}");
    assert_eq!(unknown, known);
    assert_eq!(malformed, known);
    app.web.stop().await;
}

/// A scan of API keys from one network is slowed: its bad keys get 401s up
/// to the burst, then 429 before any lookup (a good key from that network
/// too, until the budget refills); another network is not affected.
async fn invalid_api_keys_are_limited_per_network(t: &TestDb) {
    // Behind a proxy of ours, so each request can come from its own network.
    let app = TestApp::start(t, |r| r.trusted_proxies = Some("127.0.0.1/32".into())).await;
    let s = app.seed(9_700_000).await;
    let good = app.key(&s, ScopeKind::Integrator, None).await;
    let from = |net: &str, key: &str| {
        app.get(key, "/v1/payment-intents")
            .header("x-forwarded-for", net)
            .send()
    };
    let scanner = "203.0.113.7";
    let burst = platform_web::state::BAD_KEYS_BURST as usize;
    for i in 0..burst {
        let res = from(scanner, &format!("pk_test_{i:032}")).await.unwrap();
        assert_eq!(res.status(), 401, "bad key {i} within the burst");
    }
    let res = from(scanner, "pk_test_one_too_many").await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // While spent, nothing from that network is looked up, a good key
    // neither; another network is not affected, and an IPv6 scanner is
    // one network per /64 whatever its addresses.
    assert_eq!(from(scanner, &good).await.unwrap().status(), 429);
    assert_eq!(from("198.51.100.9", &good).await.unwrap().status(), 200);
    for i in 0..=burst {
        let status = from(&format!("2001:db8:1:2::{:x}", i + 1), "pk_test_v6")
            .await
            .unwrap()
            .status();
        assert_eq!(status, if i < burst { 401 } else { 429 }, "v6 {i}");
    }
    // The budget refills (2 a second): the good key works again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(from(scanner, &good).await.unwrap().status(), 200);
    app.web.stop().await;
}

/// An oversized body: a stranger gets the 401 (nothing was read), a known
/// caller a JSON 413 in its surface's shape; nothing is created.
async fn oversized_bodies_are_read_only_for_known_callers(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(9_800_000).await;
    let good = app.key(&s, ScopeKind::Integrator, None).await;
    let big = format!(
        "{{\"terminal_id\":\"{}\",\"amount\":1500,\"description\":\"{}\"}}",
        s.terminal,
        "x".repeat(300 * 1024)
    );
    let send = |key: &str, path: &str| {
        app.post(key, path)
            .header("content-type", "application/json")
            .header("x-idempotency-key", "big-1")
            .body(big.clone())
            .send()
    };
    let res = send("pk_test_nobody", "/v1/payment-intents").await.unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_api_key");
    let res = send(&good, "/v1/payment-intents").await.unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large", "{body}");
    // The compatible surface, in Mercado Pago's shape.
    let res = send(&good, "/v1/orders").await.unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body.to_string().contains("payload_too_large"), "{body}");
    let intents = platform_core::entities::payment_intents::Entity::find()
        .filter(
            platform_core::entities::payment_intents::Column::IntegratorId.eq(s.integrator.clone()),
        )
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        intents
            .iter()
            .all(|i| i.description.as_deref().map_or(0, str::len) < 1000),
        "nothing made of the big body"
    );
    app.web.stop().await;
}

/// Every row of integrator `id` that an API route could touch, as text:
/// equal before and after means nothing of it changed.
async fn rows_of(app: &TestApp, id: &IntegratorId) -> String {
    use platform_core::entities::*;
    let db = &app.state.db;
    macro_rules! dump {
        ($($m:ident),*) => {{
            let mut out = String::new();
            $(
                let rows = $m::Entity::find()
                    .filter($m::Column::IntegratorId.eq(id))
                    .all(db)
                    .await
                    .unwrap();
                out.push_str(&format!("{}: {rows:?}\n", stringify!($m)));
            )*
            out
        }};
    }
    dump!(
        sellers,
        stores,
        pos,
        terminals,
        payment_intents,
        refunds,
        qr_orders,
        api_keys,
        onboarding_links,
        webhook_endpoints,
        webhook_deliveries,
        users,
        invitations
    )
}

/// From the OpenAPI document: every route that names an object, called
/// with an integrator-wide key of A on B's objects, answers 404 and changes
/// none of B's rows; creates that refer to B's objects are 404 too, and no
/// list shows one of B's ids. A documented route this test does not know
/// fails it, so a new route is covered when it is added.
async fn every_documented_route_refuses_another_tenants_objects(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(9_910_000).await;
    let b = app.seed(9_920_000).await;
    let key = app.key(&a, ScopeKind::Integrator, None).await;
    let spec: serde_json::Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    let object_of = |segment: &str| -> Option<&str> {
        Some(match segment {
            "api-keys" => b.api_key.as_str(),
            "onboarding-links" => b.link.as_str(),
            "payment-intents" => b.intent.as_str(),
            "pos" => b.pos.as_str(),
            "sellers" => b.seller.as_str(),
            "stores" => b.store.as_str(),
            "terminals" => b.terminal.as_str(),
            "webhook-deliveries" => b.delivery.as_str(),
            "webhook-endpoints" => b.endpoint.as_str(),
            _ => return None,
        })
    };
    // A valid body for each write, so only the object decides the answer.
    let body_of = |method: &str, path: &str| -> serde_json::Value {
        match (method, path) {
            ("post", "/v1/payment-intents/{id}/refunds") => json!({"amount": 100}),
            ("put", "/v1/pos/{id}/qr-order") => json!({"title": "Café", "total_amount": 1500}),
            ("patch", "/v1/terminals/{id}") => json!({"operating_mode": "PDV"}),
            ("patch", "/v1/webhook-endpoints/{id}") => json!({"enabled": false}),
            ("post", "/v1/webhook-endpoints/{id}/replay") => {
                json!({"since": "2026-01-01T00:00:00Z"})
            }
            _ => json!({}),
        }
    };
    let before = rows_of(&app, &b.integrator).await;
    let b_ids = [
        b.seller.as_str(),
        b.store.as_str(),
        b.pos.as_str(),
        b.terminal.as_str(),
        b.intent.as_str(),
        b.refund.as_str(),
        b.api_key.as_str(),
        b.link.as_str(),
        b.endpoint.as_str(),
        b.delivery.as_str(),
    ];
    let mut tried = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if ops.get(method).is_none() {
                continue;
            }
            let url = if let Some(at) = path.find("/{") {
                let segment = path[..at].rsplit('/').next().unwrap();
                let id = object_of(segment)
                    .unwrap_or_else(|| panic!("{method} {path}: which object is `{segment}`?"));
                format!(
                    "{}{}",
                    &path[..at + 1],
                    &path[at + 1..].replacen("{id}", id, 1)
                )
            } else {
                path.clone()
            };
            let url = url.replace("/{id}", "");
            let req = match method {
                "get" => app.http.get(format!("{}{url}", app.url)),
                "post" => app.http.post(format!("{}{url}", app.url)),
                "put" => app.http.put(format!("{}{url}", app.url)),
                "patch" => app.http.patch(format!("{}{url}", app.url)),
                _ => app.http.delete(format!("{}{url}", app.url)),
            }
            .bearer_auth(&key)
            .header("idempotency-key", format!("probe-{tried}"));
            if !path.contains('{') {
                // Lists and creates: none of B's ids shows; creates that
                // name B's objects are 404.
                let body = match (method, path.as_str()) {
                    ("get", "/v1/payment-intents/stream") => continue,
                    ("get", _) => None,
                    ("post", "/v1/payment-intents") => {
                        Some(json!({"terminal_id": b.terminal, "amount": 1500}))
                    }
                    ("post", "/v1/api-keys") => {
                        Some(json!({"name": "x", "scope": "seller", "scope_id": b.seller}))
                    }
                    ("post", "/v1/onboarding-links") => Some(json!({"seller_id": b.seller})),
                    ("post", "/v1/webhook-endpoints") => {
                        Some(json!({"url": "https://hooks.example.com/x", "seller_id": b.seller}))
                    }
                    _ => panic!("{method} {path}: how to probe it?"),
                };
                let res = match &body {
                    Some(body) => req.json(body),
                    None => req,
                }
                .send()
                .await
                .unwrap();
                let status = res.status().as_u16();
                let text = res.text().await.unwrap();
                if let Some(body) = &body {
                    // Refused exactly as a reference to nothing at all.
                    assert!(matches!(status, 404 | 422), "{method} {path}: {text}");
                    let made_up = body
                        .to_string()
                        .replace(
                            b.terminal.as_str(),
                            &platform_core::id::TerminalId::new().into_string(),
                        )
                        .replace(
                            b.seller.as_str(),
                            &platform_core::id::SellerId::new().into_string(),
                        );
                    let res = app
                        .http
                        .post(format!("{}{path}", app.url))
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(made_up)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status().as_u16(), status, "{method} {path}");
                    let code = |t: &str| {
                        serde_json::from_str::<serde_json::Value>(t).unwrap()["code"].clone()
                    };
                    assert_eq!(
                        code(&res.text().await.unwrap()),
                        code(&text),
                        "{method} {path}"
                    );
                } else {
                    assert_eq!(status, 200, "{method} {path}: {text}");
                    for id in b_ids {
                        assert!(!text.contains(id), "{method} {path} shows {id}");
                    }
                }
                tried += 1;
                continue;
            }
            let res = match method {
                "get" | "delete" => req,
                _ => req.json(&body_of(method, path)),
            }
            .send()
            .await
            .unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            assert_eq!(status, 404, "{method} {url}: {text}");
            tried += 1;
        }
    }
    assert!(tried >= 30, "only {tried} operations probed");
    assert_eq!(
        rows_of(&app, &b.integrator).await,
        before,
        "B's rows changed"
    );
    app.web.stop().await;
}

/// From the dashboard's route table: every page and form that names an
/// object, opened with A's session on B's objects, answers 404 and changes
/// none of B's rows. A route this test does not know fails it.
async fn every_dashboard_route_refuses_another_tenants_objects(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(9_930_000).await;
    let b = app.seed(9_940_000).await;
    let (cookie, csrf) = common::session_for(&app, &a.user).await;
    let b_scope = platform_core::tenancy::Scope::integrator(b.integrator.clone());
    let b_owner = platform_core::team::Acting {
        actor: platform_core::audit::Actor::user(&b.user, None),
        role: platform_core::states::UserRole::Owner,
    };
    let (b_invitation, _) = platform_core::team::invite(
        &app.state.db,
        &b_scope,
        &b_owner,
        platform_core::states::UserRole::Viewer,
    )
    .await
    .unwrap();
    let table = include_str!("../../src/dashboard/mod.rs");
    // `.route("/x/{id}/y", web::get()…` (the path and method may be on
    // separate lines).
    let flat: String = table.split_whitespace().collect();
    let mut routes = Vec::new();
    for piece in flat.split(".route(\"").skip(1) {
        let (path, rest) = piece.split_once('"').unwrap();
        let method = if rest.starts_with(",web::get()") {
            "get"
        } else if rest.starts_with(",web::post()") {
            "post"
        } else {
            panic!("{path}: method of `{rest:.40}`?")
        };
        if path.contains('{') {
            routes.push((method, path.to_owned()));
        }
    }
    let object_of = |segment: &str| -> Option<&str> {
        Some(match segment {
            "links" => b.link.as_str(),
            "sellers" => b.seller.as_str(),
            "stores" => b.store.as_str(),
            "pos" => b.pos.as_str(),
            "terminals" => b.terminal.as_str(),
            "intents" => b.intent.as_str(),
            "api-keys" => b.api_key.as_str(),
            "webhooks" => b.endpoint.as_str(),
            "deliveries" => b.delivery.as_str(),
            "invitations" => b_invitation.id.as_str(),
            "members" => b.user.as_str(),
            _ => return None,
        })
    };
    let before = rows_of(&app, &b.integrator).await;
    let mut tried = 0;
    for (method, path) in &routes {
        let at = path.find("/{").unwrap();
        let segment = path[..at].rsplit('/').next().unwrap();
        if segment == "lang" || segment == "invite" {
            // `/lang/{code}` names a language, `/invite/{token}` a secret
            // that is its own credential (tested in `dashboard_team`).
            continue;
        }
        let id = object_of(segment).unwrap_or_else(|| panic!("{method} {path}: which object?"));
        let url = format!("{}/app{}", app.url, path.replacen("{id}", id, 1));
        let req = match *method {
            "get" => app.http.get(&url),
            _ => app.http.post(&url).form(&[
                ("csrf", csrf.as_str()),
                ("amount", "1"),
                ("name", "x"),
                ("url", "https://hooks.example.com/x"),
                ("since", "2026-01-01T00:00"),
                ("mode", "PDV"),
                ("enabled", "false"),
                ("role", "owner"),
            ]),
        };
        let res = req.header("cookie", &cookie).send().await.unwrap();
        let status = res.status().as_u16();
        assert_eq!(status, 404, "{method} {url}: {}", res.text().await.unwrap());
        tried += 1;
    }
    assert!(tried >= 25, "only {tried} dashboard routes probed");
    assert_eq!(
        rows_of(&app, &b.integrator).await,
        before,
        "B's rows changed"
    );
    app.web.stop().await;
}

/// From the OpenAPI document: every route that names an object answers a
/// malformed id (not an id, or an id of another kind) exactly as a
/// well-formed id that names nothing: same status, same body.
async fn a_malformed_id_is_answered_as_an_unknown_one(t: &TestDb) {
    use platform_core::id::*;
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(9_950_000).await;
    let key = app.key(&a, ScopeKind::Integrator, None).await;
    let spec: serde_json::Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    let unknown_of = |segment: &str| -> String {
        match segment {
            "api-keys" => ApiKeyId::new().into_string(),
            "onboarding-links" => OnboardingLinkId::new().into_string(),
            "payment-intents" => PaymentIntentId::new().into_string(),
            "pos" => PosId::new().into_string(),
            "sellers" => SellerId::new().into_string(),
            "stores" => StoreId::new().into_string(),
            "terminals" => TerminalId::new().into_string(),
            "webhook-deliveries" => WebhookDeliveryId::new().into_string(),
            "webhook-endpoints" => WebhookEndpointId::new().into_string(),
            other => panic!("which object is `{other}`?"),
        }
    };
    let body_of = |method: &str, path: &str| -> serde_json::Value {
        match (method, path) {
            ("post", "/v1/payment-intents/{id}/refunds") => json!({"amount": 100}),
            ("put", "/v1/pos/{id}/qr-order") => json!({"title": "Café", "total_amount": 1500}),
            ("patch", "/v1/terminals/{id}") => json!({"operating_mode": "PDV"}),
            ("patch", "/v1/webhook-endpoints/{id}") => json!({"enabled": false}),
            ("post", "/v1/webhook-endpoints/{id}/replay") => {
                json!({"since": "2026-01-01T00:00:00Z"})
            }
            _ => json!({}),
        }
    };
    let answer = |method: &str, path: &str, id: &str| {
        let url = format!("{}{}", app.url, path.replacen("{id}", id, 1));
        let req = match method {
            "get" => app.http.get(url),
            "post" => app.http.post(url),
            "put" => app.http.put(url),
            "patch" => app.http.patch(url),
            _ => app.http.delete(url),
        }
        .bearer_auth(&key);
        let req = match method {
            "get" | "delete" => req,
            _ => req.json(&body_of(method, path)),
        };
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let mut tried = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        let Some(at) = path.find("/{id}") else {
            continue;
        };
        let segment = path[..at].rsplit('/').next().unwrap();
        for method in ["get", "post", "put", "patch", "delete"] {
            if ops.get(method).is_none() {
                continue;
            }
            let unknown = answer(method, path, &unknown_of(segment)).await;
            assert_eq!(unknown.0, 404, "{method} {path}: {}", unknown.1);
            // Another kind's id (the seeded integrator's own seller, or its
            // intent on a seller route) and no id at all.
            let other_kind = if segment == "sellers" {
                a.intent.as_str()
            } else {
                a.seller.as_str()
            };
            for malformed in ["nope", other_kind, "pi_", "sel_ILOU0000000000000000000000"] {
                assert_eq!(
                    answer(method, path, malformed).await,
                    unknown,
                    "{method} {path} with `{malformed}`"
                );
            }
            tried += 1;
        }
    }
    assert!(tried >= 20, "only {tried} operations probed");
    app.web.stop().await;
}

on_both_databases!(
    a_malformed_id_is_answered_as_an_unknown_one,
    every_dashboard_route_refuses_another_tenants_objects,
    every_documented_route_refuses_another_tenants_objects,
    oversized_bodies_are_read_only_for_known_callers,
    invalid_api_keys_are_limited_per_network,
    unknown_and_known_integrators_are_answered_alike,
    unverified_notifications_keep_a_hash_and_an_excerpt,
    invented_methods_add_no_metric_series,
    sse_stream_ends_when_its_key_is_revoked,
    sse_stream_lifetime_is_capped,
);
