//! The team on both databases: invitations (single use, expiry, revoke),
//! role rules (owner-only changes, the last owner), removal ending
//! sessions at once, and tenancy (another integrator's member or
//! invitation is not found).

use chrono::Duration;
use platform_core::CoreError;
use platform_core::accounts::{NewIntegrator, create_integrator};
use platform_core::audit::Actor;
use platform_core::clock::TestClock;
use platform_core::entities::{audit_log, users};
use platform_core::error::{Conflict, Forbidden};
use platform_core::on_both_databases;
use platform_core::sessions;
use platform_core::states::UserRole;
use platform_core::team::{self, AcceptIn, Acting};
use platform_core::tenancy::Scope;
use platform_core::testing::{TestDb, test_keyring};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

struct Org {
    scope: Scope,
    owner: users::Model,
}

impl Org {
    fn acting(&self) -> Acting {
        acting(&self.owner)
    }
}

fn acting(u: &users::Model) -> Acting {
    Acting {
        actor: Actor::user(&u.id, None),
        role: u.role,
    }
}

async fn org(t: &TestDb, email: &str) -> Org {
    let (org, owner) = create_integrator(
        &t.db,
        &test_keyring(),
        NewIntegrator {
            name: format!("Org of {email}"),
            owner_email: email.into(),
            owner_name: "Owner".into(),
            owner_password: "correct horse battery".into(),
            mp_app: None,
            is_demo: false,
        },
    )
    .await
    .unwrap();
    Org {
        scope: Scope::integrator(org.id.clone()),
        owner,
    }
}

fn form(email: &str) -> AcceptIn {
    AcceptIn {
        name: "New Member".into(),
        email: email.into(),
        password: "a long password".into(),
    }
}

/// Invites and accepts: the new member and their session token.
async fn member(t: &TestDb, o: &Org, role: UserRole, email: &str) -> (users::Model, String) {
    let (_, token) = team::invite(&t.db, &o.scope, &o.acting(), role)
        .await
        .unwrap();
    let (cookie, session) = team::accept(&t.db, token.expose_secret(), form(email), None)
        .await
        .unwrap();
    (session.user, cookie.expose_secret().clone())
}

fn conflict(r: Result<impl std::fmt::Debug, CoreError>) -> Conflict {
    match r {
        Err(CoreError::Conflict { reason, .. }) => reason,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn forbidden(r: Result<impl std::fmt::Debug, CoreError>) -> Forbidden {
    match r {
        Err(CoreError::Forbidden { reason, .. }) => reason,
        other => panic!("expected forbidden, got {other:?}"),
    }
}

async fn audit_count(t: &TestDb, action: &str) -> u64 {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .count(&t.db)
        .await
        .unwrap()
}

async fn invitations_are_single_use_and_expire(t: &TestDb) {
    let a = org(t, "owner@a.test").await;
    let (inv, token) = team::invite(&t.db, &a.scope, &a.acting(), UserRole::Operator)
        .await
        .unwrap();
    assert!(inv.id.as_str().starts_with("inv_"));
    assert_ne!(inv.token_hash, *token.expose_secret(), "only the hash");
    assert_eq!(
        team::list_invitations(&t.db, &a.scope).await.unwrap().len(),
        1
    );
    let (cookie, session) = team::accept(&t.db, token.expose_secret(), form("op@a.test"), None)
        .await
        .unwrap();
    assert_eq!(session.user.role, UserRole::Operator);
    assert_eq!(&session.user.integrator_id, a.scope.integrator_id());
    assert!(
        sessions::authenticate(&t.db, cookie.expose_secret())
            .await
            .unwrap()
            .is_some(),
        "logged in"
    );
    assert_eq!(
        conflict(team::accept(&t.db, token.expose_secret(), form("again@a.test"), None).await),
        Conflict::InvitationUsed
    );
    assert!(
        team::list_invitations(&t.db, &a.scope)
            .await
            .unwrap()
            .is_empty()
    );
    // Audit: created by the owner, joined by the new member.
    let created = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("invitation.created"))
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.actor_id.as_deref(), Some(a.owner.id.as_str()));
    assert_eq!(audit_count(t, "member.joined").await, 1);

    // Expiry: 72 hours by the test clock.
    let clock = TestClock::frozen();
    let (_, token) = clock
        .run(team::invite(&t.db, &a.scope, &a.acting(), UserRole::Viewer))
        .await
        .unwrap();
    clock.advance(Duration::hours(72) + Duration::seconds(1));
    assert_eq!(
        conflict(
            clock
                .run(team::accept(
                    &t.db,
                    token.expose_secret(),
                    form("late@a.test"),
                    None
                ))
                .await
        ),
        Conflict::InvitationExpired
    );
    // Revoked: refused too; a revoked one cannot be revoked again.
    let (inv, token) = team::invite(&t.db, &a.scope, &a.acting(), UserRole::Viewer)
        .await
        .unwrap();
    team::revoke_invitation(&t.db, &a.scope, &a.acting(), &inv.id)
        .await
        .unwrap();
    assert_eq!(
        conflict(team::accept(&t.db, token.expose_secret(), form("rev@a.test"), None).await),
        Conflict::InvitationRevoked
    );
    assert_eq!(
        conflict(team::revoke_invitation(&t.db, &a.scope, &a.acting(), &inv.id).await),
        Conflict::InvitationRevoked
    );
    // Bad form or a taken e-mail: nothing spent.
    let (_, token) = team::invite(&t.db, &a.scope, &a.acting(), UserRole::Viewer)
        .await
        .unwrap();
    assert!(matches!(
        team::accept(&t.db, token.expose_secret(), form("not-an-email"), None).await,
        Err(CoreError::Invalid { .. })
    ));
    assert_eq!(
        conflict(team::accept(&t.db, token.expose_secret(), form("owner@a.test"), None).await),
        Conflict::EmailTaken
    );
    team::accept(&t.db, token.expose_secret(), form("fresh@a.test"), None)
        .await
        .expect("still open after the refusals");
    assert!(matches!(
        team::accept(&t.db, "not-a-token", form("x@a.test"), None).await,
        Err(CoreError::NotFound { .. })
    ));
}

