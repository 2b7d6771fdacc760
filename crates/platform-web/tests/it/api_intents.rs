//! The POS API's payment intents, on SQLite and PostgreSQL: creation rules,
//! sponsor injection, idempotency (sequential and concurrent), the terminal
//! lock under concurrency, scope isolation for every key type, long-poll,
//! pagination and rate limiting.

use crate::common;

use common::{TestApp, json};
use platform_core::entities::payment_intents;
use platform_core::id::IntegratorId;
use platform_core::intents::{self, UpstreamFacts};
use platform_core::on_both_databases;
use platform_core::states::{EventSource, IntentStatus, ScopeKind};
use platform_core::testing::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

async fn intent_count(app: &TestApp) -> u64 {
    payment_intents::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn create_validates_injects_sponsor_and_queues(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(100).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let before = intent_count(&app).await;

    // Bad input: clear errors, nothing created.
    let bad = [
        (
            json!({"terminal_id": s.other_terminal, "amount": 50}),
            422,
            "amount_out_of_range",
        ),
        (
            json!({"terminal_id": s.other_terminal, "amount": 1000, "external_reference": "a b"}),
            422,
            "invalid_external_reference",
        ),
        (
            json!({"terminal_id": s.other_terminal, "amount": 1000, "payment": {"installments": 2}}),
            422,
            "invalid_installments",
        ),
        (
            json!({"terminal_id": s.other_terminal, "amount": "10.00"}),
            422,
            "invalid_body",
        ),
        (
            json!({"terminal_id": s.other_terminal, "amount": 1000, "colour": "red"}),
            422,
            "invalid_body",
        ),
        (
            json!({"terminal_id": "trm_doesnotexist", "amount": 1000}),
            404,
            "not_found",
        ),
    ];
    for (body, status, code) in bad {
        let (st, b) = json(
            app.post(&key, "/v1/payment-intents")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (st, b["code"].as_str().unwrap_or_default()),
            (status, code),
            "{body} -> {b}"
        );
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (st, b) = json(
        app.post(&key, "/v1/payment-intents")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (400, Some("invalid_json")));
    assert_eq!(intent_count(&app).await, before);

    // A POS-sent sponsor is ignored: the integrator's is injected.
    let body = json!({"terminal_id": s.other_terminal, "amount": 1500, "description": "Café", "external_reference": "order-1",
                      "print_on_terminal": true, "payment": {"type": "credit_card", "installments": 2, "installments_cost": "buyer"},
                      "sponsor_id": "666"});
    let (st, b) = json(
        app.post(&key, "/v1/payment-intents")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["status"], "queued");
    assert_eq!(
        b["sponsor_id"], "100",
        "integrator's sponsor, not the POS's"
    );
    assert_eq!(b["currency"], "BRL");
    assert_eq!(b["payment"]["installments"], 2);
    assert!(b["id"].as_str().unwrap().starts_with("pi_"));
    // Queued for the worker.
    let stats = app
        .state
        .queue
        .stats(platform_core::jobs::INTENT_DISPATCH)
        .await
        .unwrap();
    assert_eq!(stats.depth, 1);
    // Its history starts with `queued`.
    let (st, h) = json(
        app.get(
            &key,
            &format!("/v1/payment-intents/{}/events", b["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (st, h["data"][0]["to_status"].as_str()),
        (200, Some("queued"))
    );
}

async fn idempotency_replays_and_refuses_other_bodies(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(200).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let body = json!({"terminal_id": s.other_terminal, "amount": 2500});
    let send = |b: serde_json::Value, k: &'static str| {
        app.post(&key, "/v1/payment-intents")
            .header("Idempotency-Key", k)
            .json(&b)
            .send()
    };

    let first = send(body.clone(), "retry-1").await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (st1, b1) = json(first).await;
    assert_eq!(st1, 201);
    let again = send(body.clone(), "retry-1").await.unwrap();
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let (st2, b2) = json(again).await;
    assert_eq!((st2, &b2["id"]), (201, &b1["id"]), "same response");
    let (st3, b3) = json(
        send(
            json!({"terminal_id": s.other_terminal, "amount": 2600}),
            "retry-1",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (st3, b3["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    assert_eq!(intent_count(&app).await, 2, "seeded + one");

    // Concurrent duplicates wait for the first and get its response.
    intents::transition(
        &app.state.db,
        &platform_core::id::PaymentIntentId::parse(b1["id"].as_str().unwrap()).unwrap(),
        IntentStatus::Canceled,
        UpstreamFacts::default(),
        EventSource::Api,
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..8).map(|_| send(body.clone(), "burst-1")).collect();
    let results = futures_util::future::join_all(tasks).await;
    let mut ids = std::collections::HashSet::new();
    for r in results {
        let (st, b) = json(r.unwrap()).await;
        assert_eq!(st, 201, "{b}");
        ids.insert(b["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "one intent for all duplicates");
    assert_eq!(intent_count(&app).await, 3);
}

async fn one_open_intent_per_terminal_under_concurrency(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(300).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            app.post(&key, "/v1/payment-intents")
                .json(&json!({"terminal_id": s.other_terminal, "amount": 1000 + i}))
                .send()
        })
        .collect();
    let mut created = 0;
    let mut busy = 0;
    for r in futures_util::future::join_all(tasks).await {
        let (st, b) = json(r.unwrap()).await;
        match st {
            201 => created += 1,
            409 => {
                assert_eq!(b["code"], "terminal_busy");
                assert!(
                    b["message"].as_str().unwrap().contains("pi_"),
                    "names the open intent: {b}"
                );
                busy += 1;
            }
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!((created, busy), (1, 9));
}

async fn every_key_type_sees_only_its_scope(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(400).await;
    let b = app.seed(500).await;
    let b_key = app.key(&b, ScopeKind::Integrator, None).await;
    let keys = [
        (
            "integrator",
            app.key(&a, ScopeKind::Integrator, None).await,
            true,
        ),
        (
            "seller",
            app.key(&a, ScopeKind::Seller, Some(a.seller.as_str()))
                .await,
            false,
        ),
        (
            "store",
            app.key(&a, ScopeKind::Store, Some(a.store.as_str())).await,
            false,
        ),
        (
            "pos",
            app.key(&a, ScopeKind::Pos, Some(a.pos.as_str())).await,
            false,
        ),
    ];
    for (name, key, wide) in &keys {
        // Own branch: visible.
        for path in [
            format!("/v1/payment-intents/{}", a.intent),
            format!("/v1/terminals/{}", a.terminal),
        ] {
            let (st, body) = json(app.get(key, &path).send().await.unwrap()).await;
            assert_eq!(st, 200, "{name} {path}: {body}");
        }
        // Another integrator's objects: 404, never 403.
        for path in [
            format!("/v1/payment-intents/{}", b.intent),
            format!("/v1/terminals/{}", b.terminal),
            format!("/v1/sellers/{}", b.seller),
            format!("/v1/stores/{}", b.store),
            format!("/v1/pos/{}", b.pos),
            format!("/v1/payment-intents/{}/events", b.intent),
        ] {
            let (st, body) = json(app.get(key, &path).send().await.unwrap()).await;
            assert_eq!(
                (st, body["code"].as_str()),
                (404, Some("not_found")),
                "{name} {path}"
            );
        }
        // The integrator's other seller: only the integrator-wide key sees it.
        let (st, _) = json(
            app.get(key, &format!("/v1/terminals/{}", a.other_terminal))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, if *wide { 200 } else { 404 }, "{name}");
        let (st, _) = json(
            app.post(key, "/v1/payment-intents")
                .json(&json!({"terminal_id": b.other_terminal, "amount": 1000}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            st, 404,
            "{name} cannot charge another integrator's terminal"
        );
        // Lists contain only the scope.
        let (_, list) = json(app.get(key, "/v1/terminals").send().await.unwrap()).await;
        let n = list["data"].as_array().unwrap().len();
        assert_eq!(n, if *wide { 2 } else { 1 }, "{name}: {list}");
    }
    let (st, _) = json(
        app.get(&b_key, &format!("/v1/payment-intents/{}", a.intent))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 404);
}

async fn auth_failures_are_401_with_codes(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(600).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let (st, b) = json(
        app.http
            .get(format!("{}/v1/terminals", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (401, Some("missing_api_key")));
    for bad in [
        "nope",
        "pk_test_abcdefgh_0123456789abcdefghijkmnopqrstuv",
        &format!("{key}x"),
    ] {
        let (st, b) = json(app.get(bad, "/v1/terminals").send().await.unwrap()).await;
        assert_eq!(
            (st, b["code"].as_str()),
            (401, Some("invalid_api_key")),
            "{bad}"
        );
    }
    // Revoke through the API: the key stops working at once.
    let (st, created) = json(
        app.post(&key, "/v1/api-keys")
            .json(&json!({"name": "till 3", "scope": "seller", "scope_id": s.seller}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let seller_key = created["key"].as_str().unwrap().to_owned();
    assert!(seller_key.starts_with(created["prefix"].as_str().unwrap()));
    // A seller key may not mint keys.
    let (st, b) = json(
        app.post(&seller_key, "/v1/api-keys")
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (403, Some("insufficient_scope")));
    let (_, listed) = json(app.get(&key, "/v1/api-keys").send().await.unwrap()).await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none() && k.get("key_hash").is_none()),
        "never shown again"
    );
    let (st, _) = json(
        app.delete(
            &key,
            &format!("/v1/api-keys/{}", created["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    let (st, b) = json(app.get(&seller_key, "/v1/terminals").send().await.unwrap()).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("api_key_revoked")));
}

async fn long_poll_returns_when_the_intent_becomes_final(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(700).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let waiting = app
        .get(&key, &format!("/v1/payment-intents/{}?wait=30", s.intent))
        .send();
    let finisher = async {
        intents::transition(
            &app.state.db,
            &s.intent,
            IntentStatus::Processed,
            UpstreamFacts::default(),
            EventSource::Worker,
        )
        .await
        .unwrap();
        app.state
            .queue
            .notify(platform_core::jobs::INTENT_CHANGED, s.intent.as_str())
            .await
            .unwrap();
    };
    let started = std::time::Instant::now();
    let (res, ()) = tokio::join!(waiting, finisher);
    let (st, b) = json(res.unwrap()).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("processed")));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "woke before the timeout"
    );
    let (st, b) = json(
        app.get(&key, &format!("/v1/payment-intents/{}?wait=61", s.intent))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (400, Some("invalid_wait")));
}

async fn lists_paginate_with_cursors_and_filters(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(800).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    // Three more intents on the second terminal (finishing each to free it).
    for i in 0..3 {
        let (st, b) = json(
            app.post(&key, "/v1/payment-intents")
                .json(&json!({"terminal_id": s.other_terminal, "amount": 1000 + i}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 201);
        intents::transition(
            &app.state.db,
            &platform_core::id::PaymentIntentId::parse(b["id"].as_str().unwrap()).unwrap(),
            IntentStatus::Canceled,
            UpstreamFacts::default(),
            EventSource::Api,
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/payment-intents?limit=3&starting_after={c}"),
            None => "/v1/payment-intents?limit=3".into(),
        };
        let (st, page) = json(app.get(&key, &path).send().await.unwrap()).await;
        assert_eq!(st, 200);
        for d in page["data"].as_array().unwrap() {
            seen.push(d["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, no duplicates");
    let (_, canceled) = json(
        app.get(&key, "/v1/payment-intents?status=canceled")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(canceled["data"].as_array().unwrap().len(), 3);
    let (st, b) = json(
        app.get(&key, "/v1/payment-intents?status=nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (400, Some("invalid_status")));
    let (st, _) = json(
        app.get(&key, "/v1/payment-intents?limit=0")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
}

async fn rate_limit_answers_429_with_retry_after(t: &TestDb) {
    let app = TestApp::start(t, |r| r.api_rate_limit = Some(2)).await;
    let s = app.seed(900).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let mut limited = None;
    for _ in 0..10 {
        let res = app.get(&key, "/v1/terminals").send().await.unwrap();
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the limit kicks in within 10 requests");
    assert!(res.headers().get("retry-after").is_some());
    assert!(res.headers().get("x-request-id").is_some());
    let (_, b) = json(res).await;
    assert_eq!(b["code"], "rate_limited");
}

/// The stored response commits with the intent. Here the request "fails"
/// after the commit (as when PostgreSQL restarts before acknowledging it, or
/// storing the response afterwards fails): the API releases the claim, and
/// the POS's retry must get the first intent back, not create a second one.
async fn a_lost_commit_acknowledgement_does_not_create_twice(t: &TestDb) {
    use platform_core::idempotency::{self, Claim, Claimed, StoredResponse};
    use platform_core::tenancy::Scope;
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(200).await;
    let scope = Scope::integrator(s.integrator.clone());
    let claim = |fp: &'static str| {
        idempotency::claim(
            &app.state.db,
            &app.keyring,
            &s.integrator,
            "key_test",
            "lost-ack-1",
            fp,
        )
    };
    let Claim::Fresh { record_id } = claim("fp-1").await.unwrap() else {
        panic!("first claim is fresh")
    };
    let render = |i: &payment_intents::Model| StoredResponse {
        status: 201,
        body: json!({ "id": i.id }).to_string(),
    };
    let origin = intents::Origin {
        api_key_id: None,
        source: EventSource::Api,
    };
    let completion = Claimed::of(&app.keyring, Some(&record_id)).map(|c| c.completion(&render));
    let intent = intents::create(
        &app.state.db,
        &scope,
        &s.other_terminal,
        intents::NewIntent {
            amount: 2500,
            ..Default::default()
        },
        origin,
        completion.as_ref(),
    )
    .await
    .unwrap()
    .value;
    // What the API does when the request ends in an error.
    idempotency::release(&app.state.db, &record_id)
        .await
        .unwrap();
    match claim("fp-1").await.unwrap() {
        Claim::Replay { status, body } => {
            let b: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!((status, b["id"].as_str()), (201, Some(intent.id.as_str())));
        }
        Claim::Fresh { .. } => panic!("the retry would create a second intent"),
    }

    // A create that fails rolls the stored response back with it: the key
    // stays claimable for the retry.
    let Claim::Fresh { record_id } = claim_other(&app, &s.integrator).await else {
        panic!("fresh")
    };
    let completion = Claimed::of(&app.keyring, Some(&record_id)).map(|c| c.completion(&render));
    let busy = intents::create(
        &app.state.db,
        &scope,
        &s.other_terminal,
        intents::NewIntent {
            amount: 2500,
            ..Default::default()
        },
        origin,
        completion.as_ref(),
    )
    .await;
    assert!(busy.is_err(), "the terminal has an open intent");
    idempotency::release(&app.state.db, &record_id)
        .await
        .unwrap();
    assert!(matches!(
        claim_other(&app, &s.integrator).await,
        Claim::Fresh { .. }
    ));
}

/// The same for refunds: a partial refund retried after a lost commit
/// acknowledgement must not be queued (and paid back) twice.
async fn a_lost_commit_acknowledgement_does_not_refund_twice(t: &TestDb) {
    use platform_core::entities::refunds as refund_rows;
    use platform_core::idempotency::{self, Claim, Claimed, StoredResponse};
    use platform_core::tenancy::Scope;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(200).await;
    let scope = Scope::integrator(s.integrator.clone());
    // A charged intent (the seed's is still queued).
    payment_intents::Entity::update_many()
        .col_expr(
            payment_intents::Column::Status,
            Expr::value(IntentStatus::Processed),
        )
        .filter(payment_intents::Column::Id.eq(s.intent.clone()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let claim = || {
        idempotency::claim(
            &app.state.db,
            &app.keyring,
            &s.integrator,
            "key_test",
            "refund-lost-ack",
            "fp-r",
        )
    };
    let Claim::Fresh { record_id } = claim().await.unwrap() else {
        panic!("fresh")
    };
    let render = |r: &refund_rows::Model| StoredResponse {
        status: 202,
        body: json!({ "id": r.id }).to_string(),
    };
    let completion = Claimed::of(&app.keyring, Some(&record_id)).map(|c| c.completion(&render));
    let refund = platform_core::refunds::create(
        &app.state.db,
        &scope,
        &s.intent,
        Some(100),
        completion.as_ref(),
    )
    .await
    .unwrap()
    .value;
    idempotency::release(&app.state.db, &record_id)
        .await
        .unwrap();
    match claim().await.unwrap() {
        Claim::Replay { status, body } => {
            let b: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!((status, b["id"].as_str()), (202, Some(refund.id.as_str())));
        }
        Claim::Fresh { .. } => panic!("the retry would queue a second refund"),
    }
}

/// Every other idempotent create (API keys, webhook endpoints, onboarding
/// links) completes its key inside its own transaction too: after a lost
/// commit acknowledgement the retry replays the first answer — shown-once
/// secret included — instead of creating a second key, endpoint or link.
async fn every_create_commits_its_stored_response(t: &TestDb) {
    use platform_core::api_keys::{self, NewApiKey};
    use platform_core::audit::Actor;
    use platform_core::id::IdempotencyRecordId;
    use platform_core::idempotency::{self, Claim, Claimed, StoredResponse};
    use platform_core::onboarding::{self, NewLink};
    use platform_core::secret::SecretString;
    use platform_core::states::KeyMode;
    use platform_core::tenancy::Scope;
    use platform_core::webhooks::endpoints::{self, NewEndpoint, UrlRules};
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(200).await;
    let scope = Scope::integrator(s.integrator.clone());
    let db = &app.state.db;
    let claim = |key: &'static str| {
        idempotency::claim(db, &app.keyring, &s.integrator, "key_test", key, "fp")
    };
    let fresh = async |key: &'static str| match claim(key).await.unwrap() {
        Claim::Fresh { record_id } => record_id,
        Claim::Replay { .. } => panic!("first claim of {key} is fresh"),
    };
    // The retry after the lost acknowledgement: the API released the claim.
    let replayed = async |key: &'static str, record_id: &IdempotencyRecordId| {
        idempotency::release(db, record_id).await.unwrap();
        match claim(key).await.unwrap() {
            Claim::Replay { body, .. } => serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            Claim::Fresh { .. } => panic!("the retry of {key} would create a second one"),
        }
    };
    let shown = |id: &str, secret: &SecretString| StoredResponse {
        status: 201,
        body: json!({ "id": id, "secret": secret.expose_secret() }).to_string(),
    };

    let record = fresh("key").await;
    let render = |(row, key): &(platform_core::entities::api_keys::Model, SecretString)| {
        shown(row.id.as_str(), key)
    };
    let completion = Claimed::of(&app.keyring, Some(&record)).map(|c| c.completion(&render));
    let new = NewApiKey {
        name: "reporting".into(),
        scope_kind: ScopeKind::Integrator,
        target_id: None,
        expires_at: None,
        mode: KeyMode::Test,
        access: platform_core::states::KeyAccess::Full,
    };
    let (row, key) = api_keys::create(db, &scope, new, None, completion.as_ref())
        .await
        .unwrap();
    let body = replayed("key", &record).await;
    assert_eq!(body["id"], json!(row.id));
    assert_eq!(body["secret"], json!(key.expose_secret()));

    let record = fresh("endpoint").await;
    let render = |(row, secret): &(
        platform_core::entities::webhook_endpoints::Model,
        SecretString,
    )| { shown(row.id.as_str(), secret) };
    let completion = Claimed::of(&app.keyring, Some(&record)).map(|c| c.completion(&render));
    let new = NewEndpoint {
        url: "http://127.0.0.1:9/hook".into(),
        description: None,
        event_types: vec![],
        seller_id: None,
    };
    let rules = UrlRules::from_settings(&app.state.settings);
    let (row, secret) = endpoints::create(
        db,
        &app.keyring,
        &scope,
        &rules,
        new,
        chrono::Utc::now(),
        completion.as_ref(),
    )
    .await
    .unwrap();
    let body = replayed("endpoint", &record).await;
    assert_eq!(body["id"], json!(row.id));
    assert_eq!(body["secret"], json!(secret.expose_secret()));

    let record = fresh("link").await;
    let render = |(row, token): &(
        platform_core::entities::onboarding_links::Model,
        SecretString,
    )| { shown(row.id.as_str(), token) };
    let completion = Claimed::of(&app.keyring, Some(&record)).map(|c| c.completion(&render));
    let new = NewLink {
        label: "shop".into(),
        ttl_hours: 72,
        seller_id: None,
    };
    let actor = Actor::user(&s.user, None);
    let (link, token) = onboarding::create_link(db, &scope, &actor, new, completion.as_ref())
        .await
        .unwrap();
    let body = replayed("link", &record).await;
    assert_eq!(body["id"], json!(link.id));
    assert_eq!(body["secret"], json!(token.expose_secret()));
}

async fn claim_other(
    app: &TestApp,
    integrator: &IntegratorId,
) -> platform_core::idempotency::Claim {
    platform_core::idempotency::claim(
        &app.state.db,
        &app.keyring,
        integrator,
        "key_test",
        "lost-ack-2",
        "fp-2",
    )
    .await
    .unwrap()
}

/// A cancel asked again once the intent is canceled (a POS retrying after a
/// 504 `cancel_pending`) is answered as done; a processed intent is not
/// cancelable.
async fn a_repeated_cancel_answers_the_canceled_intent(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(140).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let (st, created) = json(
        app.post(&key, "/v1/payment-intents")
            .json(&json!({"terminal_id": s.other_terminal, "amount": 1500}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let cancel = |id: String| {
        let req = app
            .post(&key, &format!("/v1/payment-intents/{id}/cancel"))
            .json(&json!({}));
        async move { json(req.send().await.unwrap()).await }
    };
    for attempt in ["first", "again"] {
        let (st, b) = cancel(id.clone()).await;
        assert_eq!(
            (st, b["status"].as_str()),
            (200, Some("canceled")),
            "{attempt}: {b}"
        );
        assert_eq!(b["id"].as_str(), Some(id.as_str()));
    }

    intents::transition(
        &app.state.db,
        &s.intent,
        IntentStatus::Processed,
        UpstreamFacts::default(),
        EventSource::Notification,
    )
    .await
    .unwrap();
    let (st, b) = cancel(s.intent.to_string()).await;
    assert_eq!(
        (st, b["code"].as_str()),
        (409, Some("intent_not_cancelable")),
        "{b}"
    );
}

on_both_databases!(
    a_repeated_cancel_answers_the_canceled_intent,
    a_lost_commit_acknowledgement_does_not_create_twice,
    a_lost_commit_acknowledgement_does_not_refund_twice,
    every_create_commits_its_stored_response,
    create_validates_injects_sponsor_and_queues,
    idempotency_replays_and_refuses_other_bodies,
    one_open_intent_per_terminal_under_concurrency,
    every_key_type_sees_only_its_scope,
    auth_failures_are_401_with_codes,
    long_poll_returns_when_the_intent_becomes_final,
    lists_paginate_with_cursors_and_filters,
    rate_limit_answers_429_with_retry_after,
);
