//! An integrator's webhook receiver.
//!
//! Encrypted columns (sealed with `crypto::Keyring`, AAD = table, column, row id): `secret`, `previous_secret`.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IntegratorId, SellerId, WebhookEndpointId};
use crate::states::EndpointStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WebhookEndpointId,
    pub integrator_id: IntegratorId,
    pub url: String,
    pub description: Option<String>,
    pub event_types: String,
    pub seller_id: Option<SellerId>,
    #[serde(skip)]
    pub secret: String,
    #[serde(skip)]
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
