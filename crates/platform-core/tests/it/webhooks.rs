//! Outgoing webhooks on SQLite and PostgreSQL: the attempt state machine
//! driven with explicit times (no sleeping), against a real local receiver.

use platform_core::db::Db;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform_core::crypto::Keyring;
use platform_core::entities::{webhook_attempts, webhook_deliveries};
use platform_core::error::{Conflict, CoreError, Forbidden, Invalid};
use platform_core::events;
use platform_core::id::{WebhookDeliveryId, WebhookEndpointId};
use platform_core::on_both_databases;
use platform_core::secret::SecretString;
use platform_core::states::{DeliveryStatus, EndpointStatus};
use platform_core::tenancy::Scope;
use platform_core::testing::{Seeded, TestDb, seed_integrator, test_keyring};
use platform_core::webhooks::cidr::Cidr;
use platform_core::webhooks::delivery::{self, Outcome, Skip};
use platform_core::webhooks::endpoints::{self, EndpointPatch, NewEndpoint, UrlRules};
use platform_core::webhooks::signing;
use platform_core::webhooks::ssrf::SsrfGuard;
use platform_core::webhooks::test_receiver::{Receiver, Reply};
use platform_core::webhooks::{DeliveryPolicy, WebhookHttp, deliver_once};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

const WAIT: Duration = Duration::from_secs(10);

fn scope_of(s: &Seeded) -> Scope {
    Scope::integrator(s.integrator.clone())
}

fn loopback() -> Vec<Cidr> {
    Cidr::parse_list("127.0.0.0/8,::1/128").unwrap()
}

/// http allowed, and IP literals anywhere (the delivery client is what is
/// under test for SSRF; this only lets the endpoint be saved).
fn lax_rules() -> UrlRules {
    UrlRules {
        allow_http: true,
        guard: SsrfGuard::new(Cidr::parse_list("0.0.0.0/0,::/0").unwrap()),
    }
}

struct Fx {
    keyring: Keyring,
    seeded: Seeded,
    scope: Scope,
    http: WebhookHttp,
    policy: DeliveryPolicy,
}

async fn fixture(db: &Db) -> Fx {
    let keyring = test_keyring();
    let seeded = seed_integrator(db, &keyring, 7000).await;
    let scope = scope_of(&seeded);
    // The seeded endpoint points at example.com; keep it out of the way.
    endpoints::delete(db, &scope, &seeded.endpoint)
        .await
        .unwrap();
    Fx {
        keyring,
        seeded,
        scope,
        http: WebhookHttp::new(loopback(), Duration::from_secs(5)),
        policy: DeliveryPolicy::default(),
    }
}

impl Fx {
    async fn endpoint(&self, db: &Db, url: &str) -> (WebhookEndpointId, SecretString) {
        let (ep, secret) = endpoints::create(
            db,
            &self.keyring,
            &self.scope,
            &lax_rules(),
            NewEndpoint {
                url: url.into(),
                ..Default::default()
            },
            Utc::now(),
            None,
        )
        .await
        .unwrap();
        (ep.id, secret)
    }

