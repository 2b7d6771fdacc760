//! Sentinel and Cluster beyond the common suite: a failover, the event bus losing its
//! connection, where a topic's keys live, bad URLs.

use crate::common;

use std::time::Duration;

use common::servers::{self, ClusterSetup, SentinelSetup};
use common::{Harness, receive_until};
use platform_queue::{Backend, Queue, QueueConfig, QueueError};
use tokio::time::Instant;

/// Retries `op` until it succeeds: during a failover commands fail for a moment.
async fn eventually<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QueueError>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) => assert!(Instant::now() < deadline, "{what}: still failing: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn groups(port: u16, stream: &str) -> Vec<String> {
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query(&mut servers::admin(port))
        .unwrap_or_default();
    groups
        .iter()
        .map(|g| redis::from_redis_value_ref(&g["name"]).unwrap())
        .collect()
}

/// Publishes on `channel` until `sub` hears it: events sent while the bus reconnects are
/// lost (best effort), and then they arrive again without anyone re-subscribing.
async fn bus_delivers(from: &Queue, sub: &mut platform_queue::Subscription, channel: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = from.notify(channel, "FINISHED").await;
        match tokio::time::timeout(Duration::from_millis(100), sub.recv()).await {
            Ok(Some(p)) => {
                assert_eq!(p, "FINISHED");
                return;
            }
            Ok(None) => panic!("subscription closed"),
            Err(_) => assert!(Instant::now() < deadline, "the bus never came back"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_keeps_the_queue_working() {
    // Down after 1 s without an answer: quick to fail over, slow enough not to take a
    // busy machine's pause for a dead master.
    let mut h = Harness::sentinel_with(1, 1, Duration::from_secs(1));
    let worker = h.process("worker").await;
    let web = h.process("web").await;
    let stream = format!("{}{{q:intents}}", h.prefix());
    let setup = h.sentinel.as_ref().unwrap();
    let (old_master, replica) = (setup.first_master, setup.replicas[0]);
    assert_eq!(setup.master(), old_master);

    let mut sub = worker.subscribe("intent:pi_1").await.unwrap();
    bus_delivers(&web, &mut sub, "intent:pi_1").await;
    // A message in the stream (the group exists: a receive made it) and one delayed,
    // both on the replica before the master dies.
    assert!(
        worker
            .receive("intents", 1, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    web.publish("intents", "before").await.unwrap();
    web.publish_after("intents", "delayed", Duration::from_millis(300))
        .await
        .unwrap();
    servers::wait_for("the replica to have both", Duration::from_secs(5), || {
        let mut a = servers::admin(replica);
        let len: i64 = redis::cmd("XLEN").arg(&stream).query(&mut a).unwrap();
        let delayed: i64 = redis::cmd("ZCARD")
            .arg(format!("{stream}:delayed"))
            .query(&mut a)
            .unwrap();
        (len, delayed) == (1, 1)
    });

    h.sentinel.as_mut().unwrap().servers.kill(old_master);
    let setup = h.sentinel.as_ref().unwrap();
    servers::wait_for(
        "the sentinel to promote the replica",
        Duration::from_secs(20),
        || setup.master() == replica,
    );

    // The same Queue values carry on against the new master.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 2 {
        match worker
            .receive("intents", 10, Duration::from_millis(200))
            .await
        {
            Ok(batch) => {
                for d in batch {
                    eventually("ack", || worker.ack(&d)).await;
                    got.push(d.payload);
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        assert!(
            Instant::now() < deadline,
            "only got {got:?} after the failover"
        );
    }
    got.sort();
    assert_eq!(got, ["before", "delayed"]);
    eventually("publish", || web.publish("intents", "after")).await;
    let after = receive_until(&worker, "intents", Duration::from_secs(5), |b| {
        !b.is_empty()
    })
    .await;
    assert_eq!(after[0].payload, "after");
    worker.ack(&after[0]).await.unwrap();
    assert_eq!(groups(replica, &stream), ["workers"]);

    // A replica promoted without the group (it never got it, or restarted empty): the
    // next receive makes it again, and what was published meanwhile is delivered.
    let _: () = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(&stream)
        .arg("workers")
        .query(&mut servers::admin(replica))
        .unwrap();
    assert!(groups(replica, &stream).is_empty());
    web.publish("intents", "while-groupless").await.unwrap();
    let got = receive_until(&worker, "intents", Duration::from_secs(5), |b| {
        !b.is_empty()
    })
    .await;
    assert_eq!(got[0].payload, "while-groupless");
    worker.ack(&got[0]).await.unwrap();
    assert_eq!(groups(replica, &stream), ["workers"]);
    assert_eq!(worker.stats("intents").await.unwrap(), Default::default());

    // Locks and the event bus follow the new master too.
    let lease = worker
        .lock("refresh:seller_1", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("free lease");
    assert!(
        web.lock("refresh:seller_1", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    assert!(lease.release().await.unwrap());
    bus_delivers(&web, &mut sub, "intent:pi_1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_resubscribes_on_sentinel_and_cluster() {
    for mut h in [
        Harness::sentinel_with(0, 1, Duration::from_secs(10)),
        Harness::cluster(),
    ] {
        let web = h.process("web").await;
        let worker = h.process("worker").await;
        let mut sub = web.subscribe("intent:pi_1").await.unwrap();
        bus_delivers(&worker, &mut sub, "intent:pi_1").await;
        // The pub/sub connections on these private servers: the bus's, and on the
        // master the sentinel's own (it listens to its peers on `__sentinel__:hello`).
        let (nodes, expected): (Vec<u16>, i64) = match (&h.sentinel, &h.cluster) {
            (Some(s), _) => (vec![s.master()], 2),
            (_, Some(c)) => (c.nodes.clone(), 1),
            _ => unreachable!(),
        };
        let mut killed = 0;
        for node in nodes {
            let n: i64 = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("pubsub")
                .query(&mut servers::admin(node))
                .unwrap();
            killed += n;
        }
        // At least those: on a loaded machine a connection the bus just
        // replaced may not have been closed by the server yet.
        assert!(killed >= expected, "{}: killed {killed}", h.topology());
        bus_delivers(&worker, &mut sub, "intent:pi_1").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_keeps_a_topic_in_one_slot_and_spreads_topics() {
    let setup = ClusterSetup::start(3);
    let mut admin = servers::admin(setup.nodes[0]);
    let slot = |admin: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(admin)
            .unwrap()
    };
    let mut slots = std::collections::HashSet::new();
    for topic in [
        "intents.dispatch",
        "webhooks.deliver",
        "refunds",
        "notifications",
    ] {
        let stream = format!("puente:{{q:{topic}}}");
        let s = slot(&mut admin, &stream);
        assert_eq!(s, slot(&mut admin, &format!("{stream}:delayed")));
        assert_eq!(s, slot(&mut admin, &format!("{stream}:dead")));
        slots.insert(s);
    }
    assert!(
        slots.len() > 1,
        "topics should not all hash alike: {slots:?}"
    );

    // And the queue works on it with the production prefix.
    let q = Queue::connect(QueueConfig::new(
        Backend::Redis {
            url: setup.url(),
            prefix: "puente:".into(),
        },
        "w1",
    ))
    .await
    .unwrap();
    assert_eq!(q.topology(), "redis-cluster");
    for topic in [
        "intents.dispatch",
        "webhooks.deliver",
        "refunds",
        "notifications",
    ] {
        q.publish(topic, "x").await.unwrap();
        let got = q.receive(topic, 1, Duration::from_secs(1)).await.unwrap();
        q.ack(&got[0]).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_sentinel_service_or_dead_sentinels_fail_at_connect() {
    let setup = SentinelSetup::start(0, 1, Duration::from_secs(10));
    let url = setup.url().replace("/mymaster", "/nosuchmaster");
    let err = Queue::connect(QueueConfig::new(
        Backend::Redis {
            url,
            prefix: "t:".into(),
        },
        "c1",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, QueueError::Redis(_)), "{err:?}");

    for url in [
        "redis+sentinel://127.0.0.1:1/mymaster",
        "redis+cluster://127.0.0.1:1",
    ] {
        let err = Queue::connect(QueueConfig::new(
            Backend::Redis {
                url: url.into(),
                prefix: "t:".into(),
            },
            "c1",
        ))
        .await
        .unwrap_err();
        assert!(matches!(err, QueueError::Redis(_)), "{url}: {err:?}");
    }
    // A prefix with a brace would break the hash tags.
    let err = Queue::connect(QueueConfig::new(
        Backend::Redis {
            url: setup.url(),
            prefix: "t{x}:".into(),
        },
        "c1",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, QueueError::Config(_)), "{err:?}");
}

/// With Redis gone, a rate limit is kept per process instead: an outage neither blocks
/// nor opens the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_falls_back_to_the_process_when_redis_is_gone() {
    let mut h = Harness::sentinel_with(0, 1, Duration::from_secs(10));
    let q = h.process("web").await;
    let limiter = q.rate_limiter("api", platform_queue::Rate::with_burst(1, 3));
    let master = h.sentinel.as_ref().unwrap().first_master;
    h.sentinel.as_mut().unwrap().servers.kill(master);
    assert!(q.ping().await.is_err());
    let started = Instant::now();
    let answers: Vec<bool> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(limiter.check("key_1").await.is_ok());
        }
        v
    };
    assert_eq!(answers, [true, true, true, false, false]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
