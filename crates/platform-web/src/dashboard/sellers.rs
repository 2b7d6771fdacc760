//! `/app/sellers`: search and filters, a seller's stores, POS and
//! terminals, sync, unlink and re-link.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Duration;
use platform_core::clock;
use platform_core::entities::{pos, sellers, stores, terminals};
use platform_core::id::{PosId, SellerId, StoreId};
use platform_core::onboarding::{self, NewLink};
use platform_core::paging::{Page, PageRequest};
use platform_core::permissions::Permission;
use platform_core::registry::{self, RegistryError};
use platform_core::sellers::{self as seller_svc, SellerFilter, SellerRow};
use platform_core::states::{LinkStatus, Site};
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{ok, see_other, urlencode, when};
use super::links::created_page;
use super::session::Auth;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    site: String,
    /// Token expires within this many days.
    #[serde(default)]
    expiring: String,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "dash/sellers.html")]
struct SellersPage {
    c: Chrome,
    rows: Page<SellerRow>,
    q: String,
    status: String,
    site: String,
    expiring: String,
    statuses: &'static [LinkStatus],
    sites: &'static [Site],
    filter_query: String,
    filtered: bool,
}

pub fn status_key(s: LinkStatus) -> &'static str {
    match s {
        LinkStatus::Linked => "seller.status_linked",
        LinkStatus::NeedsReconnect => "seller.status_needs_reconnect",
        LinkStatus::Unlinked => "seller.status_unlinked",
    }
}

impl SellersPage {
    fn status_key(&self, s: &LinkStatus) -> &'static str {
        status_key(*s)
    }
    fn expiry(&self, r: &SellerRow) -> String {
        r.token_expires_at
            .as_ref()
            .map(when)
            .unwrap_or_else(|| "—".into())
    }
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let days: Option<i64> = q
        .expiring
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=3650).contains(d));
    let filter = SellerFilter {
        q: Some(q.q.clone()),
        status: LinkStatus::parse(&q.status),
        site: Site::parse(&q.site),
        expiring_before: days.map(|d| clock::now() + Duration::days(d)),
    };
    let rows = seller_svc::list(
        &state.db,
        &auth.scope,
        &filter,
        &PageRequest::new(q.before.as_deref(), None),
    )
    .await
    .page(auth.lang)?;
    let filter_query = format!(
        "q={}&status={}&site={}&expiring={}",
        urlencode(&q.q),
        filter.status.map(|s| s.as_str()).unwrap_or(""),
        filter.site.map(|s| s.as_str()).unwrap_or(""),
        days.map(|d| d.to_string()).unwrap_or_default()
    );
    let page = SellersPage {
        c: Chrome::new(&auth, &state, "sellers"),
        rows,
        filtered: !q.q.trim().is_empty()
            || filter.status.is_some()
            || filter.site.is_some()
            || days.is_some(),
        q: q.q.chars().take(100).collect(),
        status: filter
            .status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        site: filter
            .site
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        expiring: days.map(|d| d.to_string()).unwrap_or_default(),
        statuses: LinkStatus::ALL,
        sites: Site::ALL,
        filter_query,
    };
    ok(&page, auth.lang)
}

#[derive(Template)]
#[template(path = "dash/seller.html")]
struct SellerPage {
    c: Chrome,
    seller: sellers::Model,
    token_expires: String,
    stores: Vec<stores::Model>,
    pos: Vec<pos::Model>,
    terminals: Vec<terminals::Model>,
    terminal_count_shown_all: bool,
    error: Option<String>,
}

impl SellerPage {
    fn status_key(&self) -> &'static str {
        status_key(self.seller.link_status)
    }
    fn linked(&self) -> bool {
        self.seller.link_status == LinkStatus::Linked
    }
    fn pos_of<'a>(&'a self, store_id: &StoreId) -> Vec<&'a pos::Model> {
        self.pos
            .iter()
            .filter(|p| p.store_id == *store_id)
            .collect()
    }
    fn pos_name(&self, id: &Option<PosId>) -> String {
        id.as_ref()
            .and_then(|id| self.pos.iter().find(|p| &p.id == id))
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "—".into())
    }
}

const SELLER_TERMINALS_SHOWN: u64 = 50;

