//! Payments Puente knows, for the compatible surface's Payments API
//! (`/v1/payments/{id}`, §2.7): a terminal payment of an intent (the legacy
//! upstream's numeric payment id, or the `reference_id` Mercado Pago
//! reported for an Orders API payment) or the payment of a QR order, found
//! through the caller's scope; and Mercado Pago's view of it, read with its
//! seller's token.
//!
//! Also: the search of the scope's known payments (by the POS's own
//! `external_reference`), the adoption of a QR payment Mercado Pago already
//! serves but whose notification Puente has not processed yet, and the
//! refund of a QR payment.

use crate::db::Db;
use sea_orm::sea_query::{Condition, Query};
use sea_orm::{
    ColumnTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::audit::{self, Actor};
use crate::credentials;
use crate::crypto::Keyring;
use crate::entities::{mp_order_details, payment_intents, qr_orders};
use crate::error::CoreError;
use crate::mercadopago::{Amount, MpClient, MpError};
use crate::states::{QrOrderStatus, UpstreamApi};
use crate::tenancy::Scope;

/// What a payment id names in Puente.
#[derive(Debug, Clone)]
pub enum KnownPayment {
    /// A terminal payment: refundable through `platform_core::refunds`.
    Intent(Box<payment_intents::Model>),
    /// A buyer's payment of a QR order.
    Qr(Box<qr_orders::Model>),
}

impl KnownPayment {
    pub fn seller_id(&self) -> &crate::id::SellerId {
        match self {
            KnownPayment::Intent(i) => &i.seller_id,
            KnownPayment::Qr(q) => &q.seller_id,
        }
    }

    /// The `external_reference` the POS gave: an intent's own (upstream
    /// carries Puente's intent id instead, so notifications always match),
    /// a QR order's (sent upstream as is).
    pub fn pos_reference(&self) -> Option<&str> {
        match self {
            KnownPayment::Intent(i) => i.external_reference.as_deref(),
            KnownPayment::Qr(q) => Some(&q.external_reference),
        }
    }

    fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        match self {
            KnownPayment::Intent(i) => i.created_at,
            KnownPayment::Qr(q) => q.created_at,
        }
    }

    fn row_id(&self) -> &str {
        match self {
            KnownPayment::Intent(i) => i.id.as_str(),
            KnownPayment::Qr(q) => q.id.as_str(),
        }
    }
}

