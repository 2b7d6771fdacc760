//! `GET /v1/reports/summary` on both databases: the figures of what the
//! API did, narrowed by the key's scope, and clear errors for bad periods.

use crate::common;

use common::{TestApp, json};
use platform_core::intents::{self, UpstreamFacts};
use platform_core::on_both_databases;
use platform_core::states::{EventSource, IntentStatus, ScopeKind};
use platform_core::testing::TestDb;
use serde_json::json;

async fn settle(app: &TestApp, id: &str, status: IntentStatus) {
    intents::transition(
        &app.state.db,
        id,
        status,
        UpstreamFacts::default(),
        EventSource::Sync,
    )
    .await
    .unwrap();
}

async fn summary_reports_the_scope_and_refuses_bad_periods(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(300).await;
    let other = app.seed(400).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    // The seeded intent holds the first terminal.
    settle(&app, &s.intent, IntentStatus::Canceled).await;
    for (terminal, amount, outcome) in [
        (&s.terminal, 1_500, IntentStatus::Processed),
        (&s.terminal, 800, IntentStatus::Failed),
        (&s.other_terminal, 4_000, IntentStatus::Processed),
    ] {
        let (status, body) = json(
            app.post(&key, "/v1/payment-intents")
                .json(&json!({"terminal_id": terminal, "amount": amount}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        settle(&app, body["id"].as_str().unwrap(), outcome).await;
    }

    let (status, body) = json(app.get(&key, "/v1/reports/summary").send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "report_summary");
    assert_eq!(body["currencies"].as_array().unwrap().len(), 1);
    let brl = &body["currencies"][0];
    assert_eq!(brl["currency"], "BRL");
    assert_eq!(brl["approved_count"], 2);
    assert_eq!(brl["approved_amount"], 5_500);
    assert_eq!(brl["days"].as_array().unwrap().len(), 30);
    assert_eq!(brl["top_sellers"][0]["id"], s.other_seller.as_str());
    // The seeded canceled intent is today's too.
    assert_eq!(body["outcomes"]["approved"], 2);
    assert_eq!(body["outcomes"]["declined"], 1);
    assert_eq!(body["outcomes"]["canceled"], 1);
    let rate = body["outcomes"]["approval_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(body["terminals"]["total"], 2);
    assert_eq!(body["terminals"]["active"], 2);

    // A seller-scoped key sees its seller only; the seller filter agrees.
    let seller_key = app.key(&s, ScopeKind::Seller, Some(&s.seller)).await;
    let (status, narrowed) = json(
        app.get(&seller_key, "/v1/reports/summary")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["currencies"][0]["approved_amount"], 1_500);
    assert_eq!(narrowed["terminals"]["total"], 1);
    let path = format!("/v1/reports/summary?seller_id={}", s.seller);
    let (_, filtered) = json(app.get(&key, &path).send().await.unwrap()).await;
    assert_eq!(filtered["currencies"], narrowed["currencies"]);
    assert_eq!(filtered["seller_id"], s.seller.as_str());

    // Another tenant's seller, or a seller outside the key: 404, never data.
    let other_key = app.key(&other, ScopeKind::Integrator, None).await;
    let (_, theirs) = json(
        app.get(&other_key, "/v1/reports/summary")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs["outcomes"]["approved"], 0, "{theirs}");
    for (k, seller) in [(&other_key, &s.seller), (&seller_key, &s.other_seller)] {
        let path = format!("/v1/reports/summary?seller_id={seller}");
        let (status, body) = json(app.get(k, &path).send().await.unwrap()).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    }

    // Bad parameters: a clear 400, with a stable code.
    for (query, code) in [
        ("from=2026-03-02&to=2026-03-01", "invalid_period"),
        ("from=2025-01-01&to=2026-03-01", "invalid_period"),
        ("from=yesterday", "invalid_query"),
        ("colour=red", "invalid_query"),
    ] {
        let path = format!("/v1/reports/summary?{query}");
        let (status, body) = json(app.get(&key, &path).send().await.unwrap()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
    let (status, body) = json(
        app.get(&key, "/v1/reports/summary?from=2026-03-01&to=2026-03-01")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["currencies"], json!([]));
}

on_both_databases!(summary_reports_the_scope_and_refuses_bad_periods);
