//! Tenancy by construction: all tenant data is read through a [`Scope`].
//!
//! A scope is an integrator, optionally narrowed to one seller, store or POS
//! (what an API key or a dashboard page may see). Every tenant entity says
//! which of its columns hold those ids ([`TenantEntity`]), and the scope turns
//! into a `WHERE` on them. A row outside the scope is simply not found, so
//! another tenant's object is a 404, never a 403, and never a leak. When an
//! entity has no column to prove it belongs to a narrowed scope (an
//! integrator's webhook endpoints for a store-scoped key), nothing matches.

use sea_orm::sea_query::{Expr, IntoCondition};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Select, Value};

use crate::entities::*;
use crate::error::CoreError;
use crate::id::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    integrator_id: IntegratorId,
    seller_id: Option<SellerId>,
    store_id: Option<StoreId>,
    pos_id: Option<PosId>,
}

impl Scope {
    /// Everything of one integrator.
    pub fn integrator(integrator_id: IntegratorId) -> Self {
        Self {
            integrator_id,
            seller_id: None,
            store_id: None,
            pos_id: None,
        }
    }

    /// Narrows to one seller. Scopes only ever narrow; the caller has proved
    /// (by finding it through the wider scope) that the seller is in it.
    pub fn with_seller(mut self, seller_id: SellerId) -> Self {
        self.seller_id = Some(seller_id);
        self
    }

    pub fn with_store(mut self, store_id: StoreId) -> Self {
        self.store_id = Some(store_id);
        self
    }

    pub fn with_pos(mut self, pos_id: PosId) -> Self {
        self.pos_id = Some(pos_id);
        self
    }

    pub fn integrator_id(&self) -> &IntegratorId {
        &self.integrator_id
    }

    pub fn seller_id(&self) -> Option<&SellerId> {
        self.seller_id.as_ref()
    }

    pub fn store_id(&self) -> Option<&StoreId> {
        self.store_id.as_ref()
    }

    pub fn pos_id(&self) -> Option<&PosId> {
        self.pos_id.as_ref()
    }

    /// Whether this scope covers the whole integrator.
    pub fn is_integrator_wide(&self) -> bool {
        self.seller_id.is_none() && self.store_id.is_none() && self.pos_id.is_none()
    }

    /// Whether a row placed at these ids is inside this scope: the same
    /// rule as [`Scope::condition`], for a row already in memory.
    pub fn contains(
        &self,
        integrator: &IntegratorId,
        seller: Option<&SellerId>,
        store: Option<&StoreId>,
        pos: Option<&PosId>,
    ) -> bool {
        fn narrows<T: PartialEq>(wanted: Option<&T>, row: Option<&T>) -> bool {
            wanted.is_none_or(|w| row == Some(w))
        }
        *integrator == self.integrator_id
            && narrows(self.seller_id.as_ref(), seller)
            && narrows(self.store_id.as_ref(), store)
            && narrows(self.pos_id.as_ref(), pos)
    }

    /// The `WHERE` that keeps a query of `E` inside this scope.
    pub fn condition<E: TenantEntity>(&self) -> Condition {
        let mut cond = Condition::all().add(E::integrator_column().eq(&self.integrator_id));
        let narrowings = [
            (self.seller_id.as_ref().map(Value::from), E::seller_column()),
            (self.store_id.as_ref().map(Value::from), E::store_column()),
            (self.pos_id.as_ref().map(Value::from), E::pos_column()),
        ];
        for (wanted, column) in narrowings {
            if let Some(id) = wanted {
                cond = match column {
                    Some(col) => cond.add(col.eq(id)),
                    // Cannot prove the row belongs to the narrowed scope.
                    None => cond.add(Expr::cust("1 = 0").into_condition()),
                };
            }
        }
        cond
    }

    /// `SELECT … FROM E WHERE <scope>`: the start of every tenant query.
    pub fn select<E: TenantEntity>(&self) -> Select<E> {
        E::find().filter(self.condition::<E>())
    }

    /// `secure_find`: the row with this id if it is inside the scope.
    pub async fn find<E: TenantEntity>(
        &self,
        db: &impl ConnectionTrait,
        id: &E::Id,
    ) -> Result<E::Model, CoreError> {
        self.select::<E>()
            .filter(E::id_column().eq(id.clone()))
            .one(db)
            .await?
            .ok_or(CoreError::NotFound { kind: E::KIND })
    }

