//! In-store QR orders: the order a POS's printed QR shows, created at
//! Mercado Pago with the integrator's sponsor id (§6).
//!
//! Unlike a terminal charge there is no device flow to follow, so the call
//! is made synchronously and recorded; a new order on the same POS replaces
//! the current one, as at Mercado Pago.

use crate::clock;
use crate::db::Db;
use crate::error::{Conflict, Invalid};
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use crate::credentials;
use crate::crypto::Keyring;
use crate::entities::{integrators, pos, qr_orders, stores};
use crate::error::CoreError;
use crate::id::{IntegratorId, PosId, QrOrderId, SellerId};
use crate::idempotency::Completion;
use crate::mercadopago::{Amount, MpClient, MpError, QrItem, QrOrderRequest, QrSponsor};
use crate::states::QrOrderStatus;
use crate::tenancy::Scope;

#[derive(Debug, Clone)]
pub struct NewQrOrder {
    pub title: String,
    pub description: Option<String>,
    /// Minor units.
    pub total_amount: i64,
    pub external_reference: Option<String>,
    /// Minutes until the order expires at Mercado Pago (1–1440; default 30).
    pub expires_in_minutes: Option<i64>,
}

fn upstream(e: MpError) -> CoreError {
    CoreError::Upstream {
        retryable: e.is_retryable(),
        code: e.code().map(str::to_owned),
        message: e.to_string(),
    }
}

