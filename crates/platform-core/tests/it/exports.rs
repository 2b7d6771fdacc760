//! CSV exports on both databases, read back with a real CSV parser: every
//! row once across pages, the scope's rows only, refunds and Mercado Pago
//! payment ids on the rows, daily totals that add up.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use platform_core::CoreError;
use platform_core::clock::TestClock;
use platform_core::exports::{DeliveryFilter, Export, ExportKind, RefundFilter};
use platform_core::id::{PaymentIntentId, TerminalId};
use platform_core::intents::{IntentFilter, NewIntent, UpstreamFacts};
use platform_core::on_both_databases;
use platform_core::refunds;
use platform_core::reports::{Period, SummaryQuery};
use platform_core::states::{IntentStatus, RefundStatus};
use platform_core::tenancy::Scope;
use platform_core::testing::{self, Seeded, TestDb, seed_integrator, test_keyring};

fn scope_of(seeded: &Seeded) -> Scope {
    Scope::integrator(seeded.integrator.clone())
}

async fn charge(
    t: &TestDb,
    scope: &Scope,
    terminal: &TerminalId,
    amount: i64,
    description: &str,
    outcome: IntentStatus,
) -> PaymentIntentId {
    let facts = UpstreamFacts {
        mp_payment_id: (outcome == IntentStatus::Processed).then(|| format!("9{amount}")),
        ..Default::default()
    };
    let new = NewIntent {
        description: Some(description.into()),
        ..testing::new_intent(amount)
    };
    testing::charge(&t.db, scope, terminal, new, outcome, facts).await
}

/// Every chunk of an export, joined, parsed: (header, rows).
async fn read(
    t: &TestDb,
    scope: &Scope,
    kind: ExportKind,
    page: u64,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut export = Export::start(&t.db, scope, kind)
        .await
        .unwrap()
        .with_page_size(page);
    let mut text = String::new();
    let mut chunks = 0;
    while let Some(chunk) = export.next_chunk(&t.db).await.unwrap() {
        text.push_str(&chunk);
        chunks += 1;
        assert!(chunks < 10_000, "the export ends");
    }
    assert!(text.ends_with("\r\n"), "CRLF line ends");
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn column<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let i = header.iter().position(|h| h == name).expect(name);
    &row[i]
}