    /// Emits one event; returns the delivery ids created.
    async fn emit(&self, db: &Db, event_type: &'static str) -> Vec<WebhookDeliveryId> {
        let txn = db.begin_write().await.unwrap();
        let ids = events::emit(
            &txn,
            &self.seeded.integrator,
            Some(&self.seeded.seller),
            event_type,
            &serde_json::json!({"intent_id": self.seeded.intent, "amount": 1500}),
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        ids
    }

    async fn once(&self, db: &Db, id: &WebhookDeliveryId, now: DateTime<Utc>) -> Outcome {
        deliver_once(db, &self.keyring, &self.http, &self.policy, id, now)
            .await
            .unwrap()
    }
}

async fn row(db: &Db, id: &WebhookDeliveryId) -> webhook_deliveries::Model {
    webhook_deliveries::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

async fn attempts(db: &Db, id: &WebhookDeliveryId) -> Vec<webhook_attempts::Model> {
    webhook_attempts::Entity::find()
        .filter(webhook_attempts::Column::DeliveryId.eq(id))
        .order_by_asc(webhook_attempts::Column::AttemptNo)
        .all(db)
        .await
        .unwrap()
}

fn within(d: chrono::Duration, lo: Duration, hi: Duration) -> bool {
    let d = d.to_std().unwrap();
    // Timestamps lose sub-microsecond precision in the database.
    d + Duration::from_millis(1) >= lo && d <= hi + Duration::from_millis(1)
}

/// Down (500, hang-up, 503) then up: one attempt per scheduled time, never
/// early, then success; the attempt log has status, latency and errors.
async fn down_then_recovers(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    rx.script([
        Reply::status(500).with_body("boom"),
        Reply::HangUp,
        Reply::status(503),
    ]);
    let (ep, secret) = fx.endpoint(db, &rx.url).await;
    let ids = fx.emit(db, "payment_intent.processed").await;
    assert_eq!(ids.len(), 1);
    let id = &ids[0];

    let mut now = row(db, id).await.next_attempt_at.unwrap();
    for (n, expect_ok) in [(1u32, false), (2, false), (3, false), (4, true)] {
        // A little early (beyond the tolerance): nothing is sent.
        if n > 1 {
            let early = fx.once(db, id, now - chrono::Duration::seconds(2)).await;
            assert!(
                matches!(early, Outcome::Skipped(Skip::NotDue { .. })),
                "{early:?}"
            );
            assert_eq!(rx.count(), n as usize - 1, "nothing sent before time");
        }
        let out = fx.once(db, id, now).await;
        rx.wait_for(n as usize, WAIT).await;
        assert_eq!(rx.count(), n as usize, "exactly one request per attempt");
        if expect_ok {
            assert_eq!(out, Outcome::Succeeded);
        } else {
            let Outcome::Retry { at } = out else {
                panic!("attempt {n}: {out:?}")
            };
            let (lo, hi) = fx.policy.retry.bounds(n).unwrap();
            assert!(within(at - now, lo, hi), "attempt {n}: wait {:?}", at - now);
            // The same due time twice: the second call finds it claimed or not due.
            now = at;
        }
    }
    // Final: further calls send nothing.
    assert_eq!(fx.once(db, id, now).await, Outcome::Skipped(Skip::Final));
    assert_eq!(rx.count(), 4);

    let d = row(db, id).await;
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    assert_eq!(d.attempt_count, 4);
    assert_eq!(d.last_status_code, Some(200));
    assert!(d.completed_at.is_some() && d.next_attempt_at.is_none());
    let log = attempts(db, id).await;
    let codes: Vec<Option<i32>> = log.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), None, Some(503), Some(200)]);
    assert_eq!(
        log.iter().map(|a| a.attempt_no).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(log[0].response_snippet.as_deref(), Some("boom"));
    assert!(log[1].error.is_some(), "the hang-up is logged");
    assert!(log.iter().all(|a| a.latency_ms >= 0 && a.endpoint_id == ep));

    // What the receiver got: the event payload, signed per Standard Webhooks.
    let got = rx.received();
    let last = got.last().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.header("content-type"), Some("application/json"));
    assert!(
        last.header("user-agent")
            .unwrap()
            .starts_with("Puente-Webhooks/")
    );
    assert_eq!(last.header("webhook-id"), Some(id.as_str()));
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id") == Some(id.as_str()))
    );
    let ts = last.header("webhook-timestamp").unwrap();
    assert_eq!(ts, now.timestamp().to_string());
    signing::verify(
        &secret,
        id.as_str(),
        ts,
        last.header("webhook-signature").unwrap(),
        &last.body,
        now.timestamp(),
        300,
    )
    .expect("signature verifies with the endpoint secret");
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["type"], "payment_intent.processed");
    assert_eq!(body["data"]["amount"], 1500);
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
}

