//! Response shapes that are built outside a `*Out` type of this crate: the
//! core's views (`IntentView`, `RefundView`, `QrOrderView`) and the JSON the
//! registry, onboarding-link and list handlers assemble. Each mirrors the
//! serialised fields one for one; the document makes every field required
//! and forbids others (see `strict`), so the API tests, which validate every
//! response against the document, fail when a handler and its mirror drift.
//!
//! Status fields take their values from the core's enums (`ALL`), never from
//! a copy.

#![allow(dead_code)] // Types that only describe: nothing constructs them.

use chrono::{DateTime, Utc};
use platform_core::states::{
    CancelState, DeliveryStatus, EndpointStatus, EventSource, IntentStatus, KeyAccess, KeyMode,
    LinkStatus, OnboardingLinkStatus, OperatingMode, QrOrderStatus, RefundStatus, ScopeKind, Site,
    UpstreamApi,
};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

use super::errors;

fn text_values(values: impl Iterator<Item = &'static str>, nullable: bool) -> Object {
    let mut all: Vec<Value> = values.map(Value::from).collect();
    let ty = if nullable {
        all.push(Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(all))
        .build()
}

/// Schema functions for the core's text enums (`schema_with = …`).
macro_rules! enum_schema {
    ($($name:ident: $ty:ty),+ $(,)?) => {
        $(pub fn $name() -> Object {
            text_values(<$ty>::ALL.iter().map(|v| v.as_str()), false)
        })+
    };
}

enum_schema!(
    intent_status: IntentStatus,
    event_source: EventSource,
    refund_status: RefundStatus,
    qr_order_status: QrOrderStatus,
    key_mode: KeyMode,
    key_access: KeyAccess,
    scope_kind: ScopeKind,
    link_status: LinkStatus,
    onboarding_link_status: OnboardingLinkStatus,
    operating_mode: OperatingMode,
    site: Site,
    upstream_api: UpstreamApi,
    endpoint_status: EndpointStatus,
    delivery_status: DeliveryStatus,
    cancel_state: CancelState,
);

pub fn key_access_or_null() -> Object {
    text_values(KeyAccess::ALL.iter().map(|v| v.as_str()), true)
}

pub fn scope_kind_or_null() -> Object {
    text_values(ScopeKind::ALL.iter().map(|v| v.as_str()), true)
}

pub fn intent_status_or_null() -> Object {
    text_values(IntentStatus::ALL.iter().map(|v| v.as_str()), true)
}

pub fn error_code() -> Object {
    let mut o = text_values(errors::codes(), false);
    o.description = Some(
        errors::CODES
            .iter()
            .map(|(code, meaning)| format!("- `{code}`: {meaning}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    o
}

/// The `object` field: one fixed name per kind of object.
macro_rules! object_names {
    ($($name:ident = $text:literal),+ $(,)?) => {
        pub mod object {
            $(pub fn $name() -> utoipa::openapi::schema::Object {
                super::text_values([$text].into_iter(), false)
            })+
        }
    };
}

object_names!(
    payment_intent = "payment_intent",
    refund = "refund",
    qr_order = "qr_order",
    seller = "seller",
    store = "store",
    pos = "pos",
    terminal = "terminal",
    onboarding_link = "onboarding_link",
    api_key = "api_key",
    webhook_endpoint = "webhook_endpoint",
    webhook_delivery = "webhook_delivery",
    webhook_replay = "webhook_replay",
    report_summary = "report_summary",
    list = "list",
);

/// Every error: a stable `code`, a message for people, and sometimes
/// `details` (the busy terminal's intent, the invalid fields, Mercado
/// Pago's own code).
#[derive(ToSchema)]
#[schema(as = Error)]
pub struct ErrorOut {
    #[schema(schema_with = error_code)]
    code: String,
    message: String,
    details: Option<Value>,
}

#[derive(ToSchema)]
#[schema(as = PaymentIntent)]
pub struct IntentOut {
    id: String,
    #[schema(schema_with = object::payment_intent)]
    object: String,
    #[schema(schema_with = intent_status)]
    status: IntentStatus,
    status_detail: Option<String>,
    /// Minor units (centavos).
    amount: i64,
    currency: String,
    description: Option<String>,
    external_reference: Option<String>,
    print_on_terminal: bool,
    payment: PaymentOut,
    seller_id: String,
    terminal_id: String,
    store_id: Option<String>,
    pos_id: Option<String>,
    /// Always the integrator's own Mercado Pago user id.
    sponsor_id: Option<String>,
    upstream: UpstreamOut,
    last_error: Option<LastErrorOut>,
    /// A cancel asked by a POS and Mercado Pago's answer so far (null: none).
    cancel: Option<CancelOut>,
    /// The outcome contradicts what was asked (paid after a cancel request,
    /// or after Puente gave up): staff should look at it.
    requires_attention: bool,
    /// `paid_after_cancel_request` or `paid_after_failure`.
    attention_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finalized_at: Option<DateTime<Utc>>,
}

#[derive(ToSchema)]
#[schema(as = PaymentIntentCancel)]
pub struct CancelOut {
    /// `requested` until Mercado Pago answers; `accepted` when the terminal
    /// was asked (it decides); `refused`; `done` once canceled.
    #[schema(schema_with = cancel_state)]
    state: CancelState,
    /// The caller allowed cancelling at the terminal.
    at_terminal: bool,
    requested_at: Option<DateTime<Utc>>,
}

#[derive(ToSchema)]
#[schema(as = PaymentIntentPayment)]
pub struct PaymentOut {
    #[schema(rename = "type")]
    payment_type: Option<String>,
    installments: Option<i32>,
    installments_cost: Option<String>,
    mp_payment_id: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = Upstream)]
pub struct UpstreamOut {
    #[schema(schema_with = upstream_api)]
    api: UpstreamApi,
    /// The order (or legacy payment intent) id at Mercado Pago.
    id: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = LastError)]
pub struct LastErrorOut {
    code: String,
    message: String,
}

#[derive(ToSchema)]
#[schema(as = IntentEvent)]
pub struct IntentEventOut {
    id: String,
    #[schema(schema_with = intent_status_or_null)]
    from_status: Option<IntentStatus>,
    #[schema(schema_with = intent_status)]
    to_status: IntentStatus,
    #[schema(schema_with = event_source)]
    source: EventSource,
    detail: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = Refund)]
pub struct RefundOut {
    id: String,
    #[schema(schema_with = object::refund)]
    object: String,
    payment_intent_id: String,
    amount: i64,
    #[schema(schema_with = refund_status)]
    status: RefundStatus,
    upstream_id: Option<String>,
    last_error: Option<LastErrorOut>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = QrOrder)]
