//! `POST /app/intents/{id}/refunds`: a total or partial refund of a
//! processed intent, queued for the worker (`platform_core::refunds`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use platform_core::{CoreError, audit, refunds};
use serde::Deserialize;

use super::errors::PageError;
use super::forms::{render, see_other};
use super::intent_form::parse_amount;
use super::intents::intent_page;
use super::session::Auth;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct RefundForm {
    #[serde(default)]
    csrf: String,
    /// Decimal; empty = everything still refundable.
    #[serde(default)]
    amount: String,
}

pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<RefundForm>,
) -> Result<HttpResponse, PageError> {
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
        Ok(amount) => match refunds::create(&state.db, &auth.scope, &path, amount, None).await {
            Ok(committed) => {
                let refund = committed.publish(&state.queue).await;
                let _ = audit::record(
                    &state.db,
                    &refund.integrator_id,
                    &auth.actor(),
                    "refund.requested",
                    Some(("payment_intent", &refund.intent_id)),
                    Some(format!("{} ({})", refund.id, refund.amount)),
                )
                .await;
                return Ok(see_other(&format!(
                    "/app/intents/{}?done=refund_requested",
                    refund.intent_id
                )));
            }
            Err(CoreError::Invalid { .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                t.get("refund.amount_too_high"),
            ),
            Err(CoreError::Conflict { .. }) => {
                (StatusCode::CONFLICT, t.get("refund.not_refundable"))
            }
            Err(e) => return Err(PageError::from_core(e, auth.lang)),
        },
    };
    let mut page = intent_page(&state, &auth, &path).await?;
    page.refund_error = Some(message.to_owned());
    page.refund_amount = raw.chars().take(20).collect();
    render(status, &page, auth.lang)
}
