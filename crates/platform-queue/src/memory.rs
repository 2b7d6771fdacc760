//! The in-process backend: per-topic ready queue, in-flight table, delayed messages and dead
//! letters under one mutex, with a `Notify` per topic to wake waiting receivers.
//!
//! The mutex is a std one on purpose: it is never held across an `.await`. All clocks
//! are `tokio::time::Instant`, so tests can run with a paused clock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use crate::bus::MemoryBus;
use crate::limits::MemoryLimits;
use crate::lock::MemoryLocks;
use crate::{DeadLetter, Delivery, QueueStats};

/// Dead letters kept per topic (the same bound the Redis backend trims to).
const DEAD_KEEP: usize = 10_000;

pub(crate) struct MemoryBackend {
    state: Mutex<State>,
    visibility_timeout: Duration,
    max_deliveries: u32,
    pub(crate) locks: Arc<MemoryLocks>,
    pub(crate) bus: MemoryBus,
    pub(crate) limits: MemoryLimits,
}

#[derive(Default)]
struct State {
    topics: HashMap<String, Topic>,
    next_id: u64,
}

#[derive(Default)]
struct Topic {
    ready: VecDeque<Msg>,
    /// In flight, keyed by message id; ids grow, so the oldest comes first on reclaim.
    in_flight: BTreeMap<u64, InFlight>,
    /// Keyed by (due time, id) so the earliest due is first.
    delayed: BTreeMap<(Instant, u64), Msg>,
    dead: VecDeque<DeadLetter>,
    notify: Arc<Notify>,
}

struct Msg {
    id: u64,
    payload: String,
    /// Deliveries before this message was re-published by `retry_after`.
    prior: u32,
}

struct InFlight {
    msg: Msg,
    delivery_count: u32,
    invisible_until: Instant,
}

