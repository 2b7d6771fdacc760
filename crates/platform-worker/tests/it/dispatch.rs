//! Intents from the POS API to the (sandbox) terminal and back, through the
//! worker: on SQLite and PostgreSQL, with the in-process queue and Redis.
//! Upstream faults, duplicated dispatch, lost queue messages, bad and
//! repeated notifications: every intent ends final, charged at most once.

use crate::common;

use std::time::Duration;

use common::{Env, QueueKind, setup};
use platform_core::entities::payment_intents;
use platform_core::intents::{self, NewIntent};
use platform_core::jobs;
use platform_core::on_both_databases;
use platform_core::states::EventSource;
use platform_core::tenancy::Scope;
use platform_core::testing::TestDb;
use platform_worker::{dispatch, reconcile};
use sea_orm::EntityTrait;
use serde_json::json;

async fn intent_reaches_processed_with_sponsor_and_one_charge(env: &Env) {
    let (st, created) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 2500, "sponsor_id": "1"}))
        .await;
    assert_eq!(st, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let done = env.wait_final(id).await;
    assert_eq!(done["status"], "processed", "{done}");
    assert!(done["upstream"]["id"].as_str().unwrap().starts_with("ORD"));
    assert!(done["payment"]["mp_payment_id"].as_str().is_some());
    assert_eq!(env.charges(id).await.len(), 1, "charged exactly once");
    // The order at Mercado Pago carries the integrator's sponsor.
    let token = platform_core::credentials::access_token(&env.ctx.db, &env.keyring, &env.seller_id)
        .await
        .unwrap();
    let order = env
        .ctx
        .mp
        .get_order(&token.token, done["upstream"]["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        order.sponsor_id().map(|s| s.to_string()).as_deref(),
        Some("999000")
    );
    // History: queued → created/at_terminal… → processed, from worker and notification/sync.
    let events: serde_json::Value = env
        .http
        .get(format!("{}/v1/payment-intents/{id}/events", env.url))
        .bearer_auth(&env.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let steps: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&"queued"));
    assert_eq!(steps.last(), Some(&"processed"));
}

async fn orders_happy_path_memory(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    intent_reaches_processed_with_sponsor_and_one_charge(&env).await;
    env.shutdown().await;
}

async fn orders_happy_path_redis(t: &TestDb) {
    let env = setup(t, QueueKind::Redis).await;
    intent_reaches_processed_with_sponsor_and_one_charge(&env).await;
    env.shutdown().await;
}

/// A queue message that is not an id of its topic's kind names nothing, as
/// an unknown id does: every consumer acks it (nothing comes back, nothing
/// is dead-lettered) and goes on with the next message.
async fn malformed_queue_messages_are_acked(t: &TestDb) {
    let env = setup(t, QueueKind::Redis).await;
    let topics = [
        jobs::INTENT_DISPATCH,
        jobs::REFUND_DISPATCH,
        jobs::NOTIFICATION,
        jobs::WEBHOOK_DELIVERY,
    ];
    for topic in topics {
        for payload in ["nope", env.seller_id.as_str()] {
            env.ctx.queue.publish(topic, payload).await.unwrap();
        }
    }
    for topic in topics {
        common::eventually(&format!("{topic} is settled"), || async {
            let s = env.ctx.queue.stats(topic).await.unwrap();
            (s.depth == 0 && s.in_flight == 0 && s.delayed == 0 && s.dead == 0).then_some(())
        })
        .await;
    }
    intent_reaches_processed_with_sponsor_and_one_charge(&env).await;
    env.shutdown().await;
}

