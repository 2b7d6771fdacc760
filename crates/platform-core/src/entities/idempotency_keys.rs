//! A stored response for an `Idempotency-Key`.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IdempotencyRecordId, IntegratorId};
use crate::states::IdempotencyStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: IdempotencyRecordId,
    pub integrator_id: IntegratorId,
    /// The API key or user the key belongs to: text.
    pub principal: String,
    pub key: String,
    pub request_hash: String,
    pub status: IdempotencyStatus,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    /// The id of whatever the request created (an intent, a refund, a key…): text.
    pub resource_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