impl MemoryBackend {
    pub(crate) fn new(visibility_timeout: Duration, max_deliveries: u32) -> Self {
        MemoryBackend {
            state: Mutex::new(State::default()),
            visibility_timeout,
            max_deliveries,
            locks: Arc::new(MemoryLocks::default()),
            bus: MemoryBus::default(),
            limits: MemoryLimits::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (no invariant spans
        // two statements that can panic), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn publish(&self, topic: &str, payload: &str, delay: Duration, prior: u32) {
        self.state()
            .enqueue(topic, payload.to_owned(), delay, prior);
    }

    pub(crate) async fn receive(&self, topic: &str, max: usize, wait: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + wait;
        let notify = self.state().topic(topic).notify.clone();
        loop {
            // Register for wake-ups before looking, so a publish in between is not missed.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let now = Instant::now();
            let wake_at = {
                let mut st = self.state();
                let out = st.take(
                    topic,
                    max,
                    now,
                    self.visibility_timeout,
                    self.max_deliveries,
                );
                if !out.is_empty() || now >= deadline {
                    return out;
                }
                st.topic(topic)
                    .next_event()
                    .map_or(deadline, |t| t.min(deadline))
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = sleep_until(wake_at) => {}
            }
        }
    }

    pub(crate) fn ack(&self, d: &Delivery) {
        let Ok(id) = d.id.parse::<u64>() else { return };
        self.state().topic(&d.topic).in_flight.remove(&id);
    }

    pub(crate) fn retry_after(&self, d: &Delivery, delay: Duration) {
        let Ok(id) = d.id.parse::<u64>() else { return };
        // One critical section: the ack and the re-publish happen together.
        let mut st = self.state();
        if let Some(f) = st.topic(&d.topic).in_flight.remove(&id) {
            st.enqueue(&d.topic, f.msg.payload, delay, d.delivery_count);
        }
    }

    pub(crate) fn dead_letter(&self, d: &Delivery, reason: &str) {
        let Ok(id) = d.id.parse::<u64>() else { return };
        let mut st = self.state();
        let t = st.topic(&d.topic);
        if let Some(f) = t.in_flight.remove(&id) {
            t.bury(f.msg.payload, reason, d.delivery_count);
        }
    }

    pub(crate) fn dead_letters(&self, topic: &str, max: usize) -> Vec<DeadLetter> {
        let mut st = self.state();
        st.topic(topic)
            .dead
            .iter()
            .rev()
            .take(max)
            .cloned()
            .collect()
    }

    pub(crate) fn stats(&self, topic: &str) -> QueueStats {
        let mut st = self.state();
        let t = st.topic(topic);
        // Raw counts, like Redis: an expired in-flight message stays in flight and a due
        // delayed one stays delayed until the next receive moves it.
        QueueStats {
            depth: t.ready.len() as u64,
            in_flight: t.in_flight.len() as u64,
            delayed: t.delayed.len() as u64,
            dead: t.dead.len() as u64,
        }
    }
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn enqueue(&mut self, topic: &str, payload: String, delay: Duration, prior: u32) {
        let id = self.next_id();
        let t = self.topic(topic);
        let msg = Msg { id, payload, prior };
        if delay.is_zero() {
            t.ready.push_back(msg);
        } else {
            t.delayed.insert((Instant::now() + delay, id), msg);
        }
        // Waiters also re-arm their timers on a new delayed message.
        t.notify.notify_waiters();
    }

    fn topic(&mut self, name: &str) -> &mut Topic {
        // Avoids allocating the key on the hot path when the topic exists.
        if !self.topics.contains_key(name) {
            self.topics.insert(name.to_owned(), Topic::default());
        }
        self.topics.get_mut(name).expect("inserted above")
    }

    /// Hands out up to `max` messages: expired in-flight ones first (oldest first), then
    /// ready ones, after releasing due delayed messages.
    fn take(
        &mut self,
        topic: &str,
        max: usize,
        now: Instant,
        visibility: Duration,
        max_deliveries: u32,
    ) -> Vec<Delivery> {
        let t = self.topic(topic);
        while let Some(entry) = t.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            t.ready.push_back(entry.remove());
        }

        let mut out = Vec::new();
        let expired: Vec<u64> = t
            .in_flight
            .iter()
            .filter(|(_, f)| f.invisible_until <= now)
            .map(|(id, _)| *id)
            .take(max)
            .collect();
        for id in expired {
            let f = t.in_flight.get_mut(&id).expect("listed above");
            f.delivery_count += 1;
            if f.delivery_count > max_deliveries {
                let f = t.in_flight.remove(&id).expect("listed above");
                t.bury(
                    f.msg.payload,
                    "max deliveries exceeded",
                    f.delivery_count - 1,
                );
                continue;
            }
            f.invisible_until = now + visibility;
            out.push(delivery(topic, &f.msg, f.delivery_count));
        }

        while out.len() < max {
            let Some(msg) = t.ready.pop_front() else {
                break;
            };
            let delivery_count = msg.prior + 1;
            if delivery_count > max_deliveries {
                t.bury(msg.payload, "max deliveries exceeded", msg.prior);
                continue;
            }
            out.push(delivery(topic, &msg, delivery_count));
            t.in_flight.insert(
                msg.id,
                InFlight {
                    msg,
                    delivery_count,
                    invisible_until: now + visibility,
                },
            );
        }
        out
    }
}

impl Topic {
    /// When something may next become receivable without a publish.
    fn next_event(&self) -> Option<Instant> {
        let delayed = self.delayed.keys().next().map(|k| k.0);
        let expiry = self.in_flight.values().map(|f| f.invisible_until).min();
        match (delayed, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn bury(&mut self, payload: String, reason: &str, delivery_count: u32) {
        if self.dead.len() >= DEAD_KEEP {
            self.dead.pop_front();
        }
        self.dead.push_back(DeadLetter {
            payload,
            reason: reason.to_owned(),
            delivery_count,
        });
    }
}

fn delivery(topic: &str, msg: &Msg, delivery_count: u32) -> Delivery {
    Delivery {
        id: msg.id.to_string(),
        topic: topic.to_owned(),
        payload: msg.payload.clone(),
        delivery_count,
    }
}
