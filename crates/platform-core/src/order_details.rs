//! `mp_order_details`: what a POS sent through the compatible surface that
//! the intent row does not hold (`expiration_time`,
//! `integration_data.platform_id` / `integrator_id`: echoed by the order
//! view, forwarded on dispatch), and what Mercado Pago reports about the
//! payment and refunds (shown in the compatible view).

use crate::clock;
use crate::db::Db;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, EntityTrait, IdenStatic, Set};
use serde_json::{Map, Value};

use crate::entities::mp_order_details;
use crate::error::CoreError;
use crate::id::{IntegratorId, PaymentIntentId};
use crate::mercadopago::{Order, PointOrderRequest};

/// What the POS asked for besides the intent.
#[derive(Debug, Clone, Default)]
pub struct RequestDetails {
    pub expiration_time: Option<String>,
    pub platform_id: Option<String>,
    /// `integration_data.integrator_id`: Mercado Pago's, not a Puente id.
    pub integrator_id: Option<String>,
}

/// Records the request's details of a new order (nothing to record: no row).
pub async fn save(
    db: &Db,
    intent_id: &PaymentIntentId,
    integrator_id: &IntegratorId,
    d: &RequestDetails,
) -> Result<(), CoreError> {
    if d.expiration_time.is_none() && d.platform_id.is_none() && d.integrator_id.is_none() {
        return Ok(());
    }
    mp_order_details::ActiveModel {
        intent_id: Set(intent_id.clone()),
        integrator_id: Set(integrator_id.clone()),
        expiration_time: Set(d.expiration_time.clone()),
        platform_id: Set(d.platform_id.clone()),
        mp_integrator_id: Set(d.integrator_id.clone()),
        payment_method_id: Set(None),
        reference_id: Set(None),
        refund_references: Set(None),
        updated_at: Set(clock::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The details of an intent, if any were recorded.
pub async fn find(
    db: &Db,
    intent_id: &PaymentIntentId,
) -> Result<Option<mp_order_details::Model>, CoreError> {
    Ok(mp_order_details::Entity::find_by_id(intent_id.clone())
        .one(db)
        .await?)
}

/// Adds the POS's `expiration_time` and integration ids to an order request.
pub async fn forward(
    db: &Db,
    intent_id: &PaymentIntentId,
    req: &mut PointOrderRequest,
) -> Result<(), CoreError> {
    if let Some(d) = find(db, intent_id).await? {
        req.expiration_time = d.expiration_time;
        req.platform_id = d.platform_id;
        req.integrator_id = d.mp_integrator_id;
    }
    Ok(())
}

/// Records the card brand and the payment's and refunds' `reference_id` an
/// order carries (only when it carries any).
pub async fn record(
    db: &Db,
    intent_id: &PaymentIntentId,
    integrator_id: &IntegratorId,
    order: &Order,
) -> Result<(), CoreError> {
    let payment = order.transactions.payments.first();
    let brand = payment
        .and_then(|p| p.payment_method.as_ref())
        .and_then(|m| m.id.clone());
    let reference = payment
        .and_then(|p| p.reference_id.as_ref())
        .map(|r| r.to_string());
    let refunds: Map<String, Value> = order
        .transactions
        .refunds
        .iter()
        .filter_map(|r| {
            Some((
                r.id.clone(),
                Value::from(r.reference_id.as_ref()?.to_string()),
            ))
        })
        .collect();
    if brand.is_none() && reference.is_none() && refunds.is_empty() {
        return Ok(());
    }
    let refunds = (!refunds.is_empty()).then(|| Value::Object(refunds).to_string());
    // One statement: a new row, or on the intent's row only what this order
    // carries (a value it does not carry keeps the one recorded before).
    use mp_order_details::Column as C;
    let keep_unless_given = |c: C| {
        let name = c.as_str();
        (
            c,
            Expr::cust(format!(
                "COALESCE(excluded.{name}, mp_order_details.{name})"
            )),
        )
    };
    let mut on_conflict = OnConflict::column(C::IntentId);
    on_conflict
        .values([
            keep_unless_given(C::PaymentMethodId),
            keep_unless_given(C::ReferenceId),
            keep_unless_given(C::RefundReferences),
        ])
        .update_column(C::UpdatedAt);
    mp_order_details::Entity::insert(mp_order_details::ActiveModel {
        intent_id: Set(intent_id.clone()),
        integrator_id: Set(integrator_id.clone()),
        expiration_time: Set(None),
        platform_id: Set(None),
        mp_integrator_id: Set(None),
        payment_method_id: Set(brand),
        reference_id: Set(reference),
        refund_references: Set(refunds),
        updated_at: Set(clock::now()),
    })
    .on_conflict(on_conflict)
    .exec_without_returning(db)
    .await?;
    Ok(())
}
