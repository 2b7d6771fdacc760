//! Encryption of secrets at rest: AES-256-GCM with a key id and bound AAD.
//!
//! Stored form: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
//! - A fresh random 96-bit nonce per value.
//! - The key id names the master key that sealed the value, so several keys
//!   can be live during a rotation (`PUENTE_MASTER_KEYS`, newest first).
//! - The associated data names the table, column and row id, so a ciphertext
//!   copied into another row or column fails to open instead of silently
//!   handing one seller's token to another.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::secret::{Secret, SecretString};

const FORMAT_VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Where a sealed value lives; becomes the AEAD associated data.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
}

impl<'a> Aad<'a> {
    pub fn new(table: &'a str, column: &'a str, row_id: &'a str) -> Self {
        Self {
            table,
            column,
            row_id,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        format!(
            "puente:{FORMAT_VERSION}:{}.{}:{}",
            self.table, self.column, self.row_id
        )
        .into_bytes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key `{0}`, which is not configured in PUENTE_MASTER_KEYS")]
    UnknownKey(String),
    #[error("sealed value failed authentication (tampered, or bound to another row/column)")]
    Tampered,
    #[error("{0}")]
    BadKeySpec(String),
}

/// One master key. The key bytes never print.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, [redacted])", self.id)
    }
}

impl MasterKey {
    pub fn new(id: &str, key: &[u8]) -> Result<Self, CryptoError> {
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(CryptoError::BadKeySpec(format!(
                "key id `{id}` must be 1–32 characters of [A-Za-z0-9_-]"
            )));
        }
        let key = Key::<Aes256Gcm>::try_from(key).map_err(|_| {
            CryptoError::BadKeySpec(format!("key `{id}` must be 32 bytes (base64-encoded)"))
        })?;
        Ok(Self {
            id: id.to_owned(),
            cipher: Aes256Gcm::new(&key),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A new random key, in the `id:base64` form `PUENTE_MASTER_KEYS` takes.
    pub fn generate_spec(id: &str) -> SecretString {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        Secret::new(format!("{id}:{}", STANDARD.encode(bytes)))
    }
}

/// The configured master keys, newest first. The newest seals; any opens.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(keys: Vec<MasterKey>) -> Result<Self, CryptoError> {
        if keys.is_empty() {
            return Err(CryptoError::BadKeySpec("no master key given".into()));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(CryptoError::BadKeySpec(format!(
                    "key id `{}` appears twice",
                    k.id
                )));
            }
        }
        Ok(Self { keys })
    }

    /// Parses `id:base64key[,id:base64key…]`, newest first.
    pub fn from_spec(spec: &SecretString) -> Result<Self, CryptoError> {
        let mut keys = Vec::new();
        for part in spec.expose_secret().split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (id, b64) = part.split_once(':').ok_or_else(|| {
                CryptoError::BadKeySpec("each key must be written `id:base64key`".into())
            })?;
            let bytes = STANDARD
                .decode(b64.trim())
                .map_err(|_| CryptoError::BadKeySpec(format!("key `{id}` is not valid base64")))?;
            keys.push(MasterKey::new(id.trim(), &bytes)?);
        }
        Self::new(keys)
    }

    pub fn newest_id(&self) -> &str {
        &self.keys[0].id
    }

    pub fn seal(&self, plaintext: &SecretString, aad: Aad<'_>) -> String {
        let key = &self.keys[0];
        let nonce = Nonce::generate();
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: &aad.bytes(),
                },
            )
            // AES-GCM encryption fails only for messages over 64 GiB.
            .expect("AES-GCM encryption of a short value");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!(
            "{FORMAT_VERSION}.{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(blob)
        )
    }

    pub fn open(&self, sealed: &str, aad: Aad<'_>) -> Result<SecretString, CryptoError> {
        let (kid, blob) = parse_sealed(sealed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_owned()))?;
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Malformed)?;
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad.bytes(),
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| CryptoError::Malformed)
    }

    /// Whether a sealed value already uses the newest key (rotation skips it).
    pub fn is_current(&self, sealed: &str) -> bool {
        parse_sealed(sealed).is_ok_and(|(kid, _)| kid == self.newest_id())
    }
}

