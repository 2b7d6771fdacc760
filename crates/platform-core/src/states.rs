//! Every status Puente stores, as an enum written to the database as text.
//!
//! Statuses that move over time (`IntentStatus`, `LinkStatus`, …) say which
//! moves are allowed; code changes a status only through those checks, so an
//! out-of-order notification cannot move an intent backwards.

use sea_orm::{DeriveActiveEnum, EnumIter};
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $(
                #[sea_orm(string_value = $text)]
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }

            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Which Mercado Pago API an integrator's intents go through.
    UpstreamApi { Orders = "orders", Legacy = "legacy" }
}

text_enum! {
    /// A dashboard user's role in their integrator; what each may do is
    /// [`crate::permissions`]' one table.
    UserRole { Owner = "owner", Admin = "admin", Developer = "developer", Operator = "operator", Viewer = "viewer" }
}

text_enum! {
    /// Whether Puente holds working credentials for a seller.
    LinkStatus { Linked = "linked", NeedsReconnect = "needs_reconnect", Unlinked = "unlinked" }
}

impl LinkStatus {
    pub fn can_become(self, next: LinkStatus) -> bool {
        use LinkStatus::*;
        matches!(
            (self, next),
            (Linked, NeedsReconnect)
                | (Linked, Unlinked)
                | (NeedsReconnect, Linked)
                | (NeedsReconnect, Unlinked)
                | (Unlinked, Linked)
        )
    }
}

text_enum! {
    OnboardingLinkStatus { Open = "open", Used = "used", Expired = "expired", Revoked = "revoked" }
}

text_enum! {
    /// A Point terminal's mode: integrated with a POS (`PDV`) or on its own.
    OperatingMode { Pdv = "PDV", Standalone = "STANDALONE", Undefined = "UNDEFINED" }
}

text_enum! {
    /// Mercado Pago sites Puente knows the rules of.
    Site { Mla = "MLA", Mlb = "MLB", Mlm = "MLM", Mlc = "MLC", Mco = "MCO", Mpe = "MPE", Mlu = "MLU" }
}

impl Site {
    pub fn currency(self) -> &'static str {
        match self {
            Site::Mla => "ARS",
            Site::Mlb => "BRL",
            Site::Mlm => "MXN",
            Site::Mlc => "CLP",
            Site::Mco => "COP",
            Site::Mpe => "PEN",
            Site::Mlu => "UYU",
        }
    }

    /// The ISO country of the site (`country_id` on Mercado Pago's users).
    pub fn country_id(self) -> &'static str {
        match self {
            Site::Mla => "AR",
            Site::Mlb => "BR",
            Site::Mlm => "MX",
            Site::Mlc => "CL",
            Site::Mco => "CO",
            Site::Mpe => "PE",
            Site::Mlu => "UY",
        }
    }

    /// Point amount limits in minor units, where Mercado Pago documents them.
    pub fn point_amount_limits(self) -> Option<(i64, i64)> {
        match self {
            Site::Mla => Some((500, 400_000_000)),
            Site::Mlb => Some((100, 7_000_000)),
            Site::Mlm => Some((500, 35_000_000)),
            _ => None,
        }
    }
}

text_enum! {
    /// A payment intent's life, in Puente's words (close to the Orders API).
    IntentStatus {
        Queued = "queued",
        Created = "created",
        AtTerminal = "at_terminal",
        Processed = "processed",
        Failed = "failed",
        Canceled = "canceled",
        Expired = "expired",
        ActionRequired = "action_required",
        Refunded = "refunded",
    }
}

impl IntentStatus {
    /// How far along an intent is; a move never goes to a lower stage.
    fn stage(self) -> u8 {
        use IntentStatus::*;
        match self {
            Queued => 0,
            Created => 1,
            AtTerminal => 2,
            Processed | Failed | Canceled | Expired | ActionRequired => 3,
            Refunded => 4,
        }
    }

    /// Final for the terminal: nothing more will happen on the device.
    /// (`Processed` can still be refunded, which is not a terminal action.)
    pub fn is_final(self) -> bool {
        self.stage() >= 3
    }

    /// Allowed moves. Steps may be skipped (a notification may arrive only
    /// for the outcome), but never reversed or repeated.
    pub fn can_become(self, next: IntentStatus) -> bool {
        use IntentStatus::*;
        match self {
            Queued | Created | AtTerminal => next.stage() > self.stage() && next != Refunded,
            Processed => next == Refunded,
            // Mercado Pago charged what Puente recorded canceled or gave up
            // on: the money is real, so the record follows it (and is flagged).
            Canceled | Failed => next == Processed,
            Expired | ActionRequired | Refunded => false,
        }
    }
}

