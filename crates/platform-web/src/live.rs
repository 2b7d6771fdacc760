//! Live intent updates inside one web process: one bus subscription per
//! process, relayed to every SSE stream (all changes) and to the waiters on
//! one intent (long-polls, cancels, refunds), each woken only by its own
//! intent's changes.
//!
//! Why two shapes: a stream shows every change of a scope, so it reads the
//! whole feed; a waiter wants one intent. Fanning every change out to every
//! waiter cost O(changes × waiters): under a backlog hundreds of long-polls
//! each woke for every other intent's move, and that work grew with the
//! very backlog it slowed down.
//!
//! At shutdown the feed is closed ([`IntentFeed::close`]): every stream sees
//! its channel closed and ends, and every waiter answers with what it has,
//! so stopping the server does not wait for them to time out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use platform_core::jobs::INTENT_CHANGED;
use platform_queue::Queue;
use tokio::sync::{broadcast, watch};

#[derive(Clone)]
pub struct IntentFeed {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    /// `None` once closed. The only sender: dropping it closes every
    /// receiver (the relay task sends through here and holds no clone).
    tx: Option<broadcast::Sender<String>>,
    /// The intents someone waits on, each with its waiters' channel; an
    /// entry lives while it has a receiver ([`IntentWatch`]'s drop).
    watched: HashMap<String, watch::Sender<()>>,
}