fn parse_sealed(sealed: &str) -> Result<(&str, Vec<u8>), CryptoError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(FORMAT_VERSION), Some(kid), Some(b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptoError::Malformed);
    };
    let blob = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| CryptoError::Malformed)?;
    // Nonce plus at least the 16-byte tag.
    if blob.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Malformed);
    }
    Ok((kid, blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> Keyring {
        Keyring::from_spec(&SecretString::from(spec)).unwrap()
    }

    fn spec(id: &str) -> String {
        MasterKey::generate_spec(id).into_exposed()
    }

    #[test]
    fn round_trip_and_random_nonce() {
        let k = ring(&spec("k1"));
        let aad = Aad::new("seller_credentials", "access_token", "crd_1");
        let secret = SecretString::from("APP_USR-1-2-3");
        let a = k.seal(&secret, aad);
        let b = k.seal(&secret, aad);
        assert_ne!(a, b, "each seal uses a fresh nonce");
        assert!(a.starts_with("v1.k1."));
        assert!(!a.contains("APP_USR"));
        assert_eq!(k.open(&a, aad).unwrap().expose_secret(), "APP_USR-1-2-3");
    }

    #[test]
    fn ciphertext_is_bound_to_row_and_column() {
        let k = ring(&spec("k1"));
        let sealed = k.seal(
            &"tok".into(),
            Aad::new("seller_credentials", "access_token", "crd_a"),
        );
        let other_row = Aad::new("seller_credentials", "access_token", "crd_b");
        let other_col = Aad::new("seller_credentials", "refresh_token", "crd_a");
        let other_table = Aad::new("integrators", "access_token", "crd_a");
        for aad in [other_row, other_col, other_table] {
            assert_eq!(k.open(&sealed, aad), Err(CryptoError::Tampered));
        }
    }

    #[test]
    fn tampering_is_detected() {
        let k = ring(&spec("k1"));
        let aad = Aad::new("t", "c", "r");
        let sealed = k.seal(&"value".into(), aad);
        let (head, body) = sealed.rsplit_once('.').unwrap();
        let mut blob = URL_SAFE_NO_PAD.decode(body).unwrap();
        for i in [0, NONCE_LEN, blob.len() - 1] {
            blob[i] ^= 0x01;
            let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&blob));
            assert_eq!(k.open(&forged, aad), Err(CryptoError::Tampered));
            blob[i] ^= 0x01;
        }
        assert_eq!(k.open("v1.k1.short", aad), Err(CryptoError::Malformed));
        assert_eq!(k.open("garbage", aad), Err(CryptoError::Malformed));
    }

    #[test]
    fn older_keys_still_open_and_newest_seals() {
        let old = spec("old");
        let new = spec("new");
        let before = ring(&old);
        let aad = Aad::new("t", "c", "r");
        let sealed_old = before.seal(&"v".into(), aad);

        let both = ring(&format!("{new},{old}"));
        assert_eq!(both.open(&sealed_old, aad).unwrap().expose_secret(), "v");
        assert!(!both.is_current(&sealed_old));
        let sealed_new = both.seal(&"v".into(), aad);
        assert!(sealed_new.starts_with("v1.new."));
        assert!(both.is_current(&sealed_new));

        let only_new = ring(&new);
        assert_eq!(
            only_new.open(&sealed_old, aad),
            Err(CryptoError::UnknownKey("old".into()))
        );
        assert_eq!(
            only_new.open(&sealed_new, aad).unwrap().expose_secret(),
            "v"
        );
    }

    #[test]
    fn bad_specs_are_rejected_with_a_reason() {
        for bad in [
            "",
            "nokey",
            "k1:not base64!",
            "k1:c2hvcnQ=",
            "bad id:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(
                Keyring::from_spec(&SecretString::from(bad)).is_err(),
                "{bad}"
            );
        }
        let dup = format!("{},{}", spec("k"), spec("k"));
        assert!(Keyring::from_spec(&SecretString::from(dup.as_str())).is_err());
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let s = spec("k1");
        let k = ring(&s);
        let printed = format!("{k:?}");
        let b64 = s.split_once(':').unwrap().1;
        assert!(!printed.contains(b64));
        assert!(printed.contains("k1"));
    }
}