/// 429 with Retry-After later than the schedule wins; earlier does not.
async fn retry_after_is_respected(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    rx.script([
        Reply::status(429).with_header("Retry-After", "3600"),
        Reply::status(429).with_header("Retry-After", "1"),
        // Retry-After on a plain 500 is not a rate limit: ignored.
        Reply::status(500).with_header("Retry-After", "86400"),
    ]);
    fx.endpoint(db, &rx.url).await;
    let id = fx.emit(db, "seller.linked").await.remove(0);
    let t0 = row(db, &id).await.next_attempt_at.unwrap();
    let Outcome::Retry { at: a1 } = fx.once(db, &id, t0).await else {
        panic!()
    };
    assert_eq!((a1 - t0).num_seconds(), 3600, "Retry-After: 3600 beats 5 s");
    let Outcome::Retry { at: a2 } = fx.once(db, &id, a1).await else {
        panic!()
    };
    let (lo, hi) = fx.policy.retry.bounds(2).unwrap();
    assert!(
        within(a2 - a1, lo, hi),
        "Retry-After: 1 is shorter than the 5 min step"
    );
    let Outcome::Retry { at: a3 } = fx.once(db, &id, a2).await else {
        panic!()
    };
    let (lo, hi) = fx.policy.retry.bounds(3).unwrap();
    assert!(within(a3 - a2, lo, hi));
    assert_eq!(rx.count(), 3);
}

/// A redirect is a failure and is not followed.
async fn redirect_is_a_failure(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    rx.script([Reply::status(302).with_header("Location", &format!("{}/moved", rx.url))]);
    fx.endpoint(db, &rx.url).await;
    let id = fx.emit(db, "seller.linked").await.remove(0);
    let now = row(db, &id).await.next_attempt_at.unwrap();
    assert!(matches!(fx.once(db, &id, now).await, Outcome::Retry { .. }));
    assert_eq!(rx.count(), 1, "the Location was not followed");
    let log = attempts(db, &id).await;
    assert_eq!(log[0].status_code, Some(302));
    assert!(
        log[0].error.as_deref().unwrap().contains("redirect"),
        "{:?}",
        log[0].error
    );
    let d = row(db, &id).await;
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert!(d.last_error.unwrap().contains("redirect"));
}

/// Every attempt fails: dead after the last one, then replayed on the same id.
async fn dead_after_schedule_then_replay(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    rx.set_default(Reply::status(500));
    fx.endpoint(db, &rx.url).await;
    let id = fx.emit(db, "terminal.mode_changed").await.remove(0);
    let mut now = row(db, &id).await.next_attempt_at.unwrap();
    let max = fx.policy.retry.max_attempts();
    for n in 1..=max {
        match fx.once(db, &id, now).await {
            Outcome::Retry { at } if n < max => now = at,
            Outcome::Dead if n == max => {}
            other => panic!("attempt {n}: {other:?}"),
        }
    }
    assert_eq!(rx.count(), max as usize);
    let d = row(db, &id).await;
    assert_eq!(d.status, DeliveryStatus::Dead);
    assert_eq!(d.attempt_count, max as i32);
    assert!(d.next_attempt_at.is_none());
    assert_eq!(fx.once(db, &id, now).await, Outcome::Skipped(Skip::Final));

    // Replay: a new cycle on the same msg_ id.
    rx.set_default(Reply::status(204));
    let replayed = delivery::replay(db, &fx.scope, &id, now).await.unwrap();
    assert_eq!(replayed.status, DeliveryStatus::Pending);
    assert_eq!(replayed.attempt_count, 0);
    assert!(matches!(
        delivery::replay(db, &fx.scope, &id, now).await,
        Err(CoreError::Conflict {
            reason: Conflict::DeliveryPending,
            ..
        })
    ));
    assert_eq!(fx.once(db, &id, now).await, Outcome::Succeeded);
    let log = attempts(db, &id).await;
    assert_eq!(log.len(), max as usize + 1);
    assert_eq!(log.last().unwrap().attempt_no, max as i32 + 1);
    assert_eq!(
        rx.received().last().unwrap().header("webhook-id"),
        Some(id.as_str())
    );

    // Another integrator cannot see or replay it.
    let other = seed_integrator(db, &fx.keyring, 7100).await;
    assert!(matches!(
        delivery::replay(db, &scope_of(&other), &id, now).await,
        Err(CoreError::NotFound { .. })
    ));
    // A seller-narrowed scope cannot either.
    let narrowed = fx.scope.clone().with_seller(fx.seeded.seller.clone());
    assert!(matches!(
        delivery::replay(db, &narrowed, &id, now).await,
        Err(CoreError::NotFound { .. })
    ));
}

