//! Crashes and races around the worker: a worker killed mid-dispatch, Redis
//! losing its keys, two processes refreshing one seller's token, a token
//! Mercado Pago no longer accepts. Nothing is lost and nothing is charged
//! twice.

use crate::common;

use std::time::Duration;

use common::{QueueKind, setup};
use platform_core::credentials::{self, Reason, RefreshLocks, RefreshOutcome};
use platform_core::crypto::Aad;
use platform_core::entities::{payment_intents, seller_credentials, sellers};
use platform_core::intents::{self, NewIntent};
use platform_core::jobs;
use platform_core::on_both_databases;
use platform_core::states::{EventSource, LinkStatus};
use platform_core::tenancy::Scope;
use platform_core::testing::TestDb;
use platform_worker::{dispatch, reconcile};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::json;

fn scope(env: &common::Env) -> Scope {
    Scope::integrator(env.integrator_id.clone())
}

async fn queued_intent(env: &common::Env, amount: i64) -> payment_intents::Model {
    intents::create(
        &env.ctx.db,
        &scope(env),
        &env.terminal_id,
        NewIntent {
            amount,
            ..Default::default()
        },
        intents::Origin {
            api_key_id: None,
            source: EventSource::Api,
        },
        None,
    )
    .await
    .unwrap()
    .value
}