pub struct QrOrderOut {
    id: String,
    #[schema(schema_with = object::qr_order)]
    object: String,
    pos_id: String,
    #[schema(schema_with = qr_order_status)]
    status: QrOrderStatus,
    title: Option<String>,
    total_amount: i64,
    currency: String,
    external_reference: String,
    sponsor_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = Seller)]
pub struct SellerOut {
    id: String,
    #[schema(schema_with = object::seller)]
    object: String,
    mp_user_id: i64,
    nickname: String,
    #[schema(schema_with = site)]
    site_id: Site,
    live_mode: bool,
    #[schema(schema_with = link_status)]
    link_status: LinkStatus,
    label: Option<String>,
    linked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = Store)]
pub struct StoreOut {
    id: String,
    #[schema(schema_with = object::store)]
    object: String,
    seller_id: String,
    mp_store_id: Option<String>,
    external_id: Option<String>,
    name: String,
    location: LocationOut,
    created_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = StoreLocation)]
pub struct LocationOut {
    street_name: Option<String>,
    street_number: Option<String>,
    city_name: Option<String>,
    state_name: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    reference: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = Pos)]
pub struct PosOut {
    id: String,
    #[schema(schema_with = object::pos)]
    object: String,
    seller_id: String,
    store_id: String,
    mp_pos_id: Option<String>,
    external_id: String,
    name: String,
    category: Option<i64>,
    created_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = Terminal)]
pub struct TerminalOut {
    id: String,
    #[schema(schema_with = object::terminal)]
    object: String,
    seller_id: String,
    store_id: Option<String>,
    pos_id: Option<String>,
    device_id: String,
    model: Option<String>,
    #[schema(schema_with = operating_mode)]
    operating_mode: OperatingMode,
    updated_at: DateTime<Utc>,
}

/// A terminal after a mode change: restart it for the change to apply.
#[derive(ToSchema)]
#[schema(as = TerminalModeChanged)]
pub struct TerminalModeOut {
    id: String,
    #[schema(schema_with = object::terminal)]
    object: String,
    seller_id: String,
    store_id: Option<String>,
    pos_id: Option<String>,
    device_id: String,
    model: Option<String>,
    #[schema(schema_with = operating_mode)]
    operating_mode: OperatingMode,
    updated_at: DateTime<Utc>,
    restart_required: bool,
}

