//! `/app/terminals`: every terminal of the integrator, one terminal's page,
//! and switching its operating mode (PDV / STANDALONE).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::entities::{pos, sellers, stores, terminals};
use platform_core::fleet;
use platform_core::id::{SellerId, TerminalId};
use platform_core::paging::{Page, PageRequest};
use platform_core::permissions::Permission;
use platform_core::registry::{self, RegistryError, TerminalFilter};
use platform_core::registry_edit::{self, EditError};
use platform_core::states::OperatingMode;
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{money, ok, render, see_other, urlencode, when};
use super::intents::nicknames;
use super::sellers::{upstream_api, upstream_message};
use super::session::Auth;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    seller: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "dash/terminals.html")]
struct TerminalsPage {
    c: Chrome,
    rows: Page<terminals::Model>,
    /// Seller id → nickname, for the seller column.
    names: HashMap<SellerId, String>,
    seller: String,
    mode: String,
    q: String,
    modes: &'static [OperatingMode],
    filter_query: String,
    filtered: bool,
    /// Terminal id → how it is doing (last payment, error, today, flags).
    health: HashMap<TerminalId, fleet::Health>,
}

impl TerminalsPage {
    /// The seller's nickname; its id only if the seller row is gone.
    fn seller_name<'a>(&'a self, id: &'a SellerId) -> &'a str {
        self.names.get(id).map_or(id.as_str(), String::as_str)
    }

    fn health(&self, id: &TerminalId) -> Option<&fleet::Health> {
        self.health.get(id)
    }

    fn flag_key(&self, f: &fleet::Flag) -> &'static str {
        flag_key(f)
    }
}

/// What the fleet columns show for a terminal's health.
pub trait HealthText {
    fn last_payment_text(&self) -> String;
    fn last_error_text(&self) -> String;
}

impl HealthText for fleet::Health {
    fn last_payment_text(&self) -> String {
        self.last_payment
            .as_ref()
            .map(|p| format!("{} {} · {}", money(p.amount), p.currency, when(&p.at)))
            .unwrap_or_default()
    }

    fn last_error_text(&self) -> String {
        self.last_error
            .as_ref()
            .map(|e| format!("{} · {}", e.code, when(&e.at)))
            .unwrap_or_default()
    }
}

/// The message key of a fleet flag.
pub fn flag_key(f: &fleet::Flag) -> &'static str {
    match f {
        fleet::Flag::NotIntegrated => "fleet.flag_not_integrated",
        fleet::Flag::Failing => "fleet.flag_failing",
    }
}

impl TerminalPage {
    /// What a flag means and what to do, on the terminal's page.
    fn flag_help_key(&self, f: &fleet::Flag) -> &'static str {
        match f {
            fleet::Flag::NotIntegrated => "fleet.help_not_integrated",
            fleet::Flag::Failing => "fleet.help_failing",
        }
    }
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let seller = q.seller.trim();
    let mode = OperatingMode::parse(q.mode.trim());
    let text: String = q.q.trim().chars().take(60).collect();
    let filter = TerminalFilter {
        seller_id: (!seller.is_empty()).then(|| seller.to_owned()),
        mode,
        device_id_contains: (!text.is_empty()).then(|| text.clone()),
    };
    let rows = registry::terminals_page(
        &state.db,
        &auth.scope,
        &filter,
        &PageRequest::new(q.before.as_deref(), Some(50)),
    )
    .await
    .page(auth.lang)?;
    let names = nicknames(&state, &auth, rows.items.iter().map(|t| &t.seller_id)).await?;
    let health = fleet::health(&state.db, &auth.scope, &rows.items)
        .await
        .page(auth.lang)?;
    let page = TerminalsPage {
        health,
        c: Chrome::new(&auth, &state, "terminals"),
        rows,
        names,
        filter_query: format!(
            "seller={}&mode={}&q={}",
            urlencode(seller),
            mode.map(|m| m.as_str()).unwrap_or(""),
            urlencode(&text)
        ),
        filtered: !seller.is_empty() || mode.is_some() || !text.is_empty(),
        seller: seller.chars().take(40).collect(),
        mode: mode.map(|m| m.as_str().to_owned()).unwrap_or_default(),
        q: text,
        modes: OperatingMode::ALL,
    };
    ok(&page, auth.lang)
}