text_enum! {
    /// A cancel asked of an intent already handed to the worker: `Requested`
    /// until Mercado Pago answers; `Accepted` when it took the cancel to the
    /// terminal (202, the terminal decides); `Refused` when it said no (the
    /// intent goes on); `Done` once canceled.
    CancelState { Requested = "requested", Accepted = "accepted", Refused = "refused", Done = "done" }
}

impl CancelState {
    /// Mercado Pago has not answered yet: the worker still has to act.
    pub fn awaits_upstream(self) -> bool {
        self == CancelState::Requested
    }
}

text_enum! {
    /// Who caused an intent event.
    EventSource { Api = "api", Dashboard = "dashboard", Worker = "worker", Notification = "notification", Sync = "sync" }
}

text_enum! {
    RefundStatus { Queued = "queued", Pending = "pending", Succeeded = "succeeded", Failed = "failed" }
}

impl RefundStatus {
    pub fn can_become(self, next: RefundStatus) -> bool {
        use RefundStatus::*;
        matches!(
            (self, next),
            (Queued, Pending)
                | (Queued, Succeeded)
                | (Queued, Failed)
                | (Pending, Succeeded)
                | (Pending, Failed)
        )
    }
}

text_enum! {
    QrOrderStatus { Active = "active", Paid = "paid", Canceled = "canceled", Expired = "expired" }
}

text_enum! {
    KeyMode { Live = "live", Test = "test" }
}

text_enum! {
    /// What an API key may do within its reach: everything, or only read
    /// (`GET`), for reporting tools.
    KeyAccess { Full = "full", ReadOnly = "read_only" }
}

text_enum! {
    /// How far an API key reaches: the whole integrator, or one seller, store or POS.
    ScopeKind { Integrator = "integrator", Seller = "seller", Store = "store", Pos = "pos" }
}

text_enum! {
    EndpointStatus { Enabled = "enabled", Disabled = "disabled" }
}

text_enum! {
    /// An outgoing webhook message: waiting for its next attempt, or settled.
    DeliveryStatus { Pending = "pending", Succeeded = "succeeded", Dead = "dead" }
}

text_enum! {
    NotificationStatus { Received = "received", Processed = "processed", Ignored = "ignored", Rejected = "rejected", Failed = "failed" }
}

text_enum! {
    ActorKind { User = "user", ApiKey = "api_key", System = "system", Seller = "seller" }
}

text_enum! {
    IdempotencyStatus { InProgress = "in_progress", Completed = "completed" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_only_move_forward() {
        use IntentStatus::*;
        assert!(Queued.can_become(Created));
        assert!(
            Queued.can_become(Processed),
            "a notification may skip steps"
        );
        assert!(Created.can_become(AtTerminal));
        assert!(AtTerminal.can_become(Canceled));
        assert!(Processed.can_become(Refunded));
        assert!(!AtTerminal.can_become(Created), "never backwards");
        assert!(!Created.can_become(Created), "never repeated");
        assert!(!Queued.can_become(Refunded), "refund needs a payment");
        // Final states never move, except to follow money Mercado Pago
        // reports: a refund, or a payment of what was canceled / given up on.
        for s in IntentStatus::ALL {
            for n in IntentStatus::ALL {
                let follows_money = matches!(
                    (*s, *n),
                    (Processed, Refunded) | (Canceled, Processed) | (Failed, Processed)
                );
                if s.is_final() && !follows_money {
                    assert!(!s.can_become(*n), "{s} is final but may become {n}");
                }
            }
        }
    }

    #[test]
    fn text_round_trip() {
        for s in IntentStatus::ALL {
            assert_eq!(IntentStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(OperatingMode::Pdv.as_str(), "PDV");
        assert_eq!(
            serde_json::to_string(&LinkStatus::NeedsReconnect).unwrap(),
            "\"needs_reconnect\""
        );
        assert_eq!(IntentStatus::parse("FINISHED"), None);
    }

    #[test]
    fn link_status_moves() {
        assert!(LinkStatus::Linked.can_become(LinkStatus::NeedsReconnect));
        assert!(LinkStatus::NeedsReconnect.can_become(LinkStatus::Linked));
        assert!(!LinkStatus::Linked.can_become(LinkStatus::Linked));
    }
}
