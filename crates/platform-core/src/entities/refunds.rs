//! A total or partial refund of a processed intent.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IntegratorId, PaymentIntentId, RefundId, SellerId};
use crate::states::RefundStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RefundId,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    pub intent_id: PaymentIntentId,
    pub amount: i64,
    pub status: RefundStatus,
    pub upstream_id: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
