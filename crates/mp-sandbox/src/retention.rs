//! Retention: finished work leaves memory once it has been finished for the
//! configured window, or when a collection holds more finished entries than
//! the cap (oldest first). See [`crate::Retention`] and docs/sandbox.md.
//!
//! Each collection has a queue of `(finished at, id)` in the order things
//! finished, so eviction pops from the front and never scans a map. An entry
//! whose record changed since (an order refunded after it was filed, a
//! notification resent) is recognised at the front by its time no longer
//! matching the record's `finished_at`, and skipped: the record is filed
//! again when it finishes again.

use crate::model::Marks;
use crate::notify::Delivery;
use crate::state::{IdemKey, State};
use crate::work::Tracked;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, VecDeque};

/// Idempotency keys live 24 hours at Mercado Pago.
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

/// Evictions per collection and pass: a pass holds the state lock briefly;
/// what is left is taken by the next pass, which runs at once.
const BUDGET: usize = 2_000;

/// A first-in first-out queue of `(time, key)`.
#[derive(Debug)]
pub struct Fifo<K> {
    q: VecDeque<(DateTime<Utc>, K)>,
}

impl<K> Default for Fifo<K> {
    fn default() -> Self {
        Fifo { q: VecDeque::new() }
    }
}

impl<K> Fifo<K> {
    pub fn push(&mut self, at: DateTime<Utc>, key: K) {
        self.q.push_back((at, key));
    }

    /// Takes the front entry when it is at or before `cutoff`, or when the
    /// queue holds more than `cap` entries.
    pub fn pop_due(&mut self, cutoff: DateTime<Utc>, cap: usize) -> Option<(DateTime<Utc>, K)> {
        let (at, _) = self.q.front()?;
        if *at <= cutoff || self.q.len() > cap {
            self.q.pop_front()
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }
}

/// A credential that can die: an authorization code, an access or a refresh token.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cred {
    Code(String),
    Access(String),
    Refresh(String),
}

/// The retention queues and what was evicted so far.
#[derive(Debug, Default)]
pub struct Retained {
    pub orders: Fifo<String>,
    pub intents: Fifo<String>,
    pub refunds: Fifo<String>,
    /// Payments not owned by an order or intent (QR buyers').
    pub payments: Fifo<u64>,
    pub notifications: Fifo<u64>,
    pub idem: Fifo<IdemKey>,
    /// Credentials by the time they die (expiry, use or revocation).
    pub creds: BTreeSet<(DateTime<Utc>, Cred)>,
    pub evicted: Evicted,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Evicted {
    pub orders: u64,
    pub intents: u64,
    pub refund_intents: u64,
    pub payments: u64,
    pub notifications: u64,
    pub idempotency_keys: u64,
    pub credentials: u64,
}

/// Whether the record behind a queue entry filed at `at` can go now.
/// `blocked`: a notification about it is still being delivered; it is then
/// taken off the queue and filed again when that notification finishes.
fn settle(rec: &mut dyn Tracked, at: DateTime<Utc>, blocked: bool) -> bool {
    let finished = rec.finished();
    let m: &mut Marks = rec.marks();
    if m.finished_at != Some(at) {
        return false;
    }
    if !finished || blocked {
        m.finished_at = None;
        return false;
    }
    true
}

impl State {
    /// One eviction pass; true when it stopped on its budget (run another).
    pub fn evict(&mut self, now: DateTime<Utc>) -> bool {
        let window =
            chrono::Duration::from_std(self.retention.window).unwrap_or(chrono::Duration::MAX);
        let cutoff = now
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let cap = self.retention.max_finished;
        let mut more = false;

        let mut n = 0;
        while n < BUDGET {
            let Some((at, id)) = self.retained.orders.pop_due(cutoff, cap) else {
                break;
            };
            n += 1;
            let blocked = self.open_notes.contains_key(&id);
            if self
                .orders
                .get_mut(&id)
                .is_some_and(|o| settle(o, at, blocked))
            {
                self.evict_order(&id);
            }
        }
        more |= n == BUDGET;

        let mut n = 0;
        while n < BUDGET {
            let Some((at, id)) = self.retained.intents.pop_due(cutoff, cap) else {
                break;
            };
            n += 1;
            let blocked = self.open_notes.contains_key(&id);
            if self
                .intents
                .get_mut(&id)
                .is_some_and(|i| settle(i, at, blocked))
            {
                self.evict_intent(&id);
            }
        }
        more |= n == BUDGET;

        let mut n = 0;
        while n < BUDGET {
            let Some((at, id)) = self.retained.refunds.pop_due(cutoff, cap) else {
                break;
            };
            n += 1;
            if self
                .refunds
                .get_mut(&id)
                .is_some_and(|r| settle(r, at, false))
            {
                self.refunds.remove(&id);
                self.retained.evicted.refund_intents += 1;
            }
        }
        more |= n == BUDGET;

        let mut n = 0;
        while n < BUDGET {
            let Some((_, id)) = self.retained.payments.pop_due(cutoff, cap) else {
                break;
            };
            n += 1;
            if self.open_notes.contains_key(&id.to_string()) {
                // Its `payment` notification is still being delivered: another window.
                self.retained.payments.push(now, id);
                break;
            }
            if self.payments.remove(&id).is_some() {
                self.retained.evicted.payments += 1;
            }
        }
        more |= n == BUDGET;

        let mut n = 0;
        while n < BUDGET {
            let Some((at, id)) = self.retained.notifications.pop_due(cutoff, cap) else {
                break;
            };
            n += 1;
            let gone = self
                .notifications
                .get(&id)
                .is_some_and(|x| x.finished_at == Some(at) && x.status != Delivery::Pending);
            if gone {
                self.notifications.remove(&id);
                self.retained.evicted.notifications += 1;
            }
        }
        more |= n == BUDGET;

        let idem_cutoff = now
            .checked_sub_signed(IDEMPOTENCY_TTL)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut n = 0;
        while n < BUDGET {
            let Some((at, key)) = self.retained.idem.pop_due(idem_cutoff, cap) else {
                break;
            };
            n += 1;
            if self.idem.get(&key).is_some_and(|e| e.at == at) {
                self.idem.remove(&key);
                self.retained.evicted.idempotency_keys += 1;
            }
        }
        more |= n == BUDGET;

        let mut n = 0;
        while n < BUDGET {
            let due = self
                .retained
                .creds
                .first()
                .is_some_and(|(t, _)| *t <= cutoff);
            if !due {
                break;
            }
            let Some((_, c)) = self.retained.creds.pop_first() else {
                break;
            };
            n += 1;
            let removed = match c {
                Cred::Code(k) => {
                    let dead = self
                        .codes
                        .get(&k)
                        .is_some_and(|r| r.used || r.expires_at <= now);
                    dead && self.codes.remove(&k).is_some()
                }
                Cred::Access(k) => {
                    let dead = self
                        .tokens
                        .get(&k)
                        .is_some_and(|r| r.revoked || r.expires_at <= now);
                    dead && self.tokens.remove(&k).is_some()
                }
                Cred::Refresh(k) => {
                    let dead = self
                        .refresh
                        .get(&k)
                        .is_some_and(|r| r.used || r.expires_at <= now);
                    dead && self.refresh.remove(&k).is_some()
                }
            };
            if removed {
                self.retained.evicted.credentials += 1;
            }
        }
        more |= n == BUDGET;
        more
    }

