//! Verifying `x-signature` on inbound notifications (§4.6).
//!
//! Header `ts=<ts>,v1=<hex>`; manifest `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`
//! with pairs whose value is missing dropped; HMAC-SHA256 keyed by the app's
//! secret signature, lower-case hex. Two points are disputed by the sources,
//! so both readings are accepted:
//! - `data.id` casing: the SDKs sign it as received, the docs say lower-case
//!   alphanumerics. We try as received first, then lower-cased.
//! - `ts` unit: milliseconds in the Point example, seconds elsewhere. `ts` is
//!   used verbatim in the HMAC; only the freshness check guesses the unit.

use crate::secret::SecretString;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// What a valid signature told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// `ts` as sent.
    pub ts: String,
    pub ts_unit: TsUnit,
    /// When the notification was signed.
    pub signed_at: DateTime<Utc>,
    /// Whether it matched only with `data.id` lower-cased.
    pub data_id_lowercased: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsUnit {
    Seconds,
    Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("x-signature is malformed: {0}")]
    Malformed(&'static str),
    #[error("x-signature has no ts")]
    MissingTs,
    #[error("x-signature has no v1")]
    MissingV1,
    #[error("x-signature ts is not a timestamp")]
    BadTimestamp,
    #[error("notification is outside the freshness window ({age_secs} s from now)")]
    Stale { age_secs: i64 },
    #[error("x-signature does not match")]
    Mismatch,
}

