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

/// The plans the worker's per-row statements and the reconciler's due scans
/// get. A claim finds its row by primary key even from a plan made without
/// knowing the status (PostgreSQL's cached generic plans, made while a new
/// table is empty: with an index leading on status one could walk every
/// queued row on each call), and the due scans can use their partial indexes.
async fn per_row_statements_use_the_key_and_due_scans_their_indexes(t: &TestDb) {
    use platform_core::config::DatabaseKind;
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    let txn = t.db.pool().begin().await.unwrap();
    let backend = txn.get_database_backend();
    // A statement that runs, not only explains: a pooled SQLite connection
    // opened before the migrations reloads the schema only then.
    txn.execute_unprepared("SELECT count(*) FROM payment_intents")
        .await
        .unwrap();
    // The plan of `sql` as text, one line per node.
    let plan = |sql: String| {
        let txn = &txn;
        async move {
            let sql = match t.kind {
                DatabaseKind::Postgres => format!("EXPLAIN {sql}"),
                DatabaseKind::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            };
            let rows = txn
                .query_all_raw(Statement::from_string(backend, sql.clone()))
                .await
                .unwrap();
            let lines: Vec<String> = rows
                .iter()
                .map(|r| match t.kind {
                    DatabaseKind::Postgres => r.try_get_by_index::<String>(0).unwrap(),
                    DatabaseKind::Sqlite => r.try_get::<String>("", "detail").unwrap(),
                })
                .collect();
            lines.join("\n")
        }
    };

    let claims = [
        (
            "payment_intents",
            "UPDATE payment_intents SET dispatch_attempts = dispatch_attempts + 1 \
             WHERE id = {id} AND status = {status} AND cancel_state IS NULL",
        ),
        (
            "webhook_deliveries",
            "UPDATE webhook_deliveries SET next_attempt_at = {time} \
             WHERE id = {id} AND status = {status} \
             AND (next_attempt_at IS NULL OR next_attempt_at <= {time})",
        ),
    ];
    for (table, claim) in claims {
        let claim_plan = match t.kind {
            DatabaseKind::Postgres => {
                // Parameters, as prepared by the driver, and the generic plan.
                txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
                    .await
                    .unwrap();
                let prepared = claim
                    .replace("{id}", "$1")
                    .replace("{status}", "$2")
                    .replace("{time}", "$3");
                txn.execute_unprepared(&format!(
                    "PREPARE claim_{table} (text, text, timestamptz) AS {prepared}"
                ))
                .await
                .unwrap();
                plan(format!("EXECUTE claim_{table} ('x', 'queued', now())")).await
            }
            DatabaseKind::Sqlite => {
                plan(
                    claim
                        .replace("{id}", "?1")
                        .replace("{status}", "?2")
                        .replace("{time}", "?3"),
                )
                .await
            }
        };
        let by_key = match t.kind {
            DatabaseKind::Postgres => format!("{table}_pkey"),
            DatabaseKind::Sqlite => format!("sqlite_autoindex_{table}_1"),
        };
        assert!(
            claim_plan.contains(&by_key),
            "{table}: a claim should find its row by key:\n{claim_plan}"
        );
    }

    if t.kind == DatabaseKind::Postgres {
        // Only whether the index can serve the scan (tiny tables favour a
        // sequential one otherwise).
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .unwrap();
    }
    let time = match t.kind {
        DatabaseKind::Postgres => "now()",
        DatabaseKind::Sqlite => "?1",
    };
    let scans = [
        (
            "ix_payment_intents_due",
            format!(
                "SELECT id FROM payment_intents \
                 WHERE status IN ('queued', 'created', 'at_terminal') \
                 AND next_dispatch_at <= {time} ORDER BY next_dispatch_at LIMIT 500"
            ),
        ),
        (
            "ix_webhook_deliveries_pending",
            format!(
                "SELECT id FROM webhook_deliveries \
                 WHERE webhook_deliveries.status = 'pending' \
                 AND (next_attempt_at IS NULL OR next_attempt_at < {time}) \
                 ORDER BY next_attempt_at LIMIT 500"
            ),
        ),
    ];
    for (index, scan) in scans {
        let scan_plan = plan(scan).await;
        assert!(
            scan_plan.contains(index),
            "the due scan should be able to use {index}:\n{scan_plan}"
        );
    }
    txn.rollback().await.unwrap();
}

on_both_databases!(per_row_statements_use_the_key_and_due_scans_their_indexes);
