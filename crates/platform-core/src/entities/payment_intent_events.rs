//! One step of an intent's history.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IntegratorId, IntentEventId, PaymentIntentId};
use crate::states::{EventSource, IntentStatus};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "payment_intent_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: IntentEventId,
    pub integrator_id: IntegratorId,
    pub intent_id: PaymentIntentId,
    pub from_status: Option<IntentStatus>,
    pub to_status: IntentStatus,
    pub source: EventSource,
    pub detail: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
