//! A charge on a terminal: the job of record for dispatch.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::id::{ApiKeyId, IntegratorId, PaymentIntentId, PosId, SellerId, StoreId, TerminalId};
use crate::states::{CancelState, IntentStatus, UpstreamApi};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "payment_intents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PaymentIntentId,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    pub terminal_id: TerminalId,
    pub store_id: Option<StoreId>,
    pub pos_id: Option<PosId>,
    pub api_key_id: Option<ApiKeyId>,
    pub upstream_api: UpstreamApi,
    /// Mercado Pago's ids (`upstream_id`, `sponsor_id`, `mp_payment_id`) stay text.
    pub upstream_id: Option<String>,
    pub status: IntentStatus,
    pub status_detail: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub print_on_terminal: bool,
    pub payment_type: Option<String>,
    pub installments: Option<i32>,
    pub installments_cost: Option<String>,
    pub sponsor_id: Option<String>,
    pub mp_payment_id: Option<String>,
    pub upstream_version: i64,
    pub open_on_terminal: Option<TerminalId>,
    pub dispatch_attempts: i32,
    pub next_dispatch_at: Option<DateTimeUtc>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finalized_at: Option<DateTimeUtc>,
    /// A cancel the POS asked for, and what Mercado Pago made of it.
    pub cancel_state: Option<CancelState>,
    /// The caller allowed cancelling at the terminal (`x-allow-cancelable-status`).
    pub cancel_at_terminal: bool,
    pub cancel_requested_at: Option<DateTimeUtc>,
    /// The outcome contradicts what was asked (paid after a cancel request).
    pub requires_attention: bool,
    pub attention_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