/// "Everything failed since T" restarts only the endpoint's dead deliveries.
async fn replay_failed_since(t: &TestDb) {
    let db = &t.db;
    let mut fx = fixture(db).await;
    fx.policy.retry.schedule.truncate(1); // one attempt, then dead
    let rx = Receiver::start().await;
    rx.set_default(Reply::status(500));
    let (ep, _) = fx.endpoint(db, &rx.url).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(fx.emit(db, "seller.linked").await.remove(0));
    }
    let now = Utc::now() + chrono::Duration::seconds(1);
    for id in &ids[..2] {
        assert_eq!(fx.once(db, id, now).await, Outcome::Dead);
    }
    // ids[2] is still pending; ids[0..2] are dead.
    let since = row(db, &ids[0]).await.created_at;
    let mut replayed = delivery::replay_failed_since(db, &fx.scope, &ep, since, now)
        .await
        .unwrap();
    replayed.sort();
    assert_eq!(replayed, ids[..2].to_vec());
    assert!(
        delivery::replay_failed_since(db, &fx.scope, &ep, since, now)
            .await
            .unwrap()
            .is_empty(),
        "already pending"
    );
    rx.set_default(Reply::status(200));
    for id in &ids {
        assert_eq!(fx.once(db, id, now).await, Outcome::Succeeded);
    }
    let other = seed_integrator(db, &fx.keyring, 7200).await;
    assert!(matches!(
        delivery::replay_failed_since(db, &scope_of(&other), &ep, since, now).await,
        Err(CoreError::NotFound { .. })
    ));
}

