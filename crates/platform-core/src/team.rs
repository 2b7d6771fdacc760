//! An integrator's team: members, their roles, and invitations to join.
//!
//! An invitation is a single-use link that expires ([`INVITATION_TTL`]);
//! only the SHA-256 of its token is stored and the link is shown once (no
//! mail server is assumed). Accepting it creates the user with the role it
//! names and opens a session.
//!
//! Who may do what: managing the team needs [`Permission::ManageTeam`];
//! granting the owner role, or changing or removing an owner, needs an owner
//! ([`Forbidden::OwnerOnly`]); the last owner can be neither demoted nor
//! removed ([`Conflict::LastOwner`]). Team changes of one integrator are
//! serialised on its row, so two owners removing each other cannot both win.
//! Removing a member deletes their sessions in the same transaction: their
//! next request goes to the login page.

use crate::db::Db;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::accounts::normalize_email;
use crate::audit::{self, Actor};
use crate::clock;
use crate::entities::{integrators, invitations, users};
use crate::error::{Conflict, CoreError, Forbidden, Invalid};
use crate::id::{InvitationId, UserId};
use crate::password::{MIN_PASSWORD_LEN, hash_password};
use crate::permissions::Permission;
use crate::secret::SecretString;
use crate::sessions::{self, Session};
use crate::states::UserRole;
use crate::tenancy::Scope;
use crate::tokens::{looks_like_token, random_token, sha256_hex};

pub const INVITATION_TTL: Duration = Duration::hours(72);

/// The member doing a team change, as the audit log and the rules see them.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub role: UserRole,
}

/// What the invitation page's form sends.
#[derive(Debug, Clone)]
pub struct AcceptIn {
    pub name: String,
    pub email: String,
    pub password: SecretString,
}

/// An open invitation and who it is from, for the public page.
#[derive(Debug, Clone)]
pub struct InvitationOut {
    pub invitation: invitations::Model,
    pub integrator_name: String,
}

fn require(acting: &Acting) -> Result<(), CoreError> {
    if acting.role.allows(Permission::ManageTeam) {
        Ok(())
    } else {
        Err(CoreError::forbidden(
            Forbidden::InsufficientRole,
            "your role cannot manage the team",
        ))
    }
}

fn owner_only(acting: &Acting, touches_owner: bool) -> Result<(), CoreError> {
    if touches_owner && acting.role != UserRole::Owner {
        return Err(CoreError::forbidden(
            Forbidden::OwnerOnly,
            "only an owner can grant the owner role or change an owner",
        ));
    }
    Ok(())
}

/// Why an invitation can no longer be accepted, if it cannot.
pub fn closed_reason(inv: &invitations::Model, now: DateTime<Utc>) -> Option<Conflict> {
    if inv.accepted_at.is_some() {
        Some(Conflict::InvitationUsed)
    } else if inv.revoked_at.is_some() {
        Some(Conflict::InvitationRevoked)
    } else if inv.expires_at <= now {
        Some(Conflict::InvitationExpired)
    } else {
        None
    }
}

fn closed(reason: Conflict) -> CoreError {
    let message = match reason {
        Conflict::InvitationUsed => "this invitation was already used",
        Conflict::InvitationRevoked => "this invitation was revoked",
        _ => "this invitation has expired",
    };
    CoreError::conflict(reason, message)
}

/// Creates an invitation; returns it and the token for its link (shown
/// once, never stored).
pub async fn invite(
    db: &Db,
    scope: &Scope,
    acting: &Acting,
    role: UserRole,
) -> Result<(invitations::Model, SecretString), CoreError> {
    require(acting)?;
    owner_only(acting, role == UserRole::Owner)?;
    let now = clock::now();
    let token = random_token();
    let txn = db.begin_write().await?;
    let inv = invitations::ActiveModel {
        id: Set(InvitationId::new()),
        integrator_id: Set(scope.integrator_id().clone()),
        role: Set(role),
        token_hash: Set(sha256_hex(token.expose_secret())),
        created_by: Set(acting.actor.id.clone().unwrap_or_default()),
        created_at: Set(now),
        expires_at: Set(now + INVITATION_TTL),
        accepted_at: Set(None),
        accepted_by: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &inv.integrator_id,
        &acting.actor,
        "invitation.created",
        Some(audit::Target::Invitation(&inv.id)),
        Some(role.as_str().to_owned()),
    )
    .await?;
    txn.commit().await?;
    Ok((inv, token))
}

