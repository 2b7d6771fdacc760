//! One behavioural suite, run against every backend and Redis topology:
//! `<test>::memory`, `<test>::redis` (the shared single node), `<test>::sentinel` (a
//! master with a replica, through a sentinel) and `<test>::cluster` (three masters), the
//! last two on servers each test starts for itself.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Harness, receive_until};
use platform_queue::{Delivery, QueueStats, Rate};
use tokio::time::Instant;

const ZERO: Duration = Duration::ZERO;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn payloads(ds: &[Delivery]) -> Vec<&str> {
    ds.iter().map(|d| d.payload.as_str()).collect()
}

/// Generates `$name::memory` (paused clock) and `$name::{redis, sentinel, cluster}` (real
/// servers and clock).
macro_rules! every_backend {
    ($name:ident, |$h:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test(start_paused = true)]
            async fn memory() {
                #[allow(unused_mut)]
                let mut $h = Harness::memory();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                #[allow(unused_mut)]
                let mut $h = Harness::redis();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sentinel() {
                #[allow(unused_mut)]
                let mut $h = Harness::sentinel();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cluster() {
                #[allow(unused_mut)]
                let mut $h = Harness::cluster();
                $body
            }
        }
    };
}

every_backend!(publish_receive_ack, |h| {
    let q = h.process("c1").await;
    for p in ["pi_1", "pi_2", "pi_3"] {
        q.publish("intents", p).await.unwrap();
    }
    let got = q.receive("intents", 10, ms(500)).await.unwrap();
    assert_eq!(payloads(&got), ["pi_1", "pi_2", "pi_3"]);
    assert!(
        got.iter()
            .all(|d| d.delivery_count == 1 && d.topic == "intents")
    );
    for d in &got {
        q.ack(d).await.unwrap();
    }
    assert_eq!(q.stats("intents").await.unwrap(), QueueStats::default());
    assert!(q.receive("intents", 10, ms(50)).await.unwrap().is_empty());
    // Topics are independent.
    q.publish("webhooks", "wh_1").await.unwrap();
    assert!(q.receive("intents", 10, ZERO).await.unwrap().is_empty());
    assert_eq!(
        payloads(&q.receive("webhooks", 10, ZERO).await.unwrap()),
        ["wh_1"]
    );
});

every_backend!(receive_respects_max_and_wakes_on_publish, |h| {
    let q = h.process("c1").await;
    let producer = h.process("web").await;
    for i in 0..5 {
        q.publish("t", &format!("m{i}")).await.unwrap();
    }
    assert_eq!(q.receive("t", 2, ZERO).await.unwrap().len(), 2);
    assert_eq!(q.receive("t", 10, ZERO).await.unwrap().len(), 3);

    // A waiting receive returns as soon as something is published, not at its deadline.
    let started = Instant::now();
    let waiter = tokio::spawn({
        let q = q.clone();
        async move { q.receive("t", 10, Duration::from_secs(20)).await.unwrap() }
    });
    tokio::time::sleep(ms(100)).await;
    producer.publish("t", "late").await.unwrap();
    let got = waiter.await.unwrap();
    assert_eq!(payloads(&got), ["late"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
});

every_backend!(
    unacked_message_is_redelivered_after_visibility_timeout,
    |h| {
        h = h.with(ms(100), 5);
        let doomed = h.process("doomed").await;
        let survivor = h.process("survivor").await;
        doomed.publish("intents", "pi_1").await.unwrap();
        let first = doomed.receive("intents", 10, ms(500)).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].delivery_count, 1);
        drop(doomed); // dies without acking

        // Invisible while its visibility timeout runs.
        assert!(
            survivor
                .receive("intents", 10, ZERO)
                .await
                .unwrap()
                .is_empty()
        );
        let again = receive_until(&survivor, "intents", Duration::from_secs(5), |b| {
            !b.is_empty()
        })
        .await;
        assert_eq!(payloads(&again), ["pi_1"]);
        assert_eq!(again[0].delivery_count, 2);
        assert_eq!(again[0].id, first[0].id);
        survivor.ack(&again[0]).await.unwrap();
        let s = survivor.stats("intents").await.unwrap();
        assert_eq!((s.depth, s.in_flight), (0, 0));
    }
);

