//! Mercado Pago states → Puente's `IntentStatus`.

use platform_core::intents::UpstreamFacts;
use platform_core::mercadopago::{IntentState, Order, OrderStatus, PaymentIntent};
use platform_core::states::IntentStatus;

/// Orders API status (§3.6); `None` for values we do not know.
pub fn order_status(s: OrderStatus) -> Option<IntentStatus> {
    Some(match s {
        OrderStatus::Created => IntentStatus::Created,
        OrderStatus::AtTerminal => IntentStatus::AtTerminal,
        OrderStatus::Processed => IntentStatus::Processed,
        OrderStatus::Failed => IntentStatus::Failed,
        OrderStatus::Canceled => IntentStatus::Canceled,
        OrderStatus::Expired => IntentStatus::Expired,
        OrderStatus::Refunded => IntentStatus::Refunded,
        OrderStatus::ActionRequired => IntentStatus::ActionRequired,
        OrderStatus::Unknown => return None,
    })
}

/// What an order tells us besides its status.
pub fn order_facts(order: &Order) -> UpstreamFacts {
    let payment = order.transactions.payments.first();
    UpstreamFacts {
        upstream_id: Some(order.id.clone()),
        // The payment's detail is the informative one (`accredited`, `high_risk`, …).
        status_detail: payment
            .and_then(|p| p.status_detail.clone())
            .or_else(|| order.status_detail.clone()),
        mp_payment_id: payment.map(|p| p.id.clone()),
        ..Default::default()
    }
}

/// Legacy payment-intent state (§2.9). `FINISHED` with a rejected payment is
/// a failure for the POS, even though the intent itself finished.
pub fn intent_state(pi: &PaymentIntent) -> Option<(IntentStatus, Option<String>)> {
    let payment_state = pi
        .payment
        .as_ref()
        .and_then(|p| p.state.clone())
        .filter(|s| !s.is_empty());
    Some(match pi.state? {
        IntentState::Open => (IntentStatus::Created, None),
        IntentState::OnTerminal | IntentState::Processing | IntentState::Processed => {
            (IntentStatus::AtTerminal, None)
        }
        IntentState::Finished => match payment_state.as_deref() {
            None | Some("approved") => (IntentStatus::Processed, payment_state),
            Some(_) => (IntentStatus::Failed, payment_state),
        },
        IntentState::ConfirmationRequired => (
            IntentStatus::ActionRequired,
            Some("confirmation_required".into()),
        ),
        IntentState::Canceled => (IntentStatus::Canceled, None),
        IntentState::Error => (IntentStatus::Failed, Some("error".into())),
        IntentState::Abandoned => (IntentStatus::Expired, Some("abandoned".into())),
        IntentState::Unknown => return None,
    })
}

pub fn intent_facts(pi: &PaymentIntent, detail: Option<String>) -> UpstreamFacts {
    UpstreamFacts {
        upstream_id: Some(pi.id.clone()),
        status_detail: detail,
        mp_payment_id: pi
            .payment
            .as_ref()
            .and_then(|p| p.id.as_ref())
            .map(|id| id.to_string()),
        ..Default::default()
    }
}