/// Nothing but failures for `disable_after`: the endpoint is disabled with a
/// reason, and its other pending deliveries are settled as dead.
async fn endpoint_disabled_after_sustained_failure(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    rx.set_default(Reply::status(500));
    let (ep, _) = fx.endpoint(db, &rx.url).await;
    let start = Utc::now();
    let first = fx.emit(db, "seller.linked").await.remove(0);
    assert!(matches!(
        fx.once(db, &first, start).await,
        Outcome::Retry { .. }
    ));
    let e = endpoints::get(db, &fx.scope, &ep).await.unwrap();
    assert_eq!(e.failing_since, Some(row(db, &first).await.updated_at));

    // A success in between resets the clock.
    rx.script([Reply::status(200)]);
    let ok = fx.emit(db, "seller.linked").await.remove(0);
    assert_eq!(
        fx.once(db, &ok, start + chrono::Duration::days(1)).await,
        Outcome::Succeeded
    );
    assert_eq!(
        endpoints::get(db, &fx.scope, &ep)
            .await
            .unwrap()
            .failing_since,
        None
    );

    // From day 2 on, every attempt fails.
    let day = |n: i64| start + chrono::Duration::days(n);
    let a = fx.emit(db, "seller.linked").await.remove(0);
    assert!(matches!(
        fx.once(db, &a, day(2)).await,
        Outcome::Retry { .. }
    ));
    let waiting = fx.emit(db, "seller.unlinked").await.remove(0);
    for n in 3..7 {
        let id = fx.emit(db, "seller.linked").await.remove(0);
        assert!(
            matches!(fx.once(db, &id, day(n)).await, Outcome::Retry { .. }),
            "day {n}"
        );
    }
    assert_eq!(
        endpoints::get(db, &fx.scope, &ep).await.unwrap().status,
        EndpointStatus::Enabled,
        "4 days of failures is not yet 5"
    );
    let last = fx.emit(db, "seller.linked").await.remove(0);
    assert_eq!(fx.once(db, &last, day(7)).await, Outcome::Dead);
    let e = endpoints::get(db, &fx.scope, &ep).await.unwrap();
    assert_eq!(e.status, EndpointStatus::Disabled);
    let reason = e.disabled_reason.unwrap();
    assert!(
        reason.contains("automatically") && reason.contains("HTTP 500"),
        "{reason}"
    );
    let w = row(db, &waiting).await;
    assert_eq!(
        w.status,
        DeliveryStatus::Dead,
        "pending deliveries are settled"
    );
    assert!(w.last_error.unwrap().contains("disabled"));
    // No new deliveries for a disabled endpoint.
    assert!(fx.emit(db, "seller.linked").await.is_empty());
    // Replays wait for the endpoint to be enabled.
    assert!(matches!(
        delivery::replay(db, &fx.scope, &last, day(7)).await,
        Err(CoreError::Conflict {
            reason: Conflict::EndpointDisabled,
            ..
        })
    ));
    let e = endpoints::set_enabled(db, &fx.scope, &lax_rules(), &ep, true, day(7))
        .await
        .unwrap();
    assert_eq!(e.status, EndpointStatus::Enabled);
    assert!(e.disabled_reason.is_none() && e.failing_since.is_none());
}

/// Blocked destinations: nothing connects, and the attempt says why.
async fn ssrf_is_refused(t: &TestDb) {
    let db = &t.db;
    let mut fx = fixture(db).await;
    fx.http = WebhookHttp::new(Vec::new(), Duration::from_secs(5)); // no allowlist
    let rx = Receiver::start().await;
    let port = rx.addr.port();
    let urls = [
        (format!("http://127.0.0.1:{port}/hook"), "127.0.0.1"),
        (format!("http://localhost:{port}/hook"), "localhost"),
        (format!("http://[::1]:{port}/hook"), "::1"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            "::ffff:127.0.0.1",
        ),
        (
            "http://[::ffff:10.0.0.1]/hook".to_owned(),
            "::ffff:10.0.0.1",
        ),
        (
            "http://169.254.169.254/latest/meta-data".to_owned(),
            "169.254.169.254",
        ),
        ("http://[64:ff9b::a00:1]/".to_owned(), "64:ff9b::a00:1"),
        ("http://100.64.0.1/".to_owned(), "100.64.0.1"),
        ("http://[fd00::1]/".to_owned(), "fd00::1"),
    ];
    let mut eps = Vec::new();
    for (u, _) in &urls {
        eps.push(fx.endpoint(db, u).await.0);
    }
    let ids = fx.emit(db, "seller.linked").await;
    assert_eq!(ids.len(), urls.len());
    let now = Utc::now() + chrono::Duration::seconds(1);
    for id in &ids {
        assert!(matches!(fx.once(db, id, now).await, Outcome::Retry { .. }));
        let log = attempts(db, id).await;
        let d = row(db, id).await;
        let (_, shown) = &urls[eps.iter().position(|e| *e == d.endpoint_id).unwrap()];
        let err = log[0].error.clone().unwrap();
        assert!(
            err.contains("refused") && err.contains(shown),
            "{shown}: {err}"
        );
        assert_eq!(log[0].status_code, None);
    }
    assert_eq!(rx.count(), 0, "the receiver was never reached");

    // Saving an IP-literal URL in a blocked range is refused up front.
    let strict = UrlRules {
        allow_http: true,
        guard: SsrfGuard::default(),
    };
    for u in [
        "http://[::ffff:10.0.0.1]/",
        "http://10.1.2.3/",
        "http://127.0.0.1:9/",
    ] {
        let e = endpoints::create(
            db,
            &fx.keyring,
            &fx.scope,
            &strict,
            NewEndpoint {
                url: u.into(),
                ..Default::default()
            },
            now,
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                e,
                CoreError::Invalid {
                    reason: Invalid::UrlNotAllowed,
                    ..
                }
            ),
            "{u}: {e:?}"
        );
    }
}

