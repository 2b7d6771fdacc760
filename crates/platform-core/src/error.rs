//! The one error type of the domain; `platform-web` maps it to HTTP once.

use crate::crypto::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Absent, or outside the caller's scope: the two are indistinguishable.
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
    /// The request is well-formed but conflicts with current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The caller is known but may not do this (e.g. a store-scoped key
    /// creating API keys).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The request breaks a rule (amount out of range, bad field, …).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Mercado Pago refused or could not be reached.
    #[error("{message}")]
    Upstream {
        retryable: bool,
        code: Option<String>,
        message: String,
    },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("cannot decrypt a stored secret: {0}")]
    Crypto(#[from] CryptoError),
    #[error("{0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
