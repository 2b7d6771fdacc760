//! Sellers as the dashboard lists them, unlinking, and Mercado Pago's
//! `mp-connect` deauthorizations.

use crate::clock;
use crate::db::Db;
use crate::error::Conflict;
use crate::lookups::Stale;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::audit::{self, Actor};
use crate::entities::{seller_credentials, sellers};
use crate::error::CoreError;
use crate::id::{IntegratorId, SellerId};
use crate::paging::{Page, PageRequest, fetch_page};
use crate::states::{LinkStatus, Site};
use crate::tenancy::Scope;

/// The sellers list's filters, parsed from untrusted query parameters.
#[derive(Debug, Clone, Default)]
pub struct SellerFilter {
    /// Matches nickname, label, e-mail or the Mercado Pago user id.
    pub q: Option<String>,
    pub status: Option<LinkStatus>,
    pub site: Option<Site>,
    /// Only sellers whose token expires before this instant.
    pub expiring_before: Option<DateTime<Utc>>,
}

/// A seller row with its token expiry (from the credentials table).
#[derive(Debug, Clone)]
pub struct SellerRow {
    pub seller: sellers::Model,
    pub token_expires_at: Option<DateTime<Utc>>,
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &SellerFilter,
    page: &PageRequest,
) -> Result<Page<SellerRow>, CoreError> {
    let mut q = scope.select::<sellers::Entity>();
    if let Some(text) = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let text: String = text.chars().take(100).collect();
        let pattern = format!("%{}%", like_escape(&text.to_lowercase()));
        let mut any = Condition::any()
            .add(Expr::cust_with_values(
                "LOWER(nickname) LIKE $1 ESCAPE '\\'",
                [pattern.clone()],
            ))
            .add(Expr::cust_with_values(
                "LOWER(COALESCE(label, '')) LIKE $1 ESCAPE '\\'",
                [pattern.clone()],
            ))
            .add(Expr::cust_with_values(
                "LOWER(COALESCE(email, '')) LIKE $1 ESCAPE '\\'",
                [pattern],
            ));
        if let Ok(n) = text.parse::<i64>() {
            any = any.add(sellers::Column::MpUserId.eq(n));
        }
        q = q.filter(any);
    }
    if let Some(s) = filter.status {
        q = q.filter(sellers::Column::LinkStatus.eq(s.as_str()));
    }
    if let Some(site) = filter.site {
        q = q.filter(sellers::Column::SiteId.eq(site.as_str()));
    }
    if let Some(before) = filter.expiring_before {
        let expiring = scope
            .select::<seller_credentials::Entity>()
            .filter(seller_credentials::Column::ExpiresAt.lt(before))
            .all(db)
            .await?;
        let ids: Vec<SellerId> = expiring.into_iter().map(|c| c.seller_id).collect();
        q = q.filter(sellers::Column::Id.is_in(ids));
    }
    let page = fetch_page(db, q, sellers::Column::Id, page, |m| m.id.to_string()).await?;
    let ids: Vec<SellerId> = page.items.iter().map(|s| s.id.clone()).collect();
    let creds = scope
        .select::<seller_credentials::Entity>()
        .filter(seller_credentials::Column::SellerId.is_in(ids))
        .all(db)
        .await?;
    Ok(page.map(|seller| SellerRow {
        token_expires_at: creds
            .iter()
            .find(|c| c.seller_id == seller.id)
            .map(|c| c.expires_at),
        seller,
    }))
}

/// The seller `id` if the scope reaches it. A store or POS scope reaches
/// its own seller, though the sellers table has no store column to filter
/// on; another seller, or another integrator's, is not found.
pub async fn in_scope(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: &SellerId,
) -> Result<sellers::Model, CoreError> {
    if scope.seller_id().is_some_and(|own| own != id) {
        return Err(CoreError::NotFound { kind: "seller" });
    }
    Scope::integrator(scope.integrator_id().clone())
        .find::<sellers::Entity>(db, id)
        .await
}

/// The scope's sellers by nickname, at most `limit` (names in tables,
/// filters and choices).
pub async fn by_nickname(
    db: &impl ConnectionTrait,
    scope: &Scope,
    limit: u64,
) -> Result<Vec<sellers::Model>, CoreError> {
    Ok(scope
        .select::<sellers::Entity>()
        .order_by_asc(sellers::Column::Nickname)
        .limit(limit)
        .all(db)
        .await?)
}