impl IntentFeed {
    /// Starts relaying the bus into this process's streams and waiters
    /// (reconnecting until the feed is closed).
    pub fn start(queue: Queue) -> Self {
        let (tx, _) = broadcast::channel(4096);
        let feed = IntentFeed {
            inner: Arc::new(Mutex::new(Inner {
                tx: Some(tx),
                watched: HashMap::new(),
            })),
        };
        let relay = feed.clone();
        tokio::spawn(async move {
            while relay.is_open() {
                match queue.subscribe(INTENT_CHANGED).await {
                    Ok(mut sub) => {
                        while let Some(event) = sub.recv_or_missed().await {
                            let open = match event {
                                Ok(id) => relay.publish(id),
                                // Some change went by unseen: every waiter re-reads.
                                Err(_) => relay.wake_all(),
                            };
                            if !open {
                                return;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "intent feed: cannot subscribe; retrying"),
                }
                // Changes may have gone by while the bus was away.
                relay.wake_all();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        feed
    }

    /// A receiver of every changed intent id; already closed after [`Self::close`].
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        match self.lock().tx.as_ref() {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Watches one intent: [`IntentWatch::changed`] wakes on its changes
    /// only. Take the watch before reading the intent, so that a change
    /// committed in between is not missed.
    pub fn watch(&self, intent_id: &str) -> IntentWatch {
        let mut inner = self.lock();
        let rx = if inner.tx.is_some() {
            inner
                .watched
                .entry(intent_id.to_owned())
                .or_insert_with(|| watch::channel(()).0)
                .subscribe()
        } else {
            // Closed: a receiver whose sender is gone answers at once.
            watch::channel(()).1
        };
        IntentWatch {
            feed: self.clone(),
            id: intent_id.to_owned(),
            rx: Some(rx),
        }
    }

    /// Ends every stream and wakes every waiter on this feed (server shutdown).
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.tx.take();
        // Dropping the senders ends every waiter's `changed`.
        inner.watched.clear();
    }

    pub fn is_open(&self) -> bool {
        self.lock().tx.is_some()
    }

    /// `false` once closed. No receivers is not an error: nobody is watching.
    fn publish(&self, id: String) -> bool {
        let inner = self.lock();
        let Some(tx) = inner.tx.as_ref() else {
            return false;
        };
        if let Some(w) = inner.watched.get(&id) {
            w.send_replace(());
        }
        let _ = tx.send(id);
        true
    }

    fn wake_all(&self) -> bool {
        let inner = self.lock();
        for w in inner.watched.values() {
            w.send_replace(());
        }
        inner.tx.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The lock guards plain maps; a panic elsewhere cannot leave them torn.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A wait on one intent's changes ([`IntentFeed::watch`]).
pub struct IntentWatch {
    feed: IntentFeed,
    id: String,
    /// Always `Some` until dropped.
    rx: Option<watch::Receiver<()>>,
}

impl IntentWatch {
    /// Resolves at the intent's next change since the watch was taken or
    /// since the last call (a change in between is not lost); `false` once
    /// the feed is closed (the server is stopping).
    pub async fn changed(&mut self) -> bool {
        match self.rx.as_mut() {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        }
    }
}

impl Drop for IntentWatch {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut inner = self.feed.lock();
        // Under the lock, so no new waiter subscribes between the count and the removal.
        if inner
            .watched
            .get(&self.id)
            .is_some_and(|w| w.receiver_count() == 0)
        {
            inner.watched.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform_queue::{Backend, QueueConfig};
    use tokio::sync::broadcast::error::RecvError;

    #[tokio::test]
    async fn close_ends_current_and_later_receivers() {
        let queue = Queue::connect(QueueConfig::new(Backend::Memory, "feed"))
            .await
            .unwrap();
        let feed = IntentFeed::start(queue);
        let mut before = feed.subscribe();
        feed.close();
        assert!(matches!(before.recv().await, Err(RecvError::Closed)));
        assert!(matches!(
            feed.subscribe().recv().await,
            Err(RecvError::Closed)
        ));
        assert!(!feed.is_open());
    }

    async fn feed() -> IntentFeed {
        let queue = Queue::connect(QueueConfig::new(Backend::Memory, "feed"))
            .await
            .unwrap();
        IntentFeed::start(queue)
    }

    /// Whether `changed` resolves soon (true/false as it answered), or `None`.
    async fn woke(w: &mut IntentWatch) -> Option<bool> {
        tokio::time::timeout(Duration::from_millis(50), w.changed())
            .await
            .ok()
    }

    #[tokio::test]
    async fn a_watch_wakes_for_its_own_intent_only() {
        let feed = feed().await;
        let mut a = feed.watch("pi_a");
        let mut a2 = feed.watch("pi_a");
        let mut b = feed.watch("pi_b");
        assert_eq!(woke(&mut a).await, None, "nothing changed yet");
        feed.publish("pi_b".into());
        assert_eq!(woke(&mut a).await, None, "another intent's change");
        assert_eq!(woke(&mut b).await, Some(true));
        feed.publish("pi_a".into());
        assert_eq!(woke(&mut a).await, Some(true));
        assert_eq!(
            woke(&mut a2).await,
            Some(true),
            "every waiter on the intent"
        );
        assert_eq!(woke(&mut a).await, None, "each change is seen once");
    }

    #[tokio::test]
    async fn a_change_before_the_wait_is_not_lost() {
        let feed = feed().await;
        let mut w = feed.watch("pi_a");
        // As when the change commits between the watch and the waiter's read.
        feed.publish("pi_a".into());
        assert_eq!(woke(&mut w).await, Some(true));
    }

    #[tokio::test]
    async fn missed_events_wake_every_waiter() {
        let feed = feed().await;
        let mut a = feed.watch("pi_a");
        let mut b = feed.watch("pi_b");
        feed.wake_all();
        assert_eq!(woke(&mut a).await, Some(true));
        assert_eq!(woke(&mut b).await, Some(true));
    }

    #[tokio::test]
    async fn close_ends_every_wait_and_the_last_watch_leaves_no_entry() {
        let feed = feed().await;
        let mut w = feed.watch("pi_a");
        drop(feed.watch("pi_b"));
        assert_eq!(
            feed.lock().watched.len(),
            1,
            "pi_b's entry left with its watch"
        );
        feed.close();
        assert_eq!(woke(&mut w).await, Some(false));
        assert_eq!(woke(&mut feed.watch("pi_c")).await, Some(false));
        drop(w);
        assert!(feed.lock().watched.is_empty());
    }

    #[tokio::test]
    async fn changes_on_the_bus_reach_the_watch() {
        let queue = Queue::connect(QueueConfig::new(Backend::Memory, "feed"))
            .await
            .unwrap();
        let feed = IntentFeed::start(queue.clone());
        let mut w = feed.watch("pi_a");
        // The relay subscribes in the background; publish until it hears.
        let heard = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                queue.notify(INTENT_CHANGED, "pi_a").await.unwrap();
                if woke(&mut w).await == Some(true) {
                    break;
                }
            }
        })
        .await;
        assert!(heard.is_ok(), "the bus's change reached the watch");
    }
}
