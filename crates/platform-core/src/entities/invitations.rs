//! An invitation to join an integrator's team: single use, expiring; only
//! the SHA-256 of its link's token is stored.

use sea_orm::entity::prelude::*;

use crate::id::{IntegratorId, InvitationId, UserId};
use crate::states::UserRole;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: InvitationId,
    pub integrator_id: IntegratorId,
    pub role: UserRole,
    pub token_hash: String,
    /// The inviting actor's id, as the audit log has it (`audit::Actor`): text.
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub accepted_at: Option<DateTimeUtc>,
    /// The user the invitation created.
    pub accepted_by: Option<UserId>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