async fn legacy_api_and_rejected_amount(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    env.use_legacy_upstream().await;

    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 1500}))
        .await;
    let done = env.wait_final(a["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "processed", "{done}");
    assert_eq!(done["upstream"]["api"], "legacy");
    // The simulator rejects 12.00.
    let (_, b) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 1200}))
        .await;
    let done = env.wait_final(b["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    env.shutdown().await;
}

async fn upstream_errors_are_retried_and_4xx_is_final(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    // Two 503s, then a 429 with Retry-After, then success.
    env.fault(json!({"path_prefix": "/v1/orders", "method": "POST", "error_rate": 1.0, "error_status": 503, "count": 2})).await;
    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 3000}))
        .await;
    let id = a["id"].as_str().unwrap();
    let done = env.wait_final(id).await;
    assert_eq!(done["status"], "processed", "{done}");
    let row =
        payment_intents::Entity::find_by_id(platform_core::id::PaymentIntentId::parse(id).unwrap())
            .one(&env.ctx.db)
            .await
            .unwrap()
            .unwrap();
    // Attempts are counted when made (the worker's claim): two failed, the third went through.
    assert_eq!(
        row.dispatch_attempts, 3,
        "two failed attempts, then the one that went through"
    );
    assert_eq!(env.charges(id).await.len(), 1);

    // A 429 with Retry-After is honoured: the retry waits at least that long.
    env.fault(json!({"path_prefix": "/v1/orders", "method": "POST", "error_rate": 1.0, "error_status": 429, "retry_after": 1, "count": 1})).await;
    let started = std::time::Instant::now();
    let (_, r) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 3050}))
        .await;
    let id429 = r["id"].as_str().unwrap();
    assert_eq!(env.wait_final(id429).await["status"], "processed");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    let row = payment_intents::Entity::find_by_id(
        platform_core::id::PaymentIntentId::parse(id429).unwrap(),
    )
    .one(&env.ctx.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        row.dispatch_attempts, 2,
        "one rate-limited attempt, then the good one"
    );
    assert_eq!(
        row.last_error_code, None,
        "cleared once the intent went through"
    );
    assert_eq!(env.charges(id429).await.len(), 1);

    // A timeout (the sandbox hangs past our 5 s timeout) is retried with the
    // same idempotency key: still one order, one charge.
    env.fault(json!({"path_prefix": "/v1/orders", "method": "POST", "hang": true, "count": 1}))
        .await;
    let (_, b) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 3100}))
        .await;
    let id = b["id"].as_str().unwrap();
    assert_eq!(env.wait_final(id).await["status"], "processed");
    assert_eq!(env.charges(id).await.len(), 1);

    // A 4xx from Mercado Pago is final, with its code recorded.
    env.fault(json!({"path_prefix": "/v1/orders", "method": "POST", "error_rate": 1.0, "error_status": 400, "count": 1})).await;
    let (_, c) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 3200}))
        .await;
    let done = env.wait_final(c["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["last_error"]["code"].as_str().is_some(), "{done}");
    assert_eq!(env.charges(c["id"].as_str().unwrap()).await.len(), 0);
    env.shutdown().await;
}

async fn duplicate_dispatch_never_charges_twice(t: &TestDb) {
    let mut env = setup(t, QueueKind::Memory).await;
    // No worker: we play two workers that got the same message (a killed
    // worker's message redelivered while the first call was in flight).
    env.worker.take().unwrap().stop().await;
    let scope = Scope::integrator(env.integrator_id.clone());
    let intent = intents::create(
        &env.ctx.db,
        &scope,
        &env.terminal_id,
        NewIntent {
            amount: 4000,
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
    .value;
    let (a, b) = tokio::join!(
        dispatch::handle(&env.ctx, &intent.id),
        dispatch::handle(&env.ctx, &intent.id)
    );
    // Done, or done for now with the pick-up watch scheduled.
    for next in [a.unwrap(), b.unwrap()] {
        assert!(
            matches!(next, dispatch::Next::Done | dispatch::Next::LookAgain(_)),
            "{next:?}"
        );
    }
    // And once more, as a late redelivery.
    dispatch::handle(&env.ctx, &intent.id).await.unwrap();
    // Let the terminal finish and the notifications land: process them by hand.
    env.worker = Some(platform_worker::start(env.ctx.clone()));
    let done = env.wait_final(&intent.id).await;
    assert_eq!(done["status"], "processed");
    assert_eq!(
        env.charges(&intent.id).await.len(),
        1,
        "one charge despite three dispatches"
    );
    env.shutdown().await;
}

async fn lost_queue_message_is_recovered_by_the_reconciler(t: &TestDb) {
    let env = setup(t, QueueKind::Redis).await;
    let scope = Scope::integrator(env.integrator_id.clone());
    // Committed but never published (as if Redis lost it, or the web
    // process died right after the commit).
    let intent = intents::create(
        &env.ctx.db,
        &scope,
        &env.terminal_id,
        NewIntent {
            amount: 5000,
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
    .value;
    let now = chrono::Utc::now();
    let early = reconcile::tick(&env.ctx, now).await.unwrap();
    assert_eq!(
        early.requeued_dispatch, 0,
        "not stale yet: may still be in flight"
    );
    let later = reconcile::tick(&env.ctx, now + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(later.requeued_dispatch, 1);
    let done = env.wait_final(&intent.id).await;
    assert_eq!(done["status"], "processed");
    assert_eq!(env.charges(&intent.id).await.len(), 1);
    env.shutdown().await;
}

async fn bad_signatures_are_refused_and_change_nothing(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 2000}))
        .await;
    let id = a["id"].as_str().unwrap();
    let done = env.wait_final(id).await;
    let order_id = done["upstream"]["id"].as_str().unwrap();
    let body = json!({"action": "order.refunded", "type": "order", "user_id": env.seller["user_id"], "data": {"id": order_id, "status": "refunded", "version": 99}});
    for sig in [
        None,
        Some("ts=1,v1=00"),
        Some(
            format!(
                "ts={},v1={}",
                chrono::Utc::now().timestamp_millis(),
                "ab".repeat(32)
            )
            .as_str(),
        ),
    ] {
        let mut req = env
            .http
            .post(format!(
                "{}/webhooks/mercadopago?data.id={order_id}&type=order",
                env.url
            ))
            .header("x-request-id", "forged-1")
            .json(&body);
        if let Some(s) = sig {
            req = req.header("x-signature", s);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let row =
        payment_intents::Entity::find_by_id(platform_core::id::PaymentIntentId::parse(id).unwrap())
            .one(&env.ctx.db)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        row.status.as_str(),
        "processed",
        "a forged refund changes nothing"
    );
    env.shutdown().await;
}

async fn repeated_notifications_change_nothing(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 2100}))
        .await;
    let id = a["id"].as_str().unwrap();
    let done = env.wait_final(id).await;
    let before =
        payment_intents::Entity::find_by_id(platform_core::id::PaymentIntentId::parse(id).unwrap())
            .one(&env.ctx.db)
            .await
            .unwrap()
            .unwrap();
    // Ask the sandbox to send every notification of this order again.
    let list: serde_json::Value = env
        .http
        .get(format!(
            "{}/sandbox/notifications?data_id={}",
            env.sandbox.base_url(),
            done["upstream"]["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = list["notifications"].as_array().unwrap();
    assert!(!sent.is_empty());
    for n in sent {
        let nid = match &n["id"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let res = env
            .http
            .post(format!(
                "{}/sandbox/notifications/{nid}/resend",
                env.sandbox.base_url()
            ))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
    // Each resend is answered (200) and recorded or deduplicated; the
    // intent neither moves nor gains history.
    common::eventually("every notification is processed", || async {
        let pending = platform_core::entities::inbound_notifications::Entity::find()
            .all(&env.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|n| n.status == platform_core::states::NotificationStatus::Received)
            .count();
        (pending == 0).then_some(())
    })
    .await;
    let after =
        payment_intents::Entity::find_by_id(platform_core::id::PaymentIntentId::parse(id).unwrap())
            .one(&env.ctx.db)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (after.status, after.updated_at),
        (before.status, before.updated_at)
    );
    env.shutdown().await;
}

on_both_databases!(
    orders_happy_path_memory,
    orders_happy_path_redis,
    malformed_queue_messages_are_acked,
    legacy_api_and_rejected_amount,
    upstream_errors_are_retried_and_4xx_is_final,
    duplicate_dispatch_never_charges_twice,
    lost_queue_message_is_recovered_by_the_reconciler,
    bad_signatures_are_refused_and_change_nothing,
    repeated_notifications_change_nothing,
);

async fn cancel_and_refunds(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    // Refund: partial, then the rest; more than that is refused.
    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 5000}))
        .await;
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(env.wait_final(&id).await["status"], "processed");
    let refund = |body: serde_json::Value| {
        env.http
            .post(format!("{}/v1/payment-intents/{id}/refunds", env.url))
            .bearer_auth(&env.key)
            .json(&body)
            .send()
    };
    let res = refund(json!({"amount": 6000})).await.unwrap();
    assert_eq!(res.status(), 422);
    let res = refund(json!({"amount": 2000})).await.unwrap();
    assert_eq!(res.status(), 202);
    let partial: serde_json::Value = res.json().await.unwrap();
    let settled = common::eventually("the refund is settled", || async {
        let list: serde_json::Value = env
            .http
            .get(format!("{}/v1/payment-intents/{id}/refunds", env.url))
            .bearer_auth(&env.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let statuses: Vec<String> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect();
        assert!(statuses.iter().all(|s| s != "failed"), "{list}");
        statuses
            .iter()
            .all(|s| s == "succeeded")
            .then_some(statuses.len())
    })
    .await;
    assert_eq!(settled, 1);
    assert_eq!(partial["amount"], 2000);
    let after_partial: serde_json::Value = env
        .http
        .get(format!("{}/v1/payment-intents/{id}", env.url))
        .bearer_auth(&env.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after_partial["status"], "processed",
        "a partial refund keeps the intent processed"
    );
    assert_eq!(refund(json!({})).await.unwrap().status(), 202, "the rest");
    common::eventually("the intent is refunded", || async {
        let v: serde_json::Value = env
            .http
            .get(format!("{}/v1/payment-intents/{id}", env.url))
            .bearer_auth(&env.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (v["status"] == "refunded").then_some(())
    })
    .await;
    assert_eq!(
        refund(json!({"amount": 1})).await.unwrap().status(),
        409,
        "nothing left to refund"
    );

    // Cancel: a queued intent is canceled at once (no upstream call).
    let mut worker_env = env;
    worker_env.worker.take().unwrap().stop().await;
    let (_, q) = worker_env
        .create_intent(json!({"terminal_id": worker_env.terminal_id, "amount": 1500}))
        .await;
    let qid = q["id"].as_str().unwrap();
    let res = worker_env
        .http
        .post(format!(
            "{}/v1/payment-intents/{qid}/cancel",
            worker_env.url
        ))
        .bearer_auth(&worker_env.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["status"], "canceled");
    assert_eq!(worker_env.charges(qid).await.len(), 0);
    let res = worker_env
        .http
        .post(format!(
            "{}/v1/payment-intents/{qid}/cancel",
            worker_env.url
        ))
        .bearer_auth(&worker_env.key)
        .send()
        .await
        .unwrap();
    // Asked again once canceled (a POS retrying): the cancel is done.
    assert_eq!(res.status(), 200, "a repeated cancel");
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (v["id"].as_str(), v["status"].as_str()),
        (Some(qid), Some("canceled"))
    );
    assert_eq!(worker_env.charges(qid).await.len(), 0);
    worker_env.shutdown().await;
}

on_both_databases!(cancel_and_refunds);

async fn metrics_show_http_queue_and_worker_numbers(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 2200}))
        .await;
    env.wait_final(a["id"].as_str().unwrap()).await;
    // The dispatch handler counts when it returns, which may be just after
    // the intent became final through its notification: wait for it.
    let mut text = String::new();
    for _ in 0..200 {
        text = env
            .http
            .get(format!("{}/metrics", env.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("puente_dispatch_total{outcome=\"done\"}") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for needle in [
        "puente_http_requests_total{method=\"POST\",route=\"/v1/payment-intents\",status=\"201\"}",
        "puente_http_request_duration_seconds_bucket",
        "puente_queue_depth{topic=\"intents.dispatch\"}",
        "puente_queue_dead_letters{topic=\"webhooks.deliver\"}",
        "puente_dispatch_total{outcome=\"done\"}",
        "puente_notifications_received_total{verified=\"true\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    assert!(!text.contains(&env.key), "no secrets in metrics");
    env.shutdown().await;
}

on_both_databases!(metrics_show_http_queue_and_worker_numbers);

/// A legacy Integration API intent is refunded through its payment
/// (`/v1/payments/{id}/refunds`): part, then the rest, and Mercado Pago's
/// payment agrees with Puente at each step.
async fn legacy_intents_are_refunded_through_their_payment(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    env.use_legacy_upstream().await;

    let (_, a) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 5000}))
        .await;
    let id = a["id"].as_str().unwrap().to_owned();
    let done = env.wait_final(&id).await;
    assert_eq!(done["status"], "processed", "{done}");
    let payment_id = payment_intents::Entity::find_by_id(
        platform_core::id::PaymentIntentId::parse(&id).unwrap(),
    )
    .one(&env.ctx.db)
    .await
    .unwrap()
    .unwrap()
    .mp_payment_id
    .expect("a processed legacy intent knows its payment");
    let upstream_payment = || async {
        env.http
            .get(format!(
                "{}/v1/payments/{payment_id}",
                env.sandbox.base_url()
            ))
            .bearer_auth(env.seller["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let refund = |body: serde_json::Value| {
        env.http
            .post(format!("{}/v1/payment-intents/{id}/refunds", env.url))
            .bearer_auth(&env.key)
            .json(&body)
            .send()
    };
    let path = format!("/v1/payment-intents/{id}");
    let intent = || env.api_get(&path);
    let refunds_settled = |n: usize| {
        let (env, id) = (&env, &id);
        async move {
            common::eventually("the refunds are settled", || async {
                let list = env
                    .api_get(&format!("/v1/payment-intents/{id}/refunds"))
                    .await;
                let data = list["data"].as_array().unwrap();
                assert!(data.iter().all(|r| r["status"] != "failed"), "{list}");
                (data.len() == n && data.iter().all(|r| r["status"] == "succeeded")).then_some(())
            })
            .await
        }
    };

    let res = refund(json!({"amount": 2000})).await.unwrap();
    assert_eq!(res.status(), 202);
    refunds_settled(1).await;
    assert_eq!(
        intent().await["status"],
        "processed",
        "a part keeps it processed"
    );
    let p = upstream_payment().await;
    assert_eq!(p["status"], "approved", "{p}");
    assert_eq!(p["transaction_amount_refunded"], 20.0, "{p}");
    assert_eq!(p["refunds"].as_array().unwrap().len(), 1, "{p}");

    assert_eq!(refund(json!({})).await.unwrap().status(), 202, "the rest");
    refunds_settled(2).await;
    common::eventually("the intent is refunded", || async {
        (intent().await["status"] == "refunded").then_some(())
    })
    .await;
    let p = upstream_payment().await;
    assert_eq!(p["status"], "refunded", "{p}");
    assert_eq!(p["transaction_amount_refunded"], 50.0, "{p}");
    assert_eq!(
        p["refunds"].as_array().unwrap().len(),
        2,
        "one refund each, never twice"
    );
    assert_eq!(refund(json!({"amount": 1})).await.unwrap().status(), 409);
    env.shutdown().await;
}

on_both_databases!(legacy_intents_are_refunded_through_their_payment);
