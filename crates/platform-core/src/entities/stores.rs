//! A seller's store, mirrored from Mercado Pago.

use crate::id::{IntegratorId, SellerId, StoreId};
use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "stores")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: StoreId,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    pub mp_store_id: Option<String>,
    pub external_id: Option<String>,
    pub name: String,
    pub street_name: Option<String>,
    pub street_number: Option<String>,
    pub city_name: Option<String>,
    pub state_name: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub reference: Option<String>,
    /// Mercado Pago's `business_hours` object, as JSON text.
    pub business_hours: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
