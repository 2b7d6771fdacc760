//! The order fields a POS sends that the intent row does not hold
//! (`expiration_time`, `integration_data.platform_id` / `integrator_id`),
//! kept in `mp_order_details` so the order view echoes them and the worker
//! forwards them to Mercado Pago.

use chrono::Utc;
use platform_core::CoreError;
use platform_core::entities::mp_order_details;
use platform_core::sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};

/// What the POS asked for besides the intent.
#[derive(Debug, Clone, Default)]
pub struct RequestDetails {
    pub expiration_time: Option<String>,
    pub platform_id: Option<String>,
    pub integrator_id: Option<String>,
}

/// Records the request's details of a new order (nothing to record: no row).
pub async fn save(
    db: &DatabaseConnection,
    intent_id: &str,
    integrator_id: &str,
    d: &RequestDetails,
) -> Result<(), CoreError> {
    if d.expiration_time.is_none() && d.platform_id.is_none() && d.integrator_id.is_none() {
        return Ok(());
    }
    mp_order_details::ActiveModel {
        intent_id: Set(intent_id.to_owned()),
        integrator_id: Set(integrator_id.to_owned()),
        expiration_time: Set(d.expiration_time.clone()),
        platform_id: Set(d.platform_id.clone()),
        mp_integrator_id: Set(d.integrator_id.clone()),
        payment_method_id: Set(None),
        reference_id: Set(None),
        refund_references: Set(None),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn find(
    db: &DatabaseConnection,
    intent_id: &str,
) -> Result<Option<mp_order_details::Model>, CoreError> {
    Ok(mp_order_details::Entity::find_by_id(intent_id.to_owned())
        .one(db)
        .await?)
}