/// While a rotation overlaps, both secrets sign; after 24 h only the new one.
async fn rotation_signs_with_both(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    let (ep, old) = fx.endpoint(db, &rx.url).await;
    let now = Utc::now() + chrono::Duration::seconds(1);
    let (_, new) = endpoints::rotate_secret(db, &fx.keyring, &fx.scope, &ep, now)
        .await
        .unwrap();
    assert_ne!(old.expose_secret(), new.expose_secret());
    let id = fx.emit(db, "seller.linked").await.remove(0);
    assert_eq!(fx.once(db, &id, now).await, Outcome::Succeeded);
    let r = rx.received().remove(0);
    let sig = r.header("webhook-signature").unwrap();
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    let ts = r.header("webhook-timestamp").unwrap();
    for s in [&old, &new] {
        signing::verify(s, id.as_str(), ts, sig, &r.body, now.timestamp(), 300).unwrap();
    }
    let later = now + chrono::Duration::hours(25);
    let id2 = fx.emit(db, "seller.linked").await.remove(0);
    assert_eq!(fx.once(db, &id2, later).await, Outcome::Succeeded);
    let r = rx.received().remove(1);
    let sig = r.header("webhook-signature").unwrap();
    assert_eq!(sig.split(' ').count(), 1);
    let ts = r.header("webhook-timestamp").unwrap();
    signing::verify(&new, id2.as_str(), ts, sig, &r.body, later.timestamp(), 300).unwrap();
    assert!(signing::verify(&old, id2.as_str(), ts, sig, &r.body, later.timestamp(), 300).is_err());
}

