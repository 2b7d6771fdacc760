//! The loop every queue consumer of the worker runs: receive, handle up to
//! `concurrency` messages at once, settle each inside its handler, and on
//! stop let the ones in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use platform_queue::{Delivery, Queue};
use tokio::sync::{Semaphore, watch};

use crate::WorkerContext;

/// How one topic is consumed.
#[derive(Debug, Clone, Copy)]
pub struct Consumer {
    pub topic: &'static str,
    /// Messages handled at once by this process.
    pub concurrency: usize,
    /// How long one receive waits for the first message.
    pub wait: Duration,
}

impl Consumer {
    /// [`Consumer::run`] on the worker's queue, each message handed to
    /// `handle` with its own clone of the context.
    pub async fn run_in<F, Fut>(self, ctx: WorkerContext, stopped: watch::Receiver<bool>, handle: F)
    where
        F: Fn(WorkerContext, Delivery) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let queue = ctx.queue.clone();
        self.run(queue, stopped, move |d| handle(ctx.clone(), d))
            .await
    }

    /// Hands every message to `handle` (which acks, retries or dead-letters
    /// it) until `stopped`, then waits for the handlers still running.
    pub async fn run<F, Fut>(self, queue: Queue, mut stopped: watch::Receiver<bool>, handle: F)
    where
        F: Fn(Delivery) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let concurrency = self.concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        loop {
            if *stopped.borrow() {
                break;
            }
            // Receive only what can start now, so nothing received waits
            // (invisible to other workers) behind a full process.
            let first = tokio::select! {
                _ = stopped.changed() => break,
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let room = permits.available_permits() + 1;
            let batch = tokio::select! {
                _ = stopped.changed() => break,
                b = queue.receive(self.topic, room, self.wait) => b,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(topic = self.topic, error = %e, "queue receive failed");
                    drop(first);
                    tokio::select! {
                        _ = stopped.changed() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            };
            let mut first = Some(first);
            for delivery in batch {
                let permit = match first.take() {
                    Some(p) => p,
                    None => match permits.clone().try_acquire_owned() {
                        Ok(p) => p,
                        // Cannot happen (received no more than was free);
                        // wait rather than run over the limit.
                        Err(_) => match permits.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => return,
                        },
                    },
                };
                let work = handle(delivery);
                tokio::spawn(async move {
                    work.await;
                    drop(permit);
                });
            }
        }
        // Let the handlers in flight finish (they hold permits).
        let _ = permits.acquire_many(concurrency as u32).await;
    }
}
