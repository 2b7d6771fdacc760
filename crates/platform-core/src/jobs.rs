//! Queue topics. A message carries only the id of the row that is the job
//! of record; consumers re-read the row and act on its current state.

/// `pi_…`: send a queued intent to Mercado Pago, or a cancel request.
pub const INTENT_DISPATCH: &str = "intents.dispatch";
/// `rfd_…`: send a refund to Mercado Pago.
pub const REFUND_DISPATCH: &str = "refunds.dispatch";
/// `msg_…`: deliver one webhook message to one endpoint.
pub const WEBHOOK_DELIVERY: &str = "webhooks.deliver";
/// `ntf_…`: process a recorded Mercado Pago notification.
pub const NOTIFICATION: &str = "notifications.process";

/// Event-bus channel announcing that an intent changed (payload: intent
/// id), so long-polls and SSE streams in any web process wake up. Best
/// effort: readers re-read the row and also poll now and then.
pub const INTENT_CHANGED: &str = "intents.changed";
