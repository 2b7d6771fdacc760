//! `Idempotency-Key` on creates: same key + same body returns the first
//! response; same key + another body is refused; concurrent duplicates wait
//! for the first to finish.
//!
//! A record is claimed by inserting it `in_progress` (the unique index on
//! integrator + principal + key decides the race), and completed with the
//! response. The stored response is sealed with the master keys: a create's
//! response can hold something shown only once (an API key, a webhook
//! secret, an onboarding URL). A claim whose holder died is taken over after a while, so a
//! crash mid-request does not block the key forever.

use crate::clock;
use crate::db::Db;
use crate::error::{Conflict, Invalid};
use std::time::Duration as StdDuration;

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use sha2::{Digest, Sha256};

use crate::crypto::{Aad, Keyring};
use crate::entities::idempotency_keys;
use crate::error::CoreError;
use crate::id::{IdempotencyRecordId, IntegratorId};
use crate::states::IdempotencyStatus;

/// How long a stored response is replayed.
pub const RETENTION: Duration = Duration::hours(24);
/// A claim older than this is presumed dead and may be taken over.
const STALE_CLAIM: Duration = Duration::seconds(60);
/// How long a concurrent duplicate waits for the first request.
const WAIT_FOR_FIRST: StdDuration = StdDuration::from_secs(15);

pub const MAX_KEY_LEN: usize = 255;

/// What to do with a request carrying an idempotency key.
#[derive(Debug)]
pub enum Claim {
    /// First time: do the work, then call [`complete`] with the record id.
    Fresh { record_id: IdempotencyRecordId },
    /// Seen before with the same body: send this response again.
    Replay { status: u16, body: String },
}

/// Hash of what makes two requests "the same": method, path and body.
pub fn request_fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn validate_key(key: &str) -> Result<(), CoreError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CoreError::Invalid {
            reason: Invalid::IdempotencyKey,
            message: format!("Idempotency-Key must be 1–{MAX_KEY_LEN} visible ASCII characters"),
        });
    }
    Ok(())
}

/// Claims `key` for `principal` (an API key or user id) within an integrator.
pub async fn claim(
    db: &Db,
    keyring: &Keyring,
    integrator_id: &IntegratorId,
    principal: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, CoreError> {
    validate_key(key)?;
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    let mut backoff = StdDuration::from_millis(5);
    loop {
        let now = clock::now();
        let existing = idempotency_keys::Entity::find()
            .filter(idempotency_keys::Column::IntegratorId.eq(integrator_id))
            .filter(idempotency_keys::Column::Principal.eq(principal))
            .filter(idempotency_keys::Column::Key.eq(key))
            .one(db)
            .await?;
        match existing {
            None => {
                let record_id = IdempotencyRecordId::new();
                let inserted = idempotency_keys::ActiveModel {
                    id: Set(record_id.clone()),
                    integrator_id: Set(integrator_id.clone()),
                    principal: Set(principal.to_owned()),
                    key: Set(key.to_owned()),
                    request_hash: Set(fingerprint.to_owned()),
                    status: Set(IdempotencyStatus::InProgress),
                    response_status: Set(None),
                    response_body: Set(None),
                    resource_id: Set(None),
                    created_at: Set(now),
                    expires_at: Set(now + RETENTION),
                }
                .insert(db)
                .await;
                match inserted {
                    Ok(_) => return Ok(Claim::Fresh { record_id }),
                    // Lost the race to a concurrent duplicate: look again.
                    Err(_) => continue,
                }
            }
            Some(rec) if rec.expires_at <= now => {
                // Past retention: forget it and start over.
                idempotency_keys::Entity::delete_by_id(rec.id)
                    .exec(db)
                    .await?;
                continue;
            }
            Some(rec) if rec.request_hash != fingerprint => {
                return Err(CoreError::Invalid {
                    reason: Invalid::IdempotencyKeyReused,
                    message: "this Idempotency-Key was already used with a different request; use a new key".into(),
                });
            }
            Some(rec) => match rec.status {
                IdempotencyStatus::Completed => {
                    let body = match &rec.response_body {
                        Some(sealed) => keyring
                            .open(
                                sealed,
                                Aad::new("idempotency_keys", "response_body", rec.id.as_str()),
                            )?
                            .into_exposed(),
                        None => String::new(),
                    };
                    return Ok(Claim::Replay {
                        status: rec.response_status.unwrap_or(200) as u16,
                        body,
                    });
                }
                IdempotencyStatus::InProgress if now - rec.created_at > STALE_CLAIM => {
                    // The first request died mid-way; take the claim over.
                    let mut active = rec.clone().into_active_model();
                    active.created_at = Set(now);
                    let res = idempotency_keys::Entity::update_many()
                        .set(active)
                        .filter(idempotency_keys::Column::Id.eq(rec.id.clone()))
                        .filter(idempotency_keys::Column::CreatedAt.eq(rec.created_at))
                        .exec(db)
                        .await?;
                    if res.rows_affected == 1 {
                        return Ok(Claim::Fresh { record_id: rec.id });
                    }
                    continue;
                }
                IdempotencyStatus::InProgress => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(CoreError::conflict(
                            Conflict::IdempotencyRequestInProgress,
                            "a request with this Idempotency-Key is still being processed; retry shortly",
                        ));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(StdDuration::from_millis(200));
                }
            },
        }
    }
}

/// Stores the response of a fresh claim, to be replayed.
pub async fn complete(
    db: &Db,
    keyring: &Keyring,
    record_id: &IdempotencyRecordId,
    status: u16,
    body: &str,
    resource_id: Option<&str>,
) -> Result<(), CoreError> {
    complete_in(db, keyring, record_id, status, body, resource_id).await
}

