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
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Select};

use crate::entities::*;
use crate::error::CoreError;
use crate::id::{IntegratorId, PosId, SellerId, StoreId};

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

    /// The `WHERE` that keeps a query of `E` inside this scope.
    pub fn condition<E: TenantEntity>(&self) -> Condition {
        let mut cond = Condition::all().add(E::integrator_column().eq(self.integrator_id.as_str()));
        let narrowings = [
            (
                self.seller_id.as_ref().map(|i| i.as_str()),
                E::seller_column(),
            ),
            (
                self.store_id.as_ref().map(|i| i.as_str()),
                E::store_column(),
            ),
            (self.pos_id.as_ref().map(|i| i.as_str()), E::pos_column()),
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
        id: &str,
    ) -> Result<E::Model, CoreError> {
        self.select::<E>()
            .filter(E::id_column().eq(id))
            .one(db)
            .await?
            .ok_or(CoreError::NotFound { kind: E::KIND })
    }

    /// Deletes the row with this id if it is inside the scope.
    pub async fn delete<E: TenantEntity>(
        &self,
        db: &impl ConnectionTrait,
        id: &str,
    ) -> Result<(), CoreError> {
        let res = E::delete_many()
            .filter(self.condition::<E>())
            .filter(E::id_column().eq(id))
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
    id: &str,
) -> Result<Option<E::Model>, CoreError>
where
    E::Model: Send + Sync,
{
    Ok(E::find().filter(E::id_column().eq(id)).one(db).await?)
}

/// A table holding tenant data, and which columns place a row in a scope.
pub trait TenantEntity: EntityTrait {
    /// Singular name used in "not found" errors (`seller`, `terminal`, …).
    const KIND: &'static str;
    fn id_column() -> Self::Column;
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

/// Declares how an entity is scoped: `kind, integrator col, [seller], [store], [pos]`.
macro_rules! tenant {
    ($module:ident, $kind:literal, $integrator:ident $(, seller: $seller:ident)? $(, store: $store:ident)? $(, pos: $pos:ident)?) => {
        impl TenantEntity for $module::Entity {
            const KIND: &'static str = $kind;
            fn id_column() -> Self::Column {
                $module::Column::Id
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
tenant!(integrators, "integrator", Id);
tenant!(users, "user", IntegratorId);
tenant!(invitations, "invitation", IntegratorId);
tenant!(sellers, "seller", IntegratorId, seller: Id);
tenant!(seller_credentials, "seller credentials", IntegratorId, seller: SellerId);
tenant!(onboarding_links, "onboarding link", IntegratorId);
tenant!(oauth_states, "oauth state", IntegratorId);
tenant!(stores, "store", IntegratorId, seller: SellerId, store: Id);
tenant!(pos, "POS", IntegratorId, seller: SellerId, store: StoreId, pos: Id);
tenant!(terminals, "terminal", IntegratorId, seller: SellerId, store: StoreId, pos: PosId);
tenant!(payment_intents, "payment intent", IntegratorId, seller: SellerId, store: StoreId, pos: PosId);
tenant!(payment_intent_events, "payment intent event", IntegratorId);
tenant!(refunds, "refund", IntegratorId, seller: SellerId);
tenant!(qr_orders, "QR order", IntegratorId, seller: SellerId, store: StoreId, pos: PosId);
tenant!(api_keys, "API key", IntegratorId);
tenant!(webhook_endpoints, "webhook endpoint", IntegratorId);
tenant!(events, "event", IntegratorId, seller: SellerId);
tenant!(webhook_deliveries, "webhook delivery", IntegratorId);
tenant!(webhook_attempts, "webhook attempt", IntegratorId);
tenant!(inbound_notifications, "notification", IntegratorId);
tenant!(audit_log, "audit entry", IntegratorId);
tenant!(idempotency_keys, "idempotency record", IntegratorId);
