//! `/app/intents/new`: charge an amount on a PDV terminal from the
//! dashboard (the same service the POS API uses, with source `dashboard`).
//! Sent once per rendering ([`super::once`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::CoreError;
use platform_core::entities::{payment_intents, sellers, terminals};
use platform_core::error::{Conflict, Invalid};
use platform_core::id::{PaymentIntentId, TerminalId};
use platform_core::idempotency::Claimed;
use platform_core::intents::{self, MAX_DESCRIPTION, NewIntent, Origin};
use platform_core::permissions::Permission;
use platform_core::registry;
use platform_core::states::{EventSource, OperatingMode};
use serde::Deserialize;
use serde_json::json;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, invalid, money, ok, see_other};
use super::once::{self, Refusal};
use super::session::Auth;
use crate::state::AppState;

/// A terminal of a linked seller. Only PDV ones can take a charge; the
/// STANDALONE ones are listed too, disabled, so nobody wonders where they
/// went (`standalone` says why they cannot be picked).
pub struct Choice {
    pub id: String,
    pub label: String,
    pub standalone: bool,
}

#[derive(Template)]
#[template(path = "dash/intent_new.html")]
struct NewIntentPage {
    c: Chrome,
    terminals: Vec<Choice>,
    terminal: String,
    amount: String,
    description: String,
    reference: String,
    errors: FieldErrors,
    /// A message for the whole form (e.g. the terminal is busy).
    form_error: Option<String>,
    /// The site's amount range, shown with an out-of-range amount.
    amount_range: String,
    /// This rendering's idempotency key: a new one each time the form is
    /// shown, so a corrected form is a new request.
    form_key: String,
}

impl NewIntentPage {
    fn any_pdv(&self) -> bool {
        self.terminals.iter().any(|t| !t.standalone)
    }
    fn any_standalone(&self) -> bool {
        self.terminals.iter().any(|t| t.standalone)
    }
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    terminal: String,
}

#[derive(Deserialize, Default)]
pub struct IntentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    terminal: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    reference: String,
    /// Absent on a form rendered before keys existed: then sent once.
    #[serde(default)]
    form_key: String,
}

/// "15", "15.5", "15,50" → 1550 minor units; anything else is refused.
pub fn parse_amount(s: &str) -> Option<i64> {
    let s = s.trim().replace(',', ".");
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty()
        || whole.len() > 12
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse::<i64>().ok()?,
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

async fn choices(state: &AppState, auth: &Auth) -> Result<Vec<Choice>, PageError> {
    let lang = auth.lang;
    let registry::Chargeable { sellers, terminals } =
        registry::chargeable(&state.db, &auth.scope, 500)
            .await
            .page(lang)?;
    Ok(terminals
        .into_iter()
        .map(|t| {
            let seller = sellers
                .iter()
                .find(|s| s.id == t.seller_id)
                .map(|s| s.nickname.as_str())
                .unwrap_or("");
            Choice {
                label: format!("{} · {seller}", t.device_id),
                standalone: t.operating_mode != OperatingMode::Pdv,
                id: t.id.into_string(),
            }
        })
        .collect())
}

async fn form_page(
    state: &AppState,
    auth: &Auth,
    form: &IntentForm,
    errors: FieldErrors,
    form_error: Option<String>,
    amount_range: String,
) -> Result<NewIntentPage, PageError> {
    Ok(NewIntentPage {
        c: Chrome::new(auth, state, "intents"),
        terminals: choices(state, auth).await?,
        terminal: form.terminal.trim().chars().take(40).collect(),
        amount: form.amount.trim().chars().take(20).collect(),
        description: form
            .description
            .chars()
            .take(MAX_DESCRIPTION + 10)
            .collect(),
        reference: form.reference.trim().chars().take(80).collect(),
        errors,
        form_error,
        amount_range,
        form_key: once::new_key(),
    })
}

pub async fn new_form(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<NewQuery>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::Charge)?;
    let form = IntentForm {
        terminal: q.terminal.clone(),
        ..Default::default()
    };
    let page = form_page(
        &state,
        &auth,
        &form,
        FieldErrors::default(),
        None,
        String::new(),
    )
    .await?;
    ok(&page, auth.lang)
}

/// The amounts a seller's site accepts, for the form's message.
async fn range_of(state: &AppState, auth: &Auth, terminal_id: &str) -> String {
    let Ok(terminal_id) = TerminalId::parse(terminal_id) else {
        return String::new();
    };
    let Ok(t) = auth
        .scope
        .find::<terminals::Entity>(&state.db, &terminal_id)
        .await
    else {
        return String::new();
    };
    let Ok(s) = auth
        .scope
        .find::<sellers::Entity>(&state.db, &t.seller_id)
        .await
    else {
        return String::new();
    };
    match s.site_id.point_amount_limits() {
        Some((min, max)) => format!("{} – {} {}", money(min), money(max), s.site_id.currency()),
        None => String::new(),
    }
}

pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<IntentForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::Charge)?;
    auth.check_csrf(&form.csrf)?;
    let mut errors = FieldErrors::default();
    let terminal = form.terminal.trim();
    if terminal.is_empty() {
        errors.push("terminal", "intent.terminal_required");
    }
    let amount = parse_amount(&form.amount);
    if amount.is_none() {
        errors.push("amount", "intent.amount_invalid");
    }
    let description = form.description.trim();
    if description.chars().count() > MAX_DESCRIPTION {
        errors.push("description", "intent.description_too_long");
    }
    let reference = form.reference.trim();
    if !errors.is_empty() {
        let page = form_page(&state, &auth, &form, errors, None, String::new()).await?;
        return invalid(&page, auth.lang);
    }
    let amount = amount.unwrap_or_default();
    let new = NewIntent {
        amount,
        description: (!description.is_empty()).then(|| description.to_owned()),
        external_reference: (!reference.is_empty()).then(|| reference.to_owned()),
        ..Default::default()
    };
    let values = json!([terminal, amount, description, reference]);
    let (state_ref, auth_ref) = (&state, &auth);
    let sent = once::run(
        &state,
        &auth,
        "/app/intents",
        values,
        &form.form_key,
        |record| async move {
            let (state, auth) = (state_ref, auth_ref);
            let render = |i: &payment_intents::Model| once::redirect_to(&page_of(&i.id));
            let completion =
                Claimed::of(&state.keyring, record.as_ref()).map(|c| c.completion(&render));
            let origin = Origin {
                api_key_id: None,
                source: EventSource::Dashboard,
            };
            let terminal = TerminalId::parse_or_not_found(terminal)?;
            let intent = intents::create(
                &state.db,
                &auth.scope,
                &terminal,
                new,
                origin,
                completion.as_ref(),
            )
            .await?
            .publish(&state.queue)
            .await;
            Ok(page_of(&intent.id))
        },
    )
    .await;
    match sent {
        Ok(location) => Ok(see_other(&location)),
        Err(refusal) => refused(&state, &auth, &form, refusal).await,
    }
}

fn page_of(intent_id: &PaymentIntentId) -> String {
    format!("/app/intents/{intent_id}")
}

/// The form again, with what was wrong, and a new key (nothing was made).
async fn refused(
    state: &AppState,
    auth: &Auth,
    form: &IntentForm,
    refusal: Refusal,
) -> Result<HttpResponse, PageError> {
    let terminal = form.terminal.trim();
    let mut errors = FieldErrors::default();
    let mut range = String::new();
    let mut form_error = None;
    match refusal {
        Refusal::Reused => form_error = Some(auth.t().get("intent.form_reused").to_owned()),
        Refusal::InProgress => {
            form_error = Some(auth.t().get("intent.form_in_progress").to_owned())
        }
        Refusal::Core(CoreError::NotFound { .. }) => {
            errors.push("terminal", "intent.terminal_required")
        }
        Refusal::Core(CoreError::Invalid { reason, .. }) => match reason {
            Invalid::AmountOutOfRange => {
                errors.push("amount", "intent.amount_out_of_range");
                range = range_of(state, auth, terminal).await;
            }
            Invalid::Description => errors.push("description", "intent.description_too_long"),
            Invalid::ExternalReference => errors.push("reference", "intent.reference_invalid"),
            _ => form_error = Some(auth.t().get("error.invalid_text").to_owned()),
        },
        Refusal::Core(CoreError::Conflict { reason, .. }) => {
            let key = match reason {
                Conflict::TerminalBusy { .. } => "intent.terminal_busy",
                Conflict::TerminalNotIntegrated => "intent.terminal_not_pdv",
                Conflict::SellerNotLinked => "seller.not_linked",
                _ => "error.conflict_text",
            };
            form_error = Some(auth.t().get(key).to_owned());
        }
        Refusal::Core(e) => return Err(PageError::from_core(e, auth.lang)),
    }
    let status = if form_error.is_some() && errors.is_empty() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = form_page(state, auth, form, errors, form_error, range).await?;
    super::forms::render(status, &page, auth.lang)
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("15"), Some(1500));
        assert_eq!(parse_amount(" 15.5 "), Some(1550));
        assert_eq!(parse_amount("15,05"), Some(1505));
        assert_eq!(parse_amount("0.99"), Some(99));
        for bad in [
            "",
            "abc",
            "1.234",
            "-5",
            "1e3",
            ".5",
            "1 000",
            "99999999999999",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }
}
