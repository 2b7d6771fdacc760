//! Integrator accounts and their dashboard users.

use crate::clock;
use crate::db::Db;
use crate::error::{Conflict, Invalid};
use crate::lookups::Stale;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use crate::crypto::{Aad, Keyring};
use crate::entities::{integrators, users};
use crate::error::CoreError;
use crate::id::{IntegratorId, UserId};
use crate::password::{MIN_PASSWORD_LEN, hash_password};
use crate::secret::SecretString;
use crate::states::{UpstreamApi, UserRole};

/// An integrator's Mercado Pago application, as registered in MP's panel.
#[derive(Debug, Clone)]
pub struct MpApplication {
    pub client_id: String,
    pub client_secret: SecretString,
    pub webhook_secret: SecretString,
    pub redirect_url: String,
    /// The integrator's own Mercado Pago user id, injected as sponsor.
    pub sponsor_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewIntegrator {
    pub name: String,
    pub owner_email: String,
    pub owner_name: String,
    pub owner_password: SecretString,
    pub mp_app: Option<MpApplication>,
    pub is_demo: bool,
}

pub fn normalize_email(email: &str) -> Result<String, CoreError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace);
    if !valid {
        return Err(CoreError::invalid(
            Invalid::Email,
            "enter a valid e-mail address",
        ));
    }
    Ok(email)
}

/// Creates an integrator and its owner in one transaction.
pub async fn create_integrator(
    db: &Db,
    keyring: &Keyring,
    new: NewIntegrator,
) -> Result<(integrators::Model, users::Model), CoreError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(CoreError::invalid(
            Invalid::Name,
            "the name must be 1–120 characters",
        ));
    }
    let email = normalize_email(&new.owner_email)?;
    if new.owner_password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        return Err(CoreError::invalid(
            Invalid::WeakPassword,
            format!("the password must have at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    // Hash before the transaction: it takes a while and needs no locks.
    let password_hash = hash_password(&new.owner_password);
    let now = clock::now();
    let org_id = IntegratorId::new();
    let user_id = UserId::new();

    let txn = db.begin_write().await?;
    if users::Entity::find()
        .filter(users::Column::Email.eq(email.clone()))
        .count(&txn)
        .await?
        > 0
    {
        return Err(CoreError::conflict(
            Conflict::EmailTaken,
            "an account with this e-mail already exists",
        ));
    }
    let app = new.mp_app.as_ref();
    let integrator = integrators::ActiveModel {
        id: Set(org_id.clone()),
        name: Set(name),
        mp_client_id: Set(app.map(|a| a.client_id.clone())),
        mp_client_secret: Set(app.map(|a| {
            keyring.seal(
                &a.client_secret,
                Aad::new("integrators", "mp_client_secret", org_id.as_str()),
            )
        })),
        mp_webhook_secret: Set(app.map(|a| {
            keyring.seal(
                &a.webhook_secret,
                Aad::new("integrators", "mp_webhook_secret", org_id.as_str()),
            )
        })),
        mp_redirect_url: Set(app.map(|a| a.redirect_url.clone())),
        sponsor_id: Set(app.and_then(|a| a.sponsor_id.clone())),
        upstream_api: Set(UpstreamApi::Orders),
        is_demo: Set(new.is_demo),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let user = users::ActiveModel {
        id: Set(user_id),
        integrator_id: Set(org_id),
        email: Set(email),
        name: Set(new.owner_name.trim().to_owned()),
        password_hash: Set(password_hash),
        role: Set(UserRole::Owner),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        disabled_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((integrator, user))
}

/// Sets the integrator's sponsor id (its own Mercado Pago user id: digits).
pub async fn set_sponsor(
    db: &Db,
    scope: &crate::tenancy::Scope,
    sponsor_id: &str,
) -> Result<(), CoreError> {
    let sponsor = sponsor_id.trim();
    if sponsor.is_empty() || sponsor.len() > 20 || !sponsor.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoreError::invalid(
            Invalid::SponsorId,
            "the sponsor id is a Mercado Pago user id: up to 20 digits",
        ));
    }
    let integrator = scope
        .find::<integrators::Entity>(db, scope.integrator_id())
        .await?;
    let mut active: integrators::ActiveModel = integrator.into();
    active.sponsor_id = Set(Some(sponsor.to_owned()));
    active.updated_at = Set(clock::now());
    active.update(db).await?;
    db.changed(Stale::Charging).await;
    Ok(())
}

/// An integrator by id (`None` when there is none). Callers pass an id they
/// hold from a scope or a row, or one to try (a notification's path).
pub async fn integrator(
    db: &impl ConnectionTrait,
    id: &IntegratorId,
) -> Result<Option<integrators::Model>, CoreError> {
    Ok(integrators::Entity::find_by_id(id.clone()).one(db).await?)
}

pub async fn integrator_count(db: &impl ConnectionTrait) -> Result<u64, CoreError> {
    Ok(integrators::Entity::find().count(db).await?)
}

/// A random password that is easy to copy: 4 groups of 5 lowercase letters/digits.
pub fn generate_password() -> SecretString {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    rand::fill(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    let groups: Vec<String> = chars.chunks(5).map(|c| c.iter().collect()).collect();
    SecretString::new(groups.join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_or_refused() {
        assert_eq!(
            normalize_email(" Ana@Example.COM ").unwrap(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@localhost",
            "a b@x.com",
            "ana@x.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_passwords_are_long_enough() {
        let p = generate_password();
        assert_eq!(p.expose_secret().len(), 23);
        assert!(p.expose_secret().len() >= MIN_PASSWORD_LEN);
    }
}