    /// Deletes the row with this id if it is inside the scope.
    pub async fn delete<E: TenantEntity>(
        &self,
        db: &impl ConnectionTrait,
        id: &E::Id,
    ) -> Result<(), CoreError> {
        let res = E::delete_many()
            .filter(self.condition::<E>())
            .filter(E::id_column().eq(id.clone()))
            .exec(db)
            .await?;
        if res.rows_affected == 0 {
            return Err(CoreError::NotFound { kind: E::KIND });
        }
        Ok(())
    }
}

/// A row by id outside any tenant scope (`None` when it is gone): for the
/// worker, whose queue messages name rows, and for views of a row already
/// found through a scope. Never for an id a request brought.
pub async fn unscoped<E: TenantEntity>(
    db: &impl ConnectionTrait,
    id: &E::Id,
) -> Result<Option<E::Model>, CoreError>
where
    E::Model: Send + Sync,
{
    Ok(E::find()
        .filter(E::id_column().eq(id.clone()))
        .one(db)
        .await?)
}

/// An id of `E`'s kind brought by a request (for generic code; otherwise
/// the id type's `parse_or_not_found`): a malformed one is not found,
/// exactly as a well-formed id that names nothing.
pub fn parse_id<E: TenantEntity>(s: &str) -> Result<E::Id, CoreError> {
    s.parse().map_err(|_| CoreError::NotFound { kind: E::KIND })
}

/// A table holding tenant data, and which columns place a row in a scope.
pub trait TenantEntity: EntityTrait {
    /// Singular name used in "not found" errors (`seller`, `terminal`, …):
    /// its id type's `KIND`.
    const KIND: &'static str;
    /// The type of the row's own id (`SellerId` for sellers, …).
    type Id: Clone + Into<Value> + std::str::FromStr + Send + Sync;
    fn id_column() -> Self::Column;
    /// The row's own id.
    fn id_of(row: &Self::Model) -> &Self::Id;
    fn integrator_column() -> Self::Column;
    fn seller_column() -> Option<Self::Column> {
        None
    }
    fn store_column() -> Option<Self::Column> {
        None
    }
    fn pos_column() -> Option<Self::Column> {
        None
    }
}

/// Declares how an entity is scoped: `id type, integrator col, [seller], [store], [pos]`.
macro_rules! tenant {
    ($module:ident: $id:ident, $integrator:ident $(, seller: $seller:ident)? $(, store: $store:ident)? $(, pos: $pos:ident)?) => {
        impl TenantEntity for $module::Entity {
            const KIND: &'static str = $id::KIND;
            type Id = $id;
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn id_of(row: &$module::Model) -> &$id {
                &row.id
            }
            fn integrator_column() -> Self::Column {
                $module::Column::$integrator
            }
            $(fn seller_column() -> Option<Self::Column> {
                Some($module::Column::$seller)
            })?
            $(fn store_column() -> Option<Self::Column> {
                Some($module::Column::$store)
            })?
            $(fn pos_column() -> Option<Self::Column> {
                Some($module::Column::$pos)
            })?
        }
    };
}

// The integrator row itself: its id is its integrator id.
tenant!(integrators: IntegratorId, Id);
tenant!(users: UserId, IntegratorId);
tenant!(invitations: InvitationId, IntegratorId);
tenant!(sellers: SellerId, IntegratorId, seller: Id);
tenant!(seller_credentials: SellerCredentialId, IntegratorId, seller: SellerId);
tenant!(onboarding_links: OnboardingLinkId, IntegratorId);
tenant!(oauth_states: OAuthStateId, IntegratorId);
tenant!(stores: StoreId, IntegratorId, seller: SellerId, store: Id);
tenant!(pos: PosId, IntegratorId, seller: SellerId, store: StoreId, pos: Id);
tenant!(terminals: TerminalId, IntegratorId, seller: SellerId, store: StoreId, pos: PosId);
tenant!(payment_intents: PaymentIntentId, IntegratorId, seller: SellerId, store: StoreId, pos: PosId);
tenant!(payment_intent_events: IntentEventId, IntegratorId);
tenant!(refunds: RefundId, IntegratorId, seller: SellerId);
tenant!(qr_orders: QrOrderId, IntegratorId, seller: SellerId, store: StoreId, pos: PosId);
tenant!(api_keys: ApiKeyId, IntegratorId);
tenant!(webhook_endpoints: WebhookEndpointId, IntegratorId);
tenant!(events: EventId, IntegratorId, seller: SellerId);
tenant!(webhook_deliveries: WebhookDeliveryId, IntegratorId);
tenant!(webhook_attempts: WebhookAttemptId, IntegratorId);
tenant!(inbound_notifications: InboundNotificationId, IntegratorId);
tenant!(audit_log: AuditEntryId, IntegratorId);
tenant!(idempotency_keys: IdempotencyRecordId, IntegratorId);
