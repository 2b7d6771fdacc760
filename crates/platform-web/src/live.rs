//! Live intent updates inside one web process: one bus subscription per
//! process, fanned out to every long-poll and SSE stream.
//!
//! At shutdown the feed is closed ([`IntentFeed::close`]): every stream sees
//! its channel closed and ends, and every long-poll answers with what it has,
//! so stopping the server does not wait for them to time out.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use platform_core::jobs::INTENT_CHANGED;
use platform_queue::Queue;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct IntentFeed {
    /// `None` once closed. The only sender: dropping it closes every
    /// receiver (the relay task sends through here and holds no clone).
    tx: Arc<Mutex<Option<broadcast::Sender<String>>>>,
}

impl IntentFeed {
    /// Starts relaying the bus into a local broadcast (reconnecting until
    /// the feed is closed).
    pub fn start(queue: Queue) -> Self {
        let (tx, _) = broadcast::channel(4096);
        let feed = IntentFeed {
            tx: Arc::new(Mutex::new(Some(tx))),
        };
        let relay = feed.clone();
        tokio::spawn(async move {
            while relay.is_open() {
                match queue.subscribe(INTENT_CHANGED).await {
                    Ok(mut sub) => {
                        while let Some(id) = sub.recv().await {
                            if !relay.publish(id) {
                                return;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "intent feed: cannot subscribe; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        feed
    }

    /// A receiver of changed intent ids; already closed after [`Self::close`].
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        match self.sender().as_ref() {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Ends every stream and wakes every waiter on this feed (server shutdown).
    pub fn close(&self) {
        self.sender().take();
    }

    pub fn is_open(&self) -> bool {
        self.sender().is_some()
    }

    /// `false` once closed. No receivers is not an error: nobody is watching.
    fn publish(&self, id: String) -> bool {
        match self.sender().as_ref() {
            Some(tx) => {
                let _ = tx.send(id);
                true
            }
            None => false,
        }
    }

    fn sender(&self) -> std::sync::MutexGuard<'_, Option<broadcast::Sender<String>>> {
        // The lock guards a plain Option; a panic elsewhere cannot leave it torn.
        self.tx.lock().unwrap_or_else(PoisonError::into_inner)
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
}
