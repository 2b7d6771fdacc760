//! Random bearer tokens and their stored hashes (sessions, onboarding
//! links, OAuth `state`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::secret::SecretString;

/// 32 random bytes, base64url: 43 characters, 256 bits.
pub fn random_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    SecretString::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored in place of a token: lookups by hash, nothing to steal.
pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a string can be a token from [`random_token`] (cheap pre-check
/// before touching the database with attacker input).
pub fn looks_like_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_checkable() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(looks_like_token(a.expose_secret()));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&"a".repeat(42).replace('a', "%")));
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
