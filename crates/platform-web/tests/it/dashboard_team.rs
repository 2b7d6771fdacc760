//! Roles in the dashboard on both databases: the permission matrix (every
//! POST route of the route table, for every role: allowed is not a 403,
//! refused is a 403 page that changed nothing), the team page (invitation
//! shown once, accepted once, removal ending the session at once, the last
//! owner), and another tenant's members and invitations being 404s.

use crate::common;

use common::{TestApp, session_for};
use platform_core::audit::Actor;
use platform_core::entities::{
    api_keys, audit_log, integrators, invitations, onboarding_links, payment_intents, pos, refunds,
    sellers, stores, terminals, users, webhook_deliveries, webhook_endpoints,
};
use platform_core::id::UserId;
use platform_core::on_both_databases;
use platform_core::permissions::Permission;
use platform_core::states::{IntentStatus, UserRole};
use platform_core::team::{self, Acting};
use platform_core::tenancy::Scope;
use platform_core::testing::{Seeded, TestDb};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What each POST route of the dashboard needs. `None`: open to anyone
/// (public forms, logout). The test fails on a route missing here.
const MATRIX: &[(&str, Option<Permission>)] = &[
    ("/login", None),
    ("/signup", None),
    ("/logout", None),
    ("/invite/{token}", None),
    ("/settings", Some(Permission::ManageSettings)),
    ("/links", Some(Permission::ManageSellers)),
    ("/links/{id}/revoke", Some(Permission::ManageSellers)),
    ("/sellers/{id}/sync", Some(Permission::ManageSellers)),
    ("/sellers/{id}/unlink", Some(Permission::ManageSellers)),
    ("/sellers/{id}/relink", Some(Permission::ManageSellers)),
    ("/sellers/{id}/stores/new", Some(Permission::ManageSellers)),
    ("/stores/{id}/edit", Some(Permission::ManageSellers)),
    ("/stores/{id}/pos/new", Some(Permission::ManageSellers)),
    ("/pos/{id}/edit", Some(Permission::ManageSellers)),
    ("/terminals/{id}/mode", Some(Permission::ManageSellers)),
    ("/test-sellers", Some(Permission::ManageSellers)),
    ("/intents", Some(Permission::Charge)),
    ("/intents/{id}/cancel", Some(Permission::Charge)),
    ("/intents/{id}/refunds", Some(Permission::Refund)),
    ("/api-keys", Some(Permission::ManageKeys)),
    ("/api-keys/{id}/revoke", Some(Permission::ManageKeys)),
    ("/webhooks", Some(Permission::ManageWebhooks)),
    ("/webhooks/{id}", Some(Permission::ManageWebhooks)),
    ("/webhooks/{id}/enabled", Some(Permission::ManageWebhooks)),
    ("/webhooks/{id}/rotate", Some(Permission::ManageWebhooks)),
    ("/webhooks/{id}/delete", Some(Permission::ManageWebhooks)),
    ("/webhooks/{id}/replay", Some(Permission::ManageWebhooks)),
    ("/deliveries/{id}/replay", Some(Permission::ManageWebhooks)),
    ("/team/invitations", Some(Permission::ManageTeam)),
    (
        "/team/invitations/{id}/revoke",
        Some(Permission::ManageTeam),
    ),
    ("/team/members/{id}/role", Some(Permission::ManageTeam)),
    ("/team/members/{id}/remove", Some(Permission::ManageTeam)),
];

/// GET pages that only make sense with a permission.
const GATED_PAGES: &[(&str, Permission)] = &[
    ("/settings", Permission::ManageSettings),
    ("/intents/new", Permission::Charge),
    ("/api-keys", Permission::ManageKeys),
    ("/team", Permission::ManageTeam),
];

/// Every `.route("…", web::post()…)` of the dashboard's route table.
fn post_routes_in_code() -> Vec<String> {
    let src = include_str!("../../src/dashboard/mod.rs");
    let flat: String = src.split_whitespace().collect::<Vec<_>>().join("");
    let mut routes = Vec::new();
    let mut rest = flat.as_str();
    while let Some(i) = rest.find(".route(\"") {
        rest = &rest[i + 8..];
        let end = rest.find('"').unwrap();
        let path = &rest[..end];
        if rest[end..].starts_with("\",web::post()") {
            routes.push(path.to_owned());
        }
    }
    routes
}

