//! Dashboard sessions and login throttling on both databases.

use chrono::Duration;
use platform_core::accounts::{NewIntegrator, create_integrator};
use platform_core::clock::TestClock;
use platform_core::on_both_databases;
use platform_core::secret::SecretString;
use platform_core::sessions::{self, LoginError};
use platform_core::testing::{TestDb, test_keyring};

fn gate() -> tokio::sync::Semaphore {
    tokio::sync::Semaphore::new(4)
}

async fn owner(t: &TestDb, email: &str) {
    create_integrator(
        &t.db,
        &test_keyring(),
        NewIntegrator {
            name: "Acme POS".into(),
            owner_email: email.into(),
            owner_name: "Ana".into(),
            owner_password: "correct horse battery".into(),
            mp_app: None,
            is_demo: false,
        },
    )
    .await
    .unwrap();
}

async fn login_logout_and_throttle(t: &TestDb) {
    owner(t, "ana@acme.test").await;
    let good = SecretString::from("correct horse battery");
    let bad = SecretString::from("wrong password!");

    let (token, session) =
        sessions::login(&t.db, &gate(), " Ana@Acme.test ", &good, Some("10.0.0.1"))
            .await
            .unwrap();
    assert_eq!(session.user.email, "ana@acme.test");
    let found = sessions::authenticate(&t.db, token.expose_secret())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.csrf_token, session.csrf_token);
    assert!(
        sessions::authenticate(&t.db, "forged-token")
            .await
            .unwrap()
            .is_none()
    );
    sessions::logout(&t.db, &found.id).await.unwrap();
    assert!(
        sessions::authenticate(&t.db, token.expose_secret())
            .await
            .unwrap()
            .is_none()
    );

    // Unknown e-mail and wrong password look the same.
    for email in ["nobody@acme.test", "ana@acme.test"] {
        assert!(matches!(
            sessions::login(&t.db, &gate(), email, &bad, None).await,
            Err(LoginError::BadCredentials)
        ));
    }
    for _ in 1..sessions::MAX_EMAIL_FAILURES {
        let _ = sessions::login(&t.db, &gate(), "ana@acme.test", &bad, None).await;
    }
    // Locked: even the right password is refused for a while.
    assert!(matches!(
        sessions::login(&t.db, &gate(), "ana@acme.test", &good, None).await,
        Err(LoginError::Throttled { .. })
    ));
}

async fn ip_throttle_covers_many_emails(t: &TestDb) {
    owner(t, "bo@acme.test").await;
    let bad = SecretString::from("wrong password!");
    for i in 0..sessions::MAX_IP_FAILURES {
        let _ = sessions::login(
            &t.db,
            &gate(),
            &format!("u{i}@x.test"),
            &bad,
            Some("10.9.9.9"),
        )
        .await;
    }
    let good = SecretString::from("correct horse battery");
    assert!(matches!(
        sessions::login(&t.db, &gate(), "bo@acme.test", &good, Some("10.9.9.9")).await,
        Err(LoginError::Throttled { .. })
    ));
    assert!(
        sessions::login(&t.db, &gate(), "bo@acme.test", &good, Some("10.1.1.1"))
            .await
            .is_ok()
    );
}

/// Issue 11: 30 wrong passwords at once for one account from one place:
/// each attempt reserves its slot before hashing, so at most the limit
/// are verified; the owner from another network still gets in.
async fn concurrent_guesses_are_reserved_before_hashing(t: &TestDb) {
    owner(t, "cy@acme.test").await;
    let gate = gate();
    let bad = SecretString::from("wrong password!");
    let attempts = (0..30)
        .map(|_| sessions::login(&t.db, &gate, "cy@acme.test", &bad, Some("2001:db8:1:2::a")));
    let results = futures_util::future::join_all(attempts).await;
    let verified = results
        .iter()
        .filter(|r| matches!(r, Err(LoginError::BadCredentials)))
        .count();
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(LoginError::Throttled { .. })))
        .count();
    println!("30 concurrent wrong passwords: {verified} verified, {throttled} throttled");
    assert!(
        verified <= sessions::MAX_EMAIL_FAILURES as usize,
        "{verified} passwords were hashed"
    );
    assert_eq!(verified + throttled, 30);
    let good = SecretString::from("correct horse battery");
    // Another address of the same IPv6 /64 is the same place: locked.
    assert!(matches!(
        sessions::login(&t.db, &gate, "cy@acme.test", &good, Some("2001:db8:1:2::b")).await,
        Err(LoginError::Throttled { .. })
    ));
    // The owner elsewhere: in.
    assert!(
        sessions::login(&t.db, &gate, "cy@acme.test", &good, Some("2001:db8:9:9::1"))
            .await
            .is_ok()
    );
}

