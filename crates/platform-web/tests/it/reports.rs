//! The figures of what the API did, on both databases: `GET
//! /v1/reports/summary` narrowed by the key's scope with clear errors for
//! bad periods, and the dashboard overview's charts and tables.

use crate::common;

use common::{TestApp, json, session_for};
use platform_core::intents::{self, UpstreamFacts};
use platform_core::on_both_databases;
use platform_core::states::{EventSource, IntentStatus, ScopeKind};
use platform_core::testing::TestDb;
use serde_json::json;

async fn settle(app: &TestApp, id: &str, status: IntentStatus) {
    intents::transition(
        &app.state.db,
        &platform_core::id::PaymentIntentId::parse(id).unwrap(),
        status,
        UpstreamFacts::default(),
        EventSource::Sync,
    )
    .await
    .unwrap();
}

/// Two approved payments (one per seller) and a declined one, made through
/// the API today; the seeded intent canceled.
async fn charges(app: &TestApp, s: &platform_core::testing::Seeded, key: &str) {
    // The seeded intent holds the first terminal.
    settle(app, s.intent.as_str(), IntentStatus::Canceled).await;
    for (terminal, amount, outcome) in [
        (&s.terminal, 1_500, IntentStatus::Processed),
        (&s.terminal, 800, IntentStatus::Failed),
        (&s.other_terminal, 4_000, IntentStatus::Processed),
    ] {
        let (status, body) = json(
            app.post(key, "/v1/payment-intents")
                .json(&json!({"terminal_id": terminal, "amount": amount}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        settle(app, body["id"].as_str().unwrap(), outcome).await;
    }
}

async fn summary_reports_the_scope_and_refuses_bad_periods(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(300).await;
    let other = app.seed(400).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    charges(&app, &s, &key).await;

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
    let seller_key = app
        .key(&s, ScopeKind::Seller, Some(s.seller.as_str()))
        .await;
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

async fn overview_draws_the_figures_for_the_period_and_seller(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(500).await;
    let other = app.seed(600).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    charges(&app, &s, &key).await;
    let (cookie, _) = session_for(&app, &s.user).await;
    let page = |path: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let res = app
                .http
                .get(format!("{}{path}", app.url))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let csp = res
                .headers()
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, csp, res.text().await.unwrap())
        }
    };

    let (status, csp, html) = page("/app".into()).await;
    assert_eq!(status, 200);
    assert!(
        csp.is_some_and(|c| c.contains("default-src")),
        "the CSP stays"
    );
    // Drawn without inline styles or scripts, which the CSP forbids.
    assert!(!html.contains("style=") && !html.contains("<script>"));
    assert!(html.contains(r#"id="approval-rate">66.7 %<"#), "{html}");
    assert!(html.contains(r#"data-currency="BRL""#));
    // 30 daily bars in each of the two charts; today's holds both payments.
    assert_eq!(html.matches(r#"<rect class="bar day" x="#).count(), 30);
    assert_eq!(html.matches(r#"<rect class="bar count" x="#).count(), 30);
    let today = platform_core::clock::now().date_naive();
    assert!(html.contains(&format!("{}: 55.00 BRL", today.format("%m-%d"))));
    // The same numbers as a table, and the rankings by name.
    assert!(html.contains(&format!(">{today}</td>")), "the days table");
    assert!(html.contains("Store 1"), "top stores by name");
    assert!(
        html.contains("NEWLAND_N950__"),
        "busiest terminals by device"
    );

    // One seller, a week.
    let (status, _, html) = page(format!("/app?days=7&seller={}", s.seller)).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="approval-rate">50.0 %<"#), "{html}");
    assert_eq!(html.matches(r#"<rect class="bar day" x="#).count(), 7);
    assert!(html.contains(&format!(r#"<option value="{}" selected>"#, s.seller)));
    assert!(html.contains(r#"<option value="7" selected>"#));

    // Another tenant's seller, or garbage: a 404 page, no figures.
    for seller in [other.seller.as_str(), "sel_nonsense", "x"] {
        let (status, _, html) = page(format!("/app?seller={seller}")).await;
        assert_eq!(status, 404, "{seller}");
        assert!(!html.contains("approval-rate"));
    }
    // A period the page does not offer falls back to the month.
    let (status, _, html) = page("/app?days=100000".into()).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<option value="30" selected>"#));
}

/// A CSV download: status, content type, and (header, rows) parsed.
async fn csv_of(res: reqwest::Response) -> (u16, String, Vec<String>, Vec<Vec<String>>) {
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    };
    let rows = reader
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect();
    (status, kind, header, rows)
}

async fn exports_download_in_scope_from_the_api_and_the_dashboard(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(700).await;
    let other = app.seed(800).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    charges(&app, &s, &key).await;

    // The API: every intent of the key's scope, with the CSV conventions.
    let (status, kind, header, rows) = csv_of(
        app.get(&key, "/v1/exports/payment-intents.csv")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(header[0], "id");
    assert_eq!(rows.len(), 4, "three charges and the seeded intent");
    let amount = header.iter().position(|h| h == "amount").unwrap();
    let mut amounts: Vec<&str> = rows.iter().map(|r| r[amount].as_str()).collect();
    amounts.sort();
    assert!(
        amounts.contains(&"40.00") && amounts.contains(&"15.00"),
        "{amounts:?}"
    );
    let (_, _, _, processed) = csv_of(
        app.get(&key, "/v1/exports/payment-intents.csv?status=processed")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(processed.len(), 2);
    let seller_key = app
        .key(&s, ScopeKind::Seller, Some(s.seller.as_str()))
        .await;
    let (_, _, _, theirs) = csv_of(
        app.get(&seller_key, "/v1/exports/payment-intents.csv")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        theirs.len(),
        3,
        "the seller's two charges and the seeded intent"
    );
    let (status, _, header, daily) =
        csv_of(app.get(&key, "/v1/reports/daily.csv").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(header[0], "date");
    assert_eq!(daily.len(), 2, "one row per seller today: {daily:?}");
    let (status, _, header, _) = csv_of(
        app.get(&key, "/v1/exports/refunds.csv")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, header[0].as_str()), (200, "id"));
    let (status, _, header, _) = csv_of(
        app.get(&key, "/v1/exports/webhook-deliveries.csv")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, header[0].as_str()), (200, "id"));

    // Refusals are JSON errors, before any CSV.
    let foreign = format!("/v1/exports/payment-intents.csv?seller_id={}", other.seller);
    for (k, path, want, code) in [
        (&key, foreign.as_str(), 404, "not_found"),
        (
            &key,
            "/v1/exports/payment-intents.csv?status=paid",
            400,
            "invalid_status",
        ),
        (
            &key,
            "/v1/exports/refunds.csv?colour=red",
            400,
            "invalid_query",
        ),
        (
            &key,
            "/v1/reports/daily.csv?from=2026-02-01&to=2026-01-01",
            400,
            "invalid_period",
        ),
        (
            &seller_key,
            "/v1/exports/webhook-deliveries.csv",
            403,
            "insufficient_scope",
        ),
    ] {
        let (status, body) = json(app.get(k, path).send().await.unwrap()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (want, Some(code)),
            "{path}"
        );
    }

    // The dashboard: the list's filters, the overview's period.
    let (cookie, _) = session_for(&app, &s.user).await;
    let get = |path: String| {
        app.http
            .get(format!("{}{path}", app.url))
            .header("cookie", cookie.clone())
            .send()
    };
    let (status, kind, _, rows) = csv_of(
        get("/app/intents/export.csv?status=processed".into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(rows.len(), 2);
    let (status, _, header, rows) = csv_of(
        get(format!("/app/reports/daily.csv?days=7&seller={}", s.seller))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let gross = header.iter().position(|h| h == "gross_amount").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][gross], "15.00");
    let (status, _, header, _) =
        csv_of(get("/app/refunds/export.csv?days=30".into()).await.unwrap()).await;
    assert_eq!((status, header[0].as_str()), (200, "id"));
    // A bad date goes back to the list, which says so; a foreign seller is a 404.
    let res = app
        .http
        .get(format!("{}/app/intents/export.csv?from=soon", app.url))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.url().path(), "/app/intents");
    assert!(res.text().await.unwrap().contains("form-error"));
    let res = get(format!("/app/reports/daily.csv?seller={}", other.seller))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let res = get(format!("/app/webhooks/{}/deliveries.csv", other.endpoint))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

on_both_databases!(
    summary_reports_the_scope_and_refuses_bad_periods,
    overview_draws_the_figures_for_the_period_and_seller,
    exports_download_in_scope_from_the_api_and_the_dashboard,
);
