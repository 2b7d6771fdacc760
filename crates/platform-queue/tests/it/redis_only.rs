//! Redis-specific behaviour: surviving a Redis that lost its data, connection errors,
//! the old key layout.

use crate::common;

use std::time::Duration;

use common::{Harness, receive_until};
use platform_queue::{Backend, Queue, QueueConfig, QueueError};
use tokio::time::Instant;

/// Generates `$name::{redis, sentinel, cluster}`.
macro_rules! every_topology {
    ($name:ident, |$h:ident| $body:block) => {
        mod $name {
            use super::*;

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

every_topology!(consumer_recovers_when_stream_and_group_vanish, |h| {
    let worker = h.process("worker").await;
    let web = h.process("web").await;

    web.publish("intents", "before").await.unwrap();
    let d = worker
        .receive("intents", 10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(d[0].payload, "before");
    worker.ack(&d[0]).await.unwrap();

    // A consumer blocked in XREADGROUP while Redis "restarts" (loses every key).
    let listener = tokio::spawn({
        let worker = worker.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let got = worker
                    .receive("intents", 10, Duration::from_millis(500))
                    .await
                    .expect("receive keeps working after the group vanished");
                if !got.is_empty() {
                    return got;
                }
                assert!(Instant::now() < deadline, "nothing received after the wipe");
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.wipe_redis_keys();
    web.publish("intents", "after").await.unwrap();
    let got = listener.await.unwrap();
    assert_eq!(got[0].payload, "after");
    worker.ack(&got[0]).await.unwrap();

    // And again with nobody listening: the publish re-creates a stream with no group, and
    // the consumer that arrives later still gets the message published before it.
    h.wipe_redis_keys();
    web.publish("intents", "while-down").await.unwrap();
    let got = receive_until(&worker, "intents", Duration::from_secs(5), |b| {
        !b.is_empty()
    })
    .await;
    assert_eq!(got[0].payload, "while-down");
    worker.ack(&got[0]).await.unwrap();

    // A delivery whose entry was lost is settled without error.
    web.publish("intents", "lost").await.unwrap();
    let got = worker
        .receive("intents", 1, Duration::from_secs(2))
        .await
        .unwrap();
    h.wipe_redis_keys();
    worker.ack(&got[0]).await.unwrap();
    worker
        .retry_after(&got[0], Duration::from_millis(10))
        .await
        .unwrap();
    worker.dead_letter(&got[0], "gone").await.unwrap();
    assert_eq!(worker.stats("intents").await.unwrap(), Default::default());
});

every_topology!(blocking_receive_does_not_hold_up_publishes, |h| {
    let q = h.process("both").await;
    let blocked = tokio::spawn({
        let q = q.clone();
        async move {
            q.receive("idle", 1, Duration::from_millis(1500))
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    for i in 0..20 {
        q.publish("busy", &format!("m{i}")).await.unwrap();
    }
    q.ping().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "publishes waited behind the blocking read: {:?}",
        started.elapsed()
    );
    assert!(blocked.await.unwrap().is_empty());
});

#[tokio::test]
async fn unreachable_redis_is_an_error_at_connect() {
    let cfg = QueueConfig::new(
        Backend::Redis {
            url: "redis://127.0.0.1:1/".into(),
            prefix: "t_unreachable:".into(),
        },
        "c1",
    );
    let err = Queue::connect(cfg).await.unwrap_err();
    assert!(matches!(err, QueueError::Redis(_)), "{err:?}");
}

#[tokio::test]
async fn bad_config_is_rejected() {
    let mut cfg = QueueConfig::new(Backend::Memory, "");
    assert!(matches!(
        Queue::connect(cfg.clone()).await,
        Err(QueueError::Config(_))
    ));
    cfg.consumer = "c1".into();
    cfg.max_deliveries = 0;
    assert!(matches!(
        Queue::connect(cfg).await,
        Err(QueueError::Config(_))
    ));
}

/// Not a benchmark, a sanity figure: run with `--no-capture` to see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_round_trip_throughput() {
    let mut h = Harness::redis();
    let q = h.process("bench").await;
    let n = 2000;
    let started = Instant::now();
    for i in 0..n {
        q.publish("bench", &format!("pi_{i}")).await.unwrap();
    }
    let published = started.elapsed();
    let mut done = 0;
    while done < n {
        let got = q
            .receive("bench", 100, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!got.is_empty());
        for d in &got {
            q.ack(d).await.unwrap();
        }
        done += got.len();
    }
    let total = started.elapsed();
    println!(
        "redis: {n} publishes in {published:?} ({:.0}/s); publish+receive+ack of {n} in {total:?} ({:.0}/s)",
        n as f64 / published.as_secs_f64(),
        n as f64 / total.as_secs_f64()
    );
    assert_eq!(q.stats("bench").await.unwrap(), Default::default());
}

/// Ids of the server's pub/sub connections.
fn pubsub_client_ids(conn: &mut redis::Connection) -> Vec<String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(conn)
        .unwrap();
    list.lines()
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_resubscribes_after_its_connection_drops() {
    let mut h = Harness::redis();
    let web = h.process("web").await;
    let worker = h.process("worker").await;
    let admin = redis::Client::open(common::redis_url()).unwrap();
    let mut admin = admin.get_connection().unwrap();

    // Our pub/sub connection is the one that appears with our first subscription (a
    // test elsewhere opening one at the same instant would make this fail loudly).
    let before = pubsub_client_ids(&mut admin);
    let mut sub = web.subscribe("intent:pi_1").await.unwrap();
    let new: Vec<String> = pubsub_client_ids(&mut admin)
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(
        new.len(),
        1,
        "cannot single out the bus connection: {new:?}"
    );
    let ours = new[0].clone();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&ours)
        .query(&mut admin)
        .unwrap();
    assert_eq!(killed, 1);

    // Events published while it reconnects may be lost (best effort); once it is back,
    // they arrive again without anyone re-subscribing.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        worker.notify("intent:pi_1", "FINISHED").await.unwrap();
        match tokio::time::timeout(Duration::from_millis(100), sub.recv()).await {
            Ok(Some(p)) => {
                assert_eq!(p, "FINISHED");
                break;
            }
            Ok(None) => panic!("subscription closed"),
            Err(_) => assert!(Instant::now() < deadline, "bus never re-subscribed"),
        }
    }
    assert!(!pubsub_client_ids(&mut admin).contains(&ours));
}

fn consumer_names(conn: &mut redis::Connection, stream: &str) -> Vec<String> {
    let consumers: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg("workers")
        .query(conn)
        .unwrap();
    consumers
        .iter()
        .map(|c| redis::from_redis_value_ref(&c["name"]).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_idle_consumers_without_pending_work_are_pruned() {
    // Pruning happens after 20 visibility timeouts: 20 × 10 ms.
    let mut h = Harness::redis().with(Duration::from_millis(10), 5);
    let gone = h.process("gone").await;
    let busy = h.process("busy").await;
    let live = h.process("live").await;
    gone.publish("t", "a").await.unwrap();
    let d = gone.receive("t", 1, Duration::from_secs(1)).await.unwrap();
    gone.ack(&d[0]).await.unwrap();
    drop(gone);
    // "busy" dies holding a message.
    busy.publish("t", "b").await.unwrap();
    assert_eq!(
        busy.receive("t", 1, Duration::from_secs(1))
            .await
            .unwrap()
            .len(),
        1
    );

    let admin = redis::Client::open(common::redis_url()).unwrap();
    let mut admin = admin.get_connection().unwrap();
    let stream = format!("{}{{q:t}}", h.prefix());
    let mut names = consumer_names(&mut admin, &stream);
    names.sort();
    assert_eq!(names, ["busy", "gone"]);

    tokio::time::sleep(Duration::from_millis(250)).await; // longer than 20 × 10 ms
    // In one step "live" reclaims busy's expired message, then prunes the consumers left
    // idle with nothing pending: the message is not lost with its consumer.
    let got = live.receive("t", 10, Duration::ZERO).await.unwrap();
    assert_eq!(got[0].payload, "b");
    assert_eq!(got[0].delivery_count, 2);
    assert_eq!(consumer_names(&mut admin, &stream), ["live"]);
    assert_eq!(live.stats("t").await.unwrap().in_flight, 1);
    live.ack(&got[0]).await.unwrap();
}

/// A deploy upgrading from the layout before hash tags (`Pq:<topic>`…): a new process
/// moves the old keys' messages over on its first receive of the topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_the_old_key_layout_are_moved_over() {
    let mut h = Harness::redis();
    let p = h.prefix();
    let (old, old_delayed, old_dead) = (
        format!("{p}q:intents"),
        format!("{p}q:intents:delayed"),
        format!("{p}q:intents:dead"),
    );
    let admin = redis::Client::open(common::redis_url()).unwrap();
    let mut admin = admin.get_connection().unwrap();
    let xadd = |admin: &mut redis::Connection, key: &str, fields: &[(&str, &str)]| -> String {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(key).arg("*");
        for (k, v) in fields {
            cmd.arg(k).arg(v);
        }
        cmd.query(admin).unwrap()
    };
    // What a process of the previous version leaves behind: a waiting message, one in
    // flight at a live consumer, one in flight at a consumer silent for an hour, a
    // delayed retry that is due, one that is not, and a dead letter.
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&old)
        .arg("workers")
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut admin)
        .unwrap();
    xadd(&mut admin, &old, &[("p", "busy"), ("n", "0")]);
    let stale = xadd(&mut admin, &old, &[("p", "stale"), ("n", "1")]);
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("old-worker")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg(&old)
        .arg(">")
        .query(&mut admin)
        .unwrap();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(&old)
        .arg("workers")
        .arg("old-worker")
        .arg(0)
        .arg(&stale)
        .arg("IDLE")
        .arg(3_600_000)
        .arg("JUSTID") // does not count as a delivery
        .query(&mut admin)
        .unwrap();
    xadd(&mut admin, &old, &[("p", "ready"), ("n", "0")]);
    let (secs, _): (u64, u64) = redis::cmd("TIME").query(&mut admin).unwrap();
    let _: () = redis::cmd("ZADD")
        .arg(&old_delayed)
        .arg(secs * 1000 - 1000)
        .arg("2:n1:due")
        .arg(secs * 1000 + 3_600_000)
        .arg("0:n2:later")
        .query(&mut admin)
        .unwrap();
    xadd(
        &mut admin,
        &old_dead,
        &[
            ("p", "buried"),
            ("reason", "malformed"),
            ("n", "3"),
            ("id", "1-0"),
        ],
    );

    let q = h.process("new-worker").await;
    let mut got = q.receive("intents", 10, Duration::ZERO).await.unwrap();
    got.sort_by(|a, b| a.payload.cmp(&b.payload));
    let seen: Vec<(&str, u32)> = got
        .iter()
        .map(|d| (d.payload.as_str(), d.delivery_count))
        .collect();
    // Deliveries count on: `stale` was delivered once in the old layout after one
    // earlier retry, `due` had been delivered twice.
    assert_eq!(seen, [("due", 3), ("ready", 1), ("stale", 3)]);
    let s = q.stats("intents").await.unwrap();
    assert_eq!((s.in_flight, s.delayed, s.dead), (3, 1, 1));
    let dead = q.dead_letters("intents", 10).await.unwrap();
    assert_eq!(
        (
            dead[0].payload.as_str(),
            dead[0].reason.as_str(),
            dead[0].delivery_count
        ),
        ("buried", "malformed", 3)
    );
    // The live consumer's message stays for it to settle; the emptied keys are gone.
    let left: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&old)
        .arg("-")
        .arg("+")
        .query(&mut admin)
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1[0], ("p".to_owned(), "busy".to_owned()));
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&old_delayed)
        .arg(&old_dead)
        .query(&mut admin)
        .unwrap();
    assert_eq!(exists, 0);
    for d in &got {
        q.ack(d).await.unwrap();
    }
    // Harness cleanup covers the old keys too (same prefix).
}
