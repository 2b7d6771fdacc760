//! A Point terminal (device) and its operating mode.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IntegratorId, PosId, SellerId, StoreId, TerminalId};
use crate::states::OperatingMode;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "terminals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TerminalId,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    pub store_id: Option<StoreId>,
    pub pos_id: Option<PosId>,
    pub device_id: String,
    pub model: Option<String>,
    pub operating_mode: OperatingMode,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Whose terminal it is: read with the terminal in one statement when
/// charging on it (`registry::charging`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::sellers::Entity",
        from = "Column::SellerId",
        to = "super::sellers::Column::Id"
    )]
    Seller,
    #[sea_orm(
        belongs_to = "super::integrators::Entity",
        from = "Column::IntegratorId",
        to = "super::integrators::Column::Id"
    )]
    Integrator,
}

impl Related<super::sellers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Seller.def()
    }
}

impl Related<super::integrators::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Integrator.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
