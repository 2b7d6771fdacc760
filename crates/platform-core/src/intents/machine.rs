//! The intent's decisions as pure functions of the state a row is in, so
//! every (state, action) pair can be tested without a database. The
//! database code (`apply_in`, `request_cancel`) asks these and then makes
//! its update conditional on the same state, so a decision never outlives
//! the state it was taken on.

use super::{MoveFrom, PAID_AFTER_CANCEL, PAID_AFTER_FAILURE};
use crate::entities::payment_intents;
use crate::states::{CancelState, IntentStatus};

/// The parts of a row the decisions read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub status: IntentStatus,
    /// A worker has claimed it at least once: it may exist upstream.
    pub claimed: bool,
    pub cancel: Option<CancelState>,
}

impl From<&payment_intents::Model> for Snapshot {
    fn from(row: &payment_intents::Model) -> Self {
        Snapshot {
            status: row.status,
            claimed: row.dispatch_attempts > 0,
            cancel: row.cancel_state,
        }
    }
}

impl Snapshot {
    /// Nothing can exist upstream: never claimed, no cancel asked.
    pub fn unsent(self) -> bool {
        !self.claimed && self.cancel.is_none()
    }

    /// A cancel is asked or was done (a refused one no longer counts).
    fn cancel_asked(self) -> bool {
        self.status == IntentStatus::Canceled
            || self.cancel.is_some_and(|c| c != CancelState::Refused)
    }
}

/// What a POS's cancel does to an intent in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelStep {
    /// Final already: nothing to cancel, answer with the intent as it is.
    AlreadyFinal,
    /// Never handed upstream: cancel here, at once.
    CancelHere,
    /// A cancel is already with Mercado Pago (asked or accepted): wait.
    AlreadyPending,
    /// The terminal holds it and the caller did not allow an at-terminal cancel.
    NeedsAtTerminalConsent,
    /// Record a pending cancel; the worker asks Mercado Pago.
    AskUpstream,
}

pub fn cancel_step(s: Snapshot, at_terminal_allowed: bool) -> CancelStep {
    if s.status.is_final() {
        CancelStep::AlreadyFinal
    } else if s.status == IntentStatus::Queued && s.unsent() {
        CancelStep::CancelHere
    } else if matches!(
        s.cancel,
        Some(CancelState::Requested | CancelState::Accepted)
    ) {
        CancelStep::AlreadyPending
    } else if s.status == IntentStatus::AtTerminal && !at_terminal_allowed {
        CancelStep::NeedsAtTerminalConsent
    } else {
        CancelStep::AskUpstream
    }
}

/// Whether a move to `next` may be applied to a row in state `s`.
/// `stale` is true when upstream's report is older than what was recorded.
pub fn may_move(s: Snapshot, from: MoveFrom, next: IntentStatus, stale: bool) -> bool {
    from.allows(s.status)
        && (!matches!(from, MoveFrom::Unsent) || s.unsent())
        && s.status.can_become(next)
        && !stale
}

