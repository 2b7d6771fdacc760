//! The dashboard's webhook pages over HTTP on both databases: endpoint forms
//! refuse bad input on the form and change nothing; the secret is shown
//! once; disable, replay, rotate and delete; a delivery's page.

use crate::common;

use common::{TestApp, session_for};
use platform_core::entities::webhook_endpoints;
use platform_core::id::IntegratorId;
use platform_core::on_both_databases;
use platform_core::states::EndpointStatus;
use platform_core::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn endpoints_of(app: &TestApp, integrator: &IntegratorId) -> Vec<webhook_endpoints::Model> {
    webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::IntegratorId.eq(integrator))
        .all(&app.state.db)
        .await
        .unwrap()
}

fn between<'a>(body: &'a str, start: &str) -> &'a str {
    body.split(start)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
}

async fn endpoint_forms_and_actions(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_600_000).await;
    let b = app.seed(7_700_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let post = |path: String, form: Vec<(&'static str, String)>| {
        http.post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let get = |path: String| {
        http.get(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .send()
    };
    let before = endpoints_of(&app, &a.integrator).await;
    let form = |url: &str, seller: &str, events: &[&str]| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("url", url.to_owned()),
            ("description", "Caja central".to_owned()),
            ("seller", seller.to_owned()),
        ];
        for e in events {
            f.push(("events", (*e).to_owned()));
        }
        f
    };

    let mut no_csrf = form("http://127.0.0.1:9/h", "", &[]);
    no_csrf.remove(0);
    assert_eq!(
        post("/app/webhooks".into(), no_csrf)
            .await
            .unwrap()
            .status(),
        403
    );
    for bad in [
        form("", "", &[]),
        form("ftp://example.com/h", "", &[]),
        form("http://user:pw@127.0.0.1:9/h", "", &[]),
        form("http://10.0.0.1/h", "", &[]),
        form("http://127.0.0.1:9/h", "", &["payment_intent.nope"]),
        form("http://127.0.0.1:9/h", b.seller.as_str(), &[]),
    ] {
        let res = post("/app/webhooks".into(), bad.clone()).await.unwrap();
        assert_eq!(res.status(), 422, "{bad:?}");
        let body = res.text().await.unwrap();
        assert_eq!(body.matches("class=\"field-error\"").count(), 1, "{bad:?}");
        assert!(!body.contains("id=\"webhook-secret\""));
    }
    assert_eq!(endpoints_of(&app, &a.integrator).await, before);

    // Created: the secret is on this page only.
    let res = post(
        "/app/webhooks".into(),
        form(
            "http://127.0.0.1:9/hook",
            a.seller.as_str(),
            &["payment_intent.processed", "refund.succeeded"],
        ),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let body = res.text().await.unwrap();
    let secret = between(&body, "id=\"webhook-secret\" value=\"").to_owned();
    assert!(secret.starts_with("whsec_"), "{body}");
    let created = endpoints_of(&app, &a.integrator)
        .await
        .into_iter()
        .find(|e| e.url == "http://127.0.0.1:9/hook")
        .unwrap();
    assert_eq!(created.seller_id.as_ref(), Some(&a.seller));
    assert!(!created.secret.contains(&secret));
    let page = get(format!("/app/webhooks/{}", created.id))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&secret) && page.contains("checked"));

    // A bad edit changes nothing, not even its good fields.
    let mut edit = form("notaurl", "", &[]);
    edit[2].1 = "changed".into();
    let res = post(format!("/app/webhooks/{}", created.id), edit)
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("value=\"notaurl\""));
    let same = webhook_endpoints::Entity::find_by_id(created.id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same, created);
    let res = post(
        format!("/app/webhooks/{}", created.id),
        form("http://127.0.0.1:9/other", "", &[]),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);

    // Disabled: replays are refused on the form; bad dates too.
    let res = post(
        format!("/app/webhooks/{}/enabled", created.id),
        vec![("csrf", csrf.clone()), ("enabled", "false".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let row = webhook_endpoints::Entity::find_by_id(created.id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, EndpointStatus::Disabled);
    assert_eq!(row.url, "http://127.0.0.1:9/other");
    for (since, status) in [("yesterday", 422), ("2999-01-01", 422), ("2020-01-01", 409)] {
        let res = post(
            format!("/app/webhooks/{}/replay", created.id),
            vec![("csrf", csrf.clone()), ("since", since.into())],
        )
        .await
        .unwrap();
        assert_eq!(res.status(), status, "{since}");
        assert!(res.text().await.unwrap().contains("id=\"replay-error\""));
    }

    // A pending delivery cannot be replayed yet: said on its page.
    let res = get(format!("/app/deliveries/{}", a.delivery))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = post(
        format!("/app/deliveries/{}/replay", a.delivery),
        vec![("csrf", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("id=\"replay-error\""));

    // Rotation shows a new secret once; deletion removes it.
    let res = post(
        format!("/app/webhooks/{}/rotate", created.id),
        vec![("csrf", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let rotated = between(&res.text().await.unwrap(), "id=\"webhook-secret\" value=\"").to_owned();
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    let res = post(
        format!("/app/webhooks/{}/delete", created.id),
        vec![("csrf", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        webhook_endpoints::Entity::find_by_id(created.id.clone())
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    app.web.stop().await;
}

on_both_databases!(endpoint_forms_and_actions);
