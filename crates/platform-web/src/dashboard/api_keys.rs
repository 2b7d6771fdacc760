//! `/app/api-keys`: keys for POS software. A key reaches the whole
//! integrator or one seller, store or POS; it is shown once, on the page
//! that answers its creation (only its hash and prefix are stored), and can
//! be revoked.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use platform_core::CoreError;
use platform_core::api_keys::{self, NewApiKey};
use platform_core::audit;
use platform_core::clock;
use platform_core::entities::api_keys as keys;
use platform_core::error::Invalid;
use platform_core::id::{ApiKeyId, SellerId};
use platform_core::paging::{Page, PageRequest};
use platform_core::permissions::Permission;
use platform_core::states::{KeyAccess, KeyMode, ScopeKind};
use platform_core::{registry, sellers as seller_svc};
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, invalid, ok, render, see_other, when};
use super::session::Auth;
use crate::state::AppState;

/// Lifetimes offered on the form, in days (0 = never expires).
pub const EXPIRY_CHOICES: &[i64] = &[0, 30, 90, 365];

/// One entry of the "reaches" select: `integrator`, `seller:<id>`, …
pub struct Target {
    pub value: String,
    pub label: String,
}

pub struct TargetGroups {
    pub sellers: Vec<Target>,
    pub stores: Vec<Target>,
    pub pos: Vec<Target>,
}

#[derive(Template)]
#[template(path = "dash/api_keys.html")]
struct KeysPage {
    c: Chrome,
    keys: Page<keys::Model>,
    targets: TargetGroups,
    name: String,
    target: String,
    mode: String,
    access: String,
    expiry: i64,
    expiry_choices: &'static [i64],
    errors: FieldErrors,
}

impl KeysPage {
    fn when(&self, t: &chrono::DateTime<Utc>) -> String {
        when(t)
    }
    fn reach(&self, k: &keys::Model) -> String {
        let t = self.c.t;
        let id = match k.scope_kind {
            ScopeKind::Integrator => return t.get("keys.scope_integrator").to_owned(),
            ScopeKind::Seller => k.seller_id.as_ref().map(|i| i.as_str()),
            ScopeKind::Store => k.store_id.as_ref().map(|i| i.as_str()),
            ScopeKind::Pos => k.pos_id.as_ref().map(|i| i.as_str()),
        }
        .unwrap_or("");
        let label = [
            &self.targets.sellers,
            &self.targets.stores,
            &self.targets.pos,
        ]
        .into_iter()
        .flatten()
        .find(|x| x.value.split_once(':').map(|(_, v)| v) == Some(id))
        .map(|x| x.label.clone())
        .unwrap_or_else(|| id.to_owned());
        format!("{} {label}", t.get(scope_key(k.scope_kind)))
    }
    fn read_only(&self, k: &keys::Model) -> bool {
        k.access == KeyAccess::ReadOnly
    }
    fn active(&self, k: &keys::Model) -> bool {
        k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > clock::now())
    }
}

fn scope_key(k: ScopeKind) -> &'static str {
    match k {
        ScopeKind::Integrator => "keys.scope_integrator",
        ScopeKind::Seller => "field.seller",
        ScopeKind::Store => "field.store",
        ScopeKind::Pos => "keys.scope_pos",
    }
}

#[derive(Template)]
#[template(path = "dash/api_key_created.html")]
struct KeyCreatedPage {
    c: Chrome,
    name: String,
    key: String,
    prefix: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    before: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    mode: String,
    /// `full` or `read_only`; absent (an older form) is full.
    #[serde(default)]
    access: String,
    #[serde(default)]
    expiry_days: String,
}

async fn targets(state: &AppState, auth: &Auth) -> Result<TargetGroups, PageError> {
    let db = &state.db;
    let lang = auth.lang;
    let sellers = seller_svc::by_nickname(db, &auth.scope, 500)
        .await
        .page(lang)?;
    let stores = registry::stores_by_name(db, &auth.scope, 500)
        .await
        .page(lang)?;
    let pos = registry::pos_by_name(db, &auth.scope, 500)
        .await
        .page(lang)?;
    let nick = |id: &SellerId| {
        sellers
            .iter()
            .find(|s| s.id == *id)
            .map(|s| s.nickname.clone())
            .unwrap_or_default()
    };
    Ok(TargetGroups {
        stores: stores
            .iter()
            .map(|s| Target {
                value: format!("store:{}", s.id),
                label: format!("{} · {}", s.name, nick(&s.seller_id)),
            })
            .collect(),
        pos: pos
            .iter()
            .map(|p| Target {
                value: format!("pos:{}", p.id),
                label: format!("{} · {}", p.name, nick(&p.seller_id)),
            })
            .collect(),
        sellers: sellers
            .iter()
            .map(|s| Target {
                value: format!("seller:{}", s.id),
                label: s.nickname.clone(),
            })
            .collect(),
    })
}

