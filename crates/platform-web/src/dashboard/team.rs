//! `/app/team`: the integrator's members and their roles, pending
//! invitations, and the invite form. An invitation's link is shown once, on
//! the page that answers the form (only its hash is stored), like
//! onboarding links. The rules (owner-only changes, the last owner) are
//! `platform_core::team`'s; this page shows their refusals on the page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use platform_core::CoreError;
use platform_core::entities::{invitations, users};
use platform_core::error::{Conflict, Forbidden};
use platform_core::id::{InvitationId, UserId};
use platform_core::permissions::Permission;
use platform_core::states::UserRole;
use platform_core::team;
use serde::Deserialize;

use super::chrome::Chrome;
use super::errors::{OrPage, PageError};
use super::forms::{render, see_other, when};
use super::session::Auth;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/team.html")]
struct TeamPage {
    c: Chrome,
    members: Vec<users::Model>,
    invitations: Vec<invitations::Model>,
    roles: &'static [UserRole],
    me: UserId,
    /// Why the last form changed nothing (a message key).
    form_error: Option<&'static str>,
}

impl TeamPage {
    fn when(&self, t: &chrono::DateTime<Utc>) -> String {
        when(t)
    }
    fn role_name(&self, r: &UserRole) -> &'static str {
        self.c.t.get(role_key(*r))
    }
}

pub fn role_key(r: UserRole) -> &'static str {
    match r {
        UserRole::Owner => "role.owner",
        UserRole::Admin => "role.admin",
        UserRole::Developer => "role.developer",
        UserRole::Operator => "role.operator",
        UserRole::Viewer => "role.viewer",
    }
}

#[derive(Template)]
#[template(path = "dash/invitation_created.html")]
struct InvitationCreatedPage {
    c: Chrome,
    url: String,
    role: &'static str,
    expires: String,
}

#[derive(Deserialize, Default)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn team_page(
    state: &AppState,
    auth: &Auth,
    form_error: Option<&'static str>,
) -> Result<TeamPage, PageError> {
    Ok(TeamPage {
        c: Chrome::new(auth, state, "team"),
        members: team::list_members(&state.db, &auth.scope)
            .await
            .page(auth.lang)?,
        invitations: team::list_invitations(&state.db, &auth.scope)
            .await
            .page(auth.lang)?,
        roles: UserRole::ALL,
        me: auth.session.user.id.clone(),
        form_error,
    })
}

pub async fn page(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageTeam)?;
    let page = team_page(&state, &auth, None).await?;
    render(StatusCode::OK, &page, auth.lang)
}

/// A refusal of the team rules as the page with its message; anything else
/// as an error page.
async fn refused(state: &AppState, auth: &Auth, e: CoreError) -> Result<HttpResponse, PageError> {
    let (status, key) = match &e {
        CoreError::Forbidden {
            reason: Forbidden::OwnerOnly,
            ..
        } => (StatusCode::FORBIDDEN, "team.owner_only"),
        CoreError::Conflict {
            reason: Conflict::LastOwner,
            ..
        } => (StatusCode::CONFLICT, "team.last_owner"),
        CoreError::Conflict {
            reason:
                Conflict::InvitationUsed | Conflict::InvitationRevoked | Conflict::InvitationExpired,
            ..
        } => (StatusCode::CONFLICT, "team.invitation_closed"),
        _ => return Err(PageError::from_core(e, auth.lang)),
    };
    let page = team_page(state, auth, Some(key)).await?;
    render(status, &page, auth.lang)
}

fn parse_role(s: &str) -> Option<UserRole> {
    UserRole::parse(s.trim())
}

async fn bad_role(state: &AppState, auth: &Auth) -> Result<HttpResponse, PageError> {
    let page = team_page(state, auth, Some("team.role_invalid")).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, &page, auth.lang)
}

pub async fn invite(
    state: web::Data<AppState>,
    auth: Auth,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageTeam)?;
    auth.check_csrf(&form.csrf)?;
    let Some(role) = parse_role(&form.role) else {
        return bad_role(&state, &auth).await;
    };
    match team::invite(&state.db, &auth.scope, &auth.acting(), role).await {
        Ok((inv, token)) => {
            let page = InvitationCreatedPage {
                c: Chrome::new(&auth, &state, "team"),
                url: invitation_url(&state, token.expose_secret()),
                role: auth.t().get(role_key(inv.role)),
                expires: when(&inv.expires_at),
            };
            render(StatusCode::CREATED, &page, auth.lang)
        }
        Err(e) => refused(&state, &auth, e).await,
    }
}

pub fn invitation_url(state: &AppState, token: &str) -> String {
    state
        .settings
        .public_url
        .join(&format!("app/invite/{token}"))
        .map(|u| u.to_string())
        .unwrap_or_default()
}

pub async fn revoke_invitation(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageTeam)?;
    auth.check_csrf(&form.csrf)?;
    let revoked = match InvitationId::parse_or_not_found(&path) {
        Ok(id) => team::revoke_invitation(&state.db, &auth.scope, &auth.acting(), &id).await,
        Err(e) => Err(e),
    };
    match revoked {
        Ok(_) => Ok(see_other("/app/team?done=invitation_revoked")),
        Err(e) => refused(&state, &auth, e).await,
    }
}

pub async fn change_role(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageTeam)?;
    auth.check_csrf(&form.csrf)?;
    let Some(role) = parse_role(&form.role) else {
        return bad_role(&state, &auth).await;
    };
    let changed = match UserId::parse_or_not_found(&path) {
        Ok(id) => team::change_role(&state.db, &auth.scope, &auth.acting(), &id, role).await,
        Err(e) => Err(e),
    };
    match changed {
        Ok(_) => Ok(see_other("/app/team?done=role_changed")),
        Err(e) => refused(&state, &auth, e).await,
    }
}

pub async fn remove(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    auth.require(Permission::ManageTeam)?;
    auth.check_csrf(&form.csrf)?;
    let removed = match UserId::parse_or_not_found(&path) {
        Ok(id) => team::remove_member(&state.db, &auth.scope, &auth.acting(), &id).await,
        Err(e) => Err(e),
    };
    match removed {
        // Removing oneself ends one's own session: the login page follows.
        Ok(_) => Ok(see_other("/app/team?done=member_removed")),
        Err(e) => refused(&state, &auth, e).await,
    }
}
