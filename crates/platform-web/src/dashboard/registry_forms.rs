//! Store and POS forms: created or edited on Mercado Pago, then here.
//! Mercado Pago's validation errors are shown on the form.

use actix_web::{HttpResponse, web};
use askama::Template;
use platform_core::entities::{pos, sellers, stores};
use platform_core::id::{PosId, SellerId, StoreId};
use platform_core::permissions::Permission;
use platform_core::registry::RegistryError;
use platform_core::registry_edit::{self, EditError, FieldRule, PosForm, StoreForm};
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{FieldErrors, invalid, ok, see_other};
use super::sellers::upstream_message;
use super::session::Auth;
use crate::state::AppState;

#[derive(Deserialize, Default, Clone)]
pub struct StoreInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    external_id: String,
    #[serde(default)]
    street_name: String,
    #[serde(default)]
    street_number: String,
    #[serde(default)]
    city_name: String,
    #[serde(default)]
    state_name: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
    #[serde(default)]
    reference: String,
}

impl StorePage {
    /// (field, label key, value) of each input, in form order.
    fn fields(&self) -> Vec<(&'static str, &'static str, String)> {
        let f = &self.f;
        vec![
            ("name", "store.name", f.name.clone()),
            ("external_id", "store.external_id", f.external_id.clone()),
            ("street_name", "store.street_name", f.street_name.clone()),
            (
                "street_number",
                "store.street_number",
                f.street_number.clone(),
            ),
            ("city_name", "store.city_name", f.city_name.clone()),
            ("state_name", "store.state_name", f.state_name.clone()),
            ("latitude", "store.latitude", f.latitude.clone()),
            ("longitude", "store.longitude", f.longitude.clone()),
            ("reference", "store.reference", f.reference.clone()),
        ]
    }
}

impl StoreInput {
    fn from_model(s: &stores::Model) -> Self {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        StoreInput {
            csrf: String::new(),
            name: s.name.clone(),
            external_id: o(&s.external_id),
            street_name: o(&s.street_name),
            street_number: o(&s.street_number),
            city_name: o(&s.city_name),
            state_name: o(&s.state_name),
            latitude: s.latitude.map(|v| v.to_string()).unwrap_or_default(),
            longitude: s.longitude.map(|v| v.to_string()).unwrap_or_default(),
            reference: o(&s.reference),
        }
    }

    fn to_form(&self) -> StoreForm {
        StoreForm {
            name: self.name.clone(),
            external_id: self.external_id.clone(),
            street_name: self.street_name.clone(),
            street_number: self.street_number.clone(),
            city_name: self.city_name.clone(),
            state_name: self.state_name.clone(),
            latitude: self.latitude.clone(),
            longitude: self.longitude.clone(),
            reference: self.reference.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "dash/store_form.html")]
struct StorePage {
    c: Chrome,
    seller: sellers::Model,
    action: String,
    editing: bool,
    f: StoreInput,
    errors: FieldErrors,
    upstream_error: Option<String>,
}

fn field_key(rule: FieldRule) -> &'static str {
    match rule {
        FieldRule::Required100 => "form.required_100",
        FieldRule::TooLong60 => "form.too_long_60",
        FieldRule::TooLong200 => "form.too_long_200",
        FieldRule::LatitudeInvalid => "form.latitude_invalid",
        FieldRule::LongitudeInvalid => "form.longitude_invalid",
        FieldRule::NumberInvalid => "form.number_invalid",
        FieldRule::ModeInvalid => "form.invalid",
    }
}

/// Maps an edit failure onto the form: field errors, or Mercado Pago's message.
fn edit_failure(auth: &Auth, e: EditError) -> Result<(FieldErrors, Option<String>), PageError> {
    match e {
        EditError::Fields(list) => {
            let mut errors = FieldErrors::default();
            for p in list {
                errors.push(p.field, field_key(p.rule));
            }
            Ok((errors, None))
        }
        EditError::Registry(RegistryError::Core(e)) => Err(PageError::from_core(e, auth.lang)),
        EditError::Registry(r) => Ok((FieldErrors::default(), Some(upstream_message(auth, &r)?))),
    }
}

