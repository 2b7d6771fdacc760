//! Identifier and token shapes taken from the reference (ULIDs for orders,
//! UUIDs for intents, `APP_USR-…` access tokens, `TG-…` codes and refresh tokens).

use chrono::{DateTime, Utc};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn random_u128() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

pub fn random_u64() -> u64 {
    random_u128() as u64
}

/// A 26-character ULID: 48 bits of milliseconds then 80 random bits.
pub fn ulid(now: DateTime<Utc>) -> String {
    let ms = now.timestamp_millis().max(0) as u128 & ((1u128 << 48) - 1);
    let rand = random_u128() & ((1u128 << 80) - 1);
    let value = (ms << 80) | rand;
    (0..26)
        .rev()
        .map(|i| CROCKFORD[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

pub fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| CROCKFORD.contains(&b.to_ascii_uppercase()))
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

pub fn random_hex(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        out.push_str(&format!("{:032x}", random_u128()));
    }
    out.truncate(len);
    out
}

pub fn random_digits(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        out.push_str(&format!("{:038}", random_u128() % 10u128.pow(38)));
    }
    out.truncate(len);
    // Never start with 0 so the value survives a round trip through a number.
    if out.starts_with('0') {
        out.replace_range(0..1, "7");
    }
    out
}

/// `APP_USR-<client_id>-<MMddHH>-<hash>-<user_id>`.
pub fn access_token(client_id: &str, user_id: u64, now: DateTime<Utc>) -> String {
    format!(
        "APP_USR-{client_id}-{}-{}-{user_id}",
        now.format("%m%d%H"),
        random_hex(32)
    )
}

/// `TG-<hex>-<user_id>`, the shape of both authorization codes and refresh tokens.
pub fn tg_token(user_id: u64) -> String {
    format!("TG-{}-{user_id}", random_hex(24))
}

pub fn public_key() -> String {
    format!("APP_USR-{}", uuid())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(super::hex(&[]), "");
    }
}