#[derive(ToSchema)]
#[schema(as = OnboardingLink)]
pub struct LinkOut {
    id: String,
    #[schema(schema_with = object::onboarding_link)]
    object: String,
    label: Option<String>,
    #[schema(schema_with = onboarding_link_status)]
    status: OnboardingLinkStatus,
    expires_at: DateTime<Utc>,
    seller_id: Option<String>,
    used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// The public URL the link's page is served under.
    public_base: String,
}

/// The link with its URL, shown once (only the token's hash is kept).
#[derive(ToSchema)]
#[schema(as = OnboardingLinkCreated)]
pub struct LinkCreatedOut {
    id: String,
    #[schema(schema_with = object::onboarding_link)]
    object: String,
    label: Option<String>,
    #[schema(schema_with = onboarding_link_status)]
    status: OnboardingLinkStatus,
    expires_at: DateTime<Utc>,
    seller_id: Option<String>,
    used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    public_base: String,
    url: String,
}

/// The key with its secret, shown once.
#[derive(ToSchema)]
#[schema(as = ApiKeyCreated)]
pub struct KeyCreatedOut {
    id: String,
    #[schema(schema_with = object::api_key)]
    object: String,
    name: String,
    prefix: String,
    #[schema(schema_with = key_mode)]
    mode: KeyMode,
    #[schema(schema_with = scope_kind)]
    scope: ScopeKind,
    seller_id: Option<String>,
    store_id: Option<String>,
    pos_id: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    #[schema(schema_with = key_access)]
    access: KeyAccess,
    /// `pk_test_…` or `pk_live_…`.
    key: String,
}

/// The endpoint with its signing secret, shown on create and rotation only.
#[derive(ToSchema)]
#[schema(as = WebhookEndpointWithSecret)]
pub struct EndpointSecretOut {
    id: String,
    #[schema(schema_with = object::webhook_endpoint)]
    object: String,
    url: String,
    description: Option<String>,
    event_types: Vec<String>,
    seller_id: Option<String>,
    #[schema(schema_with = endpoint_status)]
    status: EndpointStatus,
    disabled_reason: Option<String>,
    failing_since: Option<DateTime<Utc>>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// `whsec_…`: verify `Puente-Signature` with it.
    secret: String,
}

#[derive(ToSchema)]
#[schema(as = WebhookEndpointDeleted)]
pub struct EndpointDeletedOut {
    id: String,
    #[schema(schema_with = object::webhook_endpoint)]
    object: String,
    deleted: bool,
}

#[derive(ToSchema)]
#[schema(as = WebhookReplay)]
pub struct ReplayOut {
    #[schema(schema_with = object::webhook_replay)]
    object: String,
    endpoint_id: String,
    since: DateTime<Utc>,
    count: u64,
    delivery_ids: Vec<String>,
}

/// A list page: `next_cursor` goes in the next request's cursor parameter
/// while `has_more` is true.
macro_rules! page_out {
    ($($name:ident as $schema:ident of $item:ty),+ $(,)?) => {$(
        #[derive(ToSchema)]
        #[schema(as = $schema)]
        pub struct $name {
            #[schema(schema_with = object::list)]
            object: String,
            data: Vec<$item>,
            has_more: bool,
            next_cursor: Option<String>,
        }
    )+};
}

/// A whole list in one answer (`has_more` is always false).
macro_rules! list_out {
    ($($name:ident as $schema:ident of $item:ty),+ $(,)?) => {$(
        #[derive(ToSchema)]
        #[schema(as = $schema)]
        pub struct $name {
            #[schema(schema_with = object::list)]
            object: String,
            data: Vec<$item>,
            has_more: bool,
        }
    )+};
}

page_out!(
    IntentPageOut as PaymentIntentList of IntentOut,
    SellerPageOut as SellerList of SellerOut,
    StorePageOut as StoreList of StoreOut,
    PosPageOut as PosList of PosOut,
    TerminalPageOut as TerminalList of TerminalOut,
    LinkPageOut as OnboardingLinkList of LinkOut,
    DeliveryPageOut as WebhookDeliveryList of crate::api::webhooks::DeliveryOut,
);

list_out!(
    RefundListOut as RefundList of RefundOut,
    KeyListOut as ApiKeyList of crate::api::keys::KeyOut,
    EndpointListOut as WebhookEndpointList of crate::api::webhooks::EndpointOut,
);

#[derive(ToSchema)]
#[schema(as = IntentEventList)]
pub struct EventListOut {
    #[schema(schema_with = object::list)]
    object: String,
    data: Vec<IntentEventOut>,
}
