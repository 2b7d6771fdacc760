//! An integrator (organization): the top-level tenant, with its Mercado Pago application.
//!
//! Encrypted columns (sealed with `crypto::Keyring`, AAD = table, column, row id): `mp_client_secret`, `mp_webhook_secret`.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::IntegratorId;
use crate::states::UpstreamApi;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "integrators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: IntegratorId,
    pub name: String,
    pub mp_client_id: Option<String>,
    #[serde(skip)]
    pub mp_client_secret: Option<String>,
    #[serde(skip)]
    pub mp_webhook_secret: Option<String>,
    pub mp_redirect_url: Option<String>,
    pub sponsor_id: Option<String>,
    pub upstream_api: UpstreamApi,
    pub is_demo: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