async fn role_rules_and_the_last_owner(t: &TestDb) {
    let a = org(t, "owner@a.test").await;
    let (admin, _) = member(t, &a, UserRole::Admin, "admin@a.test").await;
    let (viewer, viewer_cookie) = member(t, &a, UserRole::Viewer, "viewer@a.test").await;
    let (dev, _) = member(t, &a, UserRole::Developer, "dev@a.test").await;

    // Roles without ManageTeam may do nothing to the team.
    for u in [&viewer, &dev] {
        assert_eq!(
            forbidden(team::invite(&t.db, &a.scope, &acting(u), UserRole::Viewer).await),
            Forbidden::InsufficientRole
        );
        assert_eq!(
            forbidden(team::remove_member(&t.db, &a.scope, &acting(u), &admin.id).await),
            Forbidden::InsufficientRole
        );
    }
    // Admins manage non-owners only.
    assert_eq!(
        forbidden(team::invite(&t.db, &a.scope, &acting(&admin), UserRole::Owner).await),
        Forbidden::OwnerOnly
    );
    assert_eq!(
        forbidden(
            team::change_role(&t.db, &a.scope, &acting(&admin), &dev.id, UserRole::Owner).await
        ),
        Forbidden::OwnerOnly
    );
    assert_eq!(
        forbidden(
            team::change_role(
                &t.db,
                &a.scope,
                &acting(&admin),
                &a.owner.id,
                UserRole::Viewer
            )
            .await
        ),
        Forbidden::OwnerOnly
    );
    assert_eq!(
        forbidden(team::remove_member(&t.db, &a.scope, &acting(&admin), &a.owner.id).await),
        Forbidden::OwnerOnly
    );
    let changed = team::change_role(
        &t.db,
        &a.scope,
        &acting(&admin),
        &dev.id,
        UserRole::Operator,
    )
    .await
    .unwrap();
    assert_eq!(changed.role, UserRole::Operator);
    assert_eq!(audit_count(t, "member.role_changed").await, 1);

    // The last owner can be neither demoted nor removed, even by themselves.
    assert_eq!(
        conflict(
            team::change_role(&t.db, &a.scope, &a.acting(), &a.owner.id, UserRole::Admin).await
        ),
        Conflict::LastOwner
    );
    assert_eq!(
        conflict(team::remove_member(&t.db, &a.scope, &a.acting(), &a.owner.id).await),
        Conflict::LastOwner
    );
    // With a second owner, the first may step down.
    team::change_role(&t.db, &a.scope, &a.acting(), &admin.id, UserRole::Owner)
        .await
        .unwrap();
    team::change_role(&t.db, &a.scope, &a.acting(), &a.owner.id, UserRole::Admin)
        .await
        .unwrap();

    // Removing a member ends their session at once and frees the e-mail.
    let before = audit_count(t, "member.removed").await;
    team::remove_member(&t.db, &a.scope, &a.acting(), &viewer.id)
        .await
        .unwrap();
    assert!(
        sessions::authenticate(&t.db, &viewer_cookie)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(audit_count(t, "member.removed").await, before + 1);
    assert!(
        users::Entity::find_by_id(viewer.id.clone())
            .one(&t.db)
            .await
            .unwrap()
            .is_none()
    );
    member(t, &a, UserRole::Viewer, "viewer@a.test").await;
}

async fn another_integrators_team_is_not_found(t: &TestDb) {
    let a = org(t, "owner@a.test").await;
    let b = org(t, "owner@b.test").await;
    let (a_member, _) = member(t, &a, UserRole::Viewer, "viewer@a.test").await;
    let (inv, token) = team::invite(&t.db, &a.scope, &a.acting(), UserRole::Admin)
        .await
        .unwrap();
    fn not_found<T>(r: Result<T, CoreError>) -> bool {
        matches!(r, Err(CoreError::NotFound { .. }))
    }
    assert!(not_found(
        team::revoke_invitation(&t.db, &b.scope, &b.acting(), &inv.id).await
    ));
    assert!(not_found(
        team::change_role(&t.db, &b.scope, &b.acting(), &a_member.id, UserRole::Admin).await
    ));
    assert!(not_found(
        team::remove_member(&t.db, &b.scope, &b.acting(), &a_member.id).await
    ));
    assert!(
        team::list_invitations(&t.db, &b.scope)
            .await
            .unwrap()
            .is_empty()
    );
    let b_members = team::list_members(&t.db, &b.scope).await.unwrap();
    assert_eq!(b_members.len(), 1);
    assert_eq!(b_members[0].id, b.owner.id);
    // The token joins the integrator that made it, whoever opens it.
    let (_, s) = team::accept(&t.db, token.expose_secret(), form("new@a.test"), None)
        .await
        .unwrap();
    assert_eq!(&s.user.integrator_id, a.scope.integrator_id());
    assert_eq!(team::list_members(&t.db, &a.scope).await.unwrap().len(), 3);
}

on_both_databases!(
    invitations_are_single_use_and_expire,
    role_rules_and_the_last_owner,
    another_integrators_team_is_not_found,
);
