//! Prefixed, time-sortable identifiers (`sel_01jq…`).
//!
//! An id is a UUIDv7 (48-bit millisecond timestamp + randomness) written in
//! lower-case Crockford base32 behind a short prefix naming its kind. Ids
//! sort by creation time as plain strings, which keeps cursor pagination a
//! simple `id < cursor` on every database, and the prefix makes an id pasted
//! in the wrong place fail loudly instead of matching nothing.
//!
//! Each kind is also a sea-orm value type (a text column), so entity rows,
//! `Column::X.eq(&id)` and function parameters carry the kind, not a bare
//! string. Reading one back from the database does not re-check the prefix
//! (the row is ours); input from outside goes through `parse`.

use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// 128 bits in base32 need 26 characters (the first carries 3 bits).
const ENCODED_LEN: usize = 26;

/// Encodes 128 bits as 26 Crockford base32 characters, most significant first.
fn encode(value: u128) -> String {
    let mut out = [0u8; ENCODED_LEN];
    let mut v = value;
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 0x1f) as usize];
        v >>= 5;
    }
    // The alphabet is ASCII, so this cannot fail.
    String::from_utf8(out.to_vec()).expect("ascii")
}

fn is_valid_body(body: &str) -> bool {
    body.len() == ENCODED_LEN
        && body.bytes().all(|b| ALPHABET.contains(&b))
        // The first character holds only the top 3 bits of 128.
        && body.as_bytes()[0] <= b'7'
}

/// A fresh id body (no prefix), time-ordered.
pub fn new_body() -> String {
    encode(uuid::Uuid::now_v7().as_u128())
}

macro_rules! define_ids {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal, $kind:literal;)*) => {
        $(
            $(#[$doc])*
            #[derive(
                Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
                serde::Serialize, serde::Deserialize, sea_orm::DeriveValueType,
            )]
            #[serde(try_from = "String", into = "String")]
            pub struct $name(String);

            /// Never called: ids are text, not auto-increment keys.
            impl sea_orm::TryFromU64 for $name {
                fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                    Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
                }
            }

            impl From<&$name> for sea_orm::Value {
                fn from(id: &$name) -> sea_orm::Value {
                    id.0.as_str().into()
                }
            }

            impl $name {
                pub const PREFIX: &'static str = $prefix;
                /// What it names, in "not found" errors (`seller`, `payment intent`, …).
                pub const KIND: &'static str = $kind;

                pub fn new() -> Self {
                    Self(format!("{}_{}", $prefix, new_body()))
                }

                /// Accepts only a well-formed id of this kind.
                pub fn parse(s: &str) -> Result<Self, InvalidId> {
                    match s.strip_prefix(concat!($prefix, "_")) {
                        Some(body) if is_valid_body(body) => Ok(Self(s.to_owned())),
                        _ => Err(InvalidId { expected: $prefix }),
                    }
                }

                /// [`parse`](Self::parse) for an id a request or a message
                /// brought: a malformed one is not found, exactly as a
                /// well-formed id that names nothing.
                pub fn parse_or_not_found(s: &str) -> Result<Self, crate::error::CoreError> {
                    Self::parse(s).map_err(|_| crate::error::CoreError::NotFound { kind: $kind })
                }

                pub fn as_str(&self) -> &str {
                    &self.0
                }

                pub fn into_string(self) -> String {
                    self.0
                }
            }

            impl Default for $name {
                fn default() -> Self {
                    Self::new()
                }
            }

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(&self.0)
                }
            }

            impl fmt::Debug for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(&self.0)
                }
            }

            impl std::str::FromStr for $name {
                type Err = InvalidId;
                fn from_str(s: &str) -> Result<Self, InvalidId> {
                    Self::parse(s)
                }
            }

            impl TryFrom<String> for $name {
                type Error = InvalidId;
                fn try_from(s: String) -> Result<Self, InvalidId> {
                    Self::parse(&s)
                }
            }

            impl From<&$name> for $name {
                fn from(id: &$name) -> $name {
                    id.clone()
                }
            }

            impl From<$name> for String {
                fn from(id: $name) -> String {
                    id.0
                }
            }

            impl AsRef<str> for $name {
                fn as_ref(&self) -> &str {
                    &self.0
                }
            }
        )*
    };
}

define_ids! {
    /// An integrator (organization), the top-level tenant.
    IntegratorId = "org", "integrator";
    /// A dashboard user of an integrator.
    UserId = "usr", "user";
    /// A seller: one linked Mercado Pago account.
    SellerId = "sel", "seller";
    SellerCredentialId = "crd", "seller credentials";
    OnboardingLinkId = "lnk", "onboarding link";
    OAuthStateId = "oas", "oauth state";
    StoreId = "sto", "store";
    PosId = "pos", "POS";
    TerminalId = "trm", "terminal";
    PaymentIntentId = "pi", "payment intent";
    IntentEventId = "pie", "payment intent event";
    RefundId = "rfd", "refund";
    QrOrderId = "qro", "QR order";
    ApiKeyId = "key", "API key";
    WebhookEndpointId = "wep", "webhook endpoint";
    EventId = "evt", "event";
    /// One outgoing webhook message (also its `webhook-id` header).
    WebhookDeliveryId = "msg", "webhook delivery";
    WebhookAttemptId = "atm", "webhook attempt";
    InboundNotificationId = "ntf", "notification";
    AuditEntryId = "aud", "audit entry";
    IdempotencyRecordId = "idk", "idempotency record";
    /// A single-use invitation to join an integrator's team.
    InvitationId = "inv", "invitation";
}

/// A string that is not a well-formed id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid `{expected}_…` id")]
pub struct InvalidId {
    pub expected: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_fixed_length() {
        let id = SellerId::new();
        assert!(id.as_str().starts_with("sel_"));
        assert_eq!(id.as_str().len(), 4 + ENCODED_LEN);
        assert_eq!(SellerId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let mut ids: Vec<String> = Vec::new();
        for _ in 0..50 {
            ids.push(PaymentIntentId::new().into_string());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn wrong_prefix_or_body_is_rejected() {
        let seller = SellerId::new();
        assert_eq!(
            StoreId::parse(seller.as_str()),
            Err(InvalidId { expected: "sto" })
        );
        assert!(SellerId::parse("sel_").is_err());
        assert!(SellerId::parse("sel_ILOU0000000000000000000000").is_err());
        assert!(SellerId::parse("sel_8zzzzzzzzzzzzzzzzzzzzzzzzz").is_err());
        assert!(SellerId::parse("sel_01jq4s4ky8hwq6na5pxb65b3d3").is_ok());
    }

    #[test]
    fn ids_are_text_values() {
        use sea_orm::sea_query::{ColumnType, Value, ValueType};
        let id = TerminalId::new();
        assert_eq!(Value::from(&id), Value::from(id.as_str()));
        assert_eq!(
            <TerminalId as ValueType>::try_from(Value::from(id.clone())).unwrap(),
            id
        );
        assert!(matches!(
            <TerminalId as ValueType>::column_type(),
            ColumnType::String(_) | ColumnType::Text
        ));
    }

    #[test]
    fn encode_is_big_endian_base32() {
        assert_eq!(encode(0), "0".repeat(26));
        assert_eq!(encode(u128::MAX), format!("7{}", "z".repeat(25)));
        assert_eq!(encode(33), format!("{}11", "0".repeat(24)));
    }
}
