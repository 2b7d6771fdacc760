//! Master-key rotation on both databases: rows sealed under the old key
//! open before rotation; after it, only the new key is needed; the run is
//! resumable; and a ciphertext moved to another row does not open.

use platform_core::crypto::{Aad, CryptoError, Keyring, MasterKey};
use platform_core::entities::{ENCRYPTED_COLUMNS, seller_credentials, webhook_endpoints};
use platform_core::id::SellerCredentialId;
use platform_core::keys::rotate;
use platform_core::on_both_databases;
use platform_core::secret::SecretString;
use platform_core::testing::{TestDb, seed_integrator};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

fn ring(specs: &[&SecretString]) -> Keyring {
    let joined = specs
        .iter()
        .map(|s| s.expose_secret().as_str())
        .collect::<Vec<_>>()
        .join(",");
    Keyring::from_spec(&SecretString::from(joined)).unwrap()
}

async fn open_credential(
    t: &TestDb,
    keys: &Keyring,
    id: &SellerCredentialId,
) -> Result<String, CryptoError> {
    let row = seller_credentials::Entity::find_by_id(id.clone())
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    keys.open(
        &row.access_token,
        Aad::new("seller_credentials", "access_token", id.as_str()),
    )
    .map(|s| s.into_exposed())
}

async fn rotation_moves_every_secret_to_the_newest_key(t: &TestDb) {
    let old = MasterKey::generate_spec("old");
    let new = MasterKey::generate_spec("new");
    let old_ring = ring(&[&old]);
    let a = seed_integrator(&t.db, &old_ring, 600_000).await;
    let b = seed_integrator(&t.db, &old_ring, 700_000).await;
    // Per seeded integrator: client + webhook secret, access + refresh
    // token, PKCE verifier, endpoint secret, a stored idempotent response
    // (previous_secret is unset).
    let sealed_per_integrator = 7;
    assert_eq!(ENCRYPTED_COLUMNS.len(), 8);

    let both = ring(&[&new, &old]);
    let only_new = ring(&[&new]);
    // Before rotation: the old key is needed.
    assert_eq!(
        open_credential(t, &both, &a.credential).await.unwrap(),
        "APP_USR-access"
    );
    assert!(matches!(
        open_credential(t, &only_new, &a.credential).await,
        Err(CryptoError::UnknownKey(_))
    ));

    let first = rotate(&t.db, &both, 3).await.unwrap();
    assert_eq!(first.rewritten, 2 * sealed_per_integrator, "{first:?}");
    let again = rotate(&t.db, &both, 3).await.unwrap();
    assert_eq!(again.rewritten, 0, "a second run finds nothing to do");
    assert_eq!(again.already_current, first.rewritten);

    for s in [&a, &b] {
        assert_eq!(
            open_credential(t, &only_new, &s.credential).await.unwrap(),
            "APP_USR-access"
        );
        let ep = webhook_endpoints::Entity::find_by_id(s.endpoint.clone())
            .one(&t.db)
            .await
            .unwrap()
            .unwrap();
        let secret = only_new
            .open(
                &ep.secret,
                Aad::new("webhook_endpoints", "secret", s.endpoint.as_str()),
            )
            .unwrap();
        assert_eq!(secret.expose_secret(), "whsec_abc");
    }
}

async fn a_ciphertext_copied_to_another_row_does_not_open(t: &TestDb) {
    let keys = ring(&[&MasterKey::generate_spec("k")]);
    let a = seed_integrator(&t.db, &keys, 800_000).await;
    let b = seed_integrator(&t.db, &keys, 900_000).await;
    let a_row = seller_credentials::Entity::find_by_id(a.credential.clone())
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    let b_row = seller_credentials::Entity::find_by_id(b.credential.clone())
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    let mut forged = b_row.into_active_model();
    forged.access_token = Set(a_row.access_token.clone());
    forged.update(&t.db).await.unwrap();
    assert_eq!(
        open_credential(t, &keys, &b.credential).await,
        Err(CryptoError::Tampered)
    );
    // And rotation refuses to launder it.
    let rotated = rotate(
        &t.db,
        &ring(&[
            &MasterKey::generate_spec("k2"),
            &MasterKey::generate_spec("k"),
        ]),
        10,
    )
    .await;
    assert!(
        rotated.is_err(),
        "rotation must fail on a value that does not authenticate"
    );
}

on_both_databases!(
    rotation_moves_every_secret_to_the_newest_key,
    a_ciphertext_copied_to_another_row_does_not_open
);