/// As [`complete`], on any connection — in particular inside the
/// transaction that creates the resource, so the resource and its stored
/// response commit together. Otherwise a commit whose acknowledgement is
/// lost (a database restart) or a failed `complete` afterwards would let
/// the client's retry create the resource a second time.
pub async fn complete_in(
    conn: &impl ConnectionTrait,
    keyring: &Keyring,
    record_id: &IdempotencyRecordId,
    status: u16,
    body: &str,
    resource_id: Option<&str>,
) -> Result<(), CoreError> {
    let sealed = seal_response(keyring, record_id, body);
    write_completion(conn, record_id, status, sealed, resource_id).await
}

fn seal_response(keyring: &Keyring, record_id: &IdempotencyRecordId, body: &str) -> String {
    keyring.seal(
        &body.into(),
        Aad::new("idempotency_keys", "response_body", record_id.as_str()),
    )
}

async fn write_completion(
    conn: &impl ConnectionTrait,
    record_id: &IdempotencyRecordId,
    status: u16,
    sealed: String,
    resource_id: Option<&str>,
) -> Result<(), CoreError> {
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::Status,
            Expr::value(IdempotencyStatus::Completed),
        )
        .col_expr(
            idempotency_keys::Column::ResponseStatus,
            Expr::value(i32::from(status)),
        )
        .col_expr(idempotency_keys::Column::ResponseBody, Expr::value(sealed))
        .col_expr(
            idempotency_keys::Column::ResourceId,
            Expr::value(resource_id.map(str::to_owned)),
        )
        .filter(idempotency_keys::Column::Id.eq(record_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The response a create stores for its replays: the status and body its
/// surface answers with, rendered from what was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

impl StoredResponse {
    /// A `201 Created` answer with this JSON body.
    pub fn created(body: &serde_json::Value) -> Self {
        StoredResponse {
            status: 201,
            body: body.to_string(),
        }
    }
}

/// A fresh claim (see [`Claim::Fresh`]), held by the request that won it.
/// Its [`Completion`] is written inside the transaction that creates the
/// resource (see [`complete_in`]).
#[derive(Debug, Clone, Copy)]
pub struct Claimed<'a> {
    pub keyring: &'a Keyring,
    pub record_id: &'a IdempotencyRecordId,
}

impl<'a> Claimed<'a> {
    /// The claim of a request, if it had a key.
    pub fn of(keyring: &'a Keyring, record_id: Option<&'a IdempotencyRecordId>) -> Option<Self> {
        record_id.map(|record_id| Self { keyring, record_id })
    }

    /// This claim, completed with the response `render` makes of the
    /// created `T`.
    pub fn completion<T: ?Sized>(
        self,
        render: &'a (dyn Fn(&T) -> StoredResponse + Sync + 'a),
    ) -> Completion<'a, T> {
        Completion {
            claimed: self,
            render,
        }
    }
}

/// What a create writes, in its own transaction, for a claimed key: the
/// surface's response to the created `T`. Every idempotent create takes an
/// `Option<Completion>`, so none can commit without its stored response.
pub struct Completion<'a, T: ?Sized> {
    claimed: Claimed<'a>,
    render: &'a (dyn Fn(&T) -> StoredResponse + Sync + 'a),
}

impl<T: ?Sized> Completion<'_, T> {
    /// The stored response of `created`, rendered and sealed now, for a
    /// unit of work that must own what it writes (`Db::write`).
    pub fn ready(&self, created: &T, resource_id: &str) -> ReadyCompletion {
        let response = (self.render)(created);
        ReadyCompletion {
            record_id: self.claimed.record_id.clone(),
            status: response.status,
            sealed: seal_response(self.claimed.keyring, self.claimed.record_id, &response.body),
            resource_id: resource_id.to_owned(),
        }
    }

    pub async fn write(
        &self,
        conn: &impl ConnectionTrait,
        created: &T,
        resource_id: &str,
    ) -> Result<(), CoreError> {
        let response = (self.render)(created);
        complete_in(
            conn,
            self.claimed.keyring,
            self.claimed.record_id,
            response.status,
            &response.body,
            Some(resource_id),
        )
        .await
    }
}

/// A [`Completion`] rendered and sealed ahead of its transaction.
#[derive(Debug, Clone)]
pub struct ReadyCompletion {
    record_id: IdempotencyRecordId,
    status: u16,
    sealed: String,
    resource_id: String,
}

impl ReadyCompletion {
    pub async fn write(self, conn: &impl ConnectionTrait) -> Result<(), CoreError> {
        write_completion(
            conn,
            &self.record_id,
            self.status,
            self.sealed,
            Some(&self.resource_id),
        )
        .await
    }
}

/// Writes `completion` (if any) on `conn`: the one line each create ends its
/// transaction with.
pub async fn complete_with<T: ?Sized>(
    completion: Option<&Completion<'_, T>>,
    conn: &impl ConnectionTrait,
    created: &T,
    resource_id: &str,
) -> Result<(), CoreError> {
    match completion {
        Some(c) => c.write(conn, created, resource_id).await,
        None => Ok(()),
    }
}

/// Gives a claim up (the request failed before doing anything), so a retry
/// with the same key runs again instead of replaying a failure. A record
/// already completed (inside the work's own transaction) is kept.
pub async fn release(db: &Db, record_id: &IdempotencyRecordId) -> Result<(), CoreError> {
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::Id.eq(record_id))
        .filter(idempotency_keys::Column::Status.eq(IdempotencyStatus::InProgress))
        .exec(db)
        .await?;
    Ok(())
}
