//! A notification received from Mercado Pago.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{InboundNotificationId, IntegratorId};
use crate::states::NotificationStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "inbound_notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: InboundNotificationId,
    pub integrator_id: Option<IntegratorId>,
    pub topic: String,
    pub action: Option<String>,
    /// Mercado Pago's id of the notified resource.
    pub resource_id: Option<String>,
    pub mp_user_id: Option<i64>,
    pub request_id: Option<String>,
    pub signature_valid: bool,
    pub dedupe_key: String,
    pub body: String,
    pub status: NotificationStatus,
    pub error: Option<String>,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
