//! An API key: only a hash and a visible prefix are stored.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{ApiKeyId, IntegratorId, PosId, SellerId, StoreId};
use crate::states::{KeyAccess, KeyMode, ScopeKind};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ApiKeyId,
    pub integrator_id: IntegratorId,
    pub name: String,
    pub prefix: String,
    #[serde(skip)]
    pub key_hash: String,
    pub mode: KeyMode,
    pub scope_kind: ScopeKind,
    pub seller_id: Option<SellerId>,
    pub store_id: Option<StoreId>,
    pub pos_id: Option<PosId>,
    /// Who created it: a user or another API key (the audit `Actor` id), so text.
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub access: KeyAccess,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
