//! Dashboard sessions and login throttling on both databases.

use platform_core::accounts::{NewIntegrator, create_integrator};
use platform_core::on_both_databases;
use platform_core::secret::SecretString;
use platform_core::sessions::{self, LoginError};
use platform_core::testing::{TestDb, test_keyring};

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

    let (token, session) = sessions::login(&t.db, " Ana@Acme.test ", &good, Some("10.0.0.1"))
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
            sessions::login(&t.db, email, &bad, None).await,
            Err(LoginError::BadCredentials)
        ));
    }
    for _ in 1..sessions::MAX_EMAIL_FAILURES {
        let _ = sessions::login(&t.db, "ana@acme.test", &bad, None).await;
    }
    // Locked: even the right password is refused for a while.
    assert!(matches!(
        sessions::login(&t.db, "ana@acme.test", &good, None).await,
        Err(LoginError::Throttled { .. })
    ));
}

async fn ip_throttle_covers_many_emails(t: &TestDb) {
    owner(t, "bo@acme.test").await;
    let bad = SecretString::from("wrong password!");
    for i in 0..sessions::MAX_IP_FAILURES {
        let _ = sessions::login(&t.db, &format!("u{i}@x.test"), &bad, Some("10.9.9.9")).await;
    }
    let good = SecretString::from("correct horse battery");
    assert!(matches!(
        sessions::login(&t.db, "bo@acme.test", &good, Some("10.9.9.9")).await,
        Err(LoginError::Throttled { .. })
    ));
    assert!(
        sessions::login(&t.db, "bo@acme.test", &good, Some("10.1.1.1"))
            .await
            .is_ok()
    );
}

on_both_databases!(login_logout_and_throttle, ip_throttle_covers_many_emails);
