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
    second.id = Set(PaymentIntentId::new());
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
    dup.id = Set(platform_core::id::SellerId::new());
    assert!(dup.insert(&t.db).await.is_err());
}

on_both_databases!(
    migrations_are_applied_and_idempotent,
    one_open_intent_per_terminal_is_a_database_rule,
    seller_is_unique_per_integrator_and_mp_account,
);

/// Issue 11: a client id belongs to one integrator. Duplicates from before
/// the rule keep the id on the oldest integrator only.
async fn duplicate_client_ids_are_cleared_on_all_but_the_oldest(t: &TestDb) {
    use platform_core::entities::integrators;
    use puente_migration::Migrator;
    use puente_migration::sea_orm_migration::MigratorTrait;

    const NAME: &str = "m20261202_000005_security";
    // Seed on the current schema (the entities are today's), then roll back
    // until the security migration is pending (later ones first).
    let keyring = test_keyring();
    let old = seed_integrator(&t.db, &keyring, 610_000).await;
    let young = seed_integrator(&t.db, &keyring, 620_000).await;
    let blank = seed_integrator(&t.db, &keyring, 630_000).await;
    while !Migrator::get_pending_migrations(t.db.pool())
        .await
        .unwrap()
        .iter()
        .any(|m| m.name() == NAME)
    {
        Migrator::down(t.db.pool(), Some(1)).await.unwrap();
    }
    for (id, client_id, age) in [
        (&old.integrator, "5550", 2),
        (&young.integrator, "5550", 1),
        (&blank.integrator, " ", 0),
    ] {
        let row = integrators::Entity::find_by_id(id.clone())
            .one(&t.db)
            .await
            .unwrap()
            .unwrap();
        let mut row = row.into_active_model();
        row.mp_client_id = Set(Some(client_id.into()));
        row.created_at = Set(Utc::now() - chrono::Duration::days(age));
        row.update(&t.db).await.unwrap();
    }
    platform_core::db::migrate(&t.db).await.unwrap();
    let client_id = |id: platform_core::id::IntegratorId| {
        let db = t.db.clone();
        async move {
            integrators::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .mp_client_id
        }
    };
    assert_eq!(client_id(old.integrator).await.as_deref(), Some("5550"));
    assert_eq!(client_id(young.integrator.clone()).await, None);
    assert_eq!(client_id(blank.integrator).await, None);
    // From now on the database refuses a second owner.
    let row = integrators::Entity::find_by_id(young.integrator)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.mp_client_id = Set(Some("5550".into()));
    assert!(row.update(&t.db).await.is_err());
}

on_both_databases!(duplicate_client_ids_are_cleared_on_all_but_the_oldest);
