//! Mercado Pago-shaped ids for Puente intents, decided at creation and
//! stable for the intent's life (docs/mp-compat.md): a Puente intent id
//! `pi_<26 Crockford base32>` is already a ULID-sized value, so the order is
//! `ORD<the same 26 characters, upper case>`, its payment `PAY<…>`, and the
//! legacy payment-intent id the same 128 bits written as a UUID.

use platform_core::id::{PaymentIntentId, RefundId};

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

fn body(intent_id: &PaymentIntentId) -> &str {
    let id = intent_id.as_str();
    id.strip_prefix("pi_").unwrap_or(id)
}

pub fn order_id(intent_id: &PaymentIntentId) -> String {
    format!("ORD{}", body(intent_id).to_ascii_uppercase())
}

pub fn payment_id(intent_id: &PaymentIntentId) -> String {
    format!("PAY{}", body(intent_id).to_ascii_uppercase())
}

/// `rfd_…` → `REF…`.
pub fn refund_id(refund_id: &RefundId) -> String {
    let id = refund_id.as_str();
    format!(
        "REF{}",
        id.strip_prefix("rfd_").unwrap_or(id).to_ascii_uppercase()
    )
}

fn from_prefixed(prefix: &str, s: &str) -> Option<PaymentIntentId> {
    let rest = s.strip_prefix(prefix)?;
    let id = format!("pi_{}", rest.to_ascii_lowercase());
    PaymentIntentId::parse(&id).ok()
}

/// `ORD…` → `pi_…`, if it is one of ours.
pub fn intent_from_order(s: &str) -> Option<PaymentIntentId> {
    from_prefixed("ORD", s)
}

/// `PAY…` → `pi_…`, if it is one of ours.
pub fn intent_from_payment(s: &str) -> Option<PaymentIntentId> {
    from_prefixed("PAY", s)
}

fn decode(body: &str) -> Option<u128> {
    if body.len() != 26 {
        return None;
    }
    body.bytes().try_fold(0u128, |acc, b| {
        let digit = ALPHABET.iter().position(|&c| c == b.to_ascii_lowercase())? as u128;
        acc.checked_mul(32)?.checked_add(digit)
    })
}

fn encode(mut v: u128) -> String {
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 0x1f) as usize];
        v >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("ascii")
}

/// `pi_…` → the legacy API's UUID form.
pub fn legacy_id(intent_id: &PaymentIntentId) -> String {
    decode(body(intent_id))
        .map(|v| uuid::Uuid::from_u128(v).hyphenated().to_string())
        .unwrap_or_else(|| intent_id.to_string())
}

/// A legacy UUID → `pi_…`, if it is one of ours.
pub fn intent_from_legacy(s: &str) -> Option<PaymentIntentId> {
    let v = uuid::Uuid::parse_str(s).ok()?.as_u128();
    let id = format!("pi_{}", encode(v));
    PaymentIntentId::parse(&id).ok()
}

/// A legacy `payment.id` for an intent whose Mercado Pago payment id is not
/// a number (the Orders upstream's `PAY…`): typed SDKs decode it as an
/// integer. The intent's random low 53 bits (a JSON-safe integer), offset so
/// it never collides with a small number; stable, derivable, no storage.
pub fn payment_number(intent_id: &PaymentIntentId) -> i64 {
    let bits = decode(body(intent_id)).unwrap_or(0) & ((1u128 << 53) - 1);
    // Fits: 2^53 - 1 is below i64::MAX.
    bits as i64 | (1 << 52)
}

/// A number for a Puente id (a QR order's `qro_…`, a refund's `rfd_…`), where
/// Mercado Pago shows a numeric id: its random low 53 bits, like
/// [`payment_number`].
pub fn id_number(id: &str) -> i64 {
    let body = id.split_once('_').map_or(id, |(_, b)| b);
    let bits = decode(body).unwrap_or(0) & ((1u128 << 53) - 1);
    bits as i64 | (1 << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = PaymentIntentId::new();
        let ord = order_id(&id);
        assert!(ord.starts_with("ORD") && ord.len() == 29, "{ord}");
        assert!(
            ord[3..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert_eq!(intent_from_order(&ord).as_ref(), Some(&id));
        assert_eq!(intent_from_payment(&payment_id(&id)).as_ref(), Some(&id));
        let uuid = legacy_id(&id);
        assert_eq!(uuid.len(), 36);
        assert_eq!(intent_from_legacy(&uuid).as_ref(), Some(&id));
        assert!(intent_from_order("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3").is_some());
        assert_eq!(intent_from_order("ORDnope"), None);
        assert_eq!(intent_from_legacy("not-a-uuid"), None);
    }

    #[test]
    fn payment_numbers_are_stable_safe_integers() {
        let a = PaymentIntentId::new();
        let b = PaymentIntentId::new();
        assert_eq!(payment_number(&a), payment_number(&a));
        assert_ne!(payment_number(&a), payment_number(&b));
        for id in [&a, &b] {
            let n = payment_number(id);
            assert!((1 << 52..1 << 53).contains(&n), "{n}");
        }
    }
}
