//! Sellers' OAuth tokens in use: reading them, and refreshing them safely.
//!
//! Mercado Pago refresh tokens are single-use and rotate, so exactly one
//! refresh may run per seller at a time, in the whole deployment:
//! - inside a process, callers for the same seller share one in-flight
//!   refresh (a mutex per seller);
//! - across processes, a lease on the credentials row
//!   (`refresh_lease_until`), taken by a conditional UPDATE, decides who
//!   calls Mercado Pago; the others wait for the lease to end and re-read.
//!
//! After taking the lease the row is read again: if someone refreshed it
//! meanwhile, nothing is sent. A failed refresh backs off; an `invalid_grant`
//! (revoked) or too many failures mark the seller `needs_reconnect` and tell
//! the integrator (event `seller.needs_reconnect`).

use crate::clock;
use crate::db::Db;
use crate::error::Conflict;
use crate::lookups::Stale;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::crypto::{Aad, Keyring};
use crate::entities::{integrators, seller_credentials, sellers};
use crate::error::CoreError;
use crate::events;
use crate::id::{SellerCredentialId, SellerId, WebhookDeliveryId};
use crate::integrator_app;
use crate::mercadopago::{MpClient, MpError};
use crate::secret::SecretString;
use crate::states::LinkStatus;

/// When to refresh, and how to back off.
#[derive(Debug, Clone)]
pub struct RefreshPolicy {
    /// Refresh this long before expiry (the default: 30 of 180 days).
    pub margin: Duration,
    /// How long a process may hold the refresh lease.
    pub lease: Duration,
    /// Waits after the 1st, 2nd, … failed refresh.
    pub backoff: Vec<Duration>,
    /// Failures after which the seller must reconnect.
    pub max_failures: i32,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            margin: Duration::days(30),
            lease: Duration::seconds(60),
            backoff: vec![
                Duration::minutes(1),
                Duration::minutes(10),
                Duration::hours(1),
                Duration::hours(6),
                Duration::hours(24),
            ],
            max_failures: 6,
        }
    }
}

impl RefreshPolicy {
    fn backoff_after(&self, failures: i32) -> Duration {
        let i = (failures.max(1) as usize - 1).min(self.backoff.len().saturating_sub(1));
        self.backoff.get(i).copied().unwrap_or(Duration::hours(1))
    }
}

/// A seller's usable access token.
#[derive(Debug, Clone)]
pub struct SellerToken {
    pub seller: sellers::Model,
    pub credential_id: SellerCredentialId,
    pub token: SecretString,
}

fn open_access(
    keyring: &Keyring,
    cred: &seller_credentials::Model,
) -> Result<SecretString, CoreError> {
    Ok(keyring.open(
        &cred.access_token,
        Aad::new("seller_credentials", "access_token", cred.id.as_str()),
    )?)
}

async fn load(
    db: &impl ConnectionTrait,
    seller_id: &SellerId,
) -> Result<(sellers::Model, seller_credentials::Model), CoreError> {
    // One statement on every upstream call; the seller alone only to say
    // why there are no credentials.
    let found = seller_credentials::Entity::find()
        .filter(seller_credentials::Column::SellerId.eq(seller_id))
        .find_also_related(sellers::Entity)
        .one(db)
        .await?;
    if let Some((cred, Some(seller))) = found {
        return Ok((seller, cred));
    }
    sellers::Entity::find_by_id(seller_id.clone())
        .one(db)
        .await?
        .ok_or(CoreError::NotFound { kind: "seller" })?;
    Err(CoreError::conflict(
        Conflict::SellerNotLinked,
        format!("seller {seller_id} has no credentials; link it again"),
    ))
}

/// The current access token of a linked seller (the worker's view: no scope,
/// the seller id comes from a row that already belongs to a tenant).
pub async fn access_token(
    db: &Db,
    keyring: &Keyring,
    seller_id: &SellerId,
) -> Result<SellerToken, CoreError> {
    let (seller, cred) = load(db, seller_id).await?;
    if seller.link_status != LinkStatus::Linked {
        return Err(CoreError::conflict(
            Conflict::SellerNotLinked,
            format!(
                "seller {} is {}; it must be linked again",
                seller.id, seller.link_status
            ),
        ));
    }
    let token = open_access(keyring, &cred)?;
    Ok(SellerToken {
        seller,
        credential_id: cred.id,
        token,
    })
}

/// Why a refresh is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It is (nearly) due by `next_refresh_at`.
    Due,
    /// Mercado Pago answered 401 to this token.
    Rejected,
}

