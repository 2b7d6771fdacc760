//! Sandbox records and their state machines (reference 2.9 and 3.6).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Legacy payment-intent states (upper case on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentState {
    Open,
    OnTerminal,
    Processing,
    Processed,
    Finished,
    ConfirmationRequired,
    Canceled,
    Error,
    Abandoned,
}

impl IntentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::OnTerminal => "ON_TERMINAL",
            Self::Processing => "PROCESSING",
            Self::Processed => "PROCESSED",
            Self::Finished => "FINISHED",
            Self::ConfirmationRequired => "CONFIRMATION_REQUIRED",
            Self::Canceled => "CANCELED",
            Self::Error => "ERROR",
            Self::Abandoned => "ABANDONED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Finished
                | Self::ConfirmationRequired
                | Self::Canceled
                | Self::Error
                | Self::Abandoned
        )
    }

    /// The documented edges: OPEN → ON_TERMINAL → PROCESSING → PROCESSED → final,
    /// OPEN → CANCELED | ABANDONED, ON_TERMINAL → CANCELED.
    pub fn can_go(self, to: IntentState) -> bool {
        use IntentState::*;
        matches!(
            (self, to),
            (Open, OnTerminal | Canceled | Abandoned)
                | (OnTerminal, Processing | Canceled | Abandoned)
                | (Processing, Processed | Error)
                | (Processed, Finished | ConfirmationRequired | Error)
        )
    }
}

/// What the simulated terminal decides for a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Rejected,
    Reversed,
    Error,
    ConfirmationRequired,
    ActionRequired,
}

impl Outcome {
    /// Point Simulator amounts (reference 2.9): 1100 reversed, 1200 rejected, 1300 error.
    pub fn from_cents(cents: i64) -> Self {
        match cents {
            1100 => Self::Reversed,
            1200 => Self::Rejected,
            1300 => Self::Error,
            _ => Self::Approved,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "approved" | "processed" | "approve" => Self::Approved,
            "rejected" | "failed" | "reject" => Self::Rejected,
            "reversed" => Self::Reversed,
            "error" => Self::Error,
            "confirmation_required" => Self::ConfirmationRequired,
            "action_required" => Self::ActionRequired,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Intent {
    pub id: String,
    pub user_id: u64,
    pub client_id: String,
    pub device_id: String,
    pub amount: i64,
    pub description: Option<String>,
    /// The `payment` object as requested (type, installments, …).
    pub payment_req: Value,
    pub additional_info: Value,
    pub state: IntentState,
    pub payment_id: Option<u64>,
    /// The payment's own status once charged (`approved`, `rejected`, …).
    pub payment_state: Option<String>,
    pub created_at: DateTime<Utc>,
    pub history: Vec<(IntentState, DateTime<Utc>)>,
    pub next_step_at: Option<DateTime<Utc>>,
    /// When an untouched intent is abandoned (OPEN) or times out on the terminal.
    pub deadline: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    /// The `X-Idempotency-Key` it was created with (its key goes with it).
    pub idem_key: Option<String>,
    pub marks: Marks,
}

/// Legacy refund intents reuse the intent states minus PROCESSED/CONFIRMATION_REQUIRED.
#[derive(Clone, Debug)]
pub struct RefundIntent {
    pub id: String,
    pub user_id: u64,
    pub device_id: String,
    pub payment_id: u64,
    pub additional_info: Value,
    pub state: IntentState,
    pub next_step_at: Option<DateTime<Utc>>,
    pub marks: Marks,
}

/// Bookkeeping of a terminal's work item for the indexes in `work.rs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// The time it is filed under in the schedule, if any.
    pub sched: Option<DateTime<Utc>>,
    /// When it was filed as finished in the retention queue.
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    Created,
    AtTerminal,
    Processed,
    Failed,
    Canceled,
    Expired,
    Refunded,
    ActionRequired,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AtTerminal => "at_terminal",
            Self::Processed => "processed",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::ActionRequired => "action_required",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => Self::Created,
            "at_terminal" => Self::AtTerminal,
            "processed" => Self::Processed,
            "failed" => Self::Failed,
            "canceled" => Self::Canceled,
            "expired" => Self::Expired,
            "refunded" => Self::Refunded,
            "action_required" => Self::ActionRequired,
            _ => return None,
        })
    }

    /// Still waiting for, or on, the terminal: blocks another order on it.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Created | Self::AtTerminal)
    }

    /// Reference 3.6: created → at_terminal | canceled | expired;
    /// at_terminal → processed | failed | canceled | action_required | expired;
    /// processed → refunded.
    pub fn can_go(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Created, AtTerminal | Canceled | Expired)
                | (
                    AtTerminal,
                    Processed | Failed | Canceled | ActionRequired | Expired
                )
                | (Processed, Refunded)
        )
    }

    /// The webhook action for entering this status, if it has one.
    pub fn action(self) -> Option<&'static str> {
        Some(match self {
            Self::Processed => "order.processed",
            Self::Canceled => "order.canceled",
            Self::Refunded => "order.refunded",
            Self::ActionRequired => "order.action_required",
            Self::Failed => "order.failed",
            Self::Expired => "order.expired",
            Self::Created | Self::AtTerminal => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct OrderPayment {
    pub id: String,
    pub amount: String,
    pub amount_cents: i64,
    pub status: String,
    pub status_detail: String,
    pub paid_cents: Option<i64>,
    pub refunded_cents: i64,
    /// `(id, type, installments)` once the buyer paid.
    pub method: Option<(String, String, u32)>,
    pub reference_id: Option<String>,
    /// When the terminal charged it (its Payments API `date_created`).
    pub charged_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct OrderRefund {
    pub id: String,
    pub transaction_id: String,
    pub reference_id: String,
    pub amount_cents: i64,
    pub status: String,
    pub at: DateTime<Utc>,
}

/// A forced outcome from `POST /v1/orders/{id}/events` or a terminal helper.
#[derive(Clone, Debug)]
pub struct ForcedOrder {
    pub status: OrderStatus,
    pub status_detail: Option<String>,
    pub method_type: Option<String>,
    pub method_id: Option<String>,
    pub installments: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub user_id: u64,
    pub client_id: String,
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub expiration_time: String,
    pub expires_at: DateTime<Utc>,
    pub country_code: String,
    pub currency: String,
    /// Kept serialized (as shown), like `payment_method_cfg`: a few hundred
    /// bytes instead of a tree of maps per order.
    pub integration_data: Box<serde_json::value::RawValue>,
    pub status: OrderStatus,
    pub status_detail: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub terminal_id: String,
    pub print_on_terminal: String,
    pub point_extra: Value,
    pub payment_method_cfg: Option<Box<serde_json::value::RawValue>>,
    pub payment: OrderPayment,
    pub refunds: Vec<OrderRefund>,
    pub version: u32,
    pub next_step_at: Option<DateTime<Utc>>,
    pub forced: Option<ForcedOrder>,
    pub cancel_requested: bool,
    /// The `X-Idempotency-Key` it was created with (its key goes with it).
    pub idem_key: String,
    pub marks: Marks,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatingMode {
    Pdv,
    Standalone,
    /// Read-only value MP reports for terminals never configured; sandbox terminals start in PDV.
    #[allow(dead_code)]
    Undefined,
}

impl OperatingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdv => "PDV",
            Self::Standalone => "STANDALONE",
            Self::Undefined => "UNDEFINED",
        }
    }

    /// Only PDV and STANDALONE can be set; UNDEFINED is read-only.
    pub fn parse_settable(s: &str) -> Option<Self> {
        match s {
            "PDV" => Some(Self::Pdv),
            "STANDALONE" => Some(Self::Standalone),
            _ => None,
        }
    }
}

/// How a simulated terminal treats queued work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TerminalMode {
    /// Picks work up and completes it by itself, following the timings.
    #[default]
    Auto,
    /// Waits for a person (or `/sandbox/terminals/{id}/charge`) to press "charge".
    Manual,
}

