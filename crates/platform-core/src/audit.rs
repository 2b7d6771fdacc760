//! The audit log: who did what to which object, per integrator.

use crate::clock;
use sea_orm::ColumnTrait;
use sea_orm::{ActiveModelTrait, ConnectionTrait, QueryFilter, Set};

use crate::entities::audit_log;
use crate::error::CoreError;
use crate::id::*;
use crate::paging::{Page, PageRequest, fetch_page};
use crate::states::ActorKind;
use crate::tenancy::Scope;

/// Who acted.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    /// The id of the kind `kind` names (a user, an API key, a seller).
    pub id: Option<String>,
    pub ip: Option<String>,
}

impl Actor {
    pub fn user(user_id: &UserId, ip: Option<String>) -> Self {
        Actor {
            kind: ActorKind::User,
            id: Some(user_id.to_string()),
            ip,
        }
    }

    pub fn api_key(key_id: &ApiKeyId, ip: Option<String>) -> Self {
        Actor {
            kind: ActorKind::ApiKey,
            id: Some(key_id.to_string()),
            ip,
        }
    }

    pub fn seller(seller_id: Option<&SellerId>, ip: Option<String>) -> Self {
        Actor {
            kind: ActorKind::Seller,
            id: seller_id.map(SellerId::to_string),
            ip,
        }
    }

    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: None,
            ip: None,
        }
    }
}

/// The object an action was done to, by kind.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    ApiKey(&'a ApiKeyId),
    Integrator(&'a IntegratorId),
    Invitation(&'a InvitationId),
    OnboardingLink(&'a OnboardingLinkId),
    PaymentIntent(&'a PaymentIntentId),
    Pos(&'a PosId),
    Seller(&'a SellerId),
    Store(&'a StoreId),
    Terminal(&'a TerminalId),
    User(&'a UserId),
    WebhookEndpoint(&'a WebhookEndpointId),
}

impl<'a> Target<'a> {
    /// The `target_kind` stored and shown in the log.
    pub fn kind(self) -> &'static str {
        match self {
            Self::ApiKey(_) => "api_key",
            Self::Integrator(_) => "integrator",
            Self::Invitation(_) => "invitation",
            Self::OnboardingLink(_) => "onboarding_link",
            Self::PaymentIntent(_) => "payment_intent",
            Self::Pos(_) => "pos",
            Self::Seller(_) => "seller",
            Self::Store(_) => "store",
            Self::Terminal(_) => "terminal",
            Self::User(_) => "user",
            Self::WebhookEndpoint(_) => "webhook_endpoint",
        }
    }

    pub fn id(self) -> &'a str {
        match self {
            Self::ApiKey(id) => id.as_str(),
            Self::Integrator(id) => id.as_str(),
            Self::Invitation(id) => id.as_str(),
            Self::OnboardingLink(id) => id.as_str(),
            Self::PaymentIntent(id) => id.as_str(),
            Self::Pos(id) => id.as_str(),
            Self::Seller(id) => id.as_str(),
            Self::Store(id) => id.as_str(),
            Self::Terminal(id) => id.as_str(),
            Self::User(id) => id.as_str(),
            Self::WebhookEndpoint(id) => id.as_str(),
        }
    }
}

/// Records one action. Call it inside the transaction that makes the change,
/// so the log never claims what did not happen.
pub async fn record(
    db: &impl ConnectionTrait,
    integrator_id: &IntegratorId,
    actor: &Actor,
    action: &str,
    target: Option<Target<'_>>,
    detail: Option<String>,
) -> Result<(), CoreError> {
    audit_log::ActiveModel {
        id: Set(AuditEntryId::new()),
        integrator_id: Set(integrator_id.clone()),
        actor_kind: Set(actor.kind),
        actor_id: Set(actor.id.clone()),
        action: Set(action.to_owned()),
        target_kind: Set(target.map(|t| t.kind().to_owned())),
        target_id: Set(target.map(|t| t.id().to_owned())),
        detail: Set(detail.map(|d| d.chars().take(500).collect())),
        ip: Set(actor.ip.clone()),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Newest first; optionally only one action kind (e.g. `seller.`) or one target.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    action_prefix: Option<&str>,
    target_id: Option<&str>,
    page: &PageRequest,
) -> Result<Page<audit_log::Model>, CoreError> {
    let mut q = scope.select::<audit_log::Entity>();
    if let Some(p) = action_prefix.filter(|p| !p.is_empty()) {
        q = q.filter(audit_log::Column::Action.starts_with(p));
    }
    if let Some(t) = target_id.filter(|t| !t.is_empty()) {
        q = q.filter(audit_log::Column::TargetId.eq(t));
    }
    fetch_page(db, q, audit_log::Column::Id, page, |m| m.id.to_string()).await
}