#[derive(Debug)]
pub enum RefreshOutcome {
    /// A fresh token (ours or another process's).
    Refreshed(SellerToken),
    /// Nothing to do: the stored token is still good.
    NotNeeded(SellerToken),
    /// Refresh failed; will be retried at the given time.
    Failed {
        retry_at: DateTime<Utc>,
        error: String,
    },
    /// The seller must link again (revoked, or too many failures); the
    /// webhook deliveries telling the integrator are to be published.
    NeedsReconnect { deliveries: Vec<WebhookDeliveryId> },
}

/// Per-process single flight: one lock per seller being refreshed.
#[derive(Default, Clone)]
pub struct RefreshLocks {
    inner: Arc<Mutex<HashMap<SellerId, Arc<tokio::sync::Mutex<()>>>>>,
}

impl RefreshLocks {
    fn for_seller(&self, seller_id: &SellerId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, m| Arc::strong_count(m) > 1);
        map.entry(seller_id.clone()).or_default().clone()
    }
}

/// Refreshes a seller's token if needed. `failed_token` is the token that
/// got a 401 (for `Reason::Rejected`): if the stored one differs, another
/// caller already refreshed it.
#[allow(clippy::too_many_arguments)]
pub async fn refresh(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    locks: &RefreshLocks,
    policy: &RefreshPolicy,
    seller_id: &SellerId,
    reason: Reason,
    failed_token: Option<&SecretString>,
) -> Result<RefreshOutcome, CoreError> {
    let lock = locks.for_seller(seller_id);
    let _in_process = lock.lock().await;
    let lease_id = acquire_lease(db, seller_id, policy).await?;
    let result =
        refresh_holding_lease(db, keyring, mp, policy, seller_id, reason, failed_token).await;
    release_lease(db, &lease_id).await?;
    result
}

