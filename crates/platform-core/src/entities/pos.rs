//! A point of sale (caja) in a store, mirrored from Mercado Pago.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "pos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub integrator_id: String,
    pub seller_id: String,
    pub store_id: String,
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
