//! Dashboard logins: server-side sessions and login throttling.
//!
//! The browser holds a random token; the database holds only its SHA-256, so
//! a copy of the table opens no session. A session ends on logout, after
//! [`IDLE_TIMEOUT`] without use, or [`ABSOLUTE_TIMEOUT`] after login. Each
//! session carries its own CSRF token for the dashboard's forms.
//!
//! Failed logins are counted per (e-mail, client network) and per client
//! network (an IPv4 address or an IPv6 /64); past the limit the key is
//! locked for a while and even a right password is refused from there, so
//! guessing gets a handful of tries per quarter hour while the owner, from
//! another network, still gets in.

use crate::clock;
use crate::db::Db;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::accounts::normalize_email;
use crate::entities::users;
use crate::error::CoreError;
use crate::id::UserId;
use crate::password::verify_password;
use crate::secret::SecretString;
use crate::tokens::{random_token, sha256_hex};

pub const IDLE_TIMEOUT: Duration = Duration::hours(2);
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// Failures per window before a key is locked.
pub const MAX_EMAIL_FAILURES: i32 = 5;
pub const MAX_IP_FAILURES: i32 = 20;
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);
pub const LOCKOUT: Duration = Duration::minutes(15);
/// `last_seen_at` is written at most this often (one write per page view is waste).
const TOUCH_EVERY: Duration = Duration::seconds(60);

pub mod session_row {
    use sea_orm::entity::prelude::*;

    use crate::id::{IntegratorId, UserId};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        /// The SHA-256 of the session cookie's token, not a prefixed id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub integrator_id: IntegratorId,
        pub user_id: UserId,
        pub csrf_token: String,
        pub ip: Option<String>,
        pub created_at: DateTimeUtc,
        pub last_seen_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod throttle_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_throttles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub failures: i32,
        pub window_started_at: DateTimeUtc,
        pub locked_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A logged-in user, as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user: users::Model,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("too many failed attempts; try again in {} minutes", retry_after.as_secs().div_ceil(60))]
    Throttled { retry_after: StdDuration },
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<sea_orm::DbErr> for LoginError {
    fn from(e: sea_orm::DbErr) -> Self {
        LoginError::Core(e.into())
    }
}

/// The network a client address is throttled as: an IPv4 address, or the
/// /64 of an IPv6 one (a single host commonly owns a whole /64, so per
/// address would hand an attacker 2^64 fresh counters).
pub fn throttle_net(ip: &str) -> String {
    match ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.chars().take(64).collect(),
    }
}

/// The throttle counters a login attempt draws from: the (account,
/// client network) pair, so a brute force from one place does not lock
/// the owner out from another, and the client network across accounts.
fn throttle_keys(email: &str, ip: Option<&str>) -> Vec<(String, i32)> {
    let net = ip.map(throttle_net);
    let mut keys = vec![(
        format!("email:{email}|{}", net.as_deref().unwrap_or("-")),
        MAX_EMAIL_FAILURES,
    )];
    if let Some(net) = net {
        keys.push((format!("ip:{net}"), MAX_IP_FAILURES));
    }
    keys
}

/// Checks the password and opens a session; returns the cookie value.
///
/// Each attempt first reserves a slot on every throttle counter (one
/// atomic UPDATE each), and only then hashes: concurrent guesses cannot
/// all pass the check before any failure is written. `hashing` caps how
/// many argon2 verifications run at once in this process.
pub async fn login(
    db: &Db,
    hashing: &tokio::sync::Semaphore,
    email: &str,
    password: &SecretString,
    ip: Option<&str>,
) -> Result<(SecretString, Session), LoginError> {
    let now = clock::now();
    let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    let keys = throttle_keys(&email, ip);
    for (i, (key, max)) in keys.iter().enumerate() {
        if let Err(retry_after) = reserve(db, key, *max, now).await? {
            // Give back what this attempt took from the earlier counters.
            for (k, _) in &keys[..i] {
                release(db, k).await?;
            }
            return Err(LoginError::Throttled { retry_after });
        }
    }
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email.clone()))
        .one(db)
        .await?;
    // Unknown e-mails cost a hash too, so timing does not say which exist.
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    let pw = password.clone();
    let ok = {
        let _permit = hashing
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(format!("password check: {e}")))?;
        tokio::task::spawn_blocking(move || verify_password(&pw, &stored))
            .await
            .map_err(|e| CoreError::Internal(format!("password check: {e}")))?
    };
    let user = match user {
        Some(u) if ok && u.disabled_at.is_none() => u,
        _ => {
            // The reservations stay: they are the failures.
            for (key, max) in &keys {
                lock_if_full(db, key, *max, now).await?;
            }
            return Err(LoginError::BadCredentials);
        }
    };
    // A right password clears its pair and does not count against the network.
    throttle_row::Entity::delete_by_id(keys[0].0.clone())
        .exec(db)
        .await?;
    for (key, _) in &keys[1..] {
        release(db, key).await?;
    }
    users::Entity::update_many()
        .col_expr(users::Column::LastLoginAt, Expr::value(Some(now)))
        .filter(users::Column::Id.eq(user.id.clone()))
        .exec(db)
        .await?;
    Ok(open(db, user, ip).await?)
}