/// Verifies a notification. `data_id` is the `data.id` **query** parameter
/// (not the body's); `x_request_id` is the header. `now` and `tolerance`
/// bound the age of `ts` in both directions (clock skew).
pub fn verify_signature(
    x_signature: &str,
    x_request_id: Option<&str>,
    data_id: Option<&str>,
    secret: &SecretString,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<SignatureInfo, SignatureError> {
    let (ts, v1s) = parse_header(x_signature)?;
    let (signed_at, ts_unit) = parse_ts(&ts)?;
    let age_secs = now.signed_duration_since(signed_at).num_seconds();
    if age_secs.unsigned_abs() > tolerance.as_secs() {
        return Err(SignatureError::Stale { age_secs });
    }
    let macs: Vec<Vec<u8>> = v1s.iter().filter_map(|v| decode_hex(v)).collect();
    let request_id = present(x_request_id);
    let data_id = present(data_id);

    let mut candidates = vec![(data_id.map(str::to_string), false)];
    if let Some(id) = data_id {
        let lower = id.to_lowercase();
        if lower != id {
            candidates.push((Some(lower), true));
        }
    }
    for (id, lowercased) in candidates {
        let manifest = manifest(id.as_deref(), request_id, &ts);
        for mac in &macs {
            if hmac_matches(secret, &manifest, mac) {
                return Ok(SignatureInfo {
                    ts,
                    ts_unit,
                    signed_at,
                    data_id_lowercased: lowercased,
                });
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// An empty header or query value counts as missing (its pair is dropped).
fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Split on `,`, then on the first `=`; trim; ignore unknown keys (future
/// `v2`...). Several `v1` values are all tried (secret rotation).
fn parse_header(h: &str) -> Result<(String, Vec<String>), SignatureError> {
    let mut ts = None;
    let mut v1 = Vec::new();
    for part in h.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or(SignatureError::Malformed("a part has no '='"))?;
        let (k, v) = (k.trim(), v.trim());
        match k {
            "ts" if ts.is_some() => return Err(SignatureError::Malformed("ts appears twice")),
            "ts" if !v.is_empty() => ts = Some(v.to_string()),
            "v1" if !v.is_empty() => v1.push(v.to_string()),
            _ => {}
        }
    }
    let ts = ts.ok_or(SignatureError::MissingTs)?;
    if v1.is_empty() {
        return Err(SignatureError::MissingV1);
    }
    Ok((ts, v1))
}

/// 12 or more digits can only be milliseconds (10^12 s is the year 33658).
fn parse_ts(ts: &str) -> Result<(DateTime<Utc>, TsUnit), SignatureError> {
    if ts.is_empty() || ts.len() > 16 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp);
    }
    let n: i64 = ts.parse().map_err(|_| SignatureError::BadTimestamp)?;
    let (at, unit) = if ts.len() >= 12 {
        (DateTime::from_timestamp_millis(n), TsUnit::Millis)
    } else {
        (DateTime::from_timestamp(n, 0), TsUnit::Seconds)
    };
    Ok((at.ok_or(SignatureError::BadTimestamp)?, unit))
}

fn manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut m = String::new();
    if let Some(id) = data_id {
        m.push_str(&format!("id:{id};"));
    }
    if let Some(r) = request_id {
        m.push_str(&format!("request-id:{r};"));
    }
    m.push_str(&format!("ts:{ts};"));
    m
}

/// Constant-time comparison through `Mac::verify_slice`.
fn hmac_matches(secret: &SecretString, manifest: &str, expected: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
        return false;
    };
    mac.update(manifest.as_bytes());
    mac.verify_slice(expected).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    let nib = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Signs a manifest the way Mercado Pago does; for tests of this module and of callers.
#[cfg(any(test, feature = "test-support"))]
pub fn sign(secret: &str, data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(manifest(data_id, request_id, ts).as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("ts={ts},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec-test";
    const ID: &str = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3";
    const RID: &str = "2066ca19-c6f1-498a-be75-1923005edd06";
    const TOL: Duration = Duration::from_secs(300);

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_742_505_638_683).unwrap()
    }

    fn verify(
        h: &str,
        rid: Option<&str>,
        id: Option<&str>,
    ) -> Result<SignatureInfo, SignatureError> {
        verify_signature(h, rid, id, &SecretString::from(SECRET), now(), TOL)
    }

    #[test]
    fn millis_ts_as_received_id() {
        let h = sign(SECRET, Some(ID), Some(RID), "1742505638683");
        let info = verify(&h, Some(RID), Some(ID)).unwrap();
        assert_eq!(info.ts_unit, TsUnit::Millis);
        assert!(!info.data_id_lowercased);
        assert_eq!(info.signed_at, now());
    }

    #[test]
    fn seconds_ts_and_lowercased_id() {
        let h = sign(SECRET, Some(&ID.to_lowercase()), Some(RID), "1742505600");
        let info = verify(&h, Some(RID), Some(ID)).unwrap();
        assert_eq!(info.ts_unit, TsUnit::Seconds);
        assert!(info.data_id_lowercased);
    }

    #[test]
    fn missing_request_id_and_data_id_are_dropped_from_manifest() {
        let h = sign(SECRET, Some(ID), None, "1742505638683");
        assert!(verify(&h, None, Some(ID)).is_ok());
        assert!(verify(&h, Some(""), Some(ID)).is_ok());
        // The sender had a request id the receiver did not see: no match.
        assert_eq!(
            verify(&h, Some(RID), Some(ID)),
            Err(SignatureError::Mismatch)
        );
        let h = sign(SECRET, None, Some(RID), "1742505638683");
        assert!(verify(&h, Some(RID), None).is_ok());
        let h = sign(SECRET, None, None, "1742505638683");
        assert!(verify(&h, None, None).is_ok());
    }

    #[test]
    fn stale_and_future_timestamps() {
        let h = sign(SECRET, Some(ID), Some(RID), "1742505000000");
        assert!(matches!(
            verify(&h, Some(RID), Some(ID)),
            Err(SignatureError::Stale { age_secs: 638 })
        ));
        let h = sign(SECRET, Some(ID), Some(RID), "1742506000");
        assert!(matches!(
            verify(&h, Some(RID), Some(ID)),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn header_shapes() {
        let good = sign(SECRET, Some(ID), Some(RID), "1742505638683");
        let v1 = good.split_once(",v1=").unwrap().1;
        // Spaces, reordering, unknown keys, a future v2 and an '=' inside a value.
        let h = format!(" v2=abc=def , v1 = {v1} ,ts=1742505638683, foo=bar");
        assert!(verify(&h, Some(RID), Some(ID)).is_ok());
        // Upper-case hex is the same MAC.
        let h = format!("ts=1742505638683,v1={}", v1.to_uppercase());
        assert!(verify(&h, Some(RID), Some(ID)).is_ok());
        // A second, wrong v1 (rotation) does not hide the right one.
        let h = format!("ts=1742505638683,v1={},v1={v1}", "0".repeat(64));
        assert!(verify(&h, Some(RID), Some(ID)).is_ok());

        assert_eq!(verify("", None, None), Err(SignatureError::MissingTs));
        assert_eq!(
            verify(&format!("v1={v1}"), None, None),
            Err(SignatureError::MissingTs)
        );
        assert_eq!(
            verify("ts=1742505638683", None, None),
            Err(SignatureError::MissingV1)
        );
        assert_eq!(
            verify("ts=1742505638683,v1=", None, None),
            Err(SignatureError::MissingV1)
        );
        assert!(matches!(
            verify("garbage", None, None),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify("ts=1,ts=2,v1=00", None, None),
            Err(SignatureError::Malformed(_))
        ));
        for ts in ["abc", "-5", "1.5", "99999999999999999"] {
            assert_eq!(
                verify(&format!("ts={ts},v1={v1}"), None, None),
                Err(SignatureError::BadTimestamp),
                "{ts}"
            );
        }
        assert_eq!(
            verify("ts=1742505638683,v1=zz", Some(RID), Some(ID)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn wrong_secret_or_tampered_id() {
        let h = sign("other", Some(ID), Some(RID), "1742505638683");
        assert_eq!(
            verify(&h, Some(RID), Some(ID)),
            Err(SignatureError::Mismatch)
        );
        let h = sign(SECRET, Some(ID), Some(RID), "1742505638683");
        assert_eq!(
            verify(&h, Some(RID), Some("ORD01JQ4S4KY8HWQ6NA5PXB65B3D4")),
            Err(SignatureError::Mismatch)
        );
        // Only lower-casing is tried, never upper-casing.
        let h = sign(SECRET, Some(ID), Some(RID), "1742505638683");
        assert_eq!(
            verify(&h, Some(RID), Some(&ID.to_lowercase())),
            Err(SignatureError::Mismatch)
        );
    }
}
