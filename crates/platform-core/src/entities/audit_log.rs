//! Who did what, per integrator.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{AuditEntryId, IntegratorId};
use crate::states::ActorKind;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AuditEntryId,
    pub integrator_id: IntegratorId,
    pub actor_kind: ActorKind,
    /// The actor's id, of the kind `actor_kind` names: text.
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    /// The target's id, of the kind `target_kind` names: text.
    pub target_id: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