every_backend!(two_consumers_share_work_without_double_delivery, |h| {
    let a = h.process("a").await;
    let b = h.process("b").await;
    let total = 40;
    for i in 0..total {
        a.publish("jobs", &format!("job{i}")).await.unwrap();
    }
    let work = |q: platform_queue::Queue| async move {
        let mut seen = Vec::new();
        let mut idle = 0;
        while idle < 3 {
            let got = q.receive("jobs", 3, ms(100)).await.unwrap();
            if got.is_empty() {
                idle += 1;
            }
            for d in got {
                // Hold the job a little, as real work would.
                tokio::time::sleep(ms(2)).await;
                q.ack(&d).await.unwrap();
                seen.push(d.payload);
            }
            tokio::task::yield_now().await;
        }
        seen
    };
    let (sa, sb) = tokio::join!(tokio::spawn(work(a.clone())), tokio::spawn(work(b)));
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert!(!sa.is_empty() && !sb.is_empty(), "a={sa:?} b={sb:?}");
    let all: HashSet<&String> = sa.iter().chain(&sb).collect();
    assert_eq!(sa.len() + sb.len(), total, "a message was delivered twice");
    assert_eq!(all.len(), total);
    assert_eq!(a.stats("jobs").await.unwrap(), QueueStats::default());
});

every_backend!(retry_after_comes_back_only_after_its_delay, |h| {
    let q = h.process("c1").await;
    q.publish("intents", "pi_1").await.unwrap();
    let d = q.receive("intents", 1, ms(500)).await.unwrap().remove(0);
    let delay = ms(300);
    let retried_at = Instant::now();
    q.retry_after(&d, delay).await.unwrap();
    let s = q.stats("intents").await.unwrap();
    assert_eq!((s.depth, s.in_flight, s.delayed), (0, 0, 1));
    assert!(q.receive("intents", 1, ZERO).await.unwrap().is_empty());

    let back = receive_until(&q, "intents", Duration::from_secs(5), |b| !b.is_empty()).await;
    // Redis schedules by its own millisecond clock: allow for rounding.
    assert!(
        retried_at.elapsed() >= delay - ms(5),
        "{:?}",
        retried_at.elapsed()
    );
    assert_eq!(payloads(&back), ["pi_1"]);
    assert_eq!(
        back[0].delivery_count, 2,
        "counts on from the retried delivery"
    );
    assert_ne!(back[0].id, d.id);
    q.ack(&back[0]).await.unwrap();

    // Same for a message published with a delay.
    let published_at = Instant::now();
    q.publish_after("intents", "pi_2", ms(200)).await.unwrap();
    assert!(q.receive("intents", 1, ZERO).await.unwrap().is_empty());
    let later = receive_until(&q, "intents", Duration::from_secs(5), |b| !b.is_empty()).await;
    assert!(
        published_at.elapsed() >= ms(195),
        "{:?}",
        published_at.elapsed()
    );
    assert_eq!(payloads(&later), ["pi_2"]);
    assert_eq!(later[0].delivery_count, 1);
});