async fn list_page(
    state: &AppState,
    auth: &Auth,
    before: Option<&str>,
    form: &KeyForm,
    errors: FieldErrors,
) -> Result<KeysPage, PageError> {
    let keys = api_keys::page(&state.db, &auth.scope, &PageRequest::new(before, Some(50)))
        .await
        .page(auth.lang)?;
    let default_mode = if state.settings.sandbox_mode() {
        "test"
    } else {
        "live"
    };
    Ok(KeysPage {
        c: Chrome::new(auth, state, "api_keys"),
        keys,
        targets: targets(state, auth).await?,
        name: form.name.chars().take(100).collect(),
        target: form.target.chars().take(60).collect(),
        mode: match form.mode.as_str() {
            "test" | "live" => form.mode.clone(),
            _ => default_mode.to_owned(),
        },
        access: match form.access.as_str() {
            "read_only" => "read_only".to_owned(),
            _ => "full".to_owned(),
        },
        expiry: form.expiry_days.trim().parse().unwrap_or(0),
        expiry_choices: EXPIRY_CHOICES,
        errors,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageKeys)?;
    let page = list_page(
        &state,
        &auth,
        q.before.as_deref(),
        &KeyForm::default(),
        FieldErrors::default(),
    )
    .await?;
    ok(&page, auth.lang)
}

/// `integrator` or `seller:<id>` / `store:<id>` / `pos:<id>`.
fn parse_target(s: &str) -> Option<(ScopeKind, Option<String>)> {
    let s = s.trim();
    if s == "integrator" {
        return Some((ScopeKind::Integrator, None));
    }
    let (kind, id) = s.split_once(':')?;
    let kind = match kind {
        "seller" => ScopeKind::Seller,
        "store" => ScopeKind::Store,
        "pos" => ScopeKind::Pos,
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 40).then(|| (kind, Some(id.to_owned())))
}

pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<KeyForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageKeys)?;
    auth.check_csrf(&form.csrf)?;
    let mut errors = FieldErrors::default();
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        errors.push("name", "keys.name_invalid");
    }
    let target = parse_target(&form.target);
    if target.is_none() {
        errors.push("target", "keys.target_invalid");
    }
    let mode = match form.mode.as_str() {
        "test" => Some(KeyMode::Test),
        "live" => Some(KeyMode::Live),
        _ => None,
    };
    if mode.is_none() {
        errors.push("mode", "keys.mode_invalid");
    }
    let access = match form.access.as_str() {
        "" | "full" => Some(KeyAccess::Full),
        "read_only" => Some(KeyAccess::ReadOnly),
        _ => None,
    };
    if access.is_none() {
        errors.push("access", "keys.access_invalid");
    }
    let expiry = form
        .expiry_days
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| EXPIRY_CHOICES.contains(d));
    if expiry.is_none() {
        errors.push("expiry_days", "keys.expiry_invalid");
    }
    if let (true, Some((kind, target_id)), Some(mode), Some(access), Some(days)) =
        (errors.is_empty(), target, mode, access, expiry)
    {
        let new = NewApiKey {
            name: name.to_owned(),
            scope_kind: kind,
            target_id,
            expires_at: (days > 0).then(|| clock::now() + Duration::days(days)),
            mode,
            access,
        };
        match api_keys::create(
            &state.db,
            &auth.scope,
            new,
            Some(auth.session.user.id.to_string()),
            None,
        )
        .await
        {
            Ok((row, key)) => {
                let _ = audit::record(
                    &state.db,
                    &row.integrator_id,
                    &auth.actor(),
                    "api_key.created",
                    Some(audit::Target::ApiKey(&row.id)),
                    Some(format!("{} ({})", row.name, row.prefix)),
                )
                .await;
                let page = KeyCreatedPage {
                    c: Chrome::new(&auth, &state, "api_keys"),
                    name: row.name,
                    key: key.expose_secret().clone(),
                    prefix: row.prefix,
                };
                return render(StatusCode::CREATED, &page, auth.lang);
            }
            // The target is not one of this integrator's (or is gone).
            Err(CoreError::NotFound { .. }) => errors.push("target", "keys.target_invalid"),
            Err(CoreError::Invalid { reason, .. }) => match reason {
                Invalid::Name => errors.push("name", "keys.name_invalid"),
                Invalid::Expiry => errors.push("expiry_days", "keys.expiry_invalid"),
                _ => errors.push("target", "keys.target_invalid"),
            },
            Err(e) => return Err(PageError::from_core(e, auth.lang)),
        }
    }
    let page = list_page(&state, &auth, None, &form, errors).await?;
    invalid(&page, auth.lang)
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageKeys)?;
    auth.check_csrf(&form.csrf)?;
    let key_id = ApiKeyId::parse_or_not_found(&path).page(auth.lang)?;
    let row = api_keys::revoke(&state.db, &auth.scope, &key_id)
        .await
        .page(auth.lang)?;
    let _ = audit::record(
        &state.db,
        &row.integrator_id,
        &auth.actor(),
        "api_key.revoked",
        Some(audit::Target::ApiKey(&row.id)),
        Some(format!("{} ({})", row.name, row.prefix)),
    )
    .await;
    Ok(see_other("/app/api-keys?done=key_revoked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("integrator").map(|t| t.0),
            Some(ScopeKind::Integrator)
        );
        assert_eq!(
            parse_target("pos:pos_123"),
            Some((ScopeKind::Pos, Some("pos_123".into())))
        );
        for bad in ["", "seller:", "org:x", "seller", "integrator:x"] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
    }
}