/// The payment of the scope with this Mercado Pago payment id (a number).
pub async fn find(
    db: &Db,
    scope: &Scope,
    payment_id: &str,
) -> Result<Option<KnownPayment>, CoreError> {
    if payment_id.is_empty() || !payment_id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    if let Some(i) = scope
        .select::<payment_intents::Entity>()
        .filter(payment_intents::Column::MpPaymentId.eq(payment_id))
        .one(db)
        .await?
    {
        return Ok(Some(KnownPayment::Intent(Box::new(i))));
    }
    // An Orders API payment is a Payments API payment under its reference id.
    let referenced: Vec<crate::id::PaymentIntentId> = mp_order_details::Entity::find()
        .filter(mp_order_details::Column::ReferenceId.eq(payment_id))
        .filter(mp_order_details::Column::IntegratorId.eq(scope.integrator_id().as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.intent_id)
        .collect();
    if !referenced.is_empty()
        && let Some(i) = scope
            .select::<payment_intents::Entity>()
            .filter(payment_intents::Column::Id.is_in(referenced))
            .one(db)
            .await?
    {
        return Ok(Some(KnownPayment::Intent(Box::new(i))));
    }
    Ok(scope
        .select::<qr_orders::Entity>()
        .filter(qr_orders::Column::MpPaymentId.eq(payment_id))
        .one(db)
        .await?
        .map(|q| KnownPayment::Qr(Box::new(q))))
}

/// Why Mercado Pago's view could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Upstream(MpError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The payment's own seller's token, for reading Mercado Pago's view of it.
pub async fn read<T, F, Fut>(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    payment: &KnownPayment,
    call: F,
) -> Result<T, ReadError>
where
    F: FnOnce(MpClient, crate::secret::SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<T, MpError>>,
{
    let token = credentials::access_token(db, keyring, payment.seller_id()).await?;
    match call(mp.clone(), token.token).await {
        Ok(v) => Ok(v),
        Err(e) => {
            crate::registry::note_upstream_failure(db, &token.seller, &e).await?;
            Err(ReadError::Upstream(e))
        }
    }
}

/// The most payments one search page holds (each is read from Mercado Pago).
pub const SEARCH_MAX_LIMIT: u64 = 100;
/// The deepest a search pages.
pub const SEARCH_MAX_OFFSET: u64 = 10_000;

/// A search of the scope's known payments.
#[derive(Debug, Clone, Default)]
pub struct PaymentSearch<'a> {
    /// The POS's own reference (an intent's, a QR order's).
    pub external_reference: Option<&'a str>,
    pub newest_first: bool,
    pub offset: u64,
    /// Clamped to [`SEARCH_MAX_LIMIT`].
    pub limit: u64,
}

/// One page of known payments, oldest (or newest) order first.
#[derive(Debug)]
pub struct KnownPage {
    pub total: u64,
    /// Each payment's Mercado Pago id and what it is in Puente.
    pub payments: Vec<(String, KnownPayment)>,
}

/// The payments of the scope Puente knows ([`find`] finds each of them),
/// in the order their orders were created: terminal payments of intents
/// (an Orders API payment under its `reference_id`, a legacy one under its
/// payment id) and the recorded payments of QR orders.
pub async fn search(db: &Db, scope: &Scope, q: &PaymentSearch<'_>) -> Result<KnownPage, CoreError> {
    let limit = q.limit.clamp(1, SEARCH_MAX_LIMIT);
    let window = q.offset.min(SEARCH_MAX_OFFSET) + limit;
    let referenced = Query::select()
        .column(mp_order_details::Column::IntentId)
        .from(mp_order_details::Entity)
        .and_where(mp_order_details::Column::ReferenceId.is_not_null())
        .and_where(mp_order_details::Column::IntegratorId.eq(scope.integrator_id().as_str()))
        .to_owned();
    let mut intents = scope.select::<payment_intents::Entity>().filter(
        Condition::any()
            .add(payment_intents::Column::Id.in_subquery(referenced))
            .add(
                Condition::all()
                    .add(payment_intents::Column::UpstreamApi.eq(UpstreamApi::Legacy))
                    .add(payment_intents::Column::MpPaymentId.is_not_null()),
            ),
    );
    let mut qrs = scope
        .select::<qr_orders::Entity>()
        .filter(qr_orders::Column::MpPaymentId.is_not_null());
    if let Some(r) = q.external_reference {
        intents = intents.filter(payment_intents::Column::ExternalReference.eq(r));
        qrs = qrs.filter(qr_orders::Column::ExternalReference.eq(r));
    }
    let total = intents.clone().count(db).await? + qrs.clone().count(db).await?;
    let order = if q.newest_first {
        Order::Desc
    } else {
        Order::Asc
    };
    // Each source's first `window` in the same order, merged.
    let mut rows: Vec<KnownPayment> = intents
        .order_by(payment_intents::Column::CreatedAt, order.clone())
        .order_by(payment_intents::Column::Id, order.clone())
        .limit(window)
        .all(db)
        .await?
        .into_iter()
        .map(|i| KnownPayment::Intent(Box::new(i)))
        .collect();
    rows.extend(
        qrs.order_by(qr_orders::Column::CreatedAt, order.clone())
            .order_by(qr_orders::Column::Id, order)
            .limit(window)
            .all(db)
            .await?
            .into_iter()
            .map(|o| KnownPayment::Qr(Box::new(o))),
    );
    rows.sort_by(|a, b| {
        let ord = (a.created_at(), a.row_id()).cmp(&(b.created_at(), b.row_id()));
        if q.newest_first { ord.reverse() } else { ord }
    });
    let page: Vec<KnownPayment> = rows
        .into_iter()
        .skip(q.offset as usize)
        .take(limit as usize)
        .collect();
    let intent_ids: Vec<crate::id::PaymentIntentId> = page
        .iter()
        .filter_map(|k| match k {
            KnownPayment::Intent(i) => Some(i.id.clone()),
            KnownPayment::Qr(_) => None,
        })
        .collect();
    let references: std::collections::HashMap<crate::id::PaymentIntentId, String> =
        if intent_ids.is_empty() {
            Default::default()
        } else {
            mp_order_details::Entity::find()
                .filter(mp_order_details::Column::IntentId.is_in(intent_ids))
                .all(db)
                .await?
                .into_iter()
                .filter_map(|d| Some((d.intent_id, d.reference_id?)))
                .collect()
        };
    let payments = page
        .into_iter()
        .filter_map(|k| {
            let id = match &k {
                KnownPayment::Intent(i) => references
                    .get(&i.id)
                    .cloned()
                    .or_else(|| i.mp_payment_id.clone()),
                KnownPayment::Qr(o) => o.mp_payment_id.clone(),
            }?;
            Some((id, k))
        })
        .collect();
    Ok(KnownPage { total, payments })
}

/// How many sellers an adoption asks Mercado Pago about, at most (a read of
/// an unknown payment id costs one upstream read per seller).
pub const ADOPT_MAX_SELLERS: usize = 5;

/// The sellers of the scope's QR orders still waiting for their payment
/// (optionally only those with this reference), newest order first.
async fn waiting_qr_sellers(
    db: &Db,
    scope: &Scope,
    external_reference: Option<&str>,
) -> Result<Vec<crate::id::SellerId>, CoreError> {
    let mut waiting = scope
        .select::<qr_orders::Entity>()
        .filter(qr_orders::Column::Status.eq(QrOrderStatus::Active));
    if let Some(r) = external_reference {
        waiting = waiting.filter(qr_orders::Column::ExternalReference.eq(r));
    }
    let mut sellers: Vec<crate::id::SellerId> = Vec::new();
    for o in waiting
        .order_by_desc(qr_orders::Column::CreatedAt)
        .limit(50)
        .all(db)
        .await?
    {
        if !sellers.contains(&o.seller_id) {
            sellers.push(o.seller_id);
        }
        if sellers.len() == ADOPT_MAX_SELLERS {
            break;
        }
    }
    Ok(sellers)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Records `payment` (Mercado Pago's, read with `seller`'s token) on the
/// seller's QR order it pays, as the worker does for its notification, if
/// it is one: collected by this seller, with the `external_reference` of
/// one of the seller's QR orders still waiting in the scope. Whether it was.
async fn adopt(
    db: &Db,
    scope: &Scope,
    seller: &crate::entities::sellers::Model,
    payment: &Value,
) -> Result<bool, CoreError> {
    let (Some(id), Some(reference)) =
        (text(&payment["id"]), payment["external_reference"].as_str())
    else {
        return Ok(false);
    };
    if text(&payment["collector_id"]) != Some(seller.mp_user_id.to_string()) {
        return Ok(false);
    }
    let waiting = scope
        .select::<qr_orders::Entity>()
        .filter(qr_orders::Column::SellerId.eq(seller.id.clone()))
        .filter(qr_orders::Column::ExternalReference.eq(reference))
        .filter(qr_orders::Column::Status.eq(QrOrderStatus::Active))
        .one(db)
        .await?;
    if waiting.is_none() {
        return Ok(false);
    }
    let approved = payment["status"].as_str() == Some("approved");
    Ok(crate::qr_orders::record_payment(
        db,
        scope.integrator_id(),
        &seller.id,
        reference,
        &id,
        approved,
    )
    .await?
    .is_some())
}

/// A payment id Puente does not know yet, that Mercado Pago already serves
/// (a QR buyer paid; the notification is not processed yet): asked of the
/// sellers with QR orders waiting in the scope ([`ADOPT_MAX_SELLERS`] at
/// most), and recorded as the notification would record it when it proves
/// to pay one of them. Anything else (another tenant's payment, a payment
/// not made through Puente) stays unknown: `None`, as for an id nobody has.
/// A Mercado Pago outage is an error only when no seller could be asked.
pub async fn adopt_qr_payment(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    payment_id: &str,
) -> Result<Option<KnownPayment>, ReadError> {
    if payment_id.is_empty() || !payment_id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let mut outage = None;
    for seller_id in waiting_qr_sellers(db, scope, None).await? {
        let Ok(token) = credentials::access_token(db, keyring, &seller_id).await else {
            continue;
        };
        match mp.payment_json(&token.token, payment_id).await {
            Ok(payment) => {
                if adopt(db, scope, &token.seller, &payment).await? {
                    return Ok(find(db, scope, payment_id).await?);
                }
                // Not this seller's QR payment (it may be its purchase as a
                // buyer: the collector, if in the scope, is asked too).
            }
            Err(MpError::Api { status: 404, .. }) => {}
            Err(e) => {
                crate::registry::note_upstream_failure(db, &token.seller, &e).await?;
                if e.is_retryable() {
                    outage = Some(e);
                }
            }
        }
    }
    // The notification may have recorded it meanwhile (its order is no
    // longer waiting then).
    if let Some(known) = find(db, scope, payment_id).await? {
        return Ok(Some(known));
    }
    match outage {
        Some(e) => Err(ReadError::Upstream(e)),
        None => Ok(None),
    }
}

/// The payments Mercado Pago already has for the scope's QR orders waiting
/// with this `external_reference` (a buyer paid; the notification is not
/// processed yet), recorded as the notification would record them, so a
/// search by the POS's reference finds them as soon as Mercado Pago does.
pub async fn adopt_qr_payments_by_reference(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    scope: &Scope,
    external_reference: &str,
) -> Result<(), ReadError> {
    for seller_id in waiting_qr_sellers(db, scope, Some(external_reference)).await? {
        let Ok(token) = credentials::access_token(db, keyring, &seller_id).await else {
            continue;
        };
        let found = match mp
            .search_payments_json(
                &token.token,
                &[
                    ("external_reference", external_reference),
                    ("sort", "date_created"),
                    ("criteria", "asc"),
                    ("limit", "50"),
                ],
            )
            .await
        {
            Ok(found) => found,
            Err(e) => {
                crate::registry::note_upstream_failure(db, &token.seller, &e).await?;
                if e.is_retryable() {
                    return Err(ReadError::Upstream(e));
                }
                continue;
            }
        };
        let mut payments: Vec<&Value> = found["results"]
            .as_array()
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        // The approved one last: it is the one the order keeps.
        payments.sort_by_key(|p| p["status"].as_str() == Some("approved"));
        for p in payments {
            adopt(db, scope, &token.seller, p).await?;
        }
    }
    Ok(())
}

/// Refunds the payment of a QR order at Mercado Pago, with its seller's
/// token and `idempotency_key` (a retry is the same refund there), and
/// records who did it in the integrator's audit log. `amount`: `None` is
/// what is left. Mercado Pago's refund, whole; its refusals as it gave them.
#[allow(clippy::too_many_arguments)]
pub async fn refund_qr_payment(
    db: &Db,
    keyring: &Keyring,
    mp: &MpClient,
    order: &qr_orders::Model,
    payment_id: &str,
    amount: Option<Amount>,
    idempotency_key: &str,
    actor: &Actor,
) -> Result<Value, ReadError> {
    let token = credentials::access_token(db, keyring, &order.seller_id).await?;
    let refund = match mp
        .refund_payment_json(&token.token, payment_id, amount, idempotency_key)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            crate::registry::note_upstream_failure(db, &token.seller, &e).await?;
            return Err(ReadError::Upstream(e));
        }
    };
    let how_much = match amount {
        Some(a) => format!("{} {}", a.to_decimal_string(), order.currency),
        None => "what was left".to_owned(),
    };
    audit::record(
        db,
        &order.integrator_id,
        actor,
        "qr_payment.refunded",
        Some(audit::Target::Seller(&order.seller_id)),
        Some(format!(
            "payment {payment_id} of QR order {} ({}): {how_much}; refund {}",
            order.id,
            order.external_reference,
            text(&refund["id"]).unwrap_or_default()
        )),
    )
    .await?;
    Ok(refund)
}
