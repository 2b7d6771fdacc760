//! `POST /app/intents/{id}/refunds`: a total or partial refund of a
//! processed intent, queued for the worker (`platform_core::refunds`). Sent
//! once per rendering ([`super::once`]): a double click refunds once.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use platform_core::entities::refunds::Model as Refund;
use platform_core::id::PaymentIntentId;
use platform_core::idempotency::Claimed;
use platform_core::permissions::Permission;
use platform_core::{CoreError, audit, refunds};
use serde::Deserialize;
use serde_json::json;

use super::errors::{OrPage, PageError};
use super::forms::{render, see_other};
use super::intent_form::parse_amount;
use super::intents::intent_page;
use super::once::{self, Refusal};
use super::session::Auth;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct RefundForm {
    #[serde(default)]
    csrf: String,
    /// Decimal; empty = everything still refundable.
    #[serde(default)]
    amount: String,
    #[serde(default)]
    form_key: String,
}

fn answer_of(r: &Refund) -> String {
    format!("/app/intents/{}?done=refund_requested", r.intent_id)
}

pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<RefundForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::Refund)?;
    auth.check_csrf(&form.csrf)?;
    let t = auth.t();
    let raw = form.amount.trim();
    let amount = if raw.is_empty() {
        Ok(None)
    } else {
        parse_amount(raw).filter(|a| *a > 0).map(Some).ok_or(())
    };
    let (status, message) = match amount {
        Err(()) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.get("refund.amount_invalid"),
        ),
        Ok(amount) => {
            let (state_ref, auth_ref, intent_id) = (&state, &auth, path.as_str());
            let values = json!([intent_id, amount]);
            let action = format!("/app/intents/{intent_id}/refunds");
            let sent = once::run(
                &state,
                &auth,
                &action,
                values,
                &form.form_key,
                |record| async move {
                    let (state, auth) = (state_ref, auth_ref);
                    let render = |r: &Refund| once::redirect_to(&answer_of(r));
                    let completion =
                        Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
                    let intent_id = PaymentIntentId::parse_or_not_found(intent_id)?;
                    let refund = refunds::create(
                        &state.db,
                        &auth.scope,
                        &intent_id,
                        amount,
                        completion.as_ref(),
                    )
                    .await?
                    .publish(&state.queue)
                    .await;
                    let _ = audit::record(
                        &state.db,
                        &refund.integrator_id,
                        &auth.actor(),
                        "refund.requested",
                        Some(audit::Target::PaymentIntent(&refund.intent_id)),
                        Some(format!("{} ({})", refund.id, refund.amount)),
                    )
                    .await;
                    Ok(answer_of(&refund))
                },
            )
            .await;
            match sent {
                Ok(location) => return Ok(see_other(&location)),
                Err(Refusal::Core(CoreError::Invalid { .. })) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    t.get("refund.amount_too_high"),
                ),
                Err(Refusal::Core(CoreError::Conflict { .. })) => {
                    (StatusCode::CONFLICT, t.get("refund.not_refundable"))
                }
                Err(Refusal::Reused) => (StatusCode::CONFLICT, t.get("refund.form_reused")),
                Err(Refusal::InProgress) => {
                    (StatusCode::CONFLICT, t.get("refund.form_in_progress"))
                }
                Err(Refusal::Core(e)) => return Err(PageError::from_core(e, auth.lang)),
            }
        }
    };
    let intent_id = PaymentIntentId::parse_or_not_found(&path).page(auth.lang)?;
    let mut page = intent_page(&state, &auth, &intent_id).await?;
    page.refund_error = Some(message.to_owned());
    page.refund_amount = raw.chars().take(20).collect();
    render(status, &page, auth.lang)
}