/// The integrator's active members, oldest first.
pub async fn list_members(
    db: &impl ConnectionTrait,
    scope: &Scope,
) -> Result<Vec<users::Model>, CoreError> {
    Ok(scope
        .select::<users::Entity>()
        .filter(users::Column::DisabledAt.is_null())
        .order_by_asc(users::Column::CreatedAt)
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?)
}

/// Invitations that can still be accepted, newest first.
pub async fn list_invitations(
    db: &impl ConnectionTrait,
    scope: &Scope,
) -> Result<Vec<invitations::Model>, CoreError> {
    Ok(scope
        .select::<invitations::Entity>()
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .filter(invitations::Column::ExpiresAt.gt(clock::now()))
        .order_by_desc(invitations::Column::Id)
        .all(db)
        .await?)
}

pub async fn revoke_invitation(
    db: &Db,
    scope: &Scope,
    acting: &Acting,
    invitation_id: &InvitationId,
) -> Result<invitations::Model, CoreError> {
    require(acting)?;
    let txn = db.begin_write().await?;
    let inv = scope
        .find::<invitations::Entity>(&txn, invitation_id)
        .await?;
    owner_only(acting, inv.role == UserRole::Owner)?;
    if let Some(reason) = closed_reason(&inv, clock::now()) {
        return Err(closed(reason));
    }
    let now = clock::now();
    invitations::Entity::update_many()
        .col_expr(invitations::Column::RevokedAt, Expr::value(Some(now)))
        .filter(scope.condition::<invitations::Entity>())
        .filter(invitations::Column::Id.eq(inv.id.clone()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &inv.integrator_id,
        &acting.actor,
        "invitation.revoked",
        Some(audit::Target::Invitation(&inv.id)),
        Some(inv.role.as_str().to_owned()),
    )
    .await?;
    txn.commit().await?;
    Ok(invitations::Model {
        revoked_at: Some(now),
        ..inv
    })
}

/// The invitation behind a link's token. The token is the only credential
/// the invitee has, so this lookup is by hash, across integrators by design.
pub async fn open_invitation(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<InvitationOut, CoreError> {
    let not_found = CoreError::NotFound { kind: "invitation" };
    if !looks_like_token(token) {
        return Err(not_found);
    }
    let inv = invitations::Entity::find()
        .filter(invitations::Column::TokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?
        .ok_or(not_found)?;
    if let Some(reason) = closed_reason(&inv, clock::now()) {
        return Err(closed(reason));
    }
    let integrator = integrators::Entity::find_by_id(inv.integrator_id.clone())
        .one(db)
        .await?
        .ok_or(CoreError::NotFound { kind: "invitation" })?;
    Ok(InvitationOut {
        invitation: inv,
        integrator_name: integrator.name,
    })
}

/// Every rule the invitation form breaks (each names its field).
pub fn validate_accept(new: &AcceptIn) -> Vec<Invalid> {
    let mut problems = Vec::new();
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        problems.push(Invalid::Name);
    }
    if normalize_email(&new.email).is_err() {
        problems.push(Invalid::Email);
    }
    if new.password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        problems.push(Invalid::WeakPassword);
    }
    problems
}

/// Accepts an invitation: spends it (once, even under concurrent accepts),
/// creates the member with its role and opens their session.
pub async fn accept(
    db: &Db,
    token: &str,
    new: AcceptIn,
    ip: Option<&str>,
) -> Result<(SecretString, Session), CoreError> {
    if let Some(reason) = validate_accept(&new).first() {
        return Err(CoreError::invalid(
            *reason,
            "the invitation form is invalid",
        ));
    }
    let open = open_invitation(db, token).await?;
    let email = normalize_email(&new.email)?;
    // Hash before the transaction: it takes a while and needs no locks.
    let password_hash = hash_password(&new.password);
    let now = clock::now();
    let user_id = UserId::new();
    let inv = open.invitation;

    let txn = db.begin_write().await?;
    let spent = invitations::Entity::update_many()
        .col_expr(invitations::Column::AcceptedAt, Expr::value(Some(now)))
        .col_expr(
            invitations::Column::AcceptedBy,
            Expr::value(Some(user_id.clone())),
        )
        .filter(invitations::Column::Id.eq(inv.id.clone()))
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .filter(invitations::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        // Another accept (or a revoke) won the race.
        let current = invitations::Entity::find_by_id(inv.id.clone())
            .one(&txn)
            .await?
            .unwrap_or(inv);
        return Err(closed(
            closed_reason(&current, now).unwrap_or(Conflict::InvitationUsed),
        ));
    }
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
    let user = users::ActiveModel {
        id: Set(user_id.clone()),
        integrator_id: Set(inv.integrator_id.clone()),
        email: Set(email),
        name: Set(new.name.trim().to_owned()),
        password_hash: Set(password_hash),
        role: Set(inv.role),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(Some(now)),
        disabled_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &inv.integrator_id,
        &Actor::user(&user.id, ip.map(str::to_owned)),
        "member.joined",
        Some(audit::Target::User(&user.id)),
        Some(format!("{} ({}, {})", user.email, user.role, inv.id)),
    )
    .await?;
    txn.commit().await?;
    sessions::open(db, user, ip).await
}

/// Takes the integrator's row lock (PostgreSQL; SQLite's `BEGIN IMMEDIATE`
/// already serialises writers) and finds the member through the scope.
async fn lock_member(
    txn: &DatabaseTransaction,
    scope: &Scope,
    user_id: &UserId,
) -> Result<users::Model, CoreError> {
    integrators::Entity::find_by_id(scope.integrator_id().clone())
        .lock_exclusive()
        .one(txn)
        .await?;
    let member = scope.find::<users::Entity>(txn, user_id).await?;
    if member.disabled_at.is_some() {
        return Err(CoreError::NotFound { kind: "user" });
    }
    Ok(member)
}

/// Refuses a change that would leave no owner besides `member`.
async fn keep_an_owner(
    txn: &DatabaseTransaction,
    scope: &Scope,
    member: &users::Model,
) -> Result<(), CoreError> {
    if member.role != UserRole::Owner {
        return Ok(());
    }
    let others = scope
        .select::<users::Entity>()
        .filter(users::Column::Role.eq(UserRole::Owner))
        .filter(users::Column::DisabledAt.is_null())
        .filter(users::Column::Id.ne(member.id.clone()))
        .count(txn)
        .await?;
    if others == 0 {
        return Err(CoreError::conflict(
            Conflict::LastOwner,
            "the integrator needs at least one owner",
        ));
    }
    Ok(())
}

/// Gives a member another role; returns the member as changed. Their
/// sessions read the role on every request, so it applies at once.
pub async fn change_role(
    db: &Db,
    scope: &Scope,
    acting: &Acting,
    user_id: &UserId,
    role: UserRole,
) -> Result<users::Model, CoreError> {
    require(acting)?;
    let txn = db.begin_write().await?;
    let member = lock_member(&txn, scope, user_id).await?;
    owner_only(
        acting,
        member.role == UserRole::Owner || role == UserRole::Owner,
    )?;
    if member.role == role {
        return Ok(member);
    }
    keep_an_owner(&txn, scope, &member).await?;
    let old = member.role;
    let mut row: users::ActiveModel = member.into();
    row.role = Set(role);
    row.updated_at = Set(clock::now());
    let member = row.update(&txn).await?;
    audit::record(
        &txn,
        &member.integrator_id,
        &acting.actor,
        "member.role_changed",
        Some(audit::Target::User(&member.id)),
        Some(format!("{} {old} → {role}", member.email)),
    )
    .await?;
    txn.commit().await?;
    Ok(member)
}

/// Removes a member and ends all their sessions in one transaction. The
/// user row is deleted (the e-mail can be invited again); the audit entry
/// keeps who it was.
pub async fn remove_member(
    db: &Db,
    scope: &Scope,
    acting: &Acting,
    user_id: &UserId,
) -> Result<users::Model, CoreError> {
    require(acting)?;
    let txn = db.begin_write().await?;
    let member = lock_member(&txn, scope, user_id).await?;
    owner_only(acting, member.role == UserRole::Owner)?;
    keep_an_owner(&txn, scope, &member).await?;
    sessions::end_all_for_user(&txn, &member.id).await?;
    scope.delete::<users::Entity>(&txn, &member.id).await?;
    audit::record(
        &txn,
        &member.integrator_id,
        &acting.actor,
        "member.removed",
        Some(audit::Target::User(&member.id)),
        Some(format!(
            "{} <{}> ({})",
            member.name, member.email, member.role
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(member)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_form_names_every_problem() {
        let bad = AcceptIn {
            name: " ".into(),
            email: "nope".into(),
            password: SecretString::from("short"),
        };
        assert_eq!(
            validate_accept(&bad),
            vec![Invalid::Name, Invalid::Email, Invalid::WeakPassword]
        );
        let good = AcceptIn {
            name: "Ana".into(),
            email: "ana@example.com".into(),
            password: SecretString::from("long enough password"),
        };
        assert!(validate_accept(&good).is_empty());
    }
}