async fn seller_page(
    state: &AppState,
    auth: &Auth,
    id: &SellerId,
    error: Option<String>,
) -> Result<SellerPage, PageError> {
    let db = &state.db;
    let lang = auth.lang;
    let seller = auth
        .scope
        .find::<sellers::Entity>(db, id)
        .await
        .page(lang)?;
    let scope = auth.scope.clone().with_seller(seller.id.clone());
    let stores = registry::stores_by_name(db, &scope, 200).await.page(lang)?;
    let pos = registry::pos_by_name(db, &scope, 500).await.page(lang)?;
    let terminals = registry::terminals_by_device(db, &scope, SELLER_TERMINALS_SHOWN + 1)
        .await
        .page(lang)?;
    let expires = seller_svc::token_expiry(db, &auth.scope, &seller.id)
        .await
        .page(lang)?;
    let all = terminals.len() as u64 <= SELLER_TERMINALS_SHOWN;
    Ok(SellerPage {
        c: Chrome::new(auth, state, "sellers"),
        token_expires: expires.as_ref().map(when).unwrap_or_else(|| "—".into()),
        seller,
        stores,
        pos,
        terminals: terminals
            .into_iter()
            .take(SELLER_TERMINALS_SHOWN as usize)
            .collect(),
        terminal_count_shown_all: all,
        error,
    })
}

pub async fn detail(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = SellerId::parse_or_not_found(&path).page(auth.lang)?;
    let page = seller_page(&state, &auth, &id, None).await?;
    ok(&page, auth.lang)
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Mercado Pago's refusal as a sentence for the page it happened on.
pub fn upstream_message(auth: &Auth, e: &RegistryError) -> Result<String, PageError> {
    let t = auth.t();
    match e {
        RegistryError::NotLinked => Ok(t.get("seller.not_linked").to_owned()),
        RegistryError::Upstream {
            code,
            message,
            retryable,
        } => Ok(if *retryable {
            t.get("upstream.down").to_owned()
        } else {
            format!(
                "{} {}{}",
                t.get("upstream.refused"),
                message,
                code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
            )
        }),
        RegistryError::Core(_) => Err(PageError::internal(auth.lang)),
    }
}

pub async fn sync(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    auth.check_csrf(&form.csrf)?;
    let api = upstream_api(&state, &auth).await?;
    let id = SellerId::parse_or_not_found(&path).page(auth.lang)?;
    match registry::sync_seller(
        &state.db,
        &state.keyring,
        &state.mp,
        &auth.scope,
        &id,
        api,
        &auth.actor(),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/app/sellers/{}?done=seller_synced",
            path.as_str()
        ))),
        Err(RegistryError::Core(e)) => Err(PageError::from_core(e, auth.lang)),
        Err(e) => {
            let msg = upstream_message(&auth, &e)?;
            let page = seller_page(&state, &auth, &id, Some(msg)).await?;
            super::forms::render(actix_web::http::StatusCode::BAD_GATEWAY, &page, auth.lang)
        }
    }
}

pub async fn upstream_api(
    state: &AppState,
    auth: &Auth,
) -> Result<platform_core::states::UpstreamApi, PageError> {
    let org = auth
        .scope
        .find::<platform_core::entities::integrators::Entity>(&state.db, auth.scope.integrator_id())
        .await
        .page(auth.lang)?;
    Ok(org.upstream_api)
}

pub async fn unlink(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    auth.check_csrf(&form.csrf)?;
    let id = SellerId::parse_or_not_found(&path).page(auth.lang)?;
    seller_svc::unlink(&state.db, &auth.scope, &auth.actor(), &id)
        .await
        .page(auth.lang)?;
    Ok(see_other(&format!(
        "/app/sellers/{}?done=seller_unlinked",
        path.as_str()
    )))
}

/// A single-use link to link this same seller again (after a revocation).
pub async fn relink(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    auth.check_csrf(&form.csrf)?;
    let seller_id = SellerId::parse_or_not_found(&path).page(auth.lang)?;
    let new = NewLink {
        label: String::new(),
        ttl_hours: 168,
        seller_id: Some(seller_id),
    };
    let (link, token) = onboarding::create_link(&state.db, &auth.scope, &auth.actor(), new, None)
        .await
        .page(auth.lang)?;
    ok(
        &created_page(&state, &auth, &link, token.expose_secret()),
        auth.lang,
    )
}