/// Creates (or replaces) the QR order of a POS in the scope.
pub async fn create(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    pos_id: &PosId,
    new: NewQrOrder,
    completion: Option<&Completion<'_, qr_orders::Model>>,
) -> Result<qr_orders::Model, CoreError> {
    let title = new.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 100 {
        return Err(CoreError::invalid(
            Invalid::Title,
            "title must be 1–100 characters",
        ));
    }
    if new.total_amount <= 0 {
        return Err(CoreError::invalid(
            Invalid::AmountOutOfRange,
            "total_amount must be positive",
        ));
    }
    let id = QrOrderId::new();
    let reference = new
        .external_reference
        .clone()
        .unwrap_or_else(|| id.to_string());
    let minutes = new.expires_in_minutes.unwrap_or(30);
    if !(1..=1440).contains(&minutes) {
        return Err(CoreError::invalid(
            Invalid::Expiry,
            "expires_in_minutes must be between 1 and 1440",
        ));
    }
    let amount = Amount::from_cents(new.total_amount)
        .map_err(|e| CoreError::invalid(Invalid::AmountOutOfRange, e.to_string()))?;
    let expires_at = clock::now() + Duration::minutes(minutes);
    let request = QrOrderRequest {
        external_reference: reference,
        title: title.clone(),
        description: new.description.clone().unwrap_or_else(|| title.clone()),
        notification_url: None,
        expiration_date: Some(expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        total_amount: amount,
        items: vec![QrItem {
            sku_number: None,
            category: None,
            title: title.clone(),
            description: None,
            unit_price: amount,
            quantity: 1,
            unit_measure: "unit".into(),
            total_amount: amount,
        }],
        sponsor: None,
        cash_out: None,
    };
    put(
        db,
        keyring,
        mp,
        scope,
        pos_id,
        Some(id),
        request,
        completion,
    )
    .await
}

/// Puts an order in Mercado Pago's own terms (the compatible surface) on a
/// POS of the scope: the body as the POS wrote it, but for the sponsor,
/// which is always the integrator's (a POS can neither omit nor forge it).
/// Replaces the POS's current order, as at Mercado Pago.
pub async fn put_request(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    pos_id: &PosId,
    request: QrOrderRequest,
    completion: Option<&Completion<'_, qr_orders::Model>>,
) -> Result<qr_orders::Model, CoreError> {
    put(db, keyring, mp, scope, pos_id, None, request, completion).await
}

#[allow(clippy::too_many_arguments)]
async fn put(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    pos_id: &PosId,
    id: Option<QrOrderId>,
    mut request: QrOrderRequest,
    completion: Option<&Completion<'_, qr_orders::Model>>,
) -> Result<qr_orders::Model, CoreError> {
    let pos = scope.find::<pos::Entity>(db, pos_id).await?;
    let store = stores::Entity::find_by_id(pos.store_id.clone())
        .one(db)
        .await?
        .ok_or(CoreError::NotFound { kind: "store" })?;
    let token = credentials::access_token(db, keyring, &pos.seller_id).await?;
    let total = request.total_amount.cents();
    if let Some((min, max)) = token.seller.site_id.point_amount_limits()
        && !(min..=max).contains(&total)
    {
        return Err(CoreError::invalid(
            Invalid::AmountOutOfRange,
            format!("total_amount must be between {min} and {max} minor units"),
        ));
    }
    let reference = &request.external_reference;
    if reference.is_empty()
        || reference.len() > 64
        || !reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(CoreError::invalid(
            Invalid::ExternalReference,
            "external_reference: up to 64 of A–Z, a–z, 0–9, - and _",
        ));
    }
    let external_store = store.external_id.clone().ok_or_else(|| {
        CoreError::conflict(
            Conflict::StoreWithoutExternalId,
            "the POS's store has no external id at Mercado Pago",
        )
    })?;
    let integrator = integrators::Entity::find_by_id(pos.integrator_id.clone())
        .one(db)
        .await?
        .ok_or(CoreError::NotFound { kind: "integrator" })?;
    // The integrator's own user id, always (a POS cannot set it).
    request.sponsor = integrator
        .sponsor_id
        .as_deref()
        .and_then(|s| s.parse().ok())
        .map(|id| QrSponsor { id });
    let expires_at = request
        .expiration_date
        .as_deref()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc));
    mp.put_qr_order(
        &token.token,
        token.seller.mp_user_id as u64,
        &external_store,
        &pos.external_id,
        &request,
    )
    .await
    .map_err(upstream)?;
    // The new order replaced any current one at Mercado Pago.
    let txn = db.begin_write().await?;
    close_active(&txn, &pos.id, QrOrderStatus::Canceled).await?;
    let now = clock::now();
    let row = qr_orders::ActiveModel {
        id: Set(id.unwrap_or_default()),
        integrator_id: Set(pos.integrator_id.clone()),
        seller_id: Set(pos.seller_id.clone()),
        store_id: Set(Some(store.id.clone())),
        pos_id: Set(pos.id.clone()),
        external_reference: Set(request.external_reference.clone()),
        title: Set(Some(request.title.clone())),
        total_amount: Set(total),
        currency: Set(token.seller.site_id.currency().to_owned()),
        status: Set(QrOrderStatus::Active),
        sponsor_id: Set(integrator.sponsor_id),
        expires_at: Set(expires_at),
        mp_payment_id: Set(None),
        request: Set(serde_json::to_string(&request).ok()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::idempotency::complete_with(completion, &txn, &row, row.id.as_str()).await?;
    txn.commit().await?;
    Ok(row)
}

async fn close_active(
    db: &impl sea_orm::ConnectionTrait,
    pos_id: &PosId,
    status: QrOrderStatus,
) -> Result<(), CoreError> {
    qr_orders::Entity::update_many()
        .col_expr(qr_orders::Column::Status, Expr::value(status))
        .col_expr(qr_orders::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(qr_orders::Column::PosId.eq(pos_id))
        .filter(qr_orders::Column::Status.eq(QrOrderStatus::Active))
        .exec(db)
        .await?;
    Ok(())
}

/// The POS's current QR order (an active one past its expiry reads as expired).
pub async fn current(
    db: &Db,
    scope: &Scope,
    pos_id: &PosId,
) -> Result<qr_orders::Model, CoreError> {
    let pos = scope.find::<pos::Entity>(db, pos_id).await?;
    let mut row = scope
        .select::<qr_orders::Entity>()
        .filter(qr_orders::Column::PosId.eq(pos.id))
        .order_by_desc(qr_orders::Column::Id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound { kind: "QR order" })?;
    if row.status == QrOrderStatus::Active && row.expires_at.is_some_and(|e| e <= clock::now()) {
        row.status = QrOrderStatus::Expired;
    }
    Ok(row)
}

/// Removes the POS's QR order at Mercado Pago and here.
pub async fn delete(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    pos_id: &PosId,
) -> Result<(), CoreError> {
    let pos = scope.find::<pos::Entity>(db, pos_id).await?;
    let token = credentials::access_token(db, keyring, &pos.seller_id).await?;
    match mp
        .delete_qr_order(
            &token.token,
            token.seller.mp_user_id as u64,
            &pos.external_id,
        )
        .await
    {
        Ok(()) => {}
        Err(MpError::Api { status: 404, .. }) => {}
        Err(e) => return Err(upstream(e)),
    }
    close_active(db, &pos.id, QrOrderStatus::Canceled).await
}

/// Records the payment of a QR order (a verified `payment` notification,
/// re-read from Mercado Pago): the integrator's seller with this Mercado
/// Pago user id, its newest order with this `external_reference`. An
/// approved payment makes it `paid`; any payment is remembered on it, so the
/// Payments API finds it. `None` when no order matches.
pub async fn record_payment(
    db: &Db,
    integrator_id: &IntegratorId,
    seller_id: &SellerId,
    external_reference: &str,
    mp_payment_id: &str,
    approved: bool,
) -> Result<Option<qr_orders::Model>, CoreError> {
    let Some(order) = qr_orders::Entity::find()
        .filter(qr_orders::Column::IntegratorId.eq(integrator_id))
        .filter(qr_orders::Column::SellerId.eq(seller_id))
        .filter(qr_orders::Column::ExternalReference.eq(external_reference))
        .order_by_desc(qr_orders::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let mut update = qr_orders::Entity::update_many()
        .col_expr(qr_orders::Column::MpPaymentId, Expr::value(mp_payment_id))
        .col_expr(qr_orders::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(qr_orders::Column::Id.eq(order.id.clone()));
    if approved {
        update = update.col_expr(qr_orders::Column::Status, Expr::value(QrOrderStatus::Paid));
    }
    update.exec(db).await?;
    Ok(qr_orders::Entity::find_by_id(order.id).one(db).await?)
}

#[derive(Debug, Serialize)]
pub struct QrOrderView {
    pub id: QrOrderId,
    pub object: &'static str,
    pub pos_id: PosId,
    pub status: QrOrderStatus,
    pub title: Option<String>,
    pub total_amount: i64,
    pub currency: String,
    pub external_reference: String,
    pub sponsor_id: Option<String>,
    pub expires_at: Option<chrono::DateTime<Utc>>,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<&qr_orders::Model> for QrOrderView {
    fn from(q: &qr_orders::Model) -> Self {
        QrOrderView {
            id: q.id.clone(),
            object: "qr_order",
            pos_id: q.pos_id.clone(),
            status: q.status,
            title: q.title.clone(),
            total_amount: q.total_amount,
            currency: q.currency.clone(),
            external_reference: q.external_reference.clone(),
            sponsor_id: q.sponsor_id.clone(),
            expires_at: q.expires_at,
            created_at: q.created_at,
        }
    }
}
