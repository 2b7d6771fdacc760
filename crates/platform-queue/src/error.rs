//! The one error type of the crate.

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The configuration cannot work (empty consumer name, zero visibility timeout, …).
    #[error("invalid queue configuration: {0}")]
    Config(String),
    /// Redis refused the command or the connection is down (the connection manager
    /// keeps reconnecting in the background; the caller may simply retry later).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis answered with something this crate does not understand.
    #[error("unexpected redis reply: {0}")]
    Protocol(String),
}

impl From<redis::ParsingError> for QueueError {
    fn from(e: redis::ParsingError) -> Self {
        QueueError::Protocol(e.to_string())
    }
}
