//! An in-store QR order on a POS.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IntegratorId, PosId, QrOrderId, SellerId, StoreId};
use crate::states::QrOrderStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "qr_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: QrOrderId,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    pub store_id: Option<StoreId>,
    pub pos_id: PosId,
    pub external_reference: String,
    pub title: Option<String>,
    pub total_amount: i64,
    pub currency: String,
    pub status: QrOrderStatus,
    pub sponsor_id: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    /// The Mercado Pago payment that paid it, once known.
    pub mp_payment_id: Option<String>,
    /// The order body as sent to Mercado Pago (its sponsor the
    /// integrator's), as JSON text: what the compatible surface's GET answers.
    pub request: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
