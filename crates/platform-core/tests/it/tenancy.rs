//! Tenant scoping for every entity, on SQLite and PostgreSQL: another
//! integrator's row is "not found", listings never include it, and narrowed
//! scopes (seller, store, POS) see only their own rows.

use platform_core::db::Db;
use platform_core::entities::*;
use platform_core::error::CoreError;
use platform_core::on_both_databases;
use platform_core::tenancy::{Scope, TenantEntity};
use platform_core::testing::{Seeded, TestDb, seed_integrator, test_keyring};
use sea_orm::PaginatorTrait;

fn scope_of(s: &Seeded) -> Scope {
    Scope::integrator(s.integrator.clone())
}

/// Own row found; the other tenant's row (same kind) not found; counts match.
async fn check_entity<E: TenantEntity>(
    db: &Db,
    a: &Seeded,
    b: &Seeded,
    a_id: &E::Id,
    b_id: &E::Id,
    per_tenant: u64,
) where
    E::Model: Sync,
{
    let (sa, sb) = (scope_of(a), scope_of(b));
    sa.find::<E>(db, a_id)
        .await
        .unwrap_or_else(|e| panic!("{}: own row not found: {e}", E::KIND));
    sb.find::<E>(db, b_id).await.unwrap();
    for (scope, foreign) in [(&sa, b_id), (&sb, a_id)] {
        match scope.find::<E>(db, foreign).await {
            Err(CoreError::NotFound { kind }) => assert_eq!(kind, E::KIND),
            other => panic!("{}: foreign row visible: {other:?}", E::KIND),
        }
        assert!(matches!(
            scope.delete::<E>(db, foreign).await,
            Err(CoreError::NotFound { .. })
        ));
    }
    assert_eq!(
        sa.select::<E>().count(db).await.unwrap(),
        per_tenant,
        "{}",
        E::KIND
    );
    assert_eq!(
        sb.select::<E>().count(db).await.unwrap(),
        per_tenant,
        "{}",
        E::KIND
    );
    // Still there after the refused cross-tenant deletes.
    sb.find::<E>(db, b_id).await.unwrap();
}

async fn every_entity_is_isolated_between_integrators(t: &TestDb) {
    let keys = test_keyring();
    let a = seed_integrator(&t.db, &keys, 100_000).await;
    let b = seed_integrator(&t.db, &keys, 200_000).await;
    let db = &t.db;
    check_entity::<integrators::Entity>(db, &a, &b, &a.integrator, &b.integrator, 1).await;
    check_entity::<users::Entity>(db, &a, &b, &a.user, &b.user, 1).await;
    check_entity::<sellers::Entity>(db, &a, &b, &a.seller, &b.seller, 2).await;
    check_entity::<seller_credentials::Entity>(db, &a, &b, &a.credential, &b.credential, 1).await;
    check_entity::<onboarding_links::Entity>(db, &a, &b, &a.link, &b.link, 1).await;
    check_entity::<oauth_states::Entity>(db, &a, &b, &a.oauth_state, &b.oauth_state, 1).await;
    check_entity::<stores::Entity>(db, &a, &b, &a.store, &b.store, 2).await;
    check_entity::<pos::Entity>(db, &a, &b, &a.pos, &b.pos, 2).await;
    check_entity::<terminals::Entity>(db, &a, &b, &a.terminal, &b.terminal, 2).await;
    check_entity::<payment_intents::Entity>(db, &a, &b, &a.intent, &b.intent, 1).await;
    check_entity::<payment_intent_events::Entity>(db, &a, &b, &a.intent_event, &b.intent_event, 1)
        .await;
    check_entity::<refunds::Entity>(db, &a, &b, &a.refund, &b.refund, 1).await;
    check_entity::<qr_orders::Entity>(db, &a, &b, &a.qr_order, &b.qr_order, 1).await;
    check_entity::<api_keys::Entity>(db, &a, &b, &a.api_key, &b.api_key, 1).await;
    check_entity::<webhook_endpoints::Entity>(db, &a, &b, &a.endpoint, &b.endpoint, 1).await;
    check_entity::<events::Entity>(db, &a, &b, &a.event, &b.event, 1).await;
    check_entity::<webhook_deliveries::Entity>(db, &a, &b, &a.delivery, &b.delivery, 1).await;
    check_entity::<webhook_attempts::Entity>(db, &a, &b, &a.attempt, &b.attempt, 1).await;
    check_entity::<inbound_notifications::Entity>(db, &a, &b, &a.notification, &b.notification, 1)
        .await;
    check_entity::<audit_log::Entity>(db, &a, &b, &a.audit, &b.audit, 1).await;
    check_entity::<idempotency_keys::Entity>(db, &a, &b, &a.idempotency, &b.idempotency, 1).await;
}

async fn narrowed_scopes_see_only_their_branch(t: &TestDb) {
    let keys = test_keyring();
    let a = seed_integrator(&t.db, &keys, 300_000).await;
    let db = &t.db;
    let wide = scope_of(&a);
    let seller = wide.clone().with_seller(a.seller.clone());
    let store = seller.clone().with_store(a.store.clone());
    let pos_scope = store.clone().with_pos(a.pos.clone());
    assert!(wide.is_integrator_wide() && !seller.is_integrator_wide());

    for scope in [&seller, &store, &pos_scope] {
        scope
            .find::<terminals::Entity>(db, &a.terminal)
            .await
            .unwrap();
        scope
            .find::<payment_intents::Entity>(db, &a.intent)
            .await
            .unwrap();
        scope
            .find::<qr_orders::Entity>(db, &a.qr_order)
            .await
            .unwrap();
        assert!(
            scope
                .find::<terminals::Entity>(db, &a.other_terminal)
                .await
                .is_err()
        );
        assert!(scope.find::<pos::Entity>(db, &a.other_pos).await.is_err());
        assert_eq!(
            scope.select::<terminals::Entity>().count(db).await.unwrap(),
            1
        );
        // Integrator-level objects cannot be proved to belong to a narrowed scope.
        assert!(
            scope
                .find::<webhook_endpoints::Entity>(db, &a.endpoint)
                .await
                .is_err()
        );
        assert!(
            scope
                .find::<api_keys::Entity>(db, &a.api_key)
                .await
                .is_err()
        );
        assert!(scope.find::<users::Entity>(db, &a.user).await.is_err());
        assert!(
            scope
                .find::<integrators::Entity>(db, &a.integrator)
                .await
                .is_err()
        );
    }
    // The seller scope sees its seller, stores and refunds; not the other seller's.
    seller.find::<sellers::Entity>(db, &a.seller).await.unwrap();
    assert!(
        seller
            .find::<sellers::Entity>(db, &a.other_seller)
            .await
            .is_err()
    );
    seller.find::<stores::Entity>(db, &a.store).await.unwrap();
    assert!(
        seller
            .find::<stores::Entity>(db, &a.other_store)
            .await
            .is_err()
    );
    seller.find::<refunds::Entity>(db, &a.refund).await.unwrap();
    seller.find::<events::Entity>(db, &a.event).await.unwrap();
    // A POS scope sees its POS, not the store row above it.
    pos_scope.find::<pos::Entity>(db, &a.pos).await.unwrap();
    assert!(
        pos_scope
            .find::<stores::Entity>(db, &a.store)
            .await
            .is_err()
    );
    // The wide scope sees both sellers' terminals.
    assert_eq!(
        wide.select::<terminals::Entity>().count(db).await.unwrap(),
        2
    );
}

on_both_databases!(
    every_entity_is_isolated_between_integrators,
    narrowed_scopes_see_only_their_branch
);
