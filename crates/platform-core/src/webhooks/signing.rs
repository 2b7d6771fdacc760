//! Standard Webhooks signatures.
//!
//! A secret is `whsec_` followed by the base64 of random key bytes. The
//! signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the
//! signature is HMAC-SHA256 under the decoded key, base64-encoded, and sent
//! as `webhook-signature: v1,<sig>`. During a secret rotation both the new
//! and the previous secret sign, and the header carries both signatures
//! separated by a space; a receiver accepts the message if any matches.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::SecretString;

pub const SECRET_PREFIX: &str = "whsec_";
/// Random key bytes in a generated secret.
pub const SECRET_BYTES: usize = 32;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// A fresh `whsec_…` secret.
pub fn generate_secret() -> SecretString {
    let mut key = [0u8; SECRET_BYTES];
    rand::fill(&mut key);
    SecretString::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the secret is not `whsec_` followed by base64")]
    BadSecret,
    #[error("no `webhook-signature` matches")]
    NoMatch,
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is outside the tolerance")]
    Stale,
}

/// The HMAC key inside a `whsec_…` secret.
pub fn secret_key(secret: &SecretString) -> Result<Vec<u8>, SignatureError> {
    let s = secret.expose_secret();
    let b64 = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
    let key = STANDARD
        .decode(b64)
        .map_err(|_| SignatureError::BadSecret)?;
    if key.is_empty() {
        return Err(SignatureError::BadSecret);
    }
    Ok(key)
}

/// The bare base64 signature of one message under one secret.
pub fn sign(
    secret: &SecretString,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let key = secret_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SignatureError::BadSecret)?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header value: `v1,<sig>` for each secret, in order.
pub fn signature_header(
    secrets: &[&SecretString],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let mut parts = Vec::with_capacity(secrets.len());
    for s in secrets {
        parts.push(format!("v1,{}", sign(s, msg_id, timestamp, body)?));
    }
    Ok(parts.join(" "))
}

/// What a receiver does: accepts if any `v1` signature in `header` matches
/// under `secret` and the timestamp is within `tolerance_secs` of `now`.
pub fn verify(
    secret: &SecretString,
    msg_id: &str,
    timestamp: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    let expected = sign(secret, msg_id, ts, body)?;
    let matched = header
        .split_whitespace()
        .filter_map(|p| p.strip_prefix("v1,"))
        .any(|sig| bool::from(sig.as_bytes().ct_eq(expected.as_bytes())));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent computation with the primitives, not through `sign`.
    fn reference(key: &[u8], content: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(content.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn matches_an_independent_hmac() {
        let key = b"0123456789abcdef0123456789abcdef";
        let secret = SecretString::new(format!("whsec_{}", STANDARD.encode(key)));
        let body = br#"{"id":"evt_1","type":"seller.linked"}"#;
        let got = sign(&secret, "msg_abc", 1_700_000_000, body).unwrap();
        let want = reference(
            key,
            r#"msg_abc.1700000000.{"id":"evt_1","type":"seller.linked"}"#,
        );
        assert_eq!(got, want);
        // A fixed vector, computed once with `openssl dgst -sha256 -hmac`:
        // printf 'msg_abc.1700000000.{"id":"evt_1","type":"seller.linked"}' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef -binary | base64
        assert_eq!(got, "ExrYo9yvCX4ir8nn7bjxDnmkD4j1pWakVLofQIMJkW0=");
    }

    #[test]
    fn rotation_sends_both_and_either_verifies() {
        let new = generate_secret();
        let old = generate_secret();
        assert!(new.expose_secret().starts_with("whsec_"));
        assert_eq!(secret_key(&new).unwrap().len(), SECRET_BYTES);
        let body = b"{}";
        let h = signature_header(&[&new, &old], "msg_1", 100, body).unwrap();
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            format!("v1,{}", sign(&new, "msg_1", 100, body).unwrap())
        );
        assert_eq!(
            parts[1],
            format!("v1,{}", sign(&old, "msg_1", 100, body).unwrap())
        );
        assert_eq!(verify(&new, "msg_1", "100", &h, body, 100, 300), Ok(()));
        assert_eq!(verify(&old, "msg_1", "100", &h, body, 100, 300), Ok(()));
        let other = generate_secret();
        assert_eq!(
            verify(&other, "msg_1", "100", &h, body, 100, 300),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn tampering_and_staleness_fail() {
        let s = generate_secret();
        let h = signature_header(&[&s], "msg_1", 100, b"{\"a\":1}").unwrap();
        assert_eq!(
            verify(&s, "msg_1", "100", &h, b"{\"a\":2}", 100, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&s, "msg_2", "100", &h, b"{\"a\":1}", 100, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&s, "msg_1", "101", &h, b"{\"a\":1}", 101, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&s, "msg_1", "100", &h, b"{\"a\":1}", 1000, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&s, "msg_1", "x", &h, b"{\"a\":1}", 100, 300),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            sign(&SecretString::from("whsec_***"), "m", 1, b""),
            Err(SignatureError::BadSecret)
        );
    }
}
