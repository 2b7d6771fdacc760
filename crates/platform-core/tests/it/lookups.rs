//! Per-process lookups (`platform_core::lookups`): a key revoked through
//! one process is refused by another that had it cached, told over the
//! event bus (Redis, as between real processes) well before the entries'
//! expiry would have done it.

use std::time::{Duration, Instant};

use platform_core::api_keys::{self, KeyRejection, NewApiKey};
use platform_core::db;
use platform_core::lookups::TTL;
use platform_core::on_both_databases;
use platform_core::states::{KeyAccess, KeyMode, ScopeKind};
use platform_core::tenancy::Scope;
use platform_core::testing::{TestDb, seed_integrator, test_keyring};
use platform_queue::{Backend, Queue, QueueConfig};

async fn bus(prefix: &str, consumer: &str) -> Queue {
    Queue::connect(QueueConfig::new(
        Backend::Redis {
            url: "redis://127.0.0.1:6379".into(),
            prefix: prefix.to_owned(),
        },
        consumer,
    ))
    .await
    .unwrap_or_else(|e| panic!("Redis must be running at 127.0.0.1:6379: {e}"))
}

async fn a_revoked_key_is_refused_by_the_other_processes(t: &TestDb) {
    let seeded = seed_integrator(&t.db, &test_keyring(), 7_100).await;
    let scope = Scope::integrator(seeded.integrator.clone());
    let (row, key) = api_keys::create(
        &t.db,
        &scope,
        NewApiKey {
            name: "pos".into(),
            scope_kind: ScopeKind::Integrator,
            target_id: None,
            expires_at: None,
            mode: KeyMode::Test,
            access: KeyAccess::Full,
        },
        None,
        None,
    )
    .await
    .unwrap();

    // A second process on the same database, sharing the bus.
    let other = db::connect_with(&t.url, t.kind, t.pg_schema())
        .await
        .unwrap();
    let prefix = format!("t_{}:", uuid::Uuid::new_v4().simple());
    t.db.attach_bus(&bus(&prefix, "one").await);
    other.attach_bus(&bus(&prefix, "two").await);
    // Let both subscriptions reach Redis (a notice sent before is not seen).
    tokio::time::sleep(Duration::from_millis(300)).await;

    let presented = key.expose_secret();
    assert!(
        api_keys::authenticate(&other, presented)
            .await
            .unwrap()
            .is_ok(),
        "the key works, and the other process now has it cached"
    );
    api_keys::revoke(&t.db, &scope, &row.id).await.unwrap();
    assert!(matches!(
        api_keys::authenticate(&t.db, presented).await.unwrap(),
        Err(KeyRejection::Revoked)
    ));

    let revoked_at = Instant::now();
    loop {
        match api_keys::authenticate(&other, presented).await.unwrap() {
            Err(KeyRejection::Revoked) => break,
            Ok(_) => assert!(
                revoked_at.elapsed() < TTL / 2,
                "the other process still accepts the revoked key after {:?}: the notice did not reach it",
                revoked_at.elapsed()
            ),
            Err(other) => panic!("unexpected rejection {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.close().await.ok();
}

on_both_databases!(a_revoked_key_is_refused_by_the_other_processes);
