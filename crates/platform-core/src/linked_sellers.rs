//! Storing a seller Mercado Pago authorized: its row and its sealed tokens.
//! The one place these rows are spelled out; onboarding uses it, and so do
//! the test fixtures and the bench, so a new column is added once.

use crate::clock;
use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

use crate::crypto::{Aad, Keyring};
use crate::entities::{seller_credentials, sellers};
use crate::id::{IntegratorId, SellerCredentialId, SellerId};
use crate::secret::SecretString;
use crate::states::{LinkStatus, Site};

/// Seller tokens live 180 days; the worker refreshes them this long before
/// they expire.
pub const REFRESH_MARGIN: Duration = Duration::days(30);

/// A seller not yet known to the integrator, linked now.
#[derive(Debug, Clone)]
pub struct NewLinkedSeller {
    pub integrator_id: IntegratorId,
    pub mp_user_id: i64,
    pub nickname: String,
    pub email: Option<String>,
    pub site: Site,
    pub live_mode: bool,
    pub label: Option<String>,
}

/// What an authorization granted.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub access_token: &'a SecretString,
    pub refresh_token: Option<&'a SecretString>,
    /// Seconds (Mercado Pago: 180 days); absent = 180 days.
    pub expires_in: Option<u64>,
    pub scope: &'a str,
    pub public_key: Option<&'a str>,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewLinkedSeller,
) -> Result<sellers::Model, DbErr> {
    let now = clock::now();
    sellers::ActiveModel {
        id: Set(SellerId::new()),
        integrator_id: Set(new.integrator_id),
        mp_user_id: Set(new.mp_user_id),
        nickname: Set(new.nickname),
        email: Set(new.email),
        site_id: Set(new.site),
        live_mode: Set(new.live_mode),
        link_status: Set(LinkStatus::Linked),
        label: Set(new.label),
        linked_at: Set(Some(now)),
        unlinked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Replaces the seller's credentials with `grant`'s, sealed to their row.
pub async fn store_grant(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    seller: &sellers::Model,
    grant: Grant<'_>,
) -> Result<seller_credentials::Model, DbErr> {
    let now = clock::now();
    seller_credentials::Entity::delete_many()
        .filter(seller_credentials::Column::SellerId.eq(seller.id.clone()))
        .exec(db)
        .await?;
    let id = SellerCredentialId::new();
    let lifetime = grant
        .expires_in
        .unwrap_or(15_552_000)
        .min(10 * 365 * 86_400);
    let expires_at = now + Duration::seconds(lifetime as i64);
    seller_credentials::ActiveModel {
        id: Set(id.clone()),
        integrator_id: Set(seller.integrator_id.clone()),
        seller_id: Set(seller.id.clone()),
        access_token: Set(keyring.seal(
            grant.access_token,
            Aad::new("seller_credentials", "access_token", id.as_str()),
        )),
        refresh_token: Set(grant.refresh_token.map(|r| {
            keyring.seal(
                r,
                Aad::new("seller_credentials", "refresh_token", id.as_str()),
            )
        })),
        expires_at: Set(expires_at),
        scope: Set(grant.scope.to_owned()),
        public_key: Set(grant.public_key.map(str::to_owned)),
        refresh_failures: Set(0),
        next_refresh_at: Set(Some(std::cmp::max(now, expires_at - REFRESH_MARGIN))),
        last_refreshed_at: Set(None),
        last_refresh_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        refresh_lease_until: Set(None),
    }
    .insert(db)
    .await
}
