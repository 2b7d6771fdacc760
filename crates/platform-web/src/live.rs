//! Live intent updates inside one web process: one bus subscription per
//! process, fanned out to every long-poll and SSE stream.

use std::time::Duration;

use platform_core::jobs::INTENT_CHANGED;
use platform_queue::Queue;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct IntentFeed {
    tx: broadcast::Sender<String>,
}

impl IntentFeed {
    /// Starts relaying the bus into a local broadcast (reconnecting forever).
    pub fn start(queue: Queue) -> Self {
        let (tx, _) = broadcast::channel(4096);
        let relay = tx.clone();
        tokio::spawn(async move {
            loop {
                match queue.subscribe(INTENT_CHANGED).await {
                    Ok(mut sub) => {
                        while let Some(id) = sub.recv().await {
                            let _ = relay.send(id);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "intent feed: cannot subscribe; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        IntentFeed { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }
}
