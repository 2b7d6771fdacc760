//! A single-use, expiring link an integrator sends a seller to start OAuth.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{IntegratorId, OnboardingLinkId, SellerId};
use crate::states::OnboardingLinkStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "onboarding_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OnboardingLinkId,
    pub integrator_id: IntegratorId,
    pub label: Option<String>,
    #[serde(skip)]
    pub token_hash: String,
    pub status: OnboardingLinkStatus,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub seller_id: Option<SellerId>,
    /// Who created it: a user or an API key (the audit `Actor` id), so text.
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
