//! Small wire types shared by several endpoints.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A Mercado Pago id that arrives as a JSON number in some places and as a
/// string in others (store ids §5.1, `pos_id` §3.7, `user_id` §3.1 vs §1.3).
/// Kept as its decimal/string form; serializes as a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MpId(String);

impl MpId {
    pub fn new(id: impl Into<String>) -> Self {
        MpId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The numeric value, when it is one (user, store and POS ids are).
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

impl fmt::Display for MpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<u64> for MpId {
    fn from(v: u64) -> Self {
        MpId(v.to_string())
    }
}

impl From<&str> for MpId {
    fn from(v: &str) -> Self {
        MpId(v.to_string())
    }
}

impl PartialEq<str> for MpId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for MpId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for MpId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Str(String),
            U(u64),
            I(i64),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Str(s) => MpId(s),
            Raw::U(n) => MpId(n.to_string()),
            Raw::I(n) => MpId(n.to_string()),
        })
    }
}

/// `{"total","offset","limit"}` (§2.1, §3.7, §5.1, §5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Paging {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// A page of search results: `{"paging":{...},"results":[...]}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub paging: Paging,
    pub results: Vec<T>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Page<T> {
    /// Also accepts the page wrapped in a one-element array, as the store
    /// search reference example shows (§5.1, UNCONFIRMED).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "T: Deserialize<'de>")]
        struct Obj<T> {
            #[serde(default)]
            paging: Paging,
            #[serde(default = "Vec::new")]
            results: Vec<T>,
        }
        #[derive(Deserialize)]
        #[serde(untagged, bound = "T: Deserialize<'de>")]
        enum Raw<T> {
            // First: a derived struct also accepts a JSON array (as a tuple).
            Wrapped(Vec<Obj<T>>),
            Obj(Obj<T>),
        }
        let obj = match Raw::<T>::deserialize(d)? {
            Raw::Obj(o) => o,
            Raw::Wrapped(v) => v.into_iter().next().unwrap_or(Obj {
                paging: Paging::default(),
                results: Vec::new(),
            }),
        };
        Ok(Page {
            paging: obj.paging,
            results: obj.results,
        })
    }
}

/// `{"id": "..."}`, the echo of legacy cancels (§2.5, §2.7).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct IdOnly {
    pub id: MpId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_either_way() {
        let a: MpId = serde_json::from_str("47792478").unwrap();
        let b: MpId = serde_json::from_str("\"47792478\"").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_u64(), Some(47792478));
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"47792478\"");
    }

    #[test]
    fn page_plain_and_wrapped() {
        let p: Page<MpId> =
            serde_json::from_str(r#"{"paging":{"total":1,"offset":0,"limit":30},"results":[7]}"#)
                .unwrap();
        assert_eq!(p.results, vec![MpId::from(7)]);
        let w: Page<MpId> = serde_json::from_str(
            r#"[{"paging":{"total":1,"offset":0,"limit":30},"results":["7"]}]"#,
        )
        .unwrap();
        assert_eq!(w.paging.total, 1);
        assert_eq!(w.results, vec![MpId::from(7)]);
    }
}
