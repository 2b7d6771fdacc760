//! Values that must not leak: tokens, client secrets, keys, passwords.
//!
//! `Secret<T>` has no `Display`, prints `Secret([redacted])` in `Debug`, and
//! serializes as a redacted marker, so a secret that ends up in a log line, a
//! panic message or a JSON response shows nothing. Reading the value takes an
//! explicit, greppable `expose_secret()`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

pub type SecretString = Secret<String>;

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The only way to the inner value. Every call site is a place where a
    /// secret leaves its wrapper, so keep them few and obvious.
    pub fn expose_secret(&self) -> &T {
        &self.0
    }

    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<T> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

/// Deserializing is allowed (secrets arrive in config files and requests);
/// only the way out is guarded.
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serde_never_show_the_value() {
        let s = SecretString::from("APP_USR-123-very-secret");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret([redacted]))");
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("very-secret"));
        assert_eq!(s.expose_secret(), "APP_USR-123-very-secret");
    }

    #[test]
    fn deserializes_from_plain_value() {
        let s: SecretString = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(s.expose_secret(), "abc");
    }
}
