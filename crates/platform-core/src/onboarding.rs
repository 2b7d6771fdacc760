//! Seller onboarding over Mercado Pago OAuth (authorization code + PKCE S256).
//!
//! 1. An integrator creates a single-use, expiring link ([`create_link`]);
//!    only the SHA-256 of its token is stored.
//! 2. The seller opens it and continues ([`begin`]): a fresh `state` (stored
//!    hashed, bound to the link, single-use, 15 minutes) and a PKCE verifier
//!    (stored encrypted) are saved, and the browser goes to Mercado Pago.
//! 3. Mercado Pago sends the browser back ([`complete`]): the state is
//!    consumed first (so a replay loses even a race), then the code is
//!    exchanged, `/users/me` and the seller's stores/POS/terminals are read,
//!    and only then is everything written in one transaction. Any failure
//!    before the commit leaves no trace but the spent state.

use crate::clock;
use crate::db::Db;
use crate::error::{Conflict, Invalid};
use crate::lookups::Stale;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use crate::audit::{self, Actor};
use crate::crypto::{Aad, Keyring};
use crate::entities::{integrators, oauth_states, onboarding_links, sellers};
use crate::error::CoreError;
use crate::id::{OAuthStateId, OnboardingLinkId, SellerId};
use crate::idempotency::Completion;
use crate::integrator_app;
use crate::linked_sellers;
use crate::mercadopago::{AuthorizationRequest, MpClient, MpError, Pkce, TokenResponse, User};
use crate::paging::{Page, PageRequest, fetch_page};
use crate::registry;
use crate::secret::SecretString;
use crate::states::{LinkStatus, OnboardingLinkStatus, Site};
use crate::tenancy::Scope;
use crate::tokens::{looks_like_token, random_token, sha256_hex};

pub const STATE_TTL: Duration = Duration::minutes(15);
/// Link lifetimes the dashboard offers, in hours.
pub const LINK_TTL_CHOICES: &[i64] = &[1, 24, 72, 168];
pub const MAX_LABEL_CHARS: usize = 120;

/// Every way onboarding can stop, each with its own page for the seller.
#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("this link does not exist")]
    LinkNotFound,
    #[error("this link has expired")]
    LinkExpired,
    #[error("this link was already used")]
    LinkUsed,
    #[error("this link was revoked")]
    LinkRevoked,
    #[error("the integrator has not configured its Mercado Pago application")]
    AppNotConfigured,
    #[error("the seller denied access")]
    Denied,
    #[error("unknown authorization attempt (state)")]
    StateUnknown,
    #[error("this authorization attempt was already used")]
    StateReused,
    #[error("this authorization attempt expired")]
    StateExpired,
    #[error("this authorization attempt was started in another browser")]
    StateOtherBrowser,
    #[error("Mercado Pago did not accept the authorization code")]
    ExchangeFailed,
    #[error("Mercado Pago is not answering")]
    UpstreamDown,
    #[error("this Mercado Pago account is linked to another integrator")]
    LinkedElsewhere,
    #[error("this Mercado Pago account is already linked")]
    AlreadyLinked,
    #[error("this link is for another Mercado Pago account")]
    WrongAccount,
    #[error("this Mercado Pago site is not supported")]
    UnsupportedSite,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl OnboardingError {
    /// Stable code for pages, logs and tests.
    pub fn code(&self) -> &'static str {
        use OnboardingError::*;
        match self {
            LinkNotFound => "link_not_found",
            LinkExpired => "link_expired",
            LinkUsed => "link_used",
            LinkRevoked => "link_revoked",
            AppNotConfigured => "app_not_configured",
            Denied => "denied",
            StateUnknown => "state_unknown",
            StateReused => "state_reused",
            StateExpired => "state_expired",
            StateOtherBrowser => "state_other_browser",
            ExchangeFailed => "exchange_failed",
            UpstreamDown => "upstream_down",
            LinkedElsewhere => "linked_elsewhere",
            AlreadyLinked => "already_linked",
            WrongAccount => "wrong_account",
            UnsupportedSite => "unsupported_site",
            Core(_) => "internal_error",
        }
    }

    fn from_mp(e: &MpError) -> Self {
        if e.is_retryable() {
            OnboardingError::UpstreamDown
        } else {
            OnboardingError::ExchangeFailed
        }
    }
}