pub async fn new_store(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let seller_id = SellerId::parse_or_not_found(&path).page(auth.lang)?;
    let seller = auth
        .scope
        .find::<sellers::Entity>(&state.db, &seller_id)
        .await
        .page(auth.lang)?;
    let page = StorePage {
        c: Chrome::new(&auth, &state, "sellers"),
        action: format!("/app/sellers/{}/stores/new", seller.id),
        seller,
        editing: false,
        f: StoreInput::default(),
        errors: FieldErrors::default(),
        upstream_error: None,
    };
    ok(&page, auth.lang)
}

pub async fn edit_store(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let store_id = StoreId::parse_or_not_found(&path).page(auth.lang)?;
    let store = auth
        .scope
        .find::<stores::Entity>(&state.db, &store_id)
        .await
        .page(auth.lang)?;
    let seller = auth
        .scope
        .find::<sellers::Entity>(&state.db, &store.seller_id)
        .await
        .page(auth.lang)?;
    let page = StorePage {
        c: Chrome::new(&auth, &state, "sellers"),
        action: format!("/app/stores/{}/edit", store.id),
        seller,
        editing: true,
        f: StoreInput::from_model(&store),
        errors: FieldErrors::default(),
        upstream_error: None,
    };
    ok(&page, auth.lang)
}

async fn save_store(
    state: &AppState,
    auth: &Auth,
    seller: sellers::Model,
    store: Option<stores::Model>,
    input: StoreInput,
) -> Result<HttpResponse, PageError> {
    auth.check_csrf(&input.csrf)?;
    let action = match &store {
        Some(s) => format!("/app/stores/{}/edit", s.id),
        None => format!("/app/sellers/{}/stores/new", seller.id),
    };
    let editing = store.is_some();
    let res = registry_edit::save_store(
        registry_edit::Ctx {
            db: &state.db,
            keyring: &state.keyring,
            mp: &state.mp,
        },
        &auth.scope,
        &seller.id,
        store,
        &input.to_form(),
        &auth.actor(),
    )
    .await;
    match res {
        Ok(_) => Ok(see_other(&format!(
            "/app/sellers/{}?done=store_saved",
            seller.id
        ))),
        Err(e) => {
            let (errors, upstream_error) = edit_failure(auth, e)?;
            let page = StorePage {
                c: Chrome::new(auth, state, "sellers"),
                action,
                seller,
                editing,
                f: input,
                errors,
                upstream_error,
            };
            invalid(&page, auth.lang)
        }
    }
}

pub async fn create_store(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<StoreInput>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let seller_id = SellerId::parse_or_not_found(&path).page(auth.lang)?;
    let seller = auth
        .scope
        .find::<sellers::Entity>(&state.db, &seller_id)
        .await
        .page(auth.lang)?;
    save_store(&state, &auth, seller, None, form.into_inner()).await
}

pub async fn update_store(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<StoreInput>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let store_id = StoreId::parse_or_not_found(&path).page(auth.lang)?;
    let store = auth
        .scope
        .find::<stores::Entity>(&state.db, &store_id)
        .await
        .page(auth.lang)?;
    let seller = auth
        .scope
        .find::<sellers::Entity>(&state.db, &store.seller_id)
        .await
        .page(auth.lang)?;
    save_store(&state, &auth, seller, Some(store), form.into_inner()).await
}

#[derive(Deserialize, Default, Clone)]
pub struct PosInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    external_id: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    fixed_amount: Option<String>,
}

#[derive(Template)]
#[template(path = "dash/pos_form.html")]
struct PosPage {
    c: Chrome,
    store: stores::Model,
    action: String,
    editing: bool,
    f: PosInput,
    errors: FieldErrors,
    upstream_error: Option<String>,
}