/// A session for a user who just proved who they are (login or sign-up).
pub async fn open(
    db: &Db,
    user: users::Model,
    ip: Option<&str>,
) -> Result<(SecretString, Session), CoreError> {
    let now = clock::now();
    let token = random_token();
    let id = sha256_hex(token.expose_secret());
    let csrf = random_token().into_exposed();
    let expires_at = now + ABSOLUTE_TIMEOUT;
    session_row::ActiveModel {
        id: Set(id.clone()),
        integrator_id: Set(user.integrator_id.clone()),
        user_id: Set(user.id.clone()),
        csrf_token: Set(csrf.clone()),
        ip: Set(ip.map(str::to_owned)),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok((
        token,
        Session {
            id,
            user,
            csrf_token: csrf,
            expires_at,
        },
    ))
}

/// The live session for a cookie value, if any; expired ones are deleted.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Session>, CoreError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let now = clock::now();
    let id = sha256_hex(token);
    let Some(row) = session_row::Entity::find_by_id(id.clone()).one(db).await? else {
        return Ok(None);
    };
    if row.expires_at <= now || row.last_seen_at + IDLE_TIMEOUT <= now {
        session_row::Entity::delete_by_id(id).exec(db).await?;
        return Ok(None);
    }
    let Some(user) = users::Entity::find_by_id(row.user_id.clone())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if user.disabled_at.is_some() {
        return Ok(None);
    }
    if row.last_seen_at + TOUCH_EVERY <= now {
        session_row::Entity::update_many()
            .col_expr(session_row::Column::LastSeenAt, Expr::value(now))
            .filter(session_row::Column::Id.eq(id.clone()))
            .exec(db)
            .await?;
    }
    Ok(Some(Session {
        id,
        user,
        csrf_token: row.csrf_token,
        expires_at: row.expires_at,
    }))
}

/// Ends every session of a user (a member removed from the team).
pub async fn end_all_for_user(
    db: &impl ConnectionTrait,
    user_id: &UserId,
) -> Result<u64, CoreError> {
    let res = session_row::Entity::delete_many()
        .filter(session_row::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

pub async fn logout(db: &impl ConnectionTrait, session_id: &str) -> Result<(), CoreError> {
    session_row::Entity::delete_by_id(session_id.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Takes one attempt from `key`'s counter, atomically: `Ok(Ok(()))` when
/// there was room, `Ok(Err(retry_after))` when the key is locked or full.
async fn reserve(
    db: &Db,
    key: &str,
    max: i32,
    now: DateTime<Utc>,
) -> Result<Result<(), StdDuration>, sea_orm::DbErr> {
    use throttle_row::Column as C;
    let window_start = now - THROTTLE_WINDOW;
    let unlocked = || {
        sea_orm::Condition::any()
            .add(C::LockedUntil.is_null())
            .add(C::LockedUntil.lte(now))
    };
    // The counter row exists first (a no-op when it does), so what follows
    // are plain conditional UPDATEs: the database evaluates them under the
    // row's write lock, so two attempts can never both take the last slot.
    throttle_row::Entity::insert(throttle_row::ActiveModel {
        id: Set(key.to_owned()),
        failures: Set(0),
        window_started_at: Set(now),
        locked_until: Set(None),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(C::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let taken = throttle_row::Entity::update_many()
        .col_expr(C::Failures, Expr::col(C::Failures).add(1))
        .filter(C::Id.eq(key))
        .filter(C::WindowStartedAt.gt(window_start))
        .filter(C::Failures.lt(max))
        .filter(unlocked())
        .exec(db)
        .await?;
    if taken.rows_affected == 1 {
        return Ok(Ok(()));
    }
    // An old window (and no lock): start a new one with this attempt.
    let restarted = throttle_row::Entity::update_many()
        .col_expr(C::Failures, Expr::value(1))
        .col_expr(C::WindowStartedAt, Expr::value(now))
        .col_expr(C::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(C::Id.eq(key))
        .filter(C::WindowStartedAt.lte(window_start))
        .filter(unlocked())
        .exec(db)
        .await?;
    if restarted.rows_affected == 1 {
        return Ok(Ok(()));
    }
    let until = throttle_row::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| {
            row.locked_until
                .filter(|u| *u > now)
                .unwrap_or(row.window_started_at + THROTTLE_WINDOW)
        })
        .unwrap_or(now + THROTTLE_WINDOW);
    Ok(Err((until - now).to_std().unwrap_or_default()))
}

/// Gives back one reserved attempt (a right password, or a later counter refused).
async fn release(db: &Db, key: &str) -> Result<(), sea_orm::DbErr> {
    use throttle_row::Column as C;
    throttle_row::Entity::update_many()
        .col_expr(C::Failures, Expr::col(C::Failures).sub(1))
        .filter(C::Id.eq(key))
        .filter(C::Failures.gt(0))
        .exec(db)
        .await?;
    Ok(())
}

/// After a failure: a full counter locks its key for [`LOCKOUT`].
async fn lock_if_full(
    db: &Db,
    key: &str,
    max: i32,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    use throttle_row::Column as C;
    throttle_row::Entity::update_many()
        .col_expr(C::LockedUntil, Expr::value(Some(now + LOCKOUT)))
        .filter(C::Id.eq(key))
        .filter(C::Failures.gte(max))
        .exec(db)
        .await?;
    Ok(())
}

/// An argon2id hash of a random string, verified against when the e-mail is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Vf9V0hqy7fDCuH1XzZf4oLwIbZLE7mJ2JlU5mM1SHbY";
