//! Dashboard passwords: argon2id PHC strings.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

use crate::secret::SecretString;

pub const MIN_PASSWORD_LEN: usize = 10;

pub fn hash_password(password: &SecretString) -> String {
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes())
        // Hashing fails only on invalid parameters, which are fixed here.
        .expect("argon2 with default parameters")
        .to_string()
}

/// Constant-time verification; a malformed stored hash simply fails.
pub fn verify_password(password: &SecretString, stored_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let pw = SecretString::from("correct horse battery");
        let h = hash_password(&pw);
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(verify_password(&pw, &h));
        assert!(!verify_password(&SecretString::from("wrong"), &h));
        assert!(!verify_password(&pw, "not-a-hash"));
    }
}