#[derive(Template)]
#[template(path = "dash/terminal.html")]
struct TerminalPage {
    c: Chrome,
    t: terminals::Model,
    seller: sellers::Model,
    store: Option<stores::Model>,
    pos: Option<pos::Model>,
    error: Option<String>,
    restart_notice: bool,
    health: fleet::Health,
}

async fn terminal_page(
    state: &AppState,
    auth: &Auth,
    id: &TerminalId,
    error: Option<String>,
) -> Result<TerminalPage, PageError> {
    let db = &state.db;
    let lang = auth.lang;
    let t = auth
        .scope
        .find::<terminals::Entity>(db, id)
        .await
        .page(lang)?;
    let seller = auth
        .scope
        .find::<sellers::Entity>(db, &t.seller_id)
        .await
        .page(lang)?;
    let store = match &t.store_id {
        Some(s) => auth.scope.find::<stores::Entity>(db, s).await.ok(),
        None => None,
    };
    let pos = match &t.pos_id {
        Some(p) => auth.scope.find::<pos::Entity>(db, p).await.ok(),
        None => None,
    };
    let mut health = fleet::health(db, &auth.scope, std::slice::from_ref(&t))
        .await
        .page(lang)?;
    let health = health.remove(&t.id).unwrap_or_default();
    Ok(TerminalPage {
        health,
        c: Chrome::new(auth, state, "terminals"),
        restart_notice: auth.path.contains("done=mode_changed"),
        t,
        seller,
        store,
        pos,
        error,
    })
}

pub async fn detail(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let terminal_id = TerminalId::parse_or_not_found(&path).page(auth.lang)?;
    let page = terminal_page(&state, &auth, &terminal_id, None).await?;
    ok(&page, auth.lang)
}

#[derive(Deserialize, Default)]
pub struct ModeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
}

pub async fn set_mode(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<ModeForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    auth.check_csrf(&form.csrf)?;
    let terminal_id = TerminalId::parse_or_not_found(&path).page(auth.lang)?;
    let terminal = auth
        .scope
        .find::<terminals::Entity>(&state.db, &terminal_id)
        .await
        .page(auth.lang)?;
    let mode = match OperatingMode::parse(form.mode.trim()) {
        Some(m @ (OperatingMode::Pdv | OperatingMode::Standalone)) => m,
        _ => {
            let msg = auth.t().get("terminal.mode_invalid").to_owned();
            let page = terminal_page(&state, &auth, &terminal_id, Some(msg)).await?;
            return render(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
                auth.lang,
            );
        }
    };
    // Saving the mode it already has changes nothing anywhere: say so, and
    // do not ask for a restart (nor call Mercado Pago).
    if mode == terminal.operating_mode {
        return Ok(see_other(&format!(
            "/app/terminals/{}?done=mode_unchanged",
            path.as_str()
        )));
    }
    let api = upstream_api(&state, &auth).await?;
    let res = registry_edit::set_terminal_mode(
        registry_edit::Ctx {
            db: &state.db,
            keyring: &state.keyring,
            mp: &state.mp,
        },
        &auth.scope,
        terminal,
        mode,
        api,
        &auth.actor(),
    )
    .await;
    match res {
        Ok(_) => Ok(see_other(&format!(
            "/app/terminals/{}?done=mode_changed",
            path.as_str()
        ))),
        Err(EditError::Registry(RegistryError::Core(e))) => Err(PageError::from_core(e, auth.lang)),
        Err(EditError::Registry(r)) => {
            let msg = upstream_message(&auth, &r)?;
            let page = terminal_page(&state, &auth, &terminal_id, Some(msg)).await?;
            render(actix_web::http::StatusCode::BAD_GATEWAY, &page, auth.lang)
        }
        Err(EditError::Fields(_)) => {
            let msg = auth.t().get("terminal.mode_invalid").to_owned();
            let page = terminal_page(&state, &auth, &terminal_id, Some(msg)).await?;
            render(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
                auth.lang,
            )
        }
    }
}
