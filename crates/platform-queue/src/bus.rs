//! Best-effort event bus, to wake long-polls and SSE streams in other processes.
//!
//! Subscribers re-read the database when woken, so a lost event only delays them until
//! their own timeout. Locally every channel is a `tokio::sync::broadcast`; with Redis one
//! background task per `Queue` owns a single pub/sub connection, fans its messages into
//! those broadcasts and re-subscribes everything after a reconnect.
//!
//! Sentinel: the connection is to the master of the moment (a reconnect asks the
//! sentinels again). Cluster: plain PUBLISH/SUBSCRIBE, not sharded pub/sub: the Cluster
//! forwards every PUBLISH to every node, so subscribing on any one node is enough and a
//! reconnect simply moves to the next node of the URL. Sharded pub/sub (Redis 7) would
//! spare the cluster bus that fan-out, but needs one subscription per shard, followed
//! through slot moves; wake-ups are a few per payment, far too few to be worth it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};

use crate::topology::PubSubTarget;

/// Events buffered per subscriber before the slowest one starts missing some.
const CAPACITY: usize = 256;
const HEALTH_CHECK: Duration = Duration::from_secs(15);
/// Reconnect attempts are at most this far apart, so wake-ups resume within about a
/// second of Redis (or a promoted Sentinel master) answering again.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    channel: String,
    rx: broadcast::Receiver<String>,
}

impl Subscription {
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The next event, or `None` once the queue is gone. Events missed because this
    /// subscriber fell behind are skipped.
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            match self.rx.recv().await {
                Ok(payload) => return Some(payload),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(channel = %self.channel, missed = n, "event subscriber lagged");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// As [`Self::recv`], but says when this subscriber fell behind and
    /// missed events (`Some(Err(n))`), so that whoever waits for one of them
    /// can be woken anyway.
    pub async fn recv_or_missed(&mut self) -> Option<Result<String, u64>> {
        match self.rx.recv().await {
            Ok(payload) => Some(Ok(payload)),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!(channel = %self.channel, missed = n, "event subscriber lagged");
                Some(Err(n))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The events as a `Stream`, e.g. for an SSE response body.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = String> + Send + 'static {
        futures_util::stream::unfold(self, |mut sub| async move {
            sub.recv().await.map(|event| (event, sub))
        })
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel)
            .finish()
    }
}

/// The memory backend's bus.
#[derive(Default)]
pub(crate) struct MemoryBus {
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

impl MemoryBus {
    pub(crate) fn notify(&self, channel: &str, payload: &str) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = channels.get(channel)
            && tx.send(payload.to_owned()).is_err()
        {
            // Nobody listens any more.
            channels.remove(channel);
        }
    }

    pub(crate) fn subscribe(&self, channel: &str) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let rx = channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe();
        Subscription {
            channel: channel.to_owned(),
            rx,
        }
    }
}

/// Handle to the Redis pub/sub task; the task ends when this is dropped.
pub(crate) struct RedisBus {
    cmds: mpsc::UnboundedSender<Subscribe>,
}

struct Subscribe {
    /// Full Redis channel name (with the prefix).
    channel: String,
    reply: oneshot::Sender<broadcast::Receiver<String>>,
}

impl RedisBus {
    pub(crate) fn start(target: PubSubTarget) -> Self {
        let (cmds, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(target, rx));
        RedisBus { cmds }
    }

    /// `channel` is the name the caller used; `full` the Redis channel.
    pub(crate) async fn subscribe(&self, channel: &str, full: String) -> Option<Subscription> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(Subscribe {
                channel: full,
                reply,
            })
            .ok()?;
        Some(Subscription {
            channel: channel.to_owned(),
            rx: rx.await.ok()?,
        })
    }
}

struct Connection {
    sink: PubSubSink,
    stream: PubSubStream,
}

async fn connect(
    target: &PubSubTarget,
    channels: impl Iterator<Item = &String>,
) -> redis::RedisResult<Connection> {
    let (mut sink, stream) = target.connect().await?.split();
    for channel in channels {
        sink.subscribe(channel).await?;
    }
    Ok(Connection { sink, stream })
}

/// Next pub/sub message, `None` when the connection closed; never resolves while
/// disconnected (the select below then waits on commands and the retry timer).
async fn next_message(conn: &mut Option<Connection>) -> Option<redis::Msg> {
    match conn {
        Some(c) => c.stream.next().await,
        None => std::future::pending().await,
    }
}

async fn run(target: PubSubTarget, mut cmds: mpsc::UnboundedReceiver<Subscribe>) {
    let mut senders: HashMap<String, broadcast::Sender<String>> = HashMap::new();
    let mut conn: Option<Connection> = None;
    let mut backoff = Duration::from_millis(50);
    let mut retry_at = Instant::now();
    let mut health_at = Instant::now() + HEALTH_CHECK;

    loop {
        if conn.is_none() && Instant::now() >= retry_at {
            match connect(&target, senders.keys()).await {
                Ok(c) => {
                    conn = Some(c);
                    backoff = Duration::from_millis(50);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event bus: redis pub/sub connect failed");
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }

        tokio::select! {
            cmd = cmds.recv() => {
                let Some(Subscribe { channel, reply }) = cmd else { return };
                let fresh = !senders.contains_key(&channel);
                let rx = senders
                    .entry(channel.clone())
                    .or_insert_with(|| broadcast::channel(CAPACITY).0)
                    .subscribe();
                if fresh
                    && let Some(c) = conn.as_mut()
                    && let Err(e) = c.sink.subscribe(&channel).await
                {
                    // The reconnect subscribes every known channel, this one included.
                    tracing::warn!(error = %e, "event bus: subscribe failed, reconnecting");
                    conn = None;
                }
                let _ = reply.send(rx);
            }
            msg = next_message(&mut conn) => match msg {
                Some(msg) => {
                    let channel = msg.get_channel_name().to_owned();
                    let Ok(payload) = msg.get_payload::<String>() else { continue };
                    if let Some(tx) = senders.get(&channel)
                        && tx.send(payload).is_err()
                    {
                        senders.remove(&channel);
                        if let Some(c) = conn.as_mut() {
                            let _ = c.sink.unsubscribe(&channel).await;
                        }
                    }
                }
                None => {
                    tracing::warn!("event bus: redis pub/sub connection closed, reconnecting");
                    conn = None;
                    retry_at = Instant::now();
                }
            },
            _ = sleep_until(retry_at), if conn.is_none() => {}
            _ = sleep_until(health_at) => {
                health_at = Instant::now() + HEALTH_CHECK;
                // A half-open TCP connection never closes the stream; a ping notices it.
                if let Some(c) = conn.as_mut() {
                    let alive = timeout(Duration::from_secs(5), c.sink.ping::<redis::Value>()).await;
                    if !matches!(alive, Ok(Ok(_))) {
                        tracing::warn!("event bus: redis pub/sub ping failed, reconnecting");
                        conn = None;
                    }
                }
                let idle: Vec<String> = senders
                    .iter()
                    .filter(|(_, tx)| tx.receiver_count() == 0)
                    .map(|(k, _)| k.clone())
                    .collect();
                for channel in idle {
                    senders.remove(&channel);
                    if let Some(c) = conn.as_mut() {
                        let _ = c.sink.unsubscribe(&channel).await;
                    }
                }
            }
        }
    }
}