pub async fn new_pos(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let store_id = StoreId::parse_or_not_found(&path).page(auth.lang)?;
    let store = auth
        .scope
        .find::<stores::Entity>(&state.db, &store_id)
        .await
        .page(auth.lang)?;
    let page = PosPage {
        c: Chrome::new(&auth, &state, "sellers"),
        action: format!("/app/stores/{}/pos/new", store.id),
        store,
        editing: false,
        f: PosInput::default(),
        errors: FieldErrors::default(),
        upstream_error: None,
    };
    ok(&page, auth.lang)
}

pub async fn edit_pos(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let p_id = PosId::parse_or_not_found(&path).page(auth.lang)?;
    let p = auth
        .scope
        .find::<pos::Entity>(&state.db, &p_id)
        .await
        .page(auth.lang)?;
    let store = auth
        .scope
        .find::<stores::Entity>(&state.db, &p.store_id)
        .await
        .page(auth.lang)?;
    let page = PosPage {
        c: Chrome::new(&auth, &state, "sellers"),
        action: format!("/app/pos/{}/edit", p.id),
        store,
        editing: true,
        f: PosInput {
            csrf: String::new(),
            name: p.name.clone(),
            external_id: p.external_id.clone(),
            category: p.category.map(|c| c.to_string()).unwrap_or_default(),
            fixed_amount: p.fixed_amount.then(|| "on".into()),
        },
        errors: FieldErrors::default(),
        upstream_error: None,
    };
    ok(&page, auth.lang)
}

async fn save_pos(
    state: &AppState,
    auth: &Auth,
    store: stores::Model,
    existing: Option<pos::Model>,
    input: PosInput,
) -> Result<HttpResponse, PageError> {
    auth.check_csrf(&input.csrf)?;
    let action = match &existing {
        Some(p) => format!("/app/pos/{}/edit", p.id),
        None => format!("/app/stores/{}/pos/new", store.id),
    };
    let editing = existing.is_some();
    let form = PosForm {
        name: input.name.clone(),
        // A POS keeps its external id; the edit form shows it read-only.
        external_id: existing
            .as_ref()
            .map(|p| p.external_id.clone())
            .unwrap_or_else(|| input.external_id.clone()),
        category: input.category.clone(),
        fixed_amount: input.fixed_amount.is_some(),
    };
    let res = registry_edit::save_pos(
        registry_edit::Ctx {
            db: &state.db,
            keyring: &state.keyring,
            mp: &state.mp,
        },
        &auth.scope,
        &store,
        existing,
        &form,
        &auth.actor(),
    )
    .await;
    match res {
        Ok(_) => Ok(see_other(&format!(
            "/app/sellers/{}?done=pos_saved",
            store.seller_id
        ))),
        Err(e) => {
            let (errors, upstream_error) = edit_failure(auth, e)?;
            let page = PosPage {
                c: Chrome::new(auth, state, "sellers"),
                store,
                action,
                editing,
                f: input,
                errors,
                upstream_error,
            };
            invalid(&page, auth.lang)
        }
    }
}

pub async fn create_pos(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<PosInput>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let store_id = StoreId::parse_or_not_found(&path).page(auth.lang)?;
    let store = auth
        .scope
        .find::<stores::Entity>(&state.db, &store_id)
        .await
        .page(auth.lang)?;
    save_pos(&state, &auth, store, None, form.into_inner()).await
}

pub async fn update_pos(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<PosInput>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageSellers)?;
    let p_id = PosId::parse_or_not_found(&path).page(auth.lang)?;
    let p = auth
        .scope
        .find::<pos::Entity>(&state.db, &p_id)
        .await
        .page(auth.lang)?;
    let store = auth
        .scope
        .find::<stores::Entity>(&state.db, &p.store_id)
        .await
        .page(auth.lang)?;
    save_pos(&state, &auth, store, Some(p), form.into_inner()).await
}