every_backend!(waiting_receive_picks_up_a_delayed_message_when_due, |h| {
    let q = h.process("c1").await;
    q.publish_after("t", "soon", ms(150)).await.unwrap();
    let started = Instant::now();
    let got = q.receive("t", 1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(payloads(&got), ["soon"]);
    assert!(started.elapsed() >= ms(145));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
});

every_backend!(dead_letter_after_max_deliveries, |h| {
    h = h.with(ms(50), 3);
    let q = h.process("c1").await;

    // Path 1: a consumer that keeps dying (never acks).
    q.publish("crashy", "pi_crash").await.unwrap();
    let mut counts = Vec::new();
    while counts.len() < 3 {
        for d in receive_until(&q, "crashy", Duration::from_secs(5), |b| !b.is_empty()).await {
            counts.push(d.delivery_count);
        }
    }
    assert_eq!(counts, [1, 2, 3]);
    // The fourth delivery goes to the dead letters instead.
    assert!(q.receive("crashy", 10, ms(300)).await.unwrap().is_empty());
    let s = q.stats("crashy").await.unwrap();
    assert_eq!(
        s,
        QueueStats {
            dead: 1,
            ..QueueStats::default()
        }
    );
    let dead = q.dead_letters("crashy", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload, "pi_crash");
    assert_eq!(dead[0].delivery_count, 3);

    // Path 2: a consumer that keeps asking for a retry.
    q.publish("flaky", "pi_flaky").await.unwrap();
    let mut counts = Vec::new();
    loop {
        let got = q.receive("flaky", 1, ms(300)).await.unwrap();
        let Some(d) = got.first() else { break };
        counts.push(d.delivery_count);
        q.retry_after(d, ms(10)).await.unwrap();
    }
    assert_eq!(counts, [1, 2, 3]);
    let dead = q.dead_letters("flaky", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload, "pi_flaky");
    assert_eq!(q.stats("flaky").await.unwrap().dead, 1);
});

every_backend!(explicit_dead_letter_and_stats, |h| {
    let q = h.process("c1").await;
    for p in ["a", "b", "c", "d"] {
        q.publish("t", p).await.unwrap();
    }
    q.publish_after("t", "later", Duration::from_secs(3600))
        .await
        .unwrap();
    let got = q.receive("t", 2, ZERO).await.unwrap();
    assert_eq!(payloads(&got), ["a", "b"]);
    q.dead_letter(&got[0], "malformed reference").await.unwrap();
    assert_eq!(
        q.stats("t").await.unwrap(),
        QueueStats {
            depth: 2,
            in_flight: 1,
            delayed: 1,
            dead: 1
        }
    );
    let dead = q.dead_letters("t", 10).await.unwrap();
    assert_eq!(dead[0].payload, "a");
    assert_eq!(dead[0].reason, "malformed reference");
    assert_eq!(dead[0].delivery_count, 1);

    // Settling twice is harmless, and settling a settled message does nothing.
    q.ack(&got[1]).await.unwrap();
    q.ack(&got[1]).await.unwrap();
    q.retry_after(&got[1], ZERO).await.unwrap();
    q.dead_letter(&got[0], "again").await.unwrap();
    assert_eq!(
        q.stats("t").await.unwrap(),
        QueueStats {
            depth: 2,
            in_flight: 0,
            delayed: 1,
            dead: 1
        }
    );
    // An unknown topic is simply empty.
    assert_eq!(q.stats("nothing").await.unwrap(), QueueStats::default());
});

every_backend!(lock_is_exclusive_and_expires, |h| {
    let p1 = h.process("p1").await;
    let p2 = h.process("p2").await;
    let ttl = ms(200);
    let g1 = p1
        .lock("refresh:seller_1", ttl)
        .await
        .unwrap()
        .expect("free lock");
    assert_eq!(g1.key(), "refresh:seller_1");
    assert!(p2.lock("refresh:seller_1", ttl).await.unwrap().is_none());
    // Another key is independent.
    let other = p2
        .lock("refresh:seller_2", ttl)
        .await
        .unwrap()
        .expect("other key");
    assert!(other.release().await.unwrap());
    assert!(g1.release().await.unwrap());

    // Released: the other process gets it. Then it expires without a release.
    let g2 = p2
        .lock("refresh:seller_1", ttl)
        .await
        .unwrap()
        .expect("released lock");
    let taken_at = Instant::now();
    let g3 = loop {
        if let Some(g) = p1.lock("refresh:seller_1", ttl).await.unwrap() {
            break g;
        }
        assert!(
            taken_at.elapsed() < Duration::from_secs(5),
            "lease never expired"
        );
        tokio::time::sleep(ms(20)).await;
    };
    assert!(
        taken_at.elapsed() >= ttl - ms(5),
        "{:?}",
        taken_at.elapsed()
    );
    // The expired holder cannot release the new holder's lease.
    assert!(!g2.release().await.unwrap());
    assert!(p2.lock("refresh:seller_1", ttl).await.unwrap().is_none());

    // A dropped guard is released in the background.
    drop(g3);
    let dropped_at = Instant::now();
    loop {
        if let Some(g) = p2
            .lock("refresh:seller_1", Duration::from_secs(60))
            .await
            .unwrap()
        {
            assert!(dropped_at.elapsed() < ttl, "{:?}", dropped_at.elapsed());
            g.release().await.unwrap();
            break;
        }
        tokio::time::sleep(ms(5)).await;
    }
});

every_backend!(event_bus_reaches_other_processes, |h| {
    let web = h.process("web").await;
    let worker = h.process("worker").await;
    let mut sub = web.subscribe("intent:pi_1").await.unwrap();
    let mut sub2 = web.subscribe("intent:pi_1").await.unwrap();
    let mut other = web.subscribe("intent:pi_2").await.unwrap();
    assert_eq!(sub.channel(), "intent:pi_1");

    worker.notify("intent:pi_1", "FINISHED").await.unwrap();
    let wait = Duration::from_secs(5);
    let got = tokio::time::timeout(wait, sub.recv()).await.expect("event");
    assert_eq!(got.as_deref(), Some("FINISHED"));
    let got = tokio::time::timeout(wait, sub2.recv())
        .await
        .expect("event");
    assert_eq!(got.as_deref(), Some("FINISHED"));

    worker.notify("intent:pi_2", "CANCELED").await.unwrap();
    let got = tokio::time::timeout(wait, other.recv())
        .await
        .expect("event");
    assert_eq!(got.as_deref(), Some("CANCELED"));
    // pi_1's subscriber saw nothing of pi_2.
    assert!(tokio::time::timeout(ms(100), sub.recv()).await.is_err());

    // As a Stream, for SSE bodies.
    use futures_util::StreamExt;
    let mut events = Box::pin(sub.into_stream());
    worker.notify("intent:pi_1", "REFUNDED").await.unwrap();
    let got = tokio::time::timeout(wait, events.next())
        .await
        .expect("event");
    assert_eq!(got.as_deref(), Some("REFUNDED"));

    // Nobody listening is fine.
    worker.notify("intent:nobody", "x").await.unwrap();
});

every_backend!(rate_limit_holds_across_processes, |h| {
    let web1 = h.process("web-1").await;
    let web2 = h.process("web-2").await;
    // 2 a second (a token every 500 ms), a burst of 3.
    let rate = Rate::with_burst(2, 3);
    let (l1, l2) = (
        web1.rate_limiter("api", rate),
        web2.rate_limiter("api", rate),
    );
    let mut allowed = 0;
    for i in 0..6 {
        let l = if i % 2 == 0 { &l1 } else { &l2 };
        if l.check("key_1").await.is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 3, "one burst for both processes, not one each");
    let wait = l2.check("key_1").await.unwrap_err();
    assert!(wait > ZERO && wait <= ms(500), "{wait:?}");
    // The refusal is remembered without asking again.
    let known = l2.empty_for("key_1").expect("known to be empty");
    assert!(known <= wait, "{known:?} > {wait:?}");
    // Other keys and other limiters are independent; no limit is no limit.
    assert!(l1.check("key_2").await.is_ok());
    assert!(
        web2.rate_limiter("signup", rate)
            .check("key_1")
            .await
            .is_ok()
    );
    let unlimited = web1.rate_limiter("off", Rate::per_second(0));
    for _ in 0..10 {
        assert!(unlimited.check("key_1").await.is_ok());
    }
    // Refilled at the rate: one more token after the wait, and only one.
    tokio::time::sleep(wait + ms(20)).await;
    assert_eq!(l2.empty_for("key_1"), None);
    assert!(l1.check("key_1").await.is_ok());
    assert!(l2.check("key_1").await.is_err());
});

every_backend!(semaphore_limit_holds_across_processes, |h| {
    let worker1 = h.process("worker-1").await;
    let worker2 = h.process("worker-2").await;
    let lease = Duration::from_secs(30);
    let s1 = worker1.semaphore("endpoint", 2, lease);
    let s2 = worker2.semaphore("endpoint", 2, lease);
    let a = s1.try_acquire("wep_1").await.unwrap().expect("first place");
    let b = s2
        .try_acquire("wep_1")
        .await
        .unwrap()
        .expect("second place");
    assert_eq!(a.key(), "wep_1");
    assert!(s1.try_acquire("wep_1").await.unwrap().is_none());
    assert!(s2.try_acquire("wep_1").await.unwrap().is_none());
    let other = s2.try_acquire("wep_2").await.unwrap().expect("other key");

    // A waiter in one process gets the place given back in the other.
    let waiter = tokio::spawn({
        let s = worker2.semaphore("endpoint", 2, lease);
        async move {
            let started = Instant::now();
            let p = s
                .acquire_by("wep_1", Instant::now() + Duration::from_secs(5))
                .await
                .unwrap();
            (p, started.elapsed())
        }
    });
    tokio::time::sleep(ms(100)).await;
    assert!(a.release().await.unwrap());
    let (c, waited) = waiter.await.unwrap();
    let c = c.expect("the place given back");
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    // Nobody gives one back: the waiter gives up at its deadline.
    let started = Instant::now();
    assert!(
        s1.acquire_by("wep_1", Instant::now() + ms(200))
            .await
            .unwrap()
            .is_none()
    );
    assert!(started.elapsed() >= ms(200));
    // A permit dropped without `release` is given back in the background.
    drop(b);
    let d = s1
        .acquire_by("wep_1", Instant::now() + Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the dropped permit's place");
    assert!(c.release().await.unwrap() && d.release().await.unwrap());
    assert!(other.release().await.unwrap());

    // A holder that dies (never releases) frees its place when its lease ends.
    let short = ms(300);
    let held = worker1
        .semaphore("short", 1, short)
        .try_acquire("k")
        .await
        .unwrap()
        .expect("free");
    std::mem::forget(held);
    let s = worker2.semaphore("short", 1, short);
    assert!(s.try_acquire("k").await.unwrap().is_none());
    let started = Instant::now();
    let after = s
        .acquire_by("k", Instant::now() + Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the expired lease's place");
    assert!(
        started.elapsed() >= short - ms(50),
        "{:?}",
        started.elapsed()
    );
    assert!(after.release().await.unwrap());
});

every_backend!(semaphore_caps_concurrent_work_across_processes, |h| {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let procs = [h.process("w1").await, h.process("w2").await];
    let (current, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let q = procs[i % 2].clone();
        let (current, peak) = (current.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            let s = q.semaphore("endpoint", 3, Duration::from_secs(30));
            let p = s
                .acquire_by("wep_1", Instant::now() + Duration::from_secs(20))
                .await
                .unwrap()
                .expect("a place within the deadline");
            let now = current.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(ms(150)).await;
            current.fetch_sub(1, Ordering::SeqCst);
            p.release().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        peak.load(Ordering::SeqCst),
        3,
        "at most 3 at once, and 3 were used"
    );
});