/// The endpoint service: validation changes nothing, scopes hold.
async fn endpoint_service_rules(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let now = Utc::now();
    let https_only = UrlRules {
        allow_http: false,
        guard: SsrfGuard::default(),
    };
    let new = |url: &str| NewEndpoint {
        url: url.into(),
        ..Default::default()
    };
    for (url, code) in [
        ("", Invalid::Url),
        ("not a url", Invalid::Url),
        ("http://example.com/h", Invalid::Url),
        ("ftp://example.com/h", Invalid::Url),
        ("https://user:pw@example.com/h", Invalid::Url),
        ("https://example.com/h#frag", Invalid::Url),
    ] {
        match endpoints::create(db, &fx.keyring, &fx.scope, &https_only, new(url), now, None).await
        {
            Err(CoreError::Invalid { reason, .. }) => assert_eq!(reason, code, "{url}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    let long = format!("https://example.com/{}", "a".repeat(2100));
    assert!(
        endpoints::create(
            db,
            &fx.keyring,
            &fx.scope,
            &https_only,
            new(&long),
            now,
            None
        )
        .await
        .is_err()
    );
    let bad_type = NewEndpoint {
        url: "https://example.com/h".into(),
        event_types: vec!["seller.linked".into(), "order.exploded".into()],
        ..Default::default()
    };
    assert!(matches!(
        endpoints::create(db, &fx.keyring, &fx.scope, &https_only, bad_type, now, None).await,
        Err(CoreError::Invalid {
            reason: Invalid::EventType,
            ..
        })
    ));
    let other = seed_integrator(db, &fx.keyring, 7300).await;
    let foreign_seller = NewEndpoint {
        url: "https://example.com/h".into(),
        seller_id: Some(other.seller.to_string()),
        ..Default::default()
    };
    assert!(matches!(
        endpoints::create(
            db,
            &fx.keyring,
            &fx.scope,
            &https_only,
            foreign_seller,
            now,
            None
        )
        .await,
        Err(CoreError::Invalid {
            reason: Invalid::Seller,
            ..
        })
    ));
    let narrowed = fx.scope.clone().with_seller(fx.seeded.seller.clone());
    assert!(matches!(
        endpoints::create(
            db,
            &fx.keyring,
            &narrowed,
            &https_only,
            new("https://example.com/h"),
            now,
            None
        )
        .await,
        Err(CoreError::Forbidden {
            reason: Forbidden::InsufficientScope,
            ..
        })
    ));
    assert!(
        endpoints::list(db, &fx.scope).await.unwrap().is_empty(),
        "nothing was created"
    );

    let good = NewEndpoint {
        url: "https://example.com/h".into(),
        description: Some("  ERP  ".into()),
        event_types: vec![
            "seller.linked".into(),
            "seller.linked".into(),
            "payment_intent.processed".into(),
        ],
        seller_id: Some(fx.seeded.seller.to_string()),
    };
    let (ep, secret) = endpoints::create(db, &fx.keyring, &fx.scope, &https_only, good, now, None)
        .await
        .unwrap();
    assert!(secret.expose_secret().starts_with("whsec_"));
    assert!(!ep.secret.contains(secret.expose_secret()), "stored sealed");
    assert_eq!(ep.description.as_deref(), Some("ERP"));
    assert_eq!(
        endpoints::event_types(&ep),
        ["payment_intent.processed", "seller.linked"]
    );
    // Filters: this endpoint gets seller.linked of its seller only.
    let ids = fx.emit(db, "seller.linked").await;
    assert_eq!(ids.len(), 1);
    assert!(fx.emit(db, "terminal.mode_changed").await.is_empty());

    // An invalid patch changes nothing, not even its valid parts.
    let patch = EndpointPatch {
        url: Some("https://example.org/new".into()),
        event_types: Some(vec!["nope".into()]),
        ..Default::default()
    };
    assert!(
        endpoints::update(db, &fx.scope, &https_only, &ep.id, patch, now)
            .await
            .is_err()
    );
    assert_eq!(
        endpoints::get(db, &fx.scope, &ep.id).await.unwrap().url,
        "https://example.com/h"
    );
    let patch = EndpointPatch {
        url: Some("https://example.org/new".into()),
        description: Some(None),
        seller_id: Some(None),
        event_types: Some(vec![]),
        enabled: None,
    };
    let upd = endpoints::update(db, &fx.scope, &https_only, &ep.id, patch, now)
        .await
        .unwrap();
    assert_eq!(upd.url, "https://example.org/new");
    assert!(upd.description.is_none() && upd.seller_id.is_none());
    assert_eq!(upd.event_types, "[]");

    // Narrowed and foreign scopes see nothing.
    assert!(endpoints::list(db, &narrowed).await.unwrap().is_empty());
    for s in [&narrowed, &scope_of(&other)] {
        assert!(matches!(
            endpoints::get(db, s, &ep.id).await,
            Err(CoreError::NotFound { .. })
        ));
        assert!(matches!(
            endpoints::delete(db, s, &ep.id).await,
            Err(CoreError::NotFound { .. })
        ));
        assert!(matches!(
            endpoints::rotate_secret(db, &fx.keyring, s, &ep.id, now).await,
            Err(CoreError::NotFound { .. })
        ));
    }
    // Deleting removes its deliveries too.
    endpoints::delete(db, &fx.scope, &ep.id).await.unwrap();
    assert!(
        webhook_deliveries::Entity::find_by_id(&ids[0])
            .one(db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        fx.once(db, &ids[0], now).await,
        Outcome::Skipped(Skip::Missing)
    );
}

/// The reconciler's query takes each overdue delivery once.
async fn reconciler_takes_overdue_once(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    fx.endpoint(db, &rx.url).await;
    let id = fx.emit(db, "seller.linked").await.remove(0);
    let due = row(db, &id).await.next_attempt_at.unwrap();
    let grace = Duration::from_secs(30);
    assert!(
        delivery::take_overdue(db, due + chrono::Duration::seconds(10), grace, 100)
            .await
            .unwrap()
            .is_empty(),
        "within the grace period the queue message is trusted"
    );
    let later = due + chrono::Duration::seconds(31);
    assert_eq!(
        delivery::take_overdue(db, later, grace, 100).await.unwrap(),
        std::slice::from_ref(&id)
    );
    assert!(
        delivery::take_overdue(db, later, grace, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Claimed by an attempt in progress (lease), not taken either.
    assert_eq!(fx.once(db, &id, later).await, Outcome::Succeeded);
    assert!(
        delivery::take_overdue(db, later + chrono::Duration::hours(1), grace, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A claim is one holder's until it sends and records, or gives the claim
/// back (the worker does when the endpoint has no free slot): released, the
/// delivery is due again at the time given; a release from a claim that has
/// since passed to someone else changes nothing.
async fn a_claim_given_back_is_due_again(t: &TestDb) {
    let db = &t.db;
    let fx = fixture(db).await;
    let rx = Receiver::start().await;
    fx.endpoint(db, &rx.url).await;
    let id = fx.emit(db, "seller.linked").await.remove(0);
    let now = row(db, &id).await.next_attempt_at.unwrap();
    let claim_at = |at: DateTime<Utc>| {
        let (id, policy) = (&id, &fx.policy);
        async move {
            let job = delivery::read(db, id).await.unwrap().unwrap();
            delivery::claim(db, policy, job, at).await.unwrap()
        }
    };

    let first = claim_at(now).await.expect("due and pending: claimed");
    assert!(
        matches!(claim_at(now).await, Err(Skip::NotDue { .. })),
        "the claim's lease holds it"
    );
    let back_at = now + chrono::Duration::seconds(30);
    first.release(db, back_at).await.unwrap();
    assert_eq!(row(db, &id).await.next_attempt_at, Some(back_at));
    assert!(
        matches!(claim_at(now).await, Err(Skip::NotDue { .. })),
        "not before the time it was given back for"
    );

    // Claimed again when due; a stale holder's release is ignored.
    let stale = claim_at(back_at).await.expect("due again: claimed");
    let lease_end = row(db, &id).await.next_attempt_at;
    let later = back_at + chrono::Duration::from_std(fx.policy.lease).unwrap();
    let current = claim_at(later)
        .await
        .expect("the first lease passed: claimed by another");
    assert_ne!(row(db, &id).await.next_attempt_at, lease_end);
    let held = row(db, &id).await.next_attempt_at;
    stale.release(db, back_at).await.unwrap();
    assert_eq!(
        row(db, &id).await.next_attempt_at,
        held,
        "the stale release changed nothing"
    );

    let sent = current.send(&fx.keyring, &fx.http, &fx.policy).await;
    assert_eq!(
        sent.record(db, &fx.policy).await.unwrap(),
        Outcome::Succeeded
    );
    assert_eq!(rx.count(), 1, "sent once");
    assert_eq!(attempts(db, &id).await.len(), 1);
}

on_both_databases!(
    a_claim_given_back_is_due_again,
    down_then_recovers,
    retry_after_is_respected,
    redirect_is_a_failure,
    dead_after_schedule_then_replay,
    replay_failed_since,
    endpoint_disabled_after_sustained_failure,
    ssrf_is_refused,
    rotation_signs_with_both,
    endpoint_service_rules,
    reconciler_takes_overdue_once,
);