/// A worker takes the message, sends the order to Mercado Pago, and dies
/// before recording anything or acking. The order's notification (matched
/// by Puente's intent id, sent as `external_reference`) or the redelivered
/// message — whichever comes first — completes the intent; a redelivery
/// sends the same idempotency key, so it is the same order: one charge.
async fn worker_killed_mid_dispatch(t: &TestDb) {
    let mut env = setup(t, QueueKind::Redis).await;
    env.worker.take().unwrap().stop().await;
    let intent = queued_intent(&env, 6100).await;
    env.ctx
        .queue
        .publish(jobs::INTENT_DISPATCH, intent.id.as_str())
        .await
        .unwrap();

    // The doomed worker: receives, calls upstream, never records or acks.
    let doomed = env.ctx.queue.with_consumer("doomed");
    let got = doomed
        .receive(jobs::INTENT_DISPATCH, 1, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let token = credentials::access_token(&env.ctx.db, &env.keyring, &env.seller_id)
        .await
        .unwrap();
    let req = platform_core::mercadopago::PointOrderRequest {
        external_reference: intent.id.to_string(),
        terminal_id: env.device_id.clone(),
        amount: platform_core::mercadopago::Amount::from_cents(6100).unwrap(),
        description: None,
        expiration_time: None,
        print_on_terminal: Some(platform_core::mercadopago::PrintOnTerminal::NoTicket),
        default_payment_type: None,
        sponsor_id: intent.sponsor_id.clone(),
        platform_id: None,
        integrator_id: None,
    };
    let first = env
        .ctx
        .mp
        .create_order(&token.token, &req, intent.id.as_str())
        .await
        .unwrap();
    drop(got); // crash: no ack, no row update

    // A healthy worker takes over once the message's lease runs out.
    env.worker = Some(platform_worker::start(env.ctx.clone()));
    let done = env.wait_final(&intent.id).await;
    assert_eq!(done["status"], "processed", "{done}");
    assert_eq!(
        done["upstream"]["id"].as_str(),
        Some(first.id.as_str()),
        "the same order, replayed"
    );
    assert_eq!(env.charges(&intent.id).await.len(), 1, "charged once");
    env.shutdown().await;
}

/// Redis loses everything (restart without persistence): the reconciler
/// puts the committed intents back and they complete.
async fn redis_wiped_while_work_is_queued(t: &TestDb) {
    let mut env = setup(t, QueueKind::Redis).await;
    env.worker.take().unwrap().stop().await;
    let mut ids = Vec::new();
    for amount in [7100, 7200] {
        let (st, b) = env
            .create_intent(json!({"terminal_id": env.terminal_id, "amount": amount}))
            .await;
        assert_eq!(st, 201);
        ids.push(b["id"].as_str().unwrap().to_owned());
        // One terminal, one open intent: finish the first by hand before the next.
        if amount == 7100 {
            let ask = intents::CancelAsk {
                intent_id: &platform_core::id::PaymentIntentId::parse(&ids[0]).unwrap(),
                at_terminal: false,
                source: EventSource::Api,
            };
            let _ = intents::request_cancel(&env.ctx.db, &scope(&env), ask)
                .await
                .unwrap();
        }
    }
    // Wipe this test's keys, as a Redis restart would.
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", env.redis_prefix.as_ref().unwrap()))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut con)
        .await
        .unwrap();

    env.worker = Some(platform_worker::start(env.ctx.clone()));
    let pass = reconcile::tick(&env.ctx, chrono::Utc::now() + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        pass.requeued_dispatch, 1,
        "the queued one (the other was canceled before dispatch)"
    );
    let done = env.wait_final(&ids[1]).await;
    assert_eq!(done["status"], "processed");
    assert_eq!(env.charges(&ids[1]).await.len(), 1);
    assert_eq!(env.charges(&ids[0]).await.len(), 0);
    env.shutdown().await;
}

/// Two processes (separate in-process locks) refresh one seller at once:
/// only one refresh reaches Mercado Pago (refresh tokens are single-use; a
/// second use would fail and flag the seller), and both get the new token.
async fn concurrent_refreshes_make_one_upstream_call(t: &TestDb) {
    let mut env = setup(t, QueueKind::Memory).await;
    // Only the two callers below may refresh (the worker's own refresh
    // loop could otherwise be the one that does, under load).
    env.worker.take().unwrap().stop().await;
    let cred = seller_credentials::Entity::find()
        .filter(seller_credentials::Column::SellerId.eq(env.seller_id.clone()))
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let mut due = cred.clone().into_active_model();
    due.next_refresh_at = Set(Some(chrono::Utc::now() - chrono::Duration::minutes(1)));
    due.update(&env.ctx.db).await.unwrap();

    let (a_locks, b_locks) = (RefreshLocks::default(), RefreshLocks::default());
    let run = |locks: RefreshLocks| {
        let ctx = env.ctx.clone();
        let seller = env.seller_id.clone();
        async move {
            credentials::refresh(
                &ctx.db,
                &ctx.keyring,
                &ctx.mp,
                &locks,
                &ctx.refresh_policy,
                &seller,
                Reason::Due,
                None,
            )
            .await
            .unwrap()
        }
    };
    let (a, b) = tokio::join!(run(a_locks), run(b_locks));
    let token = |o: &RefreshOutcome| match o {
        RefreshOutcome::Refreshed(t) | RefreshOutcome::NotNeeded(t) => {
            t.token.expose_secret().clone()
        }
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        token(&a),
        token(&b),
        "both callers end with the same, new token"
    );
    assert!(
        matches!(a, RefreshOutcome::Refreshed(_)) != matches!(b, RefreshOutcome::Refreshed(_)),
        "exactly one refreshed"
    );
    let seller = sellers::Entity::find_by_id(env.seller_id.clone())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seller.link_status, LinkStatus::Linked);
    let after = seller_credentials::Entity::find_by_id(cred.id.clone())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert!(after.next_refresh_at.unwrap() > chrono::Utc::now() + chrono::Duration::days(100));
    assert!(after.refresh_lease_until.is_none(), "lease released");
    // The new token works upstream.
    let me = env.ctx.mp.me(&token(&a).into()).await.unwrap();
    assert_eq!(
        Some(me.id.to_string()),
        env.seller["user_id"].as_i64().map(|i| i.to_string())
    );
    env.shutdown().await;
}

