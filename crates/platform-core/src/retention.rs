//! Retention: rows that only matter for a while are deleted once their
//! time is over. The worker's housekeeping calls [`purge`] periodically
//! (so `puente worker` and `puente all` both run it).
//!
//! What goes, and when:
//! - idempotency records: at their `expires_at` (no grace), so a shown-once
//!   secret sealed in a stored response (API key, webhook secret, link
//!   token) is never kept past the idempotency window;
//! - OAuth states: `grace` after they expired or were consumed;
//! - dashboard sessions: `grace` after their absolute or idle timeout;
//! - login throttle counters: `grace` after their window and lock ended;
//! - unverified inbound notifications: `unverified` after they arrived.

use crate::db::Db;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::entities::{idempotency_keys, inbound_notifications, oauth_states};
use crate::error::CoreError;
use crate::sessions::{self, session_row, throttle_row};

/// How long each kind is kept past its own end (from `PUENTE_RETENTION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Kept this long after expiry: OAuth states, sessions, login throttles.
    pub grace: chrono::Duration,
    /// Unverified inbound notifications are kept this long after arrival.
    pub unverified: chrono::Duration,
}

pub const DEFAULT_GRACE_HOURS: u64 = 24;
pub const DEFAULT_UNVERIFIED_DAYS: u64 = 7;

impl Default for Windows {
    fn default() -> Self {
        Windows {
            grace: chrono::Duration::hours(DEFAULT_GRACE_HOURS as i64),
            unverified: chrono::Duration::days(DEFAULT_UNVERIFIED_DAYS as i64),
        }
    }
}

/// Rows deleted by one pass, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub idempotency: u64,
    pub oauth_states: u64,
    pub sessions: u64,
    pub login_throttles: u64,
    pub unverified_notifications: u64,
}

impl Purged {
    /// `(kind, rows)` pairs: the metric's label values.
    pub fn by_kind(&self) -> [(&'static str, u64); 5] {
        [
            ("idempotency", self.idempotency),
            ("oauth_states", self.oauth_states),
            ("sessions", self.sessions),
            ("login_throttles", self.login_throttles),
            ("unverified_notifications", self.unverified_notifications),
        ]
    }
}

/// Deletes every row past its retention at `now` (the worker counts the
/// result in `puente_retention_purged_total{kind}`).
pub async fn purge(db: &Db, windows: &Windows, now: DateTime<Utc>) -> Result<Purged, CoreError> {
    let gone = now - windows.grace;

    let idempotency = idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected;

    let oauth_states = oauth_states::Entity::delete_many()
        .filter(
            Condition::any()
                .add(oauth_states::Column::ExpiresAt.lte(gone))
                .add(oauth_states::Column::ConsumedAt.lte(gone)),
        )
        .exec(db)
        .await?
        .rows_affected;

    let sessions = session_row::Entity::delete_many()
        .filter(
            Condition::any()
                .add(session_row::Column::ExpiresAt.lte(gone))
                .add(session_row::Column::LastSeenAt.lte(gone - sessions::IDLE_TIMEOUT)),
        )
        .exec(db)
        .await?
        .rows_affected;

    let login_throttles = throttle_row::Entity::delete_many()
        .filter(throttle_row::Column::WindowStartedAt.lte(gone - sessions::THROTTLE_WINDOW))
        .filter(
            Condition::any()
                .add(throttle_row::Column::LockedUntil.is_null())
                .add(throttle_row::Column::LockedUntil.lte(gone)),
        )
        .exec(db)
        .await?
        .rows_affected;

    let unverified_notifications = inbound_notifications::Entity::delete_many()
        .filter(inbound_notifications::Column::SignatureValid.eq(false))
        .filter(inbound_notifications::Column::ReceivedAt.lte(now - windows.unverified))
        .exec(db)
        .await?
        .rows_affected;

    let purged = Purged {
        idempotency,
        oauth_states,
        sessions,
        login_throttles,
        unverified_notifications,
    };
    Ok(purged)
}
