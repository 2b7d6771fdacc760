//! One OAuth attempt: the hashed `state` and the encrypted PKCE verifier.
//!
//! Encrypted columns (sealed with `crypto::Keyring`, AAD = table, column, row id): `pkce_verifier`.

use crate::id::{IntegratorId, OAuthStateId, OnboardingLinkId};
use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OAuthStateId,
    pub integrator_id: IntegratorId,
    pub link_id: OnboardingLinkId,
    #[serde(skip)]
    pub state_hash: String,
    #[serde(skip)]
    pub pkce_verifier: String,
    pub expires_at: DateTimeUtc,
    pub consumed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