/// The scope's sellers with these ids.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    ids: Vec<SellerId>,
) -> Result<Vec<sellers::Model>, CoreError> {
    Ok(scope
        .select::<sellers::Entity>()
        .filter(sellers::Column::Id.is_in(ids))
        .all(db)
        .await?)
}

/// How many of the scope's sellers have this link status.
pub async fn count_with_status(
    db: &impl ConnectionTrait,
    scope: &Scope,
    status: LinkStatus,
) -> Result<u64, CoreError> {
    Ok(scope
        .select::<sellers::Entity>()
        .filter(sellers::Column::LinkStatus.eq(status.as_str()))
        .count(db)
        .await?)
}

pub async fn token_expiry(
    db: &impl ConnectionTrait,
    scope: &Scope,
    seller_id: &SellerId,
) -> Result<Option<DateTime<Utc>>, CoreError> {
    Ok(scope
        .select::<seller_credentials::Entity>()
        .filter(seller_credentials::Column::SellerId.eq(seller_id))
        .one(db)
        .await?
        .map(|c| c.expires_at))
}

/// Removes the seller's tokens and marks it unlinked (its registry stays,
/// for history; re-linking refreshes it).
pub async fn unlink(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    seller_id: &SellerId,
) -> Result<(), CoreError> {
    let seller = scope.find::<sellers::Entity>(db, seller_id).await?;
    if !seller.link_status.can_become(LinkStatus::Unlinked) {
        return Err(CoreError::conflict(
            Conflict::AlreadyUnlinked,
            "the seller is already unlinked",
        ));
    }
    let txn = db.begin_write().await?;
    mark_unlinked(&txn, &seller).await?;
    audit::record(
        &txn,
        &seller.integrator_id,
        actor,
        "seller.unlinked",
        Some(audit::Target::Seller(&seller.id)),
        Some(seller.nickname.clone()),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    Ok(())
}

async fn mark_unlinked(
    db: &impl ConnectionTrait,
    seller: &sellers::Model,
) -> Result<(), CoreError> {
    seller_credentials::Entity::delete_many()
        .filter(seller_credentials::Column::SellerId.eq(seller.id.clone()))
        .exec(db)
        .await?;
    sellers::Entity::update_many()
        .col_expr(
            sellers::Column::LinkStatus,
            Expr::value(LinkStatus::Unlinked.as_str()),
        )
        .col_expr(sellers::Column::UnlinkedAt, Expr::value(Some(clock::now())))
        .col_expr(sellers::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(sellers::Column::Id.eq(seller.id.clone()))
        .exec(db)
        .await?;
    // Delivered by the webhook worker (its reconciler picks up new rows).
    crate::events::emit(
        db,
        &seller.integrator_id,
        Some(&seller.id),
        "seller.unlinked",
        &serde_json::json!({ "seller_id": seller.id, "mp_user_id": seller.mp_user_id, "nickname": seller.nickname }),
    )
    .await?;
    Ok(())
}

/// An `mp-connect` `application.deauthorized` that verified under the
/// notification secret of `integrator` (the only tenant it may touch: a
/// client id is public, so it must not pick the tenant), for the seller
/// whose Mercado Pago user id is `mp_user_id` (the signed `data.id`). That
/// seller is unlinked and its tokens deleted. Returns the seller id, or
/// None when the integrator has no linked seller for that account.
pub async fn handle_deauthorization(
    db: &Db,
    integrator: &IntegratorId,
    mp_user_id: i64,
) -> Result<Option<SellerId>, CoreError> {
    let scope = Scope::integrator(integrator.clone());
    let Some(seller) = scope
        .select::<sellers::Entity>()
        .filter(sellers::Column::MpUserId.eq(mp_user_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if !seller.link_status.can_become(LinkStatus::Unlinked) {
        return Ok(None);
    }
    let txn = db.begin_write().await?;
    mark_unlinked(&txn, &seller).await?;
    audit::record(
        &txn,
        &seller.integrator_id,
        &Actor::system(),
        "seller.deauthorized",
        Some(audit::Target::Seller(&seller.id)),
        Some("mp-connect application.deauthorized".into()),
    )
    .await?;
    txn.commit().await?;
    db.changed(Stale::Charging).await;
    Ok(Some(seller.id))
}
