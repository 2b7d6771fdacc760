//! Money as integer minor units (cents). The Orders API wants decimal strings
//! with 2 decimals (§3.1: "always send 2"); the legacy API wants integer cents
//! (§2.3). Conversions are done on digits, never through floats.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative amount in cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must not be negative")]
    Negative,
    #[error("amount is not a decimal number with at most 2 decimals: {0:?}")]
    Format(String),
    #[error("amount is too large")]
    Overflow,
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn from_cents(cents: i64) -> Result<Self, MoneyError> {
        if cents < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Amount(cents))
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// Parses `"10"`, `"10.5"`, `"10.50"` (§3.1 allows up to 2 decimals).
    /// No sign, exponent, spaces, grouping or a bare `"."`.
    pub fn parse_decimal(s: &str) -> Result<Self, MoneyError> {
        let bad = || MoneyError::Format(s.chars().take(32).collect());
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 2 {
            return Err(bad());
        }
        if s.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let whole: i64 = int.parse().map_err(|_| MoneyError::Overflow)?;
        let frac_cents: i64 = match frac.len() {
            0 => 0,
            1 => i64::from(frac.as_bytes()[0] - b'0') * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac_cents))
            .map(Amount)
            .ok_or(MoneyError::Overflow)
    }

    /// `"24.00"`: always two decimals.
    pub fn to_decimal_string(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

/// On the wire (Orders API) an amount is a decimal string.
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_decimal_string())
    }
}

/// Reads a decimal string, or an integer JSON number of whole units.
impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            U(u64),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => Amount::parse_decimal(&s).map_err(serde::de::Error::custom),
            Raw::U(u) => i64::try_from(u)
                .ok()
                .and_then(|u| u.checked_mul(100))
                .map(Amount)
                .ok_or_else(|| serde::de::Error::custom(MoneyError::Overflow)),
        }
    }
}

/// A JSON number written from cents without floats (QR orders, §6, take
/// `total_amount`/`unit_price` as numbers).
pub(crate) fn json_number(a: Amount) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(a.to_decimal_string())
        .expect("digits and a dot are valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_two_decimals() {
        assert_eq!(Amount::from_cents(2400).unwrap().to_string(), "24.00");
        assert_eq!(Amount::from_cents(5).unwrap().to_string(), "0.05");
        assert_eq!(Amount::from_cents(1050).unwrap().to_string(), "10.50");
        assert_eq!(Amount::ZERO.to_string(), "0.00");
        assert_eq!(
            Amount::from_cents(i64::MAX).unwrap().to_string(),
            "92233720368547758.07"
        );
        assert_eq!(Amount::from_cents(-1), Err(MoneyError::Negative));
    }

    #[test]
    fn parses_documented_forms() {
        for (s, c) in [
            ("10", 1000),
            ("10.5", 1050),
            ("10.50", 1050),
            ("0.01", 1),
            ("120", 12000),
            ("007.00", 700),
        ] {
            assert_eq!(Amount::parse_decimal(s).unwrap().cents(), c, "{s}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        for s in [
            "", ".", "1.", ".5", "1.234", "-1.00", "+1", "1e3", " 1.00", "1,00", "1.0a", "١٢",
            "NaN", "1.-1",
        ] {
            assert!(
                matches!(Amount::parse_decimal(s), Err(MoneyError::Format(_))),
                "{s:?}"
            );
        }
        assert_eq!(
            Amount::parse_decimal("92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Amount::parse_decimal("99999999999999999999"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn serde_round_trip() {
        let a: Amount = serde_json::from_str("\"24.00\"").unwrap();
        assert_eq!(a.cents(), 2400);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"24.00\"");
        let b: Amount = serde_json::from_str("120").unwrap();
        assert_eq!(b.cents(), 12000);
        assert!(serde_json::from_str::<Amount>("1.5").is_err());
        assert_eq!(json_number(a).get(), "24.00");
    }
}
