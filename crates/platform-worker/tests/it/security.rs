//! Security hardening (issue 11) through the whole chain: sandbox, web,
//! worker, on both databases.

use crate::common;

use common::{QueueKind, setup};
use platform_core::accounts::{self, MpApplication, NewIntegrator};
use platform_core::audit::Actor;
use platform_core::entities::{inbound_notifications, integrators, seller_credentials, sellers};
use platform_core::integrator_app::{self, AppSettingsUpdate, FieldError, SettingsProblem};
use platform_core::mercadopago::sign_notification;
use platform_core::on_both_databases;
use platform_core::secret::SecretString;
use platform_core::states::{LinkStatus, NotificationStatus};
use platform_core::tenancy::Scope;
use platform_core::testing::TestDb;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};

/// A second integrator with its own (real, sandbox) application.
async fn second_integrator(env: &common::Env) -> (integrators::Model, Value) {
    let app: Value = env
        .http
        .post(format!("{}/sandbox/applications", env.sandbox.base_url()))
        .json(&json!({"redirect_uris": [format!("{}/oauth/callback", env.url)]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (a, _) = accounts::create_integrator(
        &env.ctx.db,
        &env.keyring,
        NewIntegrator {
            name: "Attacker".into(),
            owner_email: format!("{}@example.com", uuid::Uuid::new_v4().simple()),
            owner_name: "A".into(),
            owner_password: SecretString::from("a long password"),
            mp_app: Some(MpApplication {
                client_id: app["client_id"].as_str().unwrap().to_owned(),
                client_secret: app["client_secret"].as_str().unwrap().to_owned().into(),
                webhook_secret: app["webhook_secret"].as_str().unwrap().to_owned().into(),
                redirect_url: format!("{}/oauth/callback", env.url),
                sponsor_id: None,
            }),
            is_demo: false,
        },
    )
    .await
    .unwrap();
    (a, app)
}

fn deauthorization(client_id: &str, user_id: &Value) -> Value {
    json!({
        "id": 77, "live_mode": true, "type": "mp-connect", "api_version": "v1",
        "action": "application.deauthorized", "application_id": client_id,
        "user_id": user_id, "data": {"id": user_id.to_string()},
    })
}

/// Posts a notification signed with `secret` over `data_id`.
async fn post_signed(
    env: &common::Env,
    path: &str,
    secret: &str,
    data_id: &str,
    body: &Value,
) -> (u16, Value) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let sig = sign_notification(secret, Some(data_id), Some(&request_id), &ts);
    let res = env
        .http
        .post(format!(
            "{}{path}?data.id={data_id}&type=mp-connect",
            env.url
        ))
        .header("x-signature", sig)
        .header("x-request-id", request_id)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn seller_state(env: &common::Env) -> (LinkStatus, bool) {
    let s = sellers::Entity::find_by_id(env.seller_id.clone())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let creds = seller_credentials::Entity::find()
        .filter(seller_credentials::Column::SellerId.eq(env.seller_id.clone()))
        .one(&env.ctx.db)
        .await
        .unwrap();
    (s.link_status, creds.is_some())
}

async fn settle(env: &common::Env, id: &str) -> inbound_notifications::Model {
    common::eventually("the worker processed the notification", || async {
        let row = inbound_notifications::Entity::find_by_id(
            platform_core::id::InboundNotificationId::parse(id).unwrap(),
        )
        .one(&env.ctx.db)
        .await
        .unwrap()?;
        (row.status != NotificationStatus::Received).then_some(row)
    })
    .await
}

/// Integrator A can neither take integrator B's client id nor unlink B's
/// sellers with a deauthorization signed by A's own secret.
async fn deauthorization_is_bound_to_the_verifying_integrator(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let b_app = env.sandbox.default_app();
    let (a, a_app) = second_integrator(&env).await;
    let a_secret = a_app["client_secret"].as_str().unwrap().to_owned();
    let a_scope = Scope::integrator(a.id.clone());
    let save = |client_id: &str, secret: Option<&str>| AppSettingsUpdate {
        client_id: client_id.into(),
        client_secret: secret.map(SecretString::from),
        webhook_secret: None,
        sponsor_id: String::new(),
    };
    let redirect = format!("{}/oauth/callback", env.url);

    // B's client id: refused by the settings (even with B's real secret)
    // and by the database itself.
    for secret in [
        Some(a_secret.as_str()),
        Some(b_app.client_secret.as_str()),
        None,
    ] {
        let got = integrator_app::update(
            &env.ctx.db,
            &env.keyring,
            &env.ctx.mp,
            &a_scope,
            &Actor::system(),
            &redirect,
            save(&b_app.client_id, secret),
        )
        .await
        .unwrap();
        assert_eq!(
            got,
            Err(vec![FieldError {
                field: "client_id",
                problem: SettingsProblem::ClientIdTaken
            }])
        );
    }
    let mut raw = a.clone().into_active_model();
    raw.mp_client_id = Set(Some(b_app.client_id.clone()));
    assert!(raw.update(&env.ctx.db).await.is_err(), "unique client id");
    // A client id Mercado Pago does not know with this secret: refused.
    let got = integrator_app::update(
        &env.ctx.db,
        &env.keyring,
        &env.ctx.mp,
        &a_scope,
        &Actor::system(),
        &redirect,
        save("123456789", Some(&a_secret)),
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        Err(vec![FieldError {
            field: "client_id",
            problem: SettingsProblem::ClientCredentialsRejected
        }])
    );
    let unchanged = integrators::Entity::find_by_id(a.id.clone())
        .one(&env.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged, a, "a refused save writes nothing");
    // Its own pair, proven by a client_credentials token: saved.
    let got = integrator_app::update(
        &env.ctx.db,
        &env.keyring,
        &env.ctx.mp,
        &a_scope,
        &Actor::system(),
        &redirect,
        save(a_app["client_id"].as_str().unwrap(), Some(&a_secret)),
    )
    .await
    .unwrap();
    assert_eq!(got, Ok(()));

    // A signs a deauthorization of B's seller with A's notification secret,
    // naming B's application: routed to A, it touches only A's sellers.
    let uid = env.seller["user_id"].clone();
    let body = deauthorization(&b_app.client_id, &uid);
    let a_webhook = a_app["webhook_secret"].as_str().unwrap();
    let (status, got) = post_signed(
        &env,
        &format!("/webhooks/mercadopago/{}", a.id),
        a_webhook,
        &uid.to_string(),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    let row = settle(&env, got["id"].as_str().unwrap()).await;
    assert_eq!(row.status, NotificationStatus::Ignored);
    // Unrouted, the candidates are B (seller and application): A's signature
    // verifies none of them.
    let (status, _) = post_signed(
        &env,
        "/webhooks/mercadopago",
        a_webhook,
        &uid.to_string(),
        &body,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(seller_state(&env).await, (LinkStatus::Linked, true));

    // B's own secret, but the body names B's seller while the signature
    // covers another user id: refused, nothing stored, nothing changed.
    let before = inbound_notifications::Entity::find()
        .all(&env.ctx.db)
        .await
        .unwrap()
        .len();
    let (status, got) = post_signed(
        &env,
        &format!("/webhooks/mercadopago/{}", env.integrator_id),
        &b_app.webhook_secret,
        "424242",
        &body,
    )
    .await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(got["code"], "user_id_mismatch");
    let after = inbound_notifications::Entity::find()
        .all(&env.ctx.db)
        .await
        .unwrap()
        .len();
    assert_eq!(before, after);
    assert_eq!(seller_state(&env).await, (LinkStatus::Linked, true));

    // The genuine one (B's secret, signed user id = body): unlinks.
    let (status, got) = post_signed(
        &env,
        &format!("/webhooks/mercadopago/{}", env.integrator_id),
        &b_app.webhook_secret,
        &uid.to_string(),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    let row = settle(&env, got["id"].as_str().unwrap()).await;
    assert_eq!(row.status, NotificationStatus::Processed, "{:?}", row.error);
    assert_eq!(seller_state(&env).await, (LinkStatus::Unlinked, false));
    env.shutdown().await;
}

on_both_databases!(deauthorization_is_bound_to_the_verifying_integrator);