#[derive(Clone, Debug)]
pub struct Terminal {
    pub id: String,
    pub user_id: u64,
    pub store_id: u64,
    pub pos_id: u64,
    pub operating_mode: OperatingMode,
    pub mode: TerminalMode,
}

#[derive(Clone, Debug)]
pub struct Charge {
    pub terminal_id: String,
    pub user_id: u64,
    pub kind: &'static str,
    pub resource_id: String,
    pub payment_id: String,
    pub amount_cents: i64,
    pub status: String,
    pub external_reference: Option<String>,
    pub at: DateTime<Utc>,
}

/// Every charge the terminals made, in order, findable by the intent or
/// order it belongs to (one charge each), so eviction can drop it.
#[derive(Debug, Default)]
pub struct Charges {
    list: std::collections::BTreeMap<u64, Charge>,
    by_resource: std::collections::HashMap<String, u64>,
    next: u64,
}

impl Charges {
    pub fn push(&mut self, c: Charge) {
        self.next += 1;
        self.by_resource.insert(c.resource_id.clone(), self.next);
        self.list.insert(self.next, c);
    }

    /// The charge of an intent or order.
    pub fn of_mut(&mut self, resource_id: &str) -> Option<&mut Charge> {
        let seq = self.by_resource.get(resource_id)?;
        self.list.get_mut(seq)
    }

    pub fn remove_of(&mut self, resource_id: &str) -> bool {
        match self.by_resource.remove(resource_id) {
            Some(seq) => self.list.remove(&seq).is_some(),
            None => false,
        }
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Charge> {
        self.list.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Charge> {
        self.list.values_mut()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}
