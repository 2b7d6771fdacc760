//! The one error type of the domain; `platform-web` maps it to HTTP once.
//!
//! A refusal carries a typed reason ([`Conflict`], [`Invalid`], [`Forbidden`]):
//! callers decide on the reason, never on its code string. Each reason names
//! its stable wire code once, in `code()`.

use crate::crypto::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Absent, or outside the caller's scope: the two are indistinguishable.
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
    /// The request is well-formed but conflicts with current state.
    #[error("{message}")]
    Conflict { reason: Conflict, message: String },
    /// The caller is known but may not do this (e.g. a store-scoped key
    /// creating API keys).
    #[error("{message}")]
    Forbidden { reason: Forbidden, message: String },
    /// The request breaks a rule (amount out of range, bad field, …).
    #[error("{message}")]
    Invalid { reason: Invalid, message: String },
    /// Mercado Pago refused or could not be reached.
    #[error("{message}")]
    Upstream {
        retryable: bool,
        code: Option<String>,
        message: String,
    },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("cannot decrypt a stored secret: {0}")]
    Crypto(#[from] CryptoError),
    #[error("{0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(reason: Invalid, message: impl Into<String>) -> Self {
        Self::Invalid {
            reason,
            message: message.into(),
        }
    }

    pub fn conflict(reason: Conflict, message: impl Into<String>) -> Self {
        Self::Conflict {
            reason,
            message: message.into(),
        }
    }

    pub fn forbidden(reason: Forbidden, message: impl Into<String>) -> Self {
        Self::Forbidden {
            reason,
            message: message.into(),
        }
    }

    /// The conflict's reason, if this is one.
    pub fn conflict_reason(&self) -> Option<&Conflict> {
        match self {
            Self::Conflict { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// Why a well-formed request cannot be done in the current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The terminal holds another open intent (`open`, when it was found).
    TerminalBusy {
        open: Option<crate::id::PaymentIntentId>,
    },
    /// The terminal is not in PDV mode, so it cannot take integrated charges.
    TerminalNotIntegrated,
    /// The seller is unlinked or needs reconnecting.
    SellerNotLinked,
    /// Another writer moved the row first; reading again shows its state.
    ConcurrentUpdate,
    IntentNotRefundable,
    StoreWithoutExternalId,
    AlreadyUnlinked,
    LinkNotOpen,
    RefreshInProgress,
    ApplicationNotConfigured,
    EmailTaken,
    /// The same idempotency key's first request is still running.
    IdempotencyRequestInProgress,
    TooManyEndpoints,
    EndpointDisabled,
    DeliveryPending,
    /// The change would leave the integrator without an owner.
    LastOwner,
    InvitationExpired,
    InvitationUsed,
    InvitationRevoked,
}

impl Conflict {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TerminalBusy { .. } => "terminal_busy",
            Self::TerminalNotIntegrated => "terminal_not_integrated",
            Self::SellerNotLinked => "seller_not_linked",
            Self::ConcurrentUpdate => "concurrent_update",
            Self::IntentNotRefundable => "intent_not_refundable",
            Self::StoreWithoutExternalId => "store_without_external_id",
            Self::AlreadyUnlinked => "already_unlinked",
            Self::LinkNotOpen => "link_not_open",
            Self::RefreshInProgress => "refresh_in_progress",
            Self::ApplicationNotConfigured => "application_not_configured",
            Self::EmailTaken => "email_taken",
            Self::IdempotencyRequestInProgress => "idempotency_request_in_progress",
            Self::TooManyEndpoints => "too_many_endpoints",
            Self::EndpointDisabled => "endpoint_disabled",
            Self::DeliveryPending => "delivery_pending",
            Self::LastOwner => "last_owner",
            Self::InvitationExpired => "invitation_expired",
            Self::InvitationUsed => "invitation_used",
            Self::InvitationRevoked => "invitation_revoked",
        }
    }
}

/// The rule a request breaks; `field()` names the input it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    AmountOutOfRange,
    Description,
    ExternalReference,
    PaymentType,
    Installments,
    InstallmentsCost,
    RefundAmount,
    Title,
    Expiry,
    Email,
    Name,
    WeakPassword,
    SponsorId,
    Url,
    /// A well-formed URL Puente refuses to call (private address, bad scheme).
    UrlNotAllowed,
    EventType,
    Seller,
    Enabled,
    MissingScopeTarget,
    UnexpectedScopeTarget,
    LinkLabel,
    LinkTtl,
    IdempotencyKey,
    /// The idempotency key was used before for a different request.
    IdempotencyKeyReused,
    /// A report's `from`/`to` are out of order or span too long.
    ReportPeriod,
}

impl Invalid {
    pub fn code(self) -> &'static str {
        match self {
            Self::AmountOutOfRange => "amount_out_of_range",
            Self::Description => "invalid_description",
            Self::ExternalReference => "invalid_external_reference",
            Self::PaymentType => "invalid_payment_type",
            Self::Installments => "invalid_installments",
            Self::InstallmentsCost => "invalid_installments_cost",
            Self::RefundAmount => "invalid_refund_amount",
            Self::Title => "invalid_title",
            Self::Expiry => "invalid_expiry",
            Self::Email => "invalid_email",
            Self::Name => "invalid_name",
            Self::WeakPassword => "weak_password",
            Self::SponsorId => "invalid_sponsor_id",
            Self::Url => "invalid_url",
            Self::UrlNotAllowed => "url_not_allowed",
            Self::EventType => "invalid_event_type",
            Self::Seller => "invalid_seller",
            Self::Enabled => "invalid_enabled",
            Self::MissingScopeTarget => "missing_scope_target",
            Self::UnexpectedScopeTarget => "unexpected_scope_target",
            Self::LinkLabel => "label_invalid",
            Self::LinkTtl => "ttl_invalid",
            Self::IdempotencyKey => "invalid_idempotency_key",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::ReportPeriod => "invalid_period",
        }
    }

    /// The request field the rule is about.
    pub fn field(self) -> &'static str {
        match self {
            Self::AmountOutOfRange | Self::RefundAmount => "amount",
            Self::Description => "description",
            Self::ExternalReference => "external_reference",
            Self::PaymentType => "payment_type",
            Self::Installments => "installments",
            Self::InstallmentsCost => "installments_cost",
            Self::Title => "title",
            Self::Expiry => "expiry",
            Self::Email => "email",
            Self::Name => "name",
            Self::WeakPassword => "password",
            Self::SponsorId => "sponsor_id",
            Self::Url | Self::UrlNotAllowed => "url",
            Self::EventType => "event_types",
            Self::Seller => "seller_id",
            Self::Enabled => "enabled",
            Self::MissingScopeTarget | Self::UnexpectedScopeTarget => "target",
            Self::LinkLabel => "label",
            Self::LinkTtl => "ttl_hours",
            Self::IdempotencyKey | Self::IdempotencyKeyReused => "idempotency_key",
            Self::ReportPeriod => "from",
        }
    }
}

/// Why a known caller may not do this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// The key's scope (a store, a seller) does not reach this action.
    InsufficientScope,
    /// The user's role does not have the permission the action needs.
    InsufficientRole,
    /// Only an owner may grant the owner role or change or remove an owner.
    OwnerOnly,
}

impl Forbidden {
    pub fn code(self) -> &'static str {
        match self {
            Self::InsufficientScope => "insufficient_scope",
            Self::InsufficientRole => "insufficient_role",
            Self::OwnerOnly => "owner_only",
        }
    }
}

/// A failure recorded on a row (`last_error_code`, `last_error_message`):
/// what Mercado Pago or the pipeline answered, kept for staff and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}
