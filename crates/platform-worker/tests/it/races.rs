//! A POS acting while the pipeline works: cancels at random offsets after
//! the create, cancels at the terminal with and without the caller's
//! consent, a worker that dies between Mercado Pago's answer and its record,
//! a dispatch given up while its order may be live upstream,
//! two refunds at once. Every final state Puente records must equal Mercado
//! Pago's, and every answer must be one Mercado Pago would give.

use crate::common;

use std::time::{Duration, Instant};

use common::{Env, QueueKind, eventually, setup};
use platform_core::entities::payment_intents;
use platform_core::id::PaymentIntentId;
use platform_core::intents;
use platform_core::jobs;
use platform_core::on_both_databases;
use platform_core::testing::TestDb;
use platform_worker::dispatch;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

async fn cancel(env: &Env, id: &str, body: Value) -> (u16, Value) {
    let res = env
        .http
        .post(format!("{}/v1/payment-intents/{id}/cancel", env.url))
        .bearer_auth(&env.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn get(env: &Env, id: &str) -> Value {
    env.api_get(&format!("/v1/payment-intents/{id}")).await
}

/// What Mercado Pago (the sandbox) holds for an intent: its order's status,
/// and whether anything was charged.
async fn upstream_truth(env: &Env, id: &str) -> (Option<String>, bool) {
    let row = payment_intents::Entity::find_by_id(PaymentIntentId::parse(id).unwrap())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let status = match &row.upstream_id {
        Some(order) => {
            let token =
                platform_core::credentials::access_token(&env.ctx.db, &env.keyring, &env.seller_id)
                    .await
                    .unwrap();
            let o = env.ctx.mp.get_order(&token.token, order).await.unwrap();
            Some(format!("{:?}", o.status).to_lowercase())
        }
        None => None,
    };
    let charged = env
        .charges(id)
        .await
        .iter()
        .any(|c| c["status"] == "approved" || c["status"] == "processed");
    (status, charged)
}

async fn terminal_mode(env: &Env, mode: &str) {
    let res = env
        .http
        .patch(format!(
            "{}/sandbox/terminals/{}",
            env.sandbox.base_url(),
            env.device_id
        ))
        .json(&json!({"mode": mode}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

async fn press(env: &Env, action: &str) {
    let res = env
        .http
        .post(format!(
            "{}/sandbox/terminals/{}/{action}",
            env.sandbox.base_url(),
            env.device_id
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}

/// Create, then cancel after a random delay (0–40 ms), many times on one
/// terminal: whatever wins, Puente's final state is Mercado Pago's, the
/// cancel's answer agrees with it, and nothing is left live upstream.
async fn create_then_cancel_agrees_with_mercado_pago(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let (mut canceled, mut paid) = (0, 0);
    for n in 0..16u64 {
        let (st, created) = env
            .create_intent(json!({"terminal_id": env.terminal_id, "amount": 2500 + n}))
            .await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let mut r = [0u8; 1];
        rand_fill(&mut r);
        tokio::time::sleep(Duration::from_millis(u64::from(r[0]) % 40)).await;
        let (code, answer) = cancel(&env, &id, json!({})).await;
        let done = env.wait_final(&id).await;
        let (upstream, charged) = upstream_truth(&env, &id).await;
        match done["status"].as_str().unwrap() {
            "canceled" => {
                canceled += 1;
                assert_eq!(code, 200, "a canceled intent answers 200: {answer}");
                assert!(!charged, "canceled in Puente, charged upstream: {done}");
                assert!(
                    upstream.is_none() || upstream.as_deref() == Some("canceled"),
                    "Puente canceled, Mercado Pago {upstream:?}: {done}"
                );
            }
            "processed" => {
                paid += 1;
                assert!(charged, "{done}");
                assert_eq!(upstream.as_deref(), Some("processed"));
                assert!(
                    code == 409 || (code == 202 && done["requires_attention"] == true),
                    "a cancel that lost answers 409 (or 202 and the payment is flagged): {code} {answer}"
                );
            }
            other => panic!("unexpected final state {other}: {done}"),
        }
    }
    assert_eq!(canceled + paid, 16);
    env.shutdown().await;
}

fn rand_fill(buf: &mut [u8]) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (nanos >> (i % 4 * 8)) as u8 ^ (nanos >> 13) as u8;
    }
}

/// The terminal picks the order up: Puente shows it within about a second
/// (Mercado Pago sends no notification for it); a cancel without the
/// caller's consent to an at-terminal cancel is refused (409, as Mercado
/// Pago), with it the terminal is asked (202) and the outcome follows.
async fn cancel_at_terminal_needs_consent(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    terminal_mode(&env, "manual").await;
    let (_, created) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 3100}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    eventually("sent upstream", || async {
        (get(&env, &id).await["status"] == "created").then_some(())
    })
    .await;
    press(&env, "charge").await;
    let picked = Instant::now();
    eventually("seen at the terminal", || async {
        (get(&env, &id).await["status"] == "at_terminal").then_some(())
    })
    .await;
    let lag = picked.elapsed();
    assert!(
        lag < Duration::from_millis(2500),
        "the pick-up took {lag:?} to show"
    );
    let (code, refused) = cancel(&env, &id, json!({})).await;
    assert_eq!(
        (code, refused["code"].as_str()),
        (409, Some("intent_at_terminal")),
        "{refused}"
    );
    let (code, accepted) = cancel(&env, &id, json!({"at_terminal": true})).await;
    assert_eq!(code, 202, "{accepted}");
    assert_eq!(accepted["cancel"]["state"], "accepted", "{accepted}");
    let done = env.wait_final(&id).await;
    let (upstream, charged) = upstream_truth(&env, &id).await;
    assert_eq!(done["status"], "canceled", "{done}");
    assert_eq!(upstream.as_deref(), Some("canceled"));
    assert!(!charged);
    env.shutdown().await;
}

/// A cancel is asked while the terminal holds the order, and the buyer pays
/// before Mercado Pago acts on the cancel (here: before the worker could even
/// send it): Puente records the payment — what really happened — and flags
/// it for attention, with its webhook.
async fn paid_despite_cancel_is_recorded_and_flagged(t: &TestDb) {
    let mut env = setup(t, QueueKind::Memory).await;
    terminal_mode(&env, "manual").await;
    let (_, created) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 3200}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let intent_id = PaymentIntentId::parse(&id).unwrap();
    eventually("sent upstream", || async {
        (get(&env, &id).await["status"] == "created").then_some(())
    })
    .await;
    press(&env, "charge").await;
    eventually("at the terminal", || async {
        (get(&env, &id).await["status"] == "at_terminal").then_some(())
    })
    .await;
    env.worker.take().unwrap().stop().await;
    let scope = platform_core::tenancy::Scope::integrator(env.integrator_id.clone());
    let ask = intents::CancelAsk {
        intent_id: &intent_id,
        at_terminal: true,
        source: platform_core::states::EventSource::Api,
    };
    let asked = intents::request_cancel(&env.ctx.db, &scope, ask)
        .await
        .unwrap();
    assert!(matches!(asked.value, intents::CancelOutcome::Requested(_)));
    // The buyer is faster than the cancel.
    press(&env, "charge").await;
    env.worker = Some(platform_worker::start(env.ctx.clone()));
    let done = env.wait_final(&id).await;
    let (upstream, charged) = upstream_truth(&env, &id).await;
    assert_eq!(upstream.as_deref(), Some("processed"));
    assert!(charged);
    assert_eq!(done["status"], "processed", "{done}");
    assert_eq!(done["requires_attention"], true, "{done}");
    assert_eq!(done["attention_reason"], "paid_after_cancel_request");
    let flagged = platform_core::entities::events::Entity::find()
        .all(&env.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "payment_intent.requires_attention")
        .count();
    assert_eq!(flagged, 1, "one requires_attention event");
    env.shutdown().await;
}

/// A worker sends the create and dies before recording Mercado Pago's
/// answer; then the POS cancels. The order must not stay live upstream: the
/// cancel goes there (the same create, replayed by its idempotency key,
/// names the order), and the intent ends canceled with Mercado Pago agreeing.
async fn worker_killed_after_create_then_cancel_leaves_no_orphan(t: &TestDb) {
    let mut env = setup(t, QueueKind::Memory).await;
    env.worker.take().unwrap().stop().await;
    terminal_mode(&env, "manual").await;
    let (_, created) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 3300}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let intent_id = PaymentIntentId::parse(&id).unwrap();
    // The dying worker: claims, creates upstream, records nothing.
    let claimed = intents::claim_dispatch(&env.ctx.db, &intent_id)
        .await
        .unwrap()
        .unwrap();
    let token = platform_core::credentials::access_token(&env.ctx.db, &env.keyring, &env.seller_id)
        .await
        .unwrap();
    let device = env.device_id.clone();
    let req = platform_core::mercadopago::PointOrderRequest {
        external_reference: claimed.id.to_string(),
        terminal_id: device,
        amount: platform_core::mercadopago::Amount::from_cents(3300).unwrap(),
        description: None,
        expiration_time: None,
        print_on_terminal: Some(platform_core::mercadopago::PrintOnTerminal::NoTicket),
        default_payment_type: None,
        sponsor_id: claimed.sponsor_id.clone(),
        platform_id: None,
        integrator_id: None,
    };
    let order = env
        .ctx
        .mp
        .create_order(&token.token, &req, claimed.id.as_str())
        .await
        .unwrap();
    // The POS cancels; a new worker handles it.
    let asking = {
        let env = &env;
        let id = id.clone();
        async move { cancel(env, &id, json!({})).await }
    };
    let handling = async {
        eventually("cancel requested", || async {
            let row = payment_intents::Entity::find_by_id(intent_id.clone())
                .one(&env.ctx.db)
                .await
                .unwrap()
                .unwrap();
            row.cancel_state.is_some().then_some(())
        })
        .await;
        let _ = dispatch::handle(&env.ctx, &intent_id).await.unwrap();
    };
    let ((code, answer), ()) = tokio::join!(asking, handling);
    let row = payment_intents::Entity::find_by_id(intent_id.clone())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let upstream = env.ctx.mp.get_order(&token.token, &order.id).await.unwrap();
    assert_eq!(
        (row.status.as_str(), row.upstream_id.as_deref()),
        ("canceled", Some(order.id.as_str())),
        "{answer}"
    );
    assert_eq!(
        upstream.status,
        platform_core::mercadopago::OrderStatus::Canceled,
        "no orphan left on the terminal"
    );
    assert_eq!(code, 200, "{answer}");
    let _ = jobs::INTENT_DISPATCH;
    env.shutdown().await;
}

/// Two refunds of one intent at once, each of 60 % of it: one is queued, the
/// other refused; the sum never exceeds the amount (both databases).
async fn concurrent_refunds_never_exceed_the_amount(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let (_, created) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 10000}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let intent_id = PaymentIntentId::parse(&id).unwrap();
    let done = env.wait_final(&id).await;
    assert_eq!(done["status"], "processed", "{done}");
    let refund = |k: u32| {
        let env = &env;
        let id = id.clone();
        async move {
            let res = env
                .http
                .post(format!("{}/v1/payment-intents/{id}/refunds", env.url))
                .bearer_auth(&env.key)
                .header("Idempotency-Key", format!("refund-{k}"))
                .json(&json!({"amount": 6000}))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    let (a, b) = tokio::join!(refund(1), refund(2));
    let mut codes = [a, b];
    codes.sort();
    assert!(
        codes[0] < 300 && codes[1] >= 400,
        "one refund accepted, one refused: {codes:?}"
    );
    let total: i64 = platform_core::entities::refunds::Entity::find()
        .all(&env.ctx.db)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.intent_id == intent_id)
        .map(|r| r.amount)
        .sum();
    assert!(total <= 10000, "refunded {total} of 10000");
    env.shutdown().await;
}

/// Every create reaches Mercado Pago but its answer is lost (a 500 after the
/// order was made), until the worker gives up. The intent must not end as
/// failed while its order is live on the terminal: it stays queued with a
/// cancel pending, and once Mercado Pago answers again the same create
/// (same key) finds the order, which is then canceled. Puente's final state
/// is Mercado Pago's, and nothing is charged.
async fn a_given_up_dispatch_is_resolved_upstream_before_it_ends(t: &TestDb) {
    let mut env = setup(t, QueueKind::Memory).await;
    env.worker.take().unwrap().stop().await;
    terminal_mode(&env, "manual").await;
    env.fault(
        json!({"path_prefix": "/v1/orders", "method": "POST", "error_status": 500, "after": true}),
    )
    .await;
    let (_, created) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 4100}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let intent_id = PaymentIntentId::parse(&id).unwrap();
    let mut ctx = env.ctx.clone();
    ctx.dispatch.max_attempts = 3;
    let row = || async {
        payment_intents::Entity::find_by_id(intent_id.clone())
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap()
    };
    // The worker's passes, each answered 500 after the order was made.
    for _ in 0..5 {
        dispatch::handle(&ctx, &intent_id).await.unwrap();
    }
    let r = row().await;
    assert_eq!(
        r.dispatch_attempts, 3,
        "claimed up to the limit, then no more"
    );
    assert_eq!(
        r.status.as_str(),
        "queued",
        "not failed while an order may be live upstream"
    );
    assert_eq!(
        r.cancel_state,
        Some(platform_core::states::CancelState::Requested)
    );
    // Mercado Pago answers again: the same create finds the order, which is
    // recorded and canceled.
    let res = env
        .http
        .delete(format!("{}/sandbox/faults", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    dispatch::handle(&ctx, &intent_id).await.unwrap();
    let r = row().await;
    assert_eq!(r.status.as_str(), "canceled", "{r:?}");
    let (upstream, charged) = upstream_truth(&env, &id).await;
    assert_eq!(
        upstream.as_deref(),
        Some("canceled"),
        "no orphan on the terminal"
    );
    assert!(!charged);
    env.shutdown().await;
}

on_both_databases!(
    a_given_up_dispatch_is_resolved_upstream_before_it_ends,
    create_then_cancel_agrees_with_mercado_pago,
    cancel_at_terminal_needs_consent,
    paid_despite_cancel_is_recorded_and_flagged,
    worker_killed_after_create_then_cancel_leaves_no_orphan,
    concurrent_refunds_never_exceed_the_amount,
);
