//! What the Mercado Pago-compatible view of an order shows beyond its
//! intent: the POS's request fields Puente forwards, and what Mercado Pago
//! reported about the payment and its refunds.

use crate::id::{IntegratorId, PaymentIntentId};
use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "mp_order_details")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub intent_id: PaymentIntentId,
    pub integrator_id: IntegratorId,
    pub expiration_time: Option<String>,
    pub platform_id: Option<String>,
    pub mp_integrator_id: Option<String>,
    pub payment_method_id: Option<String>,
    pub reference_id: Option<String>,
    /// JSON object: Mercado Pago refund id → its `reference_id`.
    pub refund_references: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
