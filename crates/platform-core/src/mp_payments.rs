//! Payments Puente knows, for the compatible surface's Payments API
//! (`/v1/payments/{id}`, §2.7): a terminal payment of an intent (the legacy
//! upstream's numeric payment id, or the `reference_id` Mercado Pago
//! reported for an Orders API payment) or the payment of a QR order, found
//! through the caller's scope; and Mercado Pago's view of it, read with its
//! seller's token.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::credentials;
use crate::crypto::Keyring;
use crate::entities::{mp_order_details, payment_intents, qr_orders};
use crate::error::CoreError;
use crate::mercadopago::{MpClient, MpError};
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
}

/// The payment of the scope with this Mercado Pago payment id (a number).
pub async fn find(
    db: &DatabaseConnection,
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
    db: &DatabaseConnection,
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
