//! A move decided on a row that changed since it was read must not be
//! written: `apply_in`'s update is conditional on every field its decision
//! read, and `transition` then decides again on the row as it is.

use platform_core::db::Db;
use platform_core::entities::payment_intents;
use platform_core::intents::{
    self, Applied, CancelAsk, CancelOutcome, MoveFrom, PAID_AFTER_CANCEL, Transition, UpstreamFacts,
};
use platform_core::on_both_databases;
use platform_core::states::{CancelState, EventSource, IntentStatus};
use platform_core::tenancy::Scope;
use platform_core::testing::{TestDb, seed_integrator, test_keyring};
use sea_orm::EntityTrait;

async fn read(db: &Db, id: &platform_core::id::PaymentIntentId) -> payment_intents::Model {
    payment_intents::Entity::find_by_id(id.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

/// The worker reads the intent at the terminal; a POS's cancel lands; then
/// Mercado Pago's "processed" is applied on what the worker read. Written
/// as read, the charge would lose its "paid after a cancel" flag.
async fn a_cancel_between_read_and_write_is_not_lost(t: &TestDb) {
    let s = seed_integrator(&t.db, &test_keyring(), 7_400).await;
    let db = &t.db;
    let id = &s.intent;
    intents::claim_dispatch(db, id).await.unwrap().unwrap();
    let at_terminal = intents::transition(
        db,
        id,
        IntentStatus::AtTerminal,
        UpstreamFacts::default(),
        EventSource::Worker,
    )
    .await
    .unwrap();
    assert!(matches!(at_terminal, Transition::Applied { .. }));
    let seen = read(db, id).await;
    assert_eq!(seen.cancel_state, None);

    let asked = intents::request_cancel(
        db,
        &Scope::integrator(s.integrator.clone()),
        CancelAsk {
            intent_id: id,
            at_terminal: true,
            source: EventSource::Api,
        },
    )
    .await
    .unwrap();
    assert!(matches!(asked.value, CancelOutcome::Requested(_)));

    let seen_ = seen.clone();
    let applied = db
        .write(move |txn| {
            Box::pin(async move {
                intents::apply_in(
                    txn,
                    &seen_,
                    MoveFrom::Reported,
                    IntentStatus::Processed,
                    &UpstreamFacts::default(),
                    EventSource::Notification,
                )
                .await
            })
        })
        .await
        .unwrap();
    assert!(
        matches!(applied, Applied::Lost),
        "a move decided before the cancel must not be written"
    );
    let row = read(db, id).await;
    assert_eq!(row.status, IntentStatus::AtTerminal);
    assert_eq!(row.cancel_state, Some(CancelState::Requested));

    // Decided again on the row as it is: charged, and flagged for people.
    let t = intents::transition(
        db,
        id,
        IntentStatus::Processed,
        UpstreamFacts::default(),
        EventSource::Notification,
    )
    .await
    .unwrap();
    let Transition::Applied { intent, .. } = t else {
        panic!("processed must apply: {t:?}");
    };
    assert_eq!(intent.status, IntentStatus::Processed);
    assert!(intent.requires_attention);
    assert_eq!(intent.attention_reason.as_deref(), Some(PAID_AFTER_CANCEL));

    // The history has each move once, with where it came from; the move
    // that was not written left no row.
    let history = intents::history(db, &Scope::integrator(s.integrator.clone()), id)
        .await
        .unwrap();
    let moves: Vec<_> = history
        .iter()
        .filter(|h| h.from_status.is_some())
        .map(|h| {
            (
                h.from_status,
                h.to_status,
                h.source,
                h.integrator_id.clone(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (
                Some(IntentStatus::Queued),
                IntentStatus::AtTerminal,
                EventSource::Worker,
                s.integrator.clone()
            ),
            (
                Some(IntentStatus::AtTerminal),
                IntentStatus::Processed,
                EventSource::Notification,
                s.integrator.clone()
            ),
        ]
    );
}

on_both_databases!(a_cancel_between_read_and_write_is_not_lost);

/// A dispatch whose answer was lost notes a retry; meanwhile Mercado Pago's
/// notification moved the intent on. The note must not land on it.
async fn a_retry_note_does_not_land_on_a_moved_intent(t: &TestDb) {
    let s = seed_integrator(&t.db, &test_keyring(), 7_500).await;
    let db = &t.db;
    let id = &s.intent;
    intents::claim_dispatch(db, id).await.unwrap().unwrap();
    let moved = intents::transition(
        db,
        id,
        IntentStatus::AtTerminal,
        UpstreamFacts {
            upstream_id: Some("ORD01LOSTANSWER".into()),
            next_look: Some(platform_core::clock::now() + chrono::Duration::seconds(30)),
            ..Default::default()
        },
        EventSource::Notification,
    )
    .await
    .unwrap();
    assert!(matches!(moved, Transition::Applied { .. }));
    let before = read(db, id).await;

    let retry_at = platform_core::clock::now() + chrono::Duration::seconds(2);
    intents::note_retry(
        db,
        id,
        retry_at,
        &platform_core::error::Failure::new("upstream_timeout", "timed out"),
    )
    .await
    .unwrap();
    let after = read(db, id).await;
    assert_eq!(after.status, IntentStatus::AtTerminal);
    assert_eq!(after.last_error_code, None);
    assert_eq!(after.next_dispatch_at, before.next_dispatch_at);

    // Still queued, the note lands.
    let s2 = seed_integrator(&t.db, &test_keyring(), 7_600).await;
    intents::claim_dispatch(db, &s2.intent)
        .await
        .unwrap()
        .unwrap();
    intents::note_retry(
        db,
        &s2.intent,
        retry_at,
        &platform_core::error::Failure::new("upstream_timeout", "timed out"),
    )
    .await
    .unwrap();
    let noted = read(db, &s2.intent).await;
    assert_eq!(noted.last_error_code.as_deref(), Some("upstream_timeout"));
    assert!(noted.next_dispatch_at.is_some());
}

on_both_databases!(a_retry_note_does_not_land_on_a_moved_intent);
