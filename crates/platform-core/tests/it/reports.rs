//! The overview's figures (`reports::summary`) on both databases: days,
//! outcomes, refunds, rankings and terminals, within the scope only.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use platform_core::CoreError;
use platform_core::clock::TestClock;
use platform_core::id::{PaymentIntentId, TerminalId};
use platform_core::intents::UpstreamFacts;
use platform_core::on_both_databases;
use platform_core::refunds;
use platform_core::reports::{self, Period, SummaryQuery};
use platform_core::states::{IntentStatus, RefundStatus};
use platform_core::tenancy::Scope;
use platform_core::testing::{self, Seeded, TestDb, seed_integrator, test_keyring};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn scope_of(seeded: &Seeded) -> Scope {
    Scope::integrator(seeded.integrator.clone())
}

/// An intent at the clock's time, moved to `outcome`.
async fn charge(
    t: &TestDb,
    scope: &Scope,
    terminal: &TerminalId,
    amount: i64,
    outcome: IntentStatus,
) -> PaymentIntentId {
    testing::charge(
        &t.db,
        scope,
        terminal,
        testing::new_intent(amount),
        outcome,
        UpstreamFacts::default(),
    )
    .await
}

async fn summary_counts_what_happened_within_the_scope(t: &TestDb) {
    let keyring = test_keyring();
    let a = seed_integrator(&t.db, &keyring, 7100).await;
    let b = seed_integrator(&t.db, &keyring, 7200).await;
    let scope = scope_of(&a);
    // The seeded intents (created now, far after the period) hold their
    // terminals: end them first.
    testing::end_intents(&t.db, &[&a.intent, &b.intent]).await;
    let clock = TestClock::at(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap());
    clock
        .run(async {
            // 1 March: two approved (one per seller), one declined.
            charge(t, &scope, &a.terminal, 1_000, IntentStatus::Processed).await;
            charge(t, &scope, &a.terminal, 500, IntentStatus::Failed).await;
            charge(t, &scope, &a.other_terminal, 2_500, IntentStatus::Processed).await;
            // Another tenant's payment the same day never shows.
            charge(
                t,
                &scope_of(&b),
                &b.terminal,
                99_900,
                IntentStatus::Processed,
            )
            .await;
            // 2 March: one canceled, one approved and partly refunded on the 3rd.
            clock.advance(Duration::days(1));
            charge(t, &scope, &a.terminal, 700, IntentStatus::Canceled).await;
            let refunded = charge(t, &scope, &a.terminal, 3_000, IntentStatus::Processed).await;
            clock.advance(Duration::days(1));
            let refund = refunds::create(&t.db, &scope, &refunded, Some(1_000), None)
                .await
                .expect("refund")
                .value;
            // No worker runs here: what the commit owes is not published.
            let _ = refunds::settle(
                &t.db,
                &refund.id,
                RefundStatus::Succeeded,
                Some("up-1".into()),
                None,
                false,
            )
            .await
            .expect("settle refund");
            // 3 March: one still open.
            charge(t, &scope, &a.terminal, 999, IntentStatus::Queued).await;
            // 4 March: outside the period.
            clock.advance(Duration::days(1));
            charge(t, &scope, &a.other_terminal, 4_000, IntentStatus::Processed).await;
        })
        .await;

    let period = Period::new(day("2026-03-01"), day("2026-03-03")).unwrap();
    let all = reports::summary(
        &t.db,
        &scope,
        &SummaryQuery {
            period,
            seller_id: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(all.currencies.len(), 1, "{all:?}");
    let brl = &all.currencies[0];
    assert_eq!(brl.currency, "BRL");
    let days: Vec<(NaiveDate, u64, i64)> = brl
        .days
        .iter()
        .map(|d| (d.day, d.approved_count, d.approved_amount))
        .collect();
    assert_eq!(
        days,
        [
            (day("2026-03-01"), 2, 3_500),
            (day("2026-03-02"), 1, 3_000),
            (day("2026-03-03"), 0, 0),
        ]
    );
    assert_eq!((brl.approved_count, brl.approved_amount), (3, 6_500));
    assert_eq!((brl.refund_count, brl.refunded_amount), (1, 1_000));
    assert_eq!(brl.net_amount(), 5_500);
    let o = &all.outcomes;
    assert_eq!(
        (o.approved, o.declined, o.canceled, o.in_progress),
        (3, 1, 1, 1)
    );
    assert_eq!(o.approval_rate(), Some(0.75));
    let sellers: Vec<(&str, u64, i64)> = brl
        .top_sellers
        .iter()
        .map(|r| (r.id.as_str(), r.count, r.amount))
        .collect();
    assert_eq!(
        sellers,
        [
            (a.seller.as_str(), 2, 4_000),
            (a.other_seller.as_str(), 1, 2_500)
        ]
    );
    assert!(brl.top_sellers[0].name.starts_with("TESTUSER7100"));
    assert_eq!(brl.top_stores[0].id, a.store.as_str());
    assert_eq!(brl.top_stores[0].name, "Store 0");
    assert_eq!((all.terminals.total, all.terminals.active), (2, 2));
    let busiest = &all.terminals.busiest[0];
    assert_eq!(
        (busiest.id.as_str(), busiest.count),
        (a.terminal.as_str(), 5)
    );
    assert!(busiest.name.starts_with("NEWLAND_N950__"));

    // One seller: only its payments and terminals; the refund was the other's.
    let other = a.other_seller.clone();
    let one = reports::summary(
        &t.db,
        &scope,
        &SummaryQuery {
            period,
            seller_id: Some(other.clone()),
        },
    )
    .await
    .unwrap();
    let brl = &one.currencies[0];
    assert_eq!((brl.approved_count, brl.approved_amount), (1, 2_500));
    assert_eq!((brl.refund_count, brl.refunded_amount), (0, 0));
    assert_eq!((one.terminals.total, one.terminals.active), (1, 1));

    // A seller-scoped caller sees the same as that filter, and nothing else.
    let narrowed = scope_of(&a).with_seller(other);
    let seen = reports::summary(
        &t.db,
        &narrowed,
        &SummaryQuery {
            period,
            seller_id: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(seen.currencies, one.currencies);
    assert_eq!(seen.outcomes, one.outcomes);

    // A store key reaches its own seller (by name in the rankings, and as a
    // filter), though the sellers table has no store column.
    let store_scope = scope_of(&a)
        .with_seller(a.seller.clone())
        .with_store(a.store.clone());
    let store_view = reports::summary(
        &t.db,
        &store_scope,
        &SummaryQuery {
            period,
            seller_id: Some(a.seller.clone()),
        },
    )
    .await
    .unwrap();
    let top = &store_view.currencies[0].top_sellers;
    assert_eq!(top.len(), 1);
    assert!(top[0].name.starts_with("TESTUSER7100"), "{top:?}");
    assert_eq!(store_view.currencies[0].approved_amount, 4_000);

    // Another tenant's seller is not found, and a seller outside a narrowed scope neither.
    for (scope, seller) in [(&scope, &b.seller), (&narrowed, &a.seller)] {
        let asked = reports::summary(
            &t.db,
            scope,
            &SummaryQuery {
                period,
                seller_id: Some(seller.clone()),
            },
        )
        .await;
        assert!(
            matches!(asked, Err(CoreError::NotFound { .. })),
            "{asked:?}"
        );
    }
}

on_both_databases!(summary_counts_what_happened_within_the_scope);
