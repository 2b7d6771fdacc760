//! Retention: each kind of short-lived row is deleted once its window is
//! over, and not before (both databases).

use chrono::{Duration, Utc};
use platform_core::entities::{idempotency_keys, inbound_notifications, oauth_states, users};
use platform_core::on_both_databases;
use platform_core::retention::{self, Purged, Windows};
use platform_core::sessions::{self, session_row, throttle_row};
use platform_core::states::NotificationStatus;
use platform_core::testing::{TestDb, seed_integrator, test_keyring};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};

async fn counts(t: &TestDb) -> [u64; 5] {
    [
        idempotency_keys::Entity::find().count(&t.db).await.unwrap(),
        oauth_states::Entity::find().count(&t.db).await.unwrap(),
        session_row::Entity::find().count(&t.db).await.unwrap(),
        throttle_row::Entity::find().count(&t.db).await.unwrap(),
        inbound_notifications::Entity::find()
            .count(&t.db)
            .await
            .unwrap(),
    ]
}

async fn each_kind_goes_after_its_window(t: &TestDb) {
    let seeded = seed_integrator(&t.db, &test_keyring(), 7_000).await;
    let now = Utc::now();
    // A session (absolute end +12 h, idle end +2 h).
    let user = users::Entity::find_by_id(seeded.user.clone())
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    sessions::open(&t.db, user, Some("10.0.0.1")).await.unwrap();
    // A throttle counter whose window ends in 15 minutes, and one locked
    // for 30 hours (kept while the lock lasts).
    for (id, locked_until) in [
        ("email:ana@acme.test", None),
        ("net:10.0.0.9", Some(now + Duration::hours(30))),
    ] {
        throttle_row::ActiveModel {
            id: Set(id.into()),
            failures: Set(3),
            window_started_at: Set(now),
            locked_until: Set(locked_until),
        }
        .insert(&t.db)
        .await
        .unwrap();
    }
    // An unverified notification next to the seeded verified one.
    inbound_notifications::ActiveModel {
        id: Set(platform_core::id::InboundNotificationId::new()),
        integrator_id: Set(None),
        topic: Set("order".into()),
        action: Set(None),
        resource_id: Set(None),
        mp_user_id: Set(None),
        request_id: Set(None),
        signature_valid: Set(false),
        dedupe_key: Set("rejected:ntf_unverified".into()),
        body: Set("{\"x\":".into()),
        status: Set(NotificationStatus::Rejected),
        error: Set(Some("unverified; 5 bytes".into())),
        received_at: Set(now),
        processed_at: Set(None),
    }
    .insert(&t.db)
    .await
    .unwrap();
    // (idempotency, oauth states, sessions, throttles, notifications)
    assert_eq!(counts(t).await, [1, 1, 1, 2, 2]);
    let w = Windows::default();

    // Nothing is due yet, nor just before the grace ends.
    for at in [now, now + Duration::hours(23)] {
        let p = retention::purge(&t.db, &w, at).await.unwrap();
        assert_eq!(p, Purged::default(), "at +{}h", (at - now).num_hours());
    }
    assert_eq!(counts(t).await, [1, 1, 1, 2, 2]);

    // +25 h: the idempotency window (24 h) is over, so the record and the
    // sealed response in it are gone; the OAuth state (expired at +10 min)
    // is past its grace; the session's idle end (+2 h) is not yet.
    let p = retention::purge(&t.db, &w, now + Duration::hours(25))
        .await
        .unwrap();
    assert_eq!(
        p,
        Purged {
            idempotency: 1,
            oauth_states: 1,
            login_throttles: 1,
            ..Purged::default()
        }
    );
    assert!(
        idempotency_keys::Entity::find_by_id(seeded.idempotency.clone())
            .one(&t.db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        throttle_row::Entity::find_by_id("net:10.0.0.9".to_owned())
            .one(&t.db)
            .await
            .unwrap()
            .is_some(),
        "a lock still running is kept"
    );

    // +27 h: the idle session; +55 h: the lock ended 25 h ago.
    let p = retention::purge(&t.db, &w, now + Duration::hours(27))
        .await
        .unwrap();
    assert_eq!(p.sessions, 1, "{p:?}");
    let p = retention::purge(&t.db, &w, now + Duration::hours(55))
        .await
        .unwrap();
    assert_eq!(p.login_throttles, 1, "{p:?}");
    assert_eq!(counts(t).await, [0, 0, 0, 0, 2]);

    // Unverified notifications go after 7 days; verified ones stay.
    let p = retention::purge(&t.db, &w, now + Duration::days(6))
        .await
        .unwrap();
    assert_eq!(p.unverified_notifications, 0);
    let p = retention::purge(&t.db, &w, now + Duration::days(8))
        .await
        .unwrap();
    assert_eq!(p.unverified_notifications, 1);
    assert!(
        inbound_notifications::Entity::find_by_id(seeded.notification.clone())
            .one(&t.db)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(counts(t).await, [0, 0, 0, 0, 1]);
}

async fn windows_come_from_settings(t: &TestDb) {
    seed_integrator(&t.db, &test_keyring(), 7_100).await;
    let raw = platform_core::config::RawSettings {
        retention_grace_hours: Some(0),
        ..Default::default()
    };
    let s = platform_core::config::Settings::resolve(raw).unwrap();
    assert_eq!(s.retention.grace, Duration::zero());
    // No grace: the OAuth state (expires at +10 min) goes at +11 min.
    let p = retention::purge(&t.db, &s.retention, Utc::now() + Duration::minutes(11))
        .await
        .unwrap();
    assert_eq!(p.oauth_states, 1, "{p:?}");
    assert_eq!(p.idempotency, 0, "{p:?}");
}

on_both_databases!(each_kind_goes_after_its_window, windows_come_from_settings);