#[test]
fn every_post_route_is_in_the_matrix() {
    let code = post_routes_in_code();
    assert!(code.len() > 20, "parsed the route table: {code:?}");
    for r in &code {
        assert!(
            MATRIX.iter().any(|(m, _)| m == r),
            "POST {r} is not in the permission matrix"
        );
    }
    for (m, _) in MATRIX {
        assert!(code.iter().any(|r| r == m), "{m} is not a route any more");
    }
}

/// Every row of the tables a dashboard action can change, as text: a
/// refused request must leave it identical.
async fn fingerprint(app: &TestApp) -> String {
    let db = &app.state.db;
    macro_rules! rows {
        ($($m:ident),+) => {{
            let mut out = String::new();
            $(
                let all = $m::Entity::find()
                    .order_by_asc($m::Column::Id)
                    .all(db)
                    .await
                    .unwrap();
                out.push_str(&format!("{}: {all:?}\n", stringify!($m)));
            )+
            out
        }};
    }
    rows!(
        integrators,
        users,
        invitations,
        sellers,
        stores,
        pos,
        terminals,
        payment_intents,
        refunds,
        api_keys,
        webhook_endpoints,
        webhook_deliveries,
        onboarding_links,
        audit_log
    )
}

async fn add_user(app: &TestApp, s: &Seeded, role: UserRole, email: &str) -> UserId {
    let now = chrono::Utc::now();
    let id = UserId::new();
    users::ActiveModel {
        id: Set(id.clone()),
        integrator_id: Set(s.integrator.clone()),
        email: Set(email.to_owned()),
        name: Set(format!("{role} user")),
        password_hash: Set("x".into()),
        role: Set(role),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        disabled_at: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

fn scope(s: &Seeded) -> Scope {
    Scope::integrator(s.integrator.clone())
}

fn owner_acting(s: &Seeded) -> Acting {
    Acting {
        actor: Actor::user(&s.user, None),
        role: UserRole::Owner,
    }
}

async fn permission_matrix(t: &TestDb) {
    // Mercado Pago on a closed loopback port: allowed calls that reach it
    // fail at once instead of waiting.
    let app = TestApp::start(t, |raw| {
        raw.mp_api_url = Some("http://127.0.0.1:9".into());
        raw.mp_auth_url = Some("http://127.0.0.1:9".into());
    })
    .await;
    let a = app.seed(7_400_000).await;
    let victim = add_user(&app, &a, UserRole::Viewer, "victim@a.test").await;
    let (inv, _) = team::invite(
        &app.state.db,
        &scope(&a),
        &owner_acting(&a),
        UserRole::Viewer,
    )
    .await
    .unwrap();
    let mut sessions = vec![(UserRole::Owner, session_for(&app, &a.user).await)];
    for role in [
        UserRole::Admin,
        UserRole::Developer,
        UserRole::Operator,
        UserRole::Viewer,
    ] {
        let id = add_user(&app, &a, role, &format!("{role}@a.test")).await;
        sessions.push((role, session_for(&app, &id).await));
    }
    assert_eq!(sessions.len(), UserRole::ALL.len());
    let http = client();
    let concrete = |route: &str| -> String {
        let id = match route.split('/').nth(1).unwrap_or("") {
            "links" => a.link.as_str(),
            "sellers" => a.seller.as_str(),
            "stores" => a.store.as_str(),
            "pos" => a.pos.as_str(),
            "terminals" => a.terminal.as_str(),
            "intents" => a.intent.as_str(),
            "api-keys" => a.api_key.as_str(),
            "webhooks" => a.endpoint.as_str(),
            "deliveries" => a.delivery.as_str(),
            "team" if route.contains("invitations") => inv.id.as_str(),
            _ => victim.as_str(),
        };
        format!("/app{}", route.replace("{id}", id))
    };

    for (route, needs) in MATRIX {
        let Some(needs) = needs else { continue };
        let path = concrete(route);
        // Refused roles first: the objects are all still there for them.
        let mut ordered: Vec<_> = sessions.iter().collect();
        ordered.sort_by_key(|(role, _)| role.allows(*needs));
        for (role, (cookie, csrf)) in ordered {
            let form = [
                ("csrf", csrf.as_str()),
                ("mode", "PDV"),
                ("amount", "1.00"),
                ("terminal", a.other_terminal.as_str()),
                ("description", "Matrix"),
                ("url", "https://a.example/hook"),
                ("enabled", "false"),
                ("since", "2020-01-01"),
                ("role", "viewer"),
                ("name", "Matrix"),
                ("label", "Matrix"),
                ("ttl_hours", "24"),
                ("target", "integrator"),
                ("expiry_days", "0"),
                ("access", "full"),
            ];
            let before = fingerprint(&app).await;
            let res = http
                .post(format!("{}{path}", app.url))
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            if role.allows(*needs) {
                assert_ne!(status, 403, "{role} POST {path}: {body}");
            } else {
                assert_eq!(status, 403, "{role} POST {path}");
                assert!(body.contains("error-page"), "{role} POST {path}: a page");
                assert_eq!(fingerprint(&app).await, before, "{role} POST {path}");
            }
        }
    }

    for (page, needs) in GATED_PAGES {
        for (role, (cookie, _)) in &sessions {
            let res = http
                .get(format!("{}/app{page}", app.url))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let expected = if role.allows(*needs) { 200 } else { 403 };
            assert_eq!(res.status().as_u16(), expected, "{role} GET {page}");
        }
    }
    // Read pages stay visible to every role; the nav hides what it cannot use.
    for (role, (cookie, _)) in &sessions {
        for page in [
            "/app",
            "/app/sellers",
            "/app/intents",
            "/app/webhooks",
            "/app/audit",
        ] {
            let res = http
                .get(format!("{}{page}", app.url))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{role} GET {page}");
            if page == "/app" {
                let body = res.text().await.unwrap();
                assert_eq!(
                    body.contains("href=\"/app/api-keys\""),
                    role.allows(Permission::ManageKeys),
                    "{role}"
                );
                assert_eq!(
                    body.contains("href=\"/app/team\""),
                    role.allows(Permission::ManageTeam),
                    "{role}"
                );
            }
        }
    }
    app.web.stop().await;
}

async fn allowed_roles_make_their_changes(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_500_000).await;
    let http = client();
    let login = |role: UserRole, email: &'static str| {
        let app = &app;
        let a = &a;
        async move {
            let id = add_user(app, a, role, email).await;
            session_for(app, &id).await
        }
    };
    let post = |cookie: String, path: String, form: Vec<(&'static str, String)>| {
        http.post(format!("{}{path}", app.url))
            .header("cookie", cookie)
            .form(&form)
            .send()
    };
    // An operator cancels a payment; the audit-less intent row says so.
    let (cookie, csrf) = login(UserRole::Operator, "op@a.test").await;
    let res = post(
        cookie,
        format!("/app/intents/{}/cancel", a.intent),
        vec![("csrf", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let intent = payment_intents::Entity::find_by_id(a.intent.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(intent.status, IntentStatus::Canceled);
    // A developer creates an API key, recorded with them as the actor.
    let (cookie, csrf) = login(UserRole::Developer, "dev@a.test").await;
    let res = post(
        cookie,
        "/app/api-keys".into(),
        vec![
            ("csrf", csrf),
            ("name", "Reports".into()),
            ("target", "integrator".into()),
            ("mode", "test".into()),
            ("expiry_days", "0".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let entry = platform_core::audit::list(
        &app.state.db,
        &scope(&a),
        Some("api_key.created"),
        None,
        &platform_core::paging::PageRequest::new(None, None),
    )
    .await
    .unwrap();
    let dev = users::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "dev@a.test")
        .unwrap();
    assert_eq!(entry.items[0].actor_id.as_deref(), Some(dev.id.as_str()));
    // An admin invites a developer.
    let (cookie, csrf) = login(UserRole::Admin, "admin@a.test").await;
    let res = post(
        cookie,
        "/app/team/invitations".into(),
        vec![("csrf", csrf), ("role", "developer".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        team::list_invitations(&app.state.db, &scope(&a))
            .await
            .unwrap()
            .len(),
        1
    );
    app.web.stop().await;
}

/// The invitation link from the page that answers the invite form.
fn invitation_path(body: &str) -> String {
    let start = body.find("id=\"invitation-url\" value=\"").unwrap() + 27;
    let url = &body[start..start + body[start..].find('"').unwrap()];
    url[url.find("/app/invite/").unwrap()..].to_owned()
}

async fn invitation_flow_removal_and_last_owner(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_600_000).await;
    let b = app.seed(7_700_000).await;
    let (owner_cookie, owner_csrf) = session_for(&app, &a.user).await;
    let http = client();
    let post = |cookie: &str, path: &str, form: Vec<(&'static str, String)>| {
        http.post(format!("{}{path}", app.url))
            .header("cookie", cookie.to_owned())
            .form(&form)
            .send()
    };

    // Bad role: the page says so, nothing made.
    let res = post(
        &owner_cookie,
        "/app/team/invitations",
        vec![("csrf", owner_csrf.clone()), ("role", "emperor".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"team-error\""));
    // The link is shown once, on the answer.
    let res = post(
        &owner_cookie,
        "/app/team/invitations",
        vec![("csrf", owner_csrf.clone()), ("role", "operator".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let path = invitation_path(&res.text().await.unwrap());
    let token = path.rsplit('/').next().unwrap().to_owned();
    let team_page = http
        .get(format!("{}/app/team", app.url))
        .header("cookie", &owner_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!team_page.contains(&token), "never shown again");
    assert!(team_page.contains("data-invitation=\"inv_"));

    // The public page, in a fresh browser: its own CSRF cookie.
    let res = http.get(format!("{}{path}", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let anon = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|c| {
            c.to_str()
                .ok()?
                .strip_prefix("puente_csrf=")
                .map(|v| v.split(';').next().unwrap().to_owned())
        })
        .unwrap();
    let accept = |email: &'static str, password: &'static str| {
        http.post(format!("{}{path}", app.url))
            .header("cookie", format!("puente_csrf={anon}"))
            .form(&[
                ("csrf", anon.as_str()),
                ("name", "Olga Operator"),
                ("email", email),
                ("password", password),
            ])
            .send()
    };
    let res = accept("not-an-email", "short").await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.text()
            .await
            .unwrap()
            .matches("class=\"field-error\"")
            .count(),
        2
    );
    let res = accept("olga@a.test", "a long password").await.unwrap();
    assert_eq!(res.status(), 303);
    let olga_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|c| {
            let c = c.to_str().ok()?;
            c.starts_with("puente_session=")
                .then(|| c.split(';').next().unwrap().to_owned())
        })
        .unwrap();
    let res = http
        .get(format!("{}/app/intents", app.url))
        .header("cookie", &olga_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "logged in as the new member");
    let res = http
        .get(format!("{}/app/settings", app.url))
        .header("cookie", &olga_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "an operator has no settings");
    // Single use.
    let res = accept("olga2@a.test", "a long password").await.unwrap();
    assert_eq!(res.status(), 410);
    let res = http.get(format!("{}{path}", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 410);

    // The last owner: neither demoted nor removed; the page says why.
    let res = post(
        &owner_cookie,
        &format!("/app/team/members/{}/role", a.user),
        vec![("csrf", owner_csrf.clone()), ("role", "admin".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("id=\"team-error\""));
    let res = post(
        &owner_cookie,
        &format!("/app/team/members/{}/remove", a.user),
        vec![("csrf", owner_csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);
    let owner = users::Entity::find_by_id(a.user.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.role, UserRole::Owner);

    // Another integrator's member and invitation are 404s.
    let (b_cookie, b_csrf) = session_for(&app, &b.user).await;
    let olga = users::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "olga@a.test")
        .unwrap();
    let (inv, _) = team::invite(
        &app.state.db,
        &scope(&a),
        &owner_acting(&a),
        UserRole::Viewer,
    )
    .await
    .unwrap();
    for path in [
        format!("/app/team/members/{}/remove", olga.id),
        format!("/app/team/members/{}/role", olga.id),
        format!("/app/team/invitations/{}/revoke", inv.id),
    ] {
        let res = post(
            &b_cookie,
            &path,
            vec![("csrf", b_csrf.clone()), ("role", "owner".into())],
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let b_team = http
        .get(format!("{}/app/team", app.url))
        .header("cookie", &b_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!b_team.contains(olga.id.as_str()) && !b_team.contains(inv.id.as_str()));

    // Removing a member ends their session at once.
    let res = post(
        &owner_cookie,
        &format!("/app/team/members/{}/remove", olga.id),
        vec![("csrf", owner_csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let res = http
        .get(format!("{}/app/intents", app.url))
        .header("cookie", &olga_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/app/login")
    );
    app.web.stop().await;
}

async fn read_only_keys_only_read(t: &TestDb) {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_800_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let count = |table: &'static str| {
        let app = &app;
        let org = a.integrator.clone();
        async move {
            match table {
                "keys" => api_keys::Entity::find()
                    .filter(api_keys::Column::IntegratorId.eq(org))
                    .count(&app.state.db)
                    .await
                    .unwrap(),
                _ => payment_intents::Entity::find()
                    .filter(payment_intents::Column::IntegratorId.eq(org))
                    .count(&app.state.db)
                    .await
                    .unwrap(),
            }
        }
    };
    // Made on the keys page, shown once like any key.
    let res = http
        .post(format!("{}/app/api-keys", app.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Reports"),
            ("target", "integrator"),
            ("mode", "test"),
            ("access", "read_only"),
            ("expiry_days", "0"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body = res.text().await.unwrap();
    let start = body.find("id=\"api-key\" value=\"").unwrap() + 20;
    let key = body[start..start + body[start..].find('"').unwrap()].to_owned();
    let res = http
        .post(format!("{}/app/api-keys", app.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Bad"),
            ("target", "integrator"),
            ("mode", "test"),
            ("access", "everything"),
            ("expiry_days", "0"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    // GETs work.
    let (status, list) = common::json(app.get(&key, "/v1/api-keys").send().await.unwrap()).await;
    assert_eq!(status, 200, "{list}");
    assert!(list.to_string().contains("\"access\":\"read_only\""));
    let (status, _) =
        common::json(app.get(&key, "/v1/payment-intents").send().await.unwrap()).await;
    assert_eq!(status, 200);
    // Anything else is refused, and nothing is made.
    let (keys_before, intents_before) = (count("keys").await, count("intents").await);
    let (status, err) = common::json(
        app.post(&key, "/v1/api-keys")
            .json(&serde_json::json!({"name": "escalate"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let (status, _) = common::json(
        app.post(&key, "/v1/payment-intents")
            .json(&serde_json::json!({"terminal_id": a.other_terminal, "amount": 1000}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = common::json(
        app.delete(&key, &format!("/v1/api-keys/{}", a.api_key))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(count("keys").await, keys_before);
    assert_eq!(count("intents").await, intents_before);
    assert!(
        api_keys::Entity::find_by_id(a.api_key.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    // A full key can make a read-only one over the API too.
    let full = app
        .key(&a, platform_core::states::ScopeKind::Integrator, None)
        .await;
    let (status, made) = common::json(
        app.post(&full, "/v1/api-keys")
            .json(&serde_json::json!({"name": "reports", "access": "read_only"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["access"], "read_only");
    app.web.stop().await;
}

on_both_databases!(
    read_only_keys_only_read,
    permission_matrix,
    allowed_roles_make_their_changes,
    invitation_flow_removal_and_last_owner,
);