async fn exports_page_through_the_scope_and_add_up(t: &TestDb) {
    let keyring = test_keyring();
    let a = seed_integrator(&t.db, &keyring, 8100).await;
    let b = seed_integrator(&t.db, &keyring, 8200).await;
    let scope = scope_of(&a);
    testing::end_intents(&t.db, &[&a.intent, &b.intent]).await;
    let clock = TestClock::at(Utc.with_ymd_and_hms(2026, 5, 10, 9, 30, 0).unwrap());
    let mut refunded = String::new();
    clock
        .run(async {
            charge(
                t,
                &scope,
                &a.terminal,
                1_000,
                "café, con leche",
                IntentStatus::Processed,
            )
            .await;
            charge(t, &scope, &a.terminal, 200, "=1+2", IntentStatus::Failed).await;
            charge(
                t,
                &scope,
                &a.other_terminal,
                3_000,
                "say \"hi\"",
                IntentStatus::Processed,
            )
            .await;
            charge(
                t,
                &scope_of(&b),
                &b.terminal,
                77_700,
                "theirs",
                IntentStatus::Processed,
            )
            .await;
            clock.advance(Duration::days(1));
            let intent = charge(
                t,
                &scope,
                &a.terminal,
                5_000,
                "two\nlines",
                IntentStatus::Processed,
            )
            .await;
            refunded = intent.to_string();
            let refund = refunds::create(&t.db, &scope, &intent, Some(1_250), None)
                .await
                .unwrap()
                .value;
            // No worker runs here: what the commit owes is not published.
            let _ = refunds::settle(
                &t.db,
                &refund.id,
                RefundStatus::Succeeded,
                Some("r-1".into()),
                None,
                false,
            )
            .await
            .unwrap();
        })
        .await;

    // Intents: pages of 2 over 4 of ours (plus the seeded one), newest first, each once.
    let (header, rows) = read(
        t,
        &scope,
        ExportKind::PaymentIntents(IntentFilter::default()),
        2,
    )
    .await;
    assert_eq!(header[0], "id");
    assert_eq!(rows.len(), 5, "{rows:?}");
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    sorted.dedup();
    assert_eq!(ids, sorted, "newest first, no duplicates");
    let row = rows
        .iter()
        .find(|r| r[0] == refunded)
        .expect("the refunded intent");
    assert_eq!(column(&header, row, "amount"), "50.00");
    assert_eq!(column(&header, row, "refunded_amount"), "12.50");
    assert_eq!(column(&header, row, "currency"), "BRL");
    assert_eq!(column(&header, row, "mp_payment_id"), "95000");
    assert_eq!(column(&header, row, "description"), "two\nlines");
    assert_eq!(
        column(&header, row, "created_at"),
        "2026-05-11T09:30:00.000Z"
    );
    assert!(column(&header, row, "seller_nickname").starts_with("TESTUSER8100"));
    assert!(column(&header, row, "device_id").starts_with("NEWLAND_N950__"));
    let descriptions: Vec<&str> = rows
        .iter()
        .map(|r| column(&header, r, "description"))
        .collect();
    assert!(descriptions.contains(&"café, con leche"));
    assert!(descriptions.contains(&"say \"hi\""));
    assert!(
        descriptions.contains(&"'=1+2"),
        "a formula is defused: {descriptions:?}"
    );
    assert!(!descriptions.contains(&"theirs"), "another tenant's intent");

    // A filter and a narrowed scope.
    let processed = IntentFilter {
        status: Some(IntentStatus::Processed),
        ..Default::default()
    };
    let (_, rows) = read(t, &scope, ExportKind::PaymentIntents(processed), 500).await;
    assert_eq!(rows.len(), 3);
    let other = a.other_seller.clone();
    let narrowed = scope_of(&a).with_seller(other.clone());
    let (_, rows) = read(
        t,
        &narrowed,
        ExportKind::PaymentIntents(IntentFilter::default()),
        500,
    )
    .await;
    assert_eq!(rows.len(), 1);

    // A store key: its seller as a filter and by name on every row.
    let store_scope = scope_of(&a)
        .with_seller(a.seller.clone())
        .with_store(a.store.clone());
    let own = IntentFilter {
        seller_id: Some(a.seller.to_string()),
        ..Default::default()
    };
    let (header, rows) = read(t, &store_scope, ExportKind::PaymentIntents(own), 500).await;
    assert_eq!(rows.len(), 4, "the store's charges and the seeded intent");
    assert!(
        rows.iter()
            .all(|r| column(&header, r, "seller_nickname").starts_with("TESTUSER8100"))
    );

    // Refunds, with the intent's payment id; none seen from the other seller.
    let (header, rows) = read(t, &scope, ExportKind::Refunds(RefundFilter::default()), 1).await;
    // The seeded refund (queued, of the seeded intent) and ours.
    assert_eq!(rows.len(), 2, "{rows:?}");
    let ours = rows
        .iter()
        .find(|r| column(&header, r, "intent_id") == refunded)
        .unwrap();
    assert_eq!(column(&header, ours, "amount"), "12.50");
    assert_eq!(column(&header, ours, "status"), "succeeded");
    assert_eq!(column(&header, ours, "mp_payment_id"), "95000");
    let (_, rows) = read(
        t,
        &narrowed,
        ExportKind::Refunds(RefundFilter::default()),
        500,
    )
    .await;
    assert!(rows.is_empty());

    // Daily totals: a row per day, seller, store and currency that add up.
    let period = Period::new(
        NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
    )
    .unwrap();
    let daily = SummaryQuery {
        period,
        seller_id: None,
    };
    let (header, rows) = read(t, &scope, ExportKind::Daily(daily), 500).await;
    let summary: Vec<(String, String, String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                column(&header, r, "date").to_owned(),
                column(&header, r, "seller_id").to_owned(),
                column(&header, r, "payments").to_owned(),
                column(&header, r, "gross_amount").to_owned(),
                column(&header, r, "refunded_amount").to_owned(),
                column(&header, r, "net_amount").to_owned(),
            )
        })
        .collect();
    let s = |x: &str| x.to_owned();
    let mut expected = vec![
        (
            s("2026-05-10"),
            a.seller.to_string(),
            s("1"),
            s("10.00"),
            s("0.00"),
            s("10.00"),
        ),
        (
            s("2026-05-10"),
            a.other_seller.to_string(),
            s("1"),
            s("30.00"),
            s("0.00"),
            s("30.00"),
        ),
        (
            s("2026-05-11"),
            a.seller.to_string(),
            s("1"),
            s("50.00"),
            s("12.50"),
            s("37.50"),
        ),
    ];
    expected.sort();
    assert_eq!(summary, expected);
    assert!(rows.iter().all(|r| column(&header, r, "currency") == "BRL"));

    // Webhook deliveries need an integrator-wide caller; a foreign seller is not found.
    let refused = Export::start(
        &t.db,
        &narrowed,
        ExportKind::WebhookDeliveries(DeliveryFilter::default()),
    )
    .await;
    assert!(matches!(refused, Err(CoreError::Forbidden { .. })));
    let (header, _) = read(
        t,
        &scope,
        ExportKind::WebhookDeliveries(DeliveryFilter::default()),
        500,
    )
    .await;
    assert_eq!(header[0], "id");
    let foreign = Export::start(
        &t.db,
        &scope,
        ExportKind::PaymentIntents(IntentFilter {
            seller_id: Some(b.seller.to_string()),
            ..Default::default()
        }),
    )
    .await;
    assert!(matches!(foreign, Err(CoreError::NotFound { .. })));
}

on_both_databases!(exports_page_through_the_scope_and_add_up);