/// Takes the cross-process lease, waiting while another process holds it.
async fn acquire_lease(
    db: &Db,
    seller_id: &SellerId,
    policy: &RefreshPolicy,
) -> Result<SellerCredentialId, CoreError> {
    let deadline = tokio::time::Instant::now()
        + (policy.lease + Duration::seconds(5))
            .to_std()
            .unwrap_or(StdDuration::from_secs(65));
    loop {
        let (_, cred) = load(db, seller_id).await?;
        let now = clock::now();
        let taken = seller_credentials::Entity::update_many()
            .col_expr(
                seller_credentials::Column::RefreshLeaseUntil,
                Expr::value(Some(now + policy.lease)),
            )
            .filter(seller_credentials::Column::Id.eq(cred.id.clone()))
            .filter(
                sea_orm::Condition::any()
                    .add(seller_credentials::Column::RefreshLeaseUntil.is_null())
                    .add(seller_credentials::Column::RefreshLeaseUntil.lt(now)),
            )
            .exec(db)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(cred.id);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CoreError::conflict(
                Conflict::RefreshInProgress,
                "another process is refreshing this seller's token",
            ));
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

async fn release_lease(db: &Db, credential_id: &SellerCredentialId) -> Result<(), CoreError> {
    seller_credentials::Entity::update_many()
        .col_expr(
            seller_credentials::Column::RefreshLeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(seller_credentials::Column::Id.eq(credential_id))
        .exec(db)
        .await?;
    Ok(())
}

async fn refresh_holding_lease(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    policy: &RefreshPolicy,
    seller_id: &SellerId,
    reason: Reason,
    failed_token: Option<&SecretString>,
) -> Result<RefreshOutcome, CoreError> {
    // Re-read under the lease: someone may have refreshed meanwhile.
    let (seller, cred) = load(db, seller_id).await?;
    if seller.link_status != LinkStatus::Linked {
        return Ok(RefreshOutcome::NeedsReconnect {
            deliveries: Vec::new(),
        });
    }
    let current = open_access(keyring, &cred)?;
    let now = clock::now();
    let still_good = match reason {
        Reason::Rejected => {
            failed_token.is_some_and(|t| t.expose_secret() != current.expose_secret())
        }
        Reason::Due => cred.next_refresh_at.is_some_and(|t| t > now),
    };
    if still_good {
        return Ok(RefreshOutcome::NotNeeded(SellerToken {
            seller,
            credential_id: cred.id,
            token: current,
        }));
    }
    let Some(sealed_refresh) = &cred.refresh_token else {
        let deliveries =
            mark_needs_reconnect(db, &seller, "no refresh token (offline_access missing)").await?;
        return Ok(RefreshOutcome::NeedsReconnect { deliveries });
    };
    let refresh_token = keyring.open(
        sealed_refresh,
        Aad::new("seller_credentials", "refresh_token", cred.id.as_str()),
    )?;
    let integrator = integrators::Entity::find_by_id(seller.integrator_id.clone())
        .one(db)
        .await?
        .ok_or(CoreError::NotFound { kind: "integrator" })?;
    let Some(app) = integrator_app::credentials(keyring, &integrator)? else {
        return Err(CoreError::conflict(
            Conflict::ApplicationNotConfigured,
            "the integrator's Mercado Pago application is not configured",
        ));
    };

    match mp.refresh_token(&app, &refresh_token).await {
        Ok(tokens) => {
            let expires_at = now
                + Duration::seconds(
                    tokens
                        .expires_in
                        .unwrap_or(15_552_000)
                        .min(10 * 365 * 86_400) as i64,
                );
            let mut active = cred.clone().into_active_model();
            active.access_token = Set(keyring.seal(
                &tokens.access_token,
                Aad::new("seller_credentials", "access_token", cred.id.as_str()),
            ));
            if let Some(r) = &tokens.refresh_token {
                active.refresh_token = Set(Some(keyring.seal(
                    r,
                    Aad::new("seller_credentials", "refresh_token", cred.id.as_str()),
                )));
            }
            active.expires_at = Set(expires_at);
            if let Some(scope) = &tokens.scope {
                active.scope = Set(scope.clone());
            }
            active.refresh_failures = Set(0);
            active.next_refresh_at = Set(Some(std::cmp::max(now, expires_at - policy.margin)));
            active.last_refreshed_at = Set(Some(now));
            active.last_refresh_error = Set(None);
            active.updated_at = Set(now);
            active.update(db).await?;
            tracing::info!(%seller_id, "seller token refreshed");
            Ok(RefreshOutcome::Refreshed(SellerToken {
                seller,
                credential_id: cred.id,
                token: tokens.access_token,
            }))
        }
        Err(err) => {
            let revoked = err.is_invalid_grant() || matches!(&err, MpError::Unauthorized { .. });
            let failures = cred.refresh_failures + 1;
            if revoked || failures >= policy.max_failures {
                let deliveries = mark_needs_reconnect(db, &seller, &err.to_string()).await?;
                return Ok(RefreshOutcome::NeedsReconnect { deliveries });
            }
            let retry_at = now + policy.backoff_after(failures);
            let mut active = cred.into_active_model();
            active.refresh_failures = Set(failures);
            active.next_refresh_at = Set(Some(retry_at));
            active.last_refresh_error = Set(Some(err.to_string()));
            active.updated_at = Set(now);
            active.update(db).await?;
            tracing::warn!(%seller_id, failures, error = %err, "seller token refresh failed");
            Ok(RefreshOutcome::Failed {
                retry_at,
                error: err.to_string(),
            })
        }
    }
}

/// Flags a seller for re-linking and tells the integrator, once.
pub async fn mark_needs_reconnect(
    db: &Db,
    seller: &sellers::Model,
    why: &str,
) -> Result<Vec<WebhookDeliveryId>, CoreError> {
    if !seller.link_status.can_become(LinkStatus::NeedsReconnect) {
        return Ok(Vec::new());
    }
    let txn = db.begin_write().await?;
    let res = sellers::Entity::update_many()
        .col_expr(
            sellers::Column::LinkStatus,
            Expr::value(LinkStatus::NeedsReconnect),
        )
        .col_expr(sellers::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(sellers::Column::Id.eq(seller.id.clone()))
        .filter(sellers::Column::LinkStatus.eq(seller.link_status))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(Vec::new());
    }
    let deliveries = events::emit(
        &txn,
        &seller.integrator_id,
        Some(&seller.id),
        "seller.needs_reconnect",
        &serde_json::json!({ "seller_id": seller.id, "mp_user_id": seller.mp_user_id, "nickname": seller.nickname, "reason": why }),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    tracing::warn!(seller_id = %seller.id, reason = why, "seller needs to reconnect");
    Ok(deliveries)
}

/// Sellers whose tokens are due for refresh (the worker's refresh loop).
pub async fn due_for_refresh(
    db: &Db,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<SellerId>, CoreError> {
    let due: Vec<SellerId> = seller_credentials::Entity::find()
        .filter(seller_credentials::Column::NextRefreshAt.lte(now))
        .order_by_asc(seller_credentials::Column::NextRefreshAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.seller_id)
        .collect();
    if due.is_empty() {
        return Ok(due);
    }
    // Only linked sellers, in one query, keeping the due order.
    let linked: std::collections::HashSet<SellerId> = sellers::Entity::find()
        .filter(sellers::Column::Id.is_in(due.clone()))
        .filter(sellers::Column::LinkStatus.eq(LinkStatus::Linked))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    Ok(due.into_iter().filter(|id| linked.contains(id)).collect())
}
