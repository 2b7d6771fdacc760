//! A seller's OAuth tokens, encrypted at rest.
//!
//! Encrypted columns (sealed with `crypto::Keyring`, AAD = table, column, row id): `access_token`, `refresh_token`.

use crate::id::{IntegratorId, SellerCredentialId, SellerId};
use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "seller_credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SellerCredentialId,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    #[serde(skip)]
    pub access_token: String,
    #[serde(skip)]
    pub refresh_token: Option<String>,
    pub expires_at: DateTimeUtc,
    pub scope: String,
    pub public_key: Option<String>,
    pub refresh_failures: i32,
    pub next_refresh_at: Option<DateTimeUtc>,
    pub last_refreshed_at: Option<DateTimeUtc>,
    pub last_refresh_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Held by the process refreshing these credentials (see `credentials.rs`).
    pub refresh_lease_until: Option<DateTimeUtc>,
}

/// The seller they belong to: read with them in one statement.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::sellers::Entity",
        from = "Column::SellerId",
        to = "super::sellers::Column::Id"
    )]
    Seller,
}

impl Related<super::sellers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Seller.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