impl From<sea_orm::DbErr> for OnboardingError {
    fn from(e: sea_orm::DbErr) -> Self {
        OnboardingError::Core(e.into())
    }
}

#[derive(Debug, Clone)]
pub struct NewLink {
    pub label: String,
    pub ttl_hours: i64,
    /// Re-linking an existing seller (after `needs_reconnect` or unlinking).
    pub seller_id: Option<SellerId>,
}

/// Validates a link form; returns every rule it breaks (each names its field).
pub fn validate_link(new: &NewLink) -> Vec<Invalid> {
    let mut errors = Vec::new();
    let label = new.label.trim();
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        errors.push(Invalid::LinkLabel);
    }
    if !LINK_TTL_CHOICES.contains(&new.ttl_hours) {
        errors.push(Invalid::LinkTtl);
    }
    errors
}

/// Creates a link; returns it and the token for its URL (shown, never stored).
pub async fn create_link(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    new: NewLink,
    completion: Option<&Completion<'_, (onboarding_links::Model, SecretString)>>,
) -> Result<(onboarding_links::Model, SecretString), CoreError> {
    if let Some(reason) = validate_link(&new).first() {
        return Err(CoreError::invalid(*reason, "invalid onboarding link"));
    }
    let seller = match &new.seller_id {
        Some(id) => Some(scope.find::<sellers::Entity>(db, id).await?),
        None => None,
    };
    let label = new.label.trim();
    let label = if label.is_empty() {
        seller.as_ref().and_then(|s| s.label.clone())
    } else {
        Some(label.to_owned())
    };
    let now = clock::now();
    let token = random_token();
    let txn = db.begin_write().await?;
    let link = onboarding_links::ActiveModel {
        id: Set(OnboardingLinkId::new()),
        integrator_id: Set(scope.integrator_id().clone()),
        label: Set(label),
        token_hash: Set(sha256_hex(token.expose_secret())),
        status: Set(OnboardingLinkStatus::Open),
        expires_at: Set(now + Duration::hours(new.ttl_hours)),
        used_at: Set(None),
        seller_id: Set(seller.map(|s| s.id)),
        created_by: Set(actor.id.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &link.integrator_id,
        actor,
        "onboarding_link.created",
        Some(audit::Target::OnboardingLink(&link.id)),
        link.label.clone(),
    )
    .await?;
    let created = (link, token);
    crate::idempotency::complete_with(completion, &txn, &created, created.0.id.as_str()).await?;
    txn.commit().await?;
    Ok(created)
}

/// The status a link shows now (an open link past its expiry is expired).
pub fn effective_status(
    link: &onboarding_links::Model,
    now: DateTime<Utc>,
) -> OnboardingLinkStatus {
    match link.status {
        OnboardingLinkStatus::Open if link.expires_at <= now => OnboardingLinkStatus::Expired,
        s => s,
    }
}

pub async fn list_links(
    db: &impl ConnectionTrait,
    scope: &Scope,
    page: &PageRequest,
) -> Result<Page<onboarding_links::Model>, CoreError> {
    let q = scope.select::<onboarding_links::Entity>();
    fetch_page(db, q, onboarding_links::Column::Id, page, |m| {
        m.id.to_string()
    })
    .await
}

pub async fn revoke_link(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    link_id: &OnboardingLinkId,
) -> Result<(), CoreError> {
    let link = scope.find::<onboarding_links::Entity>(db, link_id).await?;
    if link.status != OnboardingLinkStatus::Open {
        return Err(CoreError::conflict(
            Conflict::LinkNotOpen,
            "the link is not open",
        ));
    }
    let txn = db.begin_write().await?;
    let mut row = link.clone().into_active_model();
    row.status = Set(OnboardingLinkStatus::Revoked);
    row.updated_at = Set(clock::now());
    row.update(&txn).await?;
    audit::record(
        &txn,
        &link.integrator_id,
        actor,
        "onboarding_link.revoked",
        Some(audit::Target::OnboardingLink(&link.id)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// An open link and who is asking, for the seller's landing page.
#[derive(Debug, Clone)]
pub struct OpenLink {
    pub link: onboarding_links::Model,
    pub integrator: integrators::Model,
}

fn check_open(link: &onboarding_links::Model, now: DateTime<Utc>) -> Result<(), OnboardingError> {
    match effective_status(link, now) {
        OnboardingLinkStatus::Open => Ok(()),
        OnboardingLinkStatus::Expired => Err(OnboardingError::LinkExpired),
        OnboardingLinkStatus::Used => Err(OnboardingError::LinkUsed),
        OnboardingLinkStatus::Revoked => Err(OnboardingError::LinkRevoked),
    }
}

/// The link behind a URL token. The token is the only credential the seller
/// has, so this lookup is by hash and across integrators by design.
pub async fn open_link(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<OpenLink, OnboardingError> {
    if !looks_like_token(token) {
        return Err(OnboardingError::LinkNotFound);
    }
    let link = onboarding_links::Entity::find()
        .filter(onboarding_links::Column::TokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?
        .ok_or(OnboardingError::LinkNotFound)?;
    check_open(&link, clock::now())?;
    let integrator = integrators::Entity::find_by_id(link.integrator_id.clone())
        .one(db)
        .await?
        .ok_or(OnboardingError::LinkNotFound)?;
    Ok(OpenLink { link, integrator })
}

/// Starts an authorization attempt; returns Mercado Pago's URL.
pub async fn begin(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    mp: &MpClient,
    token: &str,
    redirect_uri: &str,
) -> Result<String, OnboardingError> {
    let open = open_link(db, token).await?;
    let creds = integrator_app::credentials(keyring, &open.integrator)?
        .ok_or(OnboardingError::AppNotConfigured)?;
    let now = clock::now();
    let pkce = Pkce::generate();
    let state = random_token();
    let id = OAuthStateId::new();
    oauth_states::ActiveModel {
        id: Set(id.clone()),
        integrator_id: Set(open.integrator.id.clone()),
        link_id: Set(open.link.id.clone()),
        state_hash: Set(sha256_hex(state.expose_secret())),
        pkce_verifier: Set(keyring.seal(
            pkce.verifier(),
            Aad::new("oauth_states", "pkce_verifier", id.as_str()),
        )),
        expires_at: Set(now + STATE_TTL),
        consumed_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    let url = mp.authorization_url(&AuthorizationRequest {
        client_id: &creds.client_id,
        redirect_uri,
        state: state.expose_secret(),
        pkce: Some(&pkce),
    });
    Ok(url.to_string())
}

/// What Mercado Pago put on the callback URL.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// A finished onboarding, for the success page.
#[derive(Debug, Clone)]
pub struct Linked {
    pub seller: sellers::Model,
    pub integrator_name: String,
    pub relinked: bool,
    pub terminals: usize,
}

/// Consumes the state: exactly one caller wins, even concurrently.
async fn consume_state(
    db: &impl ConnectionTrait,
    state: &str,
) -> Result<oauth_states::Model, OnboardingError> {
    if !looks_like_token(state) {
        return Err(OnboardingError::StateUnknown);
    }
    let row = oauth_states::Entity::find()
        .filter(oauth_states::Column::StateHash.eq(sha256_hex(state)))
        .one(db)
        .await?
        .ok_or(OnboardingError::StateUnknown)?;
    let now = clock::now();
    let res = oauth_states::Entity::update_many()
        .col_expr(oauth_states::Column::ConsumedAt, Expr::value(Some(now)))
        .filter(oauth_states::Column::Id.eq(row.id.clone()))
        .filter(oauth_states::Column::ConsumedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(OnboardingError::StateReused);
    }
    if row.expires_at <= now {
        return Err(OnboardingError::StateExpired);
    }
    Ok(row)
}

pub async fn complete(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    redirect_uri: &str,
    cb: Callback,
    ip: Option<String>,
) -> Result<Linked, OnboardingError> {
    let state = consume_state(db, cb.state.as_deref().unwrap_or("")).await?;
    let scope = Scope::integrator(state.integrator_id.clone());
    let link = scope
        .find::<onboarding_links::Entity>(db, &state.link_id)
        .await
        .map_err(|_| OnboardingError::LinkNotFound)?;
    check_open(&link, clock::now())?;
    if cb.error.is_some() || cb.code.as_deref().unwrap_or("").is_empty() {
        let actor = Actor::seller(None, ip);
        let detail = cb
            .error
            .as_deref()
            .unwrap_or("no code")
            .chars()
            .take(60)
            .collect();
        audit::record(
            db,
            &link.integrator_id,
            &actor,
            "onboarding.denied",
            Some(audit::Target::OnboardingLink(&link.id)),
            Some(detail),
        )
        .await?;
        return Err(OnboardingError::Denied);
    }
    let integrator = scope
        .find::<integrators::Entity>(db, &state.integrator_id)
        .await?;
    let creds = integrator_app::credentials(keyring, &integrator)?
        .ok_or(OnboardingError::AppNotConfigured)?;
    let verifier = keyring
        .open(
            &state.pkce_verifier,
            Aad::new("oauth_states", "pkce_verifier", state.id.as_str()),
        )
        .map_err(CoreError::from)?;
    let code = cb.code.unwrap_or_default();
    let tokens = mp
        .exchange_code(&creds, &code, redirect_uri, Some(&verifier))
        .await
        .map_err(|e| OnboardingError::from_mp(&e))?;
    let user = mp
        .me(&tokens.access_token)
        .await
        .map_err(|e| OnboardingError::from_mp(&e))?;
    let mp_user_id = user
        .id
        .as_u64()
        .and_then(|u| i64::try_from(u).ok())
        .ok_or(OnboardingError::ExchangeFailed)?;
    let site = user
        .site_id
        .as_deref()
        .and_then(Site::parse)
        .ok_or(OnboardingError::UnsupportedSite)?;
    let existing = check_ownership(db, &scope, &link, mp_user_id).await?;
    let snapshot = registry::fetch_snapshot(
        mp,
        &tokens.access_token,
        mp_user_id as u64,
        integrator.upstream_api,
    )
    .await
    .map_err(|e| OnboardingError::from_mp(&e))?;

    let txn = db.begin_write().await?;
    // The link is spent here, under the transaction: a concurrent callback
    // for the same link (two states) loses and rolls back.
    let spent = onboarding_links::Entity::update_many()
        .col_expr(
            onboarding_links::Column::Status,
            Expr::value(OnboardingLinkStatus::Used.as_str()),
        )
        .col_expr(
            onboarding_links::Column::UsedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(onboarding_links::Column::Id.eq(link.id.clone()))
        .filter(onboarding_links::Column::Status.eq(OnboardingLinkStatus::Open.as_str()))
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(OnboardingError::LinkUsed);
    }
    let relinked = existing.is_some();
    let seller = save_seller(&txn, &link, existing, &user, site, &tokens).await?;
    save_credentials(&txn, keyring, &seller, &tokens).await?;
    onboarding_links::Entity::update_many()
        .col_expr(
            onboarding_links::Column::SellerId,
            Expr::value(Some(seller.id.clone())),
        )
        .filter(onboarding_links::Column::Id.eq(link.id.clone()))
        .exec(&txn)
        .await?;
    let counts = registry::apply_snapshot(&txn, &link.integrator_id, &seller.id, &snapshot).await?;
    let actor = Actor::seller(Some(&seller.id), ip);
    let action = if relinked {
        "seller.relinked"
    } else {
        "seller.linked"
    };
    let detail = format!(
        "{} ({}), {} terminals",
        seller.nickname, seller.mp_user_id, counts.terminals
    );
    audit::record(
        &txn,
        &link.integrator_id,
        &actor,
        action,
        Some(audit::Target::Seller(&seller.id)),
        Some(detail),
    )
    .await?;
    crate::events::emit(
        &txn,
        &seller.integrator_id,
        Some(&seller.id),
        "seller.linked",
        &serde_json::json!({
            "seller_id": seller.id, "mp_user_id": seller.mp_user_id, "nickname": seller.nickname,
            "site_id": seller.site_id, "relinked": relinked, "terminals": counts.terminals,
        }),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    Ok(Linked {
        seller,
        integrator_name: integrator.name,
        relinked,
        terminals: counts.terminals,
    })
}

/// Refuses an account linked elsewhere, already linked here, or not the one
/// a re-link link was made for; returns the existing seller to update.
async fn check_ownership(
    db: &impl ConnectionTrait,
    scope: &Scope,
    link: &onboarding_links::Model,
    mp_user_id: i64,
) -> Result<Option<sellers::Model>, OnboardingError> {
    // Deliberately unscoped: whether *another* integrator holds this account.
    // Only a yes/no leaves this query.
    let elsewhere = sellers::Entity::find()
        .filter(sellers::Column::MpUserId.eq(mp_user_id))
        .filter(sellers::Column::IntegratorId.ne(link.integrator_id.clone()))
        .filter(sellers::Column::LinkStatus.ne(LinkStatus::Unlinked.as_str()))
        .one(db)
        .await?;
    if elsewhere.is_some() {
        return Err(OnboardingError::LinkedElsewhere);
    }
    let existing = scope
        .select::<sellers::Entity>()
        .filter(sellers::Column::MpUserId.eq(mp_user_id))
        .one(db)
        .await?;
    match (&link.seller_id, &existing) {
        (Some(wanted), Some(found)) if *wanted != found.id => Err(OnboardingError::WrongAccount),
        (Some(_), None) => Err(OnboardingError::WrongAccount),
        (None, Some(found)) if found.link_status == LinkStatus::Linked => {
            Err(OnboardingError::AlreadyLinked)
        }
        _ => Ok(existing),
    }
}

async fn save_seller(
    db: &impl ConnectionTrait,
    link: &onboarding_links::Model,
    existing: Option<sellers::Model>,
    user: &User,
    site: Site,
    tokens: &TokenResponse,
) -> Result<sellers::Model, OnboardingError> {
    let nickname = user.nickname.clone().unwrap_or_else(|| user.id.to_string());
    let live_mode = tokens.live_mode.unwrap_or(true) && !user.is_test_user();
    let Some(existing) = existing else {
        let new = linked_sellers::NewLinkedSeller {
            integrator_id: link.integrator_id.clone(),
            mp_user_id: user.id.as_u64().unwrap_or_default() as i64,
            nickname,
            email: user.email.clone(),
            site,
            live_mode,
            label: link.label.clone(),
        };
        return Ok(linked_sellers::insert(db, new).await?);
    };
    // Re-linked: the same row, linked again.
    let now = clock::now();
    let mut row = existing.into_active_model();
    row.nickname = Set(nickname);
    row.email = Set(user.email.clone());
    row.site_id = Set(site);
    row.live_mode = Set(live_mode);
    row.link_status = Set(LinkStatus::Linked);
    row.linked_at = Set(Some(now));
    row.unlinked_at = Set(None);
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

async fn save_credentials(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    seller: &sellers::Model,
    tokens: &TokenResponse,
) -> Result<(), OnboardingError> {
    let grant = linked_sellers::Grant {
        access_token: &tokens.access_token,
        refresh_token: tokens.refresh_token.as_ref(),
        expires_in: tokens.expires_in,
        scope: tokens.scope.as_deref().unwrap_or_default(),
        public_key: tokens.public_key.as_deref(),
    };
    linked_sellers::store_grant(db, keyring, seller, grant).await?;
    Ok(())
}
