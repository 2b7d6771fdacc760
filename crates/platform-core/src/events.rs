//! Events for integrators: one row per thing that happened, and one
//! delivery row per matching webhook endpoint, written in the same
//! transaction as the change itself (so an event is never lost or invented).

use crate::clock;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;

use crate::entities::{events, webhook_deliveries, webhook_endpoints};
use crate::error::CoreError;
use crate::id::{EventId, IntegratorId, SellerId, WebhookDeliveryId};
use crate::states::{DeliveryStatus, EndpointStatus};

/// Every event type Puente emits (also the filter values of endpoints).
pub const EVENT_TYPES: &[&str] = &[
    "payment_intent.created",
    "payment_intent.at_terminal",
    "payment_intent.processed",
    "payment_intent.failed",
    "payment_intent.canceled",
    "payment_intent.expired",
    "payment_intent.action_required",
    "payment_intent.refunded",
    "payment_intent.requires_attention",
    "refund.succeeded",
    "refund.failed",
    "seller.linked",
    "seller.needs_reconnect",
    "seller.unlinked",
    "terminal.mode_changed",
];

/// Whether an endpoint's filter (a JSON array of types; empty = all) wants `event_type`.
pub fn endpoint_wants(filter_json: &str, event_type: &str) -> bool {
    let types: Vec<String> = serde_json::from_str(filter_json).unwrap_or_default();
    types.is_empty() || types.iter().any(|t| t == event_type)
}

/// Records an event and queues a delivery for each enabled endpoint that
/// wants it. Returns the ids of the deliveries created, for the caller to
/// publish to the queue after its transaction commits.
pub async fn emit<T: Serialize>(
    txn: &impl ConnectionTrait,
    integrator_id: &IntegratorId,
    seller_id: Option<&SellerId>,
    event_type: &'static str,
    data: &T,
) -> Result<Vec<WebhookDeliveryId>, CoreError> {
    let now = clock::now();
    let event_id = EventId::new();
    let payload = serde_json::json!({
        "id": event_id,
        "type": event_type,
        "created_at": now,
        "data": data,
    });
    // This runs inside the caller's write transaction (on SQLite, holding
    // the database's one write lock): every round trip counts, so rows are
    // written without reading them back and deliveries in one statement.
    events::Entity::insert(events::ActiveModel {
        id: Set(event_id.clone()),
        integrator_id: Set(integrator_id.clone()),
        seller_id: Set(seller_id.cloned()),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;

    let endpoints = webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::IntegratorId.eq(integrator_id))
        .filter(webhook_endpoints::Column::Status.eq(EndpointStatus::Enabled))
        .all(txn)
        .await?;
    let mut ids = Vec::new();
    let mut rows = Vec::new();
    for ep in endpoints {
        let seller_matches = match (&ep.seller_id, seller_id) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            (Some(_), None) => false,
        };
        if !seller_matches || !endpoint_wants(&ep.event_types, event_type) {
            continue;
        }
        let id = WebhookDeliveryId::new();
        rows.push(webhook_deliveries::ActiveModel {
            id: Set(id.clone()),
            integrator_id: Set(integrator_id.clone()),
            endpoint_id: Set(ep.id),
            event_id: Set(event_id.clone()),
            event_type: Set(event_type.to_owned()),
            status: Set(DeliveryStatus::Pending),
            attempt_count: Set(0),
            next_attempt_at: Set(Some(now)),
            last_status_code: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            completed_at: Set(None),
        });
        ids.push(id);
    }
    if !rows.is_empty() {
        webhook_deliveries::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_filters() {
        assert!(endpoint_wants("[]", "seller.linked"));
        assert!(endpoint_wants("[\"seller.linked\"]", "seller.linked"));
        assert!(!endpoint_wants("[\"seller.unlinked\"]", "seller.linked"));
    }
}