/// The argon2 check waits for a permit of the process-wide semaphore.
async fn password_checks_wait_for_the_semaphore(t: &TestDb) {
    owner(t, "di@acme.test").await;
    let gate = tokio::sync::Semaphore::new(1);
    let held = gate.acquire().await.unwrap();
    let good = SecretString::from("correct horse battery");
    let login = sessions::login(&t.db, &gate, "di@acme.test", &good, Some("10.2.2.2"));
    tokio::pin!(login);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), &mut login)
            .await
            .is_err(),
        "no permit, no hashing"
    );
    drop(held);
    assert!(login.await.is_ok());
}

/// Time-based rules, checked by moving the one clock instead of waiting:
/// a session used within the idle timeout lives on, an idle one ends, an
/// active one still ends at the absolute timeout, and a lockout lifts.
async fn sessions_and_lockouts_follow_the_clock(t: &TestDb) {
    owner(t, "di@acme.test").await;
    let good = SecretString::from("correct horse battery");
    let bad = SecretString::from("wrong password!");
    let clock = TestClock::frozen();
    let live = |token: SecretString| async move {
        sessions::authenticate(&t.db, token.expose_secret())
            .await
            .unwrap()
            .is_some()
    };
    clock
        .run(async {
            // Idle timeout: each use within it keeps the session.
            let (token, _) = sessions::login(&t.db, &gate(), "di@acme.test", &good, None)
                .await
                .unwrap();
            for _ in 0..2 {
                clock.advance(sessions::IDLE_TIMEOUT - Duration::minutes(1));
                assert!(live(token.clone()).await, "used within the idle timeout");
            }
            clock.advance(sessions::IDLE_TIMEOUT);
            assert!(!live(token.clone()).await, "idle for the whole timeout");

            // Absolute timeout: used every hour, it still ends.
            let (token, session) = sessions::login(&t.db, &gate(), "di@acme.test", &good, None)
                .await
                .unwrap();
            while clock.now() + Duration::hours(1) < session.expires_at {
                clock.advance(Duration::hours(1));
                assert!(live(token.clone()).await);
            }
            clock.advance(Duration::hours(1));
            assert!(!live(token).await, "past the absolute timeout");

            // Lockout: refused right after, let in once it has passed.
            for _ in 0..sessions::MAX_EMAIL_FAILURES {
                let _ = sessions::login(&t.db, &gate(), "di@acme.test", &bad, None).await;
            }
            assert!(matches!(
                sessions::login(&t.db, &gate(), "di@acme.test", &good, None).await,
                Err(LoginError::Throttled { .. })
            ));
            clock.advance(sessions::LOCKOUT + Duration::minutes(1));
            assert!(
                sessions::login(&t.db, &gate(), "di@acme.test", &good, None)
                    .await
                    .is_ok()
            );
        })
        .await;
}

on_both_databases!(
    login_logout_and_throttle,
    ip_throttle_covers_many_emails,
    concurrent_guesses_are_reserved_before_hashing,
    password_checks_wait_for_the_semaphore,
    sessions_and_lockouts_follow_the_clock,
);

#[test]
fn ipv6_is_throttled_per_64() {
    assert_eq!(
        sessions::throttle_net("2001:db8:1:2::a"),
        "2001:db8:1:2::/64"
    );
    assert_eq!(
        sessions::throttle_net("2001:db8:1:2:ffff::1"),
        "2001:db8:1:2::/64"
    );
    assert_eq!(sessions::throttle_net("::ffff:10.0.0.1"), "10.0.0.1");
    assert_eq!(sessions::throttle_net("10.0.0.1"), "10.0.0.1");
}