/// The flag a move raises for people: Mercado Pago charged what a POS
/// asked to cancel, or what Puente had given up on. Never hidden.
pub fn attention_for(s: Snapshot, next: IntentStatus) -> Option<&'static str> {
    match next {
        IntentStatus::Processed if s.cancel_asked() => Some(PAID_AFTER_CANCEL),
        IntentStatus::Processed if s.status == IntentStatus::Failed => Some(PAID_AFTER_FAILURE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntentStatus::*;

    const CANCELS: [Option<CancelState>; 5] = [
        None,
        Some(CancelState::Requested),
        Some(CancelState::Accepted),
        Some(CancelState::Refused),
        Some(CancelState::Done),
    ];

    /// Every snapshot a row can be in (claimed or not, any cancel state).
    fn all_snapshots() -> impl Iterator<Item = Snapshot> {
        IntentStatus::ALL.iter().flat_map(|status| {
            [false, true].into_iter().flat_map(move |claimed| {
                CANCELS.into_iter().map(move |cancel| Snapshot {
                    status: *status,
                    claimed,
                    cancel,
                })
            })
        })
    }

    #[test]
    fn cancel_decision_for_every_state() {
        for s in all_snapshots() {
            for allowed in [false, true] {
                let expected = if s.status.is_final() {
                    CancelStep::AlreadyFinal
                } else if s.status == Queued && !s.claimed && s.cancel.is_none() {
                    CancelStep::CancelHere
                } else if matches!(
                    s.cancel,
                    Some(CancelState::Requested) | Some(CancelState::Accepted)
                ) {
                    CancelStep::AlreadyPending
                } else if s.status == AtTerminal && !allowed {
                    CancelStep::NeedsAtTerminalConsent
                } else {
                    CancelStep::AskUpstream
                };
                assert_eq!(cancel_step(s, allowed), expected, "{s:?} allowed={allowed}");
            }
        }
    }

    #[test]
    fn cancel_decisions_that_matter_for_money() {
        let at = |status, claimed, cancel| Snapshot {
            status,
            claimed,
            cancel,
        };
        // The bug this module exists for: a claimed queued intent may be
        // live upstream, so it is never canceled here.
        assert_eq!(
            cancel_step(at(Queued, true, None), false),
            CancelStep::AskUpstream
        );
        assert_eq!(
            cancel_step(at(Created, true, None), false),
            CancelStep::AskUpstream
        );
        assert_eq!(
            cancel_step(at(Queued, false, None), false),
            CancelStep::CancelHere
        );
        // Mercado Pago's rule: the terminal holds it, the caller must consent.
        assert_eq!(
            cancel_step(at(AtTerminal, true, None), false),
            CancelStep::NeedsAtTerminalConsent
        );
        assert_eq!(
            cancel_step(at(AtTerminal, true, None), true),
            CancelStep::AskUpstream
        );
        // A refused cancel can be asked again (now with consent, say).
        assert_eq!(
            cancel_step(at(AtTerminal, true, Some(CancelState::Refused)), true),
            CancelStep::AskUpstream
        );
        // Repeating a pending cancel changes nothing.
        assert_eq!(
            cancel_step(at(Created, true, Some(CancelState::Requested)), true),
            CancelStep::AlreadyPending
        );
    }

    #[test]
    fn reported_moves_follow_can_become_for_every_pair() {
        for s in all_snapshots() {
            for next in IntentStatus::ALL {
                assert_eq!(
                    may_move(s, MoveFrom::Reported, *next, false),
                    s.status.can_become(*next),
                    "{s:?} -> {next}"
                );
                assert!(
                    !may_move(s, MoveFrom::Reported, *next, true),
                    "a stale report never applies ({s:?} -> {next})"
                );
            }
        }
    }

    #[test]
    fn unsent_moves_need_an_unclaimed_row_without_a_cancel() {
        for s in all_snapshots() {
            let ok = may_move(s, MoveFrom::Unsent, Canceled, false);
            assert_eq!(
                ok,
                s.status == Queued && !s.claimed && s.cancel.is_none(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn only_moves_need_one_of_the_named_states() {
        let from = MoveFrom::Only(&[Created]);
        for s in all_snapshots() {
            for next in IntentStatus::ALL {
                assert_eq!(
                    may_move(s, from, *next, false),
                    s.status == Created && Created.can_become(*next),
                    "{s:?} -> {next}"
                );
            }
        }
    }

    #[test]
    fn a_payment_after_a_cancel_or_failure_is_flagged_and_nothing_else_is() {
        for s in all_snapshots() {
            for next in IntentStatus::ALL {
                let flag = attention_for(s, *next);
                let expected = match next {
                    Processed
                        if s.status == Canceled
                            || matches!(
                                s.cancel,
                                Some(
                                    CancelState::Requested
                                        | CancelState::Accepted
                                        | CancelState::Done
                                )
                            ) =>
                    {
                        Some(PAID_AFTER_CANCEL)
                    }
                    Processed if s.status == Failed => Some(PAID_AFTER_FAILURE),
                    _ => None,
                };
                assert_eq!(flag, expected, "{s:?} -> {next}");
            }
        }
        // Cancel requested, then the terminal's payment wins: recorded
        // processed, flagged.
        let racing = Snapshot {
            status: AtTerminal,
            claimed: true,
            cancel: Some(CancelState::Requested),
        };
        assert!(may_move(racing, MoveFrom::Reported, Processed, false));
        assert_eq!(attention_for(racing, Processed), Some(PAID_AFTER_CANCEL));
        // A canceled record that Mercado Pago reports paid moves to processed.
        let canceled = Snapshot {
            status: Canceled,
            claimed: true,
            cancel: Some(CancelState::Done),
        };
        assert!(may_move(canceled, MoveFrom::Reported, Processed, false));
    }
}