/// A token Mercado Pago rejects (401) is refreshed once and the dispatch
/// retried; a revoked seller fails the intent and is flagged for reconnect.
async fn rejected_token_is_refreshed_then_revoked_seller_is_flagged(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let cred = seller_credentials::Entity::find()
        .filter(seller_credentials::Column::SellerId.eq(env.seller_id.clone()))
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let mut broken = cred.clone().into_active_model();
    broken.access_token = Set(env.keyring.seal(
        &"APP_USR-revoked-long-ago".into(),
        Aad::new("seller_credentials", "access_token", cred.id.as_str()),
    ));
    broken.update(&env.ctx.db).await.unwrap();
    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 8100}))
        .await;
    let done = env.wait_final(a["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "processed", "refreshed and retried: {done}");

    // Now the seller revokes everything at Mercado Pago.
    let res = env
        .http
        .post(format!(
            "{}/sandbox/sellers/{}/revoke",
            env.sandbox.base_url(),
            env.seller["user_id"]
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let (_, b) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 8200}))
        .await;
    let done = env.wait_final(b["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(
        done["last_error"]["code"], "seller_needs_reconnect",
        "{done}"
    );
    let seller = sellers::Entity::find_by_id(env.seller_id.clone())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seller.link_status, LinkStatus::NeedsReconnect);
    // And new intents are refused up front.
    let (st, c) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 8300}))
        .await;
    assert_eq!((st, c["code"].as_str()), (409, Some("seller_not_linked")));
    let _ = dispatch::Next::Done;
    env.shutdown().await;
}

/// A cancel arrives while the worker's create is on its way to Mercado
/// Pago: the worker has claimed the intent, so the cancel is not decided
/// here; the order that reaches Mercado Pago is canceled there, so no
/// terminal can charge it.
async fn cancel_racing_the_create_cancels_upstream_too(t: &TestDb) {
    let mut env = setup(t, QueueKind::Memory).await;
    env.worker.take().unwrap().stop().await;
    let queued = queued_intent(&env, 6200).await;
    // The worker takes the intent…
    let intent = intents::claim_dispatch(&env.ctx.db, &queued.id)
        .await
        .unwrap()
        .expect("claimed");
    // The worker's create reaches Mercado Pago…
    let token = credentials::access_token(&env.ctx.db, &env.keyring, &env.seller_id)
        .await
        .unwrap();
    // …on a terminal waiting for the operator, so the order stays open.
    let res = env
        .http
        .patch(format!(
            "{}/sandbox/terminals/{}",
            env.sandbox.base_url(),
            env.device_id
        ))
        .json(&json!({"mode": "manual"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let req = platform_core::mercadopago::PointOrderRequest {
        external_reference: intent.id.to_string(),
        terminal_id: env.device_id.clone(),
        amount: platform_core::mercadopago::Amount::from_cents(6200).unwrap(),
        description: None,
        expiration_time: None,
        print_on_terminal: None,
        default_payment_type: None,
        sponsor_id: intent.sponsor_id.clone(),
        platform_id: None,
        integrator_id: None,
    };
    let order = env
        .ctx
        .mp
        .create_order(&token.token, &req, intent.id.as_str())
        .await
        .unwrap();
    // …while the POS cancels: it cannot be decided here any more.
    let ask = intents::CancelAsk {
        intent_id: &intent.id,
        at_terminal: false,
        source: EventSource::Api,
    };
    let asked = intents::request_cancel(&env.ctx.db, &scope(&env), ask)
        .await
        .unwrap();
    assert!(
        matches!(asked.value, intents::CancelOutcome::Requested(ref i) if i.status.as_str() == "queued"),
        "{:?}",
        asked.value
    );
    // The worker then records the create's answer.
    let facts = platform_worker::mapping::order_facts(&order);
    dispatch::record_created(
        &env.ctx,
        &intent,
        platform_core::states::IntentStatus::Created,
        facts,
    )
    .await
    .unwrap();
    let upstream = env.ctx.mp.get_order(&token.token, &order.id).await.unwrap();
    assert_eq!(
        upstream.status,
        platform_core::mercadopago::OrderStatus::Canceled,
        "not left live upstream"
    );
    let row = payment_intents::Entity::find_by_id(intent.id.clone())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.upstream_id.as_deref()),
        ("canceled", Some(order.id.as_str()))
    );
    assert_eq!(env.charges(&intent.id).await.len(), 0);
    env.shutdown().await;
}

on_both_databases!(
    cancel_racing_the_create_cancels_upstream_too,
    worker_killed_mid_dispatch,
    redis_wiped_while_work_is_queued,
    concurrent_refreshes_make_one_upstream_call,
    rejected_token_is_refreshed_then_revoked_seller_is_flagged,
);
