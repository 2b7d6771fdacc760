//! The schema on both databases: migrations apply once and are idempotent,
//! and the constraints the domain relies on are enforced by the database.

use chrono::Utc;
use platform_core::entities::{payment_intents, sellers};
use platform_core::id::PaymentIntentId;
use platform_core::on_both_databases;
use platform_core::states::IntentStatus;
use platform_core::testing::{TestDb, seed_integrator, test_keyring};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

async fn migrations_are_applied_and_idempotent(t: &TestDb) {
    assert_eq!(
        platform_core::db::pending_migrations(&t.db).await.unwrap(),
        0
    );
    platform_core::db::migrate(&t.db).await.unwrap();
    assert_eq!(
        platform_core::db::pending_migrations(&t.db).await.unwrap(),
        0
    );
    platform_core::db::ping(&t.db).await.unwrap();
}

async fn one_open_intent_per_terminal_is_a_database_rule(t: &TestDb) {
    let s = seed_integrator(&t.db, &test_keyring(), 400_000).await;
    let first = payment_intents::Entity::find_by_id(s.intent.clone())
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    let mut second = first.clone().into_active_model();
    second.id = Set(PaymentIntentId::new().into_string());
    second.created_at = Set(Utc::now());
    let second = second.reset_all();
    assert!(
        second.clone().insert(&t.db).await.is_err(),
        "second open intent on the same terminal"
    );

    // Once the first is final (open_on_terminal cleared), a new one fits.
    let mut done = first.into_active_model();
    done.status = Set(IntentStatus::Canceled);
    done.open_on_terminal = Set(None);
    done.update(&t.db).await.unwrap();
    second.insert(&t.db).await.unwrap();
}

async fn seller_is_unique_per_integrator_and_mp_account(t: &TestDb) {
    let s = seed_integrator(&t.db, &test_keyring(), 500_000).await;
    let seller = sellers::Entity::find_by_id(s.seller.clone())
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    let mut dup = seller.into_active_model().reset_all();
    dup.id = Set(platform_core::id::SellerId::new().into_string());
    assert!(dup.insert(&t.db).await.is_err());
}

on_both_databases!(
    migrations_are_applied_and_idempotent,
    one_open_intent_per_terminal_is_a_database_rule,
    seller_is_unique_per_integrator_and_mp_account,
);
