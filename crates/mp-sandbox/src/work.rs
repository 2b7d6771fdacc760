//! Indexes over the terminals' work items (legacy intents, orders, refund
//! intents), so that no request and no tick scans every item:
//!
//! - the **schedule**: each unfinished item filed under the next time
//!   something happens to it (its next step, its abandonment or expiry), so
//!   the ticker takes only what is due;
//! - **busy**: the one unfinished item each terminal holds;
//! - the **retention queue**: an item is filed there once when it finishes
//!   (see `retention.rs`).
//!
//! Every change to an item's state or timers is followed by [`State::touch`],
//! which files the item again from its fields. `State::check_indexes`
//! verifies the indexes against the items (`GET /sandbox/stats?check=1`).

use crate::model::*;
use crate::state::State;
use chrono::{DateTime, Utc};

/// A terminal's work item, by kind and id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    Intent(String),
    Order(String),
    Refund(String),
}

impl Work {
    pub fn id(&self) -> &str {
        match self {
            Work::Intent(id) | Work::Order(id) | Work::Refund(id) => id,
        }
    }
}

/// What the indexes need to know about an item.
pub trait Tracked {
    /// The next time the simulation must look at it.
    fn wake(&self) -> Option<DateTime<Utc>>;
    /// Queued or on its terminal: the terminal is busy with it.
    fn active(&self) -> bool;
    fn terminal(&self) -> &str;
    fn marks(&mut self) -> &mut Marks;

    /// Nothing will happen to it by itself any more.
    fn finished(&self) -> bool {
        !self.active() && self.wake().is_none()
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Tracked for Intent {
    fn wake(&self) -> Option<DateTime<Utc>> {
        if self.state.is_final() {
            return None;
        }
        let deadline = matches!(self.state, IntentState::Open | IntentState::OnTerminal)
            .then_some(self.deadline);
        earliest(self.next_step_at, deadline)
    }
    fn active(&self) -> bool {
        !self.state.is_final()
    }
    fn terminal(&self) -> &str {
        &self.device_id
    }
    fn marks(&mut self) -> &mut Marks {
        &mut self.marks
    }
}

impl Tracked for Order {
    fn wake(&self) -> Option<DateTime<Utc>> {
        let expiry = self.status.is_active().then_some(self.expires_at);
        earliest(self.next_step_at, expiry)
    }
    fn active(&self) -> bool {
        self.status.is_active()
    }
    fn terminal(&self) -> &str {
        &self.terminal_id
    }
    fn marks(&mut self) -> &mut Marks {
        &mut self.marks
    }
}

impl Tracked for RefundIntent {
    fn wake(&self) -> Option<DateTime<Utc>> {
        if self.state.is_final() {
            None
        } else {
            self.next_step_at
        }
    }
    fn active(&self) -> bool {
        !self.state.is_final()
    }
    fn terminal(&self) -> &str {
        &self.device_id
    }
    fn marks(&mut self) -> &mut Marks {
        &mut self.marks
    }
}

impl State {
    /// Files a work item again after any change to it: schedule, busy
    /// terminal, and (once, when it finishes) the retention queue.
    pub fn touch(&mut self, w: &Work, now: DateTime<Utc>) {
        let State {
            intents,
            orders,
            refunds,
            schedule,
            busy,
            retained,
            ..
        } = self;
        let (rec, queue): (&mut dyn Tracked, _) = match w {
            Work::Intent(id) => match intents.get_mut(id) {
                Some(r) => (r, &mut retained.intents),
                None => return,
            },
            Work::Order(id) => match orders.get_mut(id) {
                Some(r) => (r, &mut retained.orders),
                None => return,
            },
            Work::Refund(id) => match refunds.get_mut(id) {
                Some(r) => (r, &mut retained.refunds),
                None => return,
            },
        };
        let want = rec.wake();
        let active = rec.active();
        let finished = rec.finished();
        let marks = rec.marks();
        if marks.sched != want {
            if let Some(t) = marks.sched {
                schedule.remove(&(t, w.clone()));
            }
            if let Some(t) = want {
                schedule.insert((t, w.clone()));
            }
            marks.sched = want;
        }
        if finished && marks.finished_at.is_none() {
            marks.finished_at = Some(now);
            queue.push(now, w.id().to_string());
        }
        let terminal = rec.terminal();
        match busy.get(terminal) {
            Some(b) if b == w => {
                if !active {
                    busy.remove(terminal);
                }
            }
            Some(_) => {}
            None => {
                if active {
                    busy.insert(terminal.to_string(), w.clone());
                }
            }
        }
    }

    /// The earliest scheduled item, if it is due by `now`; it leaves the
    /// schedule (the caller steps it and touches it again).
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Option<Work> {
        let (t, _) = self.schedule.first()?;
        if *t > now {
            return None;
        }
        let (_, w) = self.schedule.pop_first()?;
        let marks = match &w {
            Work::Intent(id) => self.intents.get_mut(id).map(|r| &mut r.marks),
            Work::Order(id) => self.orders.get_mut(id).map(|r| &mut r.marks),
            Work::Refund(id) => self.refunds.get_mut(id).map(|r| &mut r.marks),
        };
        if let Some(m) = marks {
            m.sched = None;
        }
        Some(w)
    }

    /// Checks every index against the items it indexes (O(n); for tests).
    pub fn check_indexes(&self) -> Result<(), String> {
        let mut scheduled = 0;
        let mut active = 0;
        let mut check = |w: Work, r: &dyn Tracked, m: &Marks| -> Result<(), String> {
            if m.sched != r.wake() {
                return Err(format!("{w:?} filed at {:?}, due {:?}", m.sched, r.wake()));
            }
            if let Some(t) = m.sched {
                scheduled += 1;
                if !self.schedule.contains(&(t, w.clone())) {
                    return Err(format!("{w:?} missing from the schedule"));
                }
            }
            if r.active() {
                active += 1;
                if self.busy.get(r.terminal()) != Some(&w) {
                    return Err(format!("{w:?} active but its terminal is not busy with it"));
                }
            }
            Ok(())
        };
        for (id, r) in &self.intents {
            check(Work::Intent(id.clone()), r, &r.marks)?;
        }
        for (id, r) in &self.orders {
            check(Work::Order(id.clone()), r, &r.marks)?;
        }
        for (id, r) in &self.refunds {
            check(Work::Refund(id.clone()), r, &r.marks)?;
        }
        if scheduled != self.schedule.len() {
            return Err(format!(
                "schedule has {} entries for {scheduled} items",
                self.schedule.len()
            ));
        }
        if active != self.busy.len() {
            return Err(format!(
                "{} busy terminals for {active} active items",
                self.busy.len()
            ));
        }
        crate::notify::check_index(self)
    }
}