    /// An order and what belongs to it: its payment, charge and idempotency key.
    fn evict_order(&mut self, id: &str) {
        let Some(o) = self.orders.remove(id) else {
            return;
        };
        if let Some(pid) = o
            .payment
            .reference_id
            .as_deref()
            .and_then(|p| p.parse().ok())
        {
            self.order_payments.remove(&pid);
        }
        self.charges.remove_of(id);
        self.remove_key_of((o.user_id, "orders", o.idem_key), id);
        self.retained.evicted.orders += 1;
    }

    /// A legacy intent and its payment, charge and idempotency key.
    fn evict_intent(&mut self, id: &str) {
        let Some(i) = self.intents.remove(id) else {
            return;
        };
        if let Some(pid) = i.payment_id {
            self.payments.remove(&pid);
        }
        self.charges.remove_of(id);
        if let Some(k) = i.idem_key {
            self.remove_key_of((i.user_id, "intents", k), id);
        }
        self.retained.evicted.intents += 1;
    }

    /// Drops the idempotency key that created `id`, unless the key (after
    /// its 24 hours) has since created something else.
    fn remove_key_of(&mut self, key: IdemKey, id: &str) {
        if self.idem.get(&key).is_some_and(|e| e.response.contains(id)) {
            self.idem.remove(&key);
        }
    }

    /// The last notification about `data_id` finished: an order or intent
    /// that was held back for it is filed for eviction again.
    pub fn unblock(&mut self, topic: &str, data_id: &str, now: DateTime<Utc>) {
        let w = match topic {
            "order" => crate::work::Work::Order(data_id.to_string()),
            "point_integration_wh" => crate::work::Work::Intent(data_id.to_string()),
            _ => return,
        };
        self.touch(&w, now);
    }

    /// Files a credential to be dropped `window` after `dies_at`.
    pub fn file_cred(&mut self, dies_at: DateTime<Utc>, c: Cred) {
        self.retained.creds.insert((dies_at, c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn pops_in_order_only_what_is_past_the_cutoff() {
        let mut q = Fifo::default();
        for i in 0..5 {
            q.push(t(i * 10), i);
        }
        assert_eq!(q.pop_due(t(15), 100), Some((t(0), 0)));
        assert_eq!(q.pop_due(t(15), 100), Some((t(10), 1)));
        assert_eq!(q.pop_due(t(15), 100), None, "20 is inside the window");
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_due(t(40), 100).map(|e| e.1), Some(2));
    }

    #[test]
    fn the_cap_pops_the_oldest_even_inside_the_window() {
        let mut q = Fifo::default();
        for i in 0..10 {
            q.push(t(i), i);
        }
        let mut out = vec![];
        while let Some((_, k)) = q.pop_due(t(-1), 7) {
            out.push(k);
        }
        assert_eq!(out, vec![0, 1, 2]);
        assert_eq!(q.len(), 7);
        assert_eq!(q.pop_due(t(-1), 7), None);
    }

    #[test]
    fn an_empty_queue_pops_nothing() {
        let mut q: Fifo<u8> = Fifo::default();
        assert_eq!(q.pop_due(t(100), 0), None);
    }

    #[test]
    fn an_entry_filed_out_of_order_waits_behind_the_front() {
        // A system clock may step back: the queue stays first-in first-out.
        let mut q = Fifo::default();
        q.push(t(50), "late");
        q.push(t(10), "early");
        assert_eq!(q.pop_due(t(20), 10), None);
        assert_eq!(q.pop_due(t(60), 10).map(|e| e.1), Some("late"));
        assert_eq!(q.pop_due(t(60), 10).map(|e| e.1), Some("early"));
    }
}
