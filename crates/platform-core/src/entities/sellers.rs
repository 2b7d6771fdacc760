//! A seller: one Mercado Pago account linked to an integrator over OAuth.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IntegratorId, SellerId};
use crate::states::{LinkStatus, Site};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "sellers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SellerId,
    pub integrator_id: IntegratorId,
    pub mp_user_id: i64,
    pub nickname: String,
    pub email: Option<String>,
    pub site_id: Site,
    pub live_mode: bool,
    pub link_status: LinkStatus,
    pub label: Option<String>,
    pub linked_at: Option<DateTimeUtc>,
    pub unlinked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
