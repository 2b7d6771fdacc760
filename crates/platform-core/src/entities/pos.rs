//! A point of sale (caja) in a store, mirrored from Mercado Pago.

use crate::id::{IntegratorId, PosId, SellerId, StoreId};
use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "pos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PosId,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    pub store_id: StoreId,
    pub mp_pos_id: Option<String>,
    pub external_id: String,
    pub name: String,
    pub category: Option<i64>,
    pub fixed_amount: bool,
    /// The POS's QR as Mercado Pago answered it (`uuid`, `image`,
    /// `template_document`, `template_image`, `qr_code`), as JSON text.
    pub qr: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
