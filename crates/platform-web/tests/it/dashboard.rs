//! The dashboard over HTTP on both databases: login and its guards, CSRF,
//! forms that refuse bad input and change nothing, write-only secrets,
//! another integrator's ids answering 404, and the seller's failure pages.

use crate::common;

use common::{TestApp, session_for};
use platform_core::accounts::{NewIntegrator, create_integrator};
use platform_core::entities::integrators;
use platform_core::on_both_databases;
use platform_core::testing::TestDb;
use sea_orm::EntityTrait;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn another_integrators_ids_are_404(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_000_000).await;
    let b = app.seed(8_000_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let get = |path: String| {
        http.get(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .send()
    };

    for own in [
        format!("/app/sellers/{}", a.seller),
        format!("/app/stores/{}/edit", a.store),
        format!("/app/pos/{}/edit", a.pos),
        format!("/app/terminals/{}", a.terminal),
    ] {
        assert_eq!(get(own.clone()).await.unwrap().status(), 200, "{own}");
    }
    for foreign in [
        format!("/app/sellers/{}", b.seller),
        format!("/app/sellers/{}/stores/new", b.seller),
        format!("/app/stores/{}/edit", b.store),
        format!("/app/stores/{}/pos/new", b.store),
        format!("/app/pos/{}/edit", b.pos),
        format!("/app/terminals/{}", b.terminal),
        format!("/app/intents/{}", b.intent),
        format!("/app/webhooks/{}", b.endpoint),
        format!("/app/deliveries/{}", b.delivery),
        "/app/sellers/not-an-id".to_owned(),
    ] {
        let res = get(foreign.clone()).await.unwrap();
        assert_eq!(res.status(), 404, "{foreign}");
        let body = res.text().await.unwrap();
        assert!(body.contains("error-page"), "{foreign}: an HTML page");
        assert!(!body.contains(b.seller.as_str()), "{foreign}: no leak");
    }
    for (path, form) in [
        (
            format!("/app/terminals/{}/mode", b.terminal),
            vec![("csrf", csrf.as_str()), ("mode", "PDV")],
        ),
        (
            format!("/app/sellers/{}/unlink", b.seller),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/app/sellers/{}/relink", b.seller),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/app/links/{}/revoke", b.link),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/app/intents/{}/cancel", b.intent),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/app/api-keys/{}/revoke", b.api_key),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/app/intents/{}/refunds", b.intent),
            vec![("csrf", csrf.as_str()), ("amount", "1.00")],
        ),
        (
            format!("/app/webhooks/{}", b.endpoint),
            vec![("csrf", csrf.as_str()), ("url", "https://a.example/h")],
        ),
        (
            format!("/app/webhooks/{}/enabled", b.endpoint),
            vec![("csrf", csrf.as_str()), ("enabled", "false")],
        ),
        (
            format!("/app/webhooks/{}/rotate", b.endpoint),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/app/webhooks/{}/replay", b.endpoint),
            vec![("csrf", csrf.as_str()), ("since", "2020-01-01")],
        ),
        (
            format!("/app/webhooks/{}/delete", b.endpoint),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/app/deliveries/{}/replay", b.delivery),
            vec![("csrf", csrf.as_str())],
        ),
    ] {
        let res = http
            .post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "POST {path}");
    }
    // The other integrator's seller is untouched.
    let seller = platform_core::entities::sellers::Entity::find_by_id(b.seller.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seller.link_status,
        platform_core::states::LinkStatus::Linked
    );
    let intent = platform_core::entities::payment_intents::Entity::find_by_id(b.intent.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(intent.status, platform_core::states::IntentStatus::Queued);
    let key = platform_core::entities::api_keys::Entity::find_by_id(b.api_key.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(key.revoked_at.is_none());
    let endpoint =
        platform_core::entities::webhook_endpoints::Entity::find_by_id(b.endpoint.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .expect("not deleted");
    assert_eq!(
        endpoint.status,
        platform_core::states::EndpointStatus::Enabled
    );
    // Lists show only the integrator's own rows, whatever the filter says.
    for (path, foreign) in [
        (
            format!("/app/intents?seller={}", b.seller),
            b.intent.as_str(),
        ),
        (
            format!("/app/intents?terminal={}", b.terminal),
            b.intent.as_str(),
        ),
        ("/app/api-keys".to_owned(), b.api_key.as_str()),
        ("/app/webhooks".to_owned(), b.endpoint.as_str()),
    ] {
        let res = get(path.clone()).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(!res.text().await.unwrap().contains(foreign), "{path}");
    }
    app.web.stop().await;
}

async fn settings_form_rejects_and_changes_nothing(t: &TestDb) {
    // Saving proves the application with Mercado Pago (the sandbox here).
    let sandbox = mp_sandbox::start(mp_sandbox::SandboxConfig::for_tests())
        .await
        .unwrap();
    let base = sandbox.base_url();
    let app = TestApp::start(t, |raw| {
        raw.mp_api_url = Some(base.clone());
        raw.mp_auth_url = Some(base.clone());
    })
    .await;
    let mp_app: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/sandbox/applications"))
        .json(&serde_json::json!({"redirect_uris": []}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mp_client_id = mp_app["client_id"].as_str().unwrap().to_owned();
    let mp_secret = mp_app["client_secret"].as_str().unwrap().to_owned();
    let a = app.seed(7_100_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let before = integrators::Entity::find_by_id(a.integrator.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let post = |form: Vec<(&'static str, String)>| {
        http.post(format!("{}/app/settings", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    // No CSRF token: refused.
    let res = post(vec![("client_id", "123".into()), ("sponsor_id", "".into())])
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Bad values: the form again, with messages, and nothing saved.
    let res = post(vec![
        ("csrf", csrf.clone()),
        ("client_id", "12ab".into()),
        ("client_secret", "has spaces in it".into()),
        ("sponsor_id", "x".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert_eq!(body.matches("class=\"field-error\"").count(), 3, "{body}");
    assert!(
        !body.contains("has spaces in it"),
        "a secret is never echoed"
    );
    let after = integrators::Entity::find_by_id(a.integrator.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before, after);
    // Well-formed, but Mercado Pago does not know this pair: a message, nothing saved.
    let res = post(vec![
        ("csrf", csrf.clone()),
        ("client_id", "987654321".into()),
        ("client_secret", "brand-new-secret-42".into()),
        ("sponsor_id", "5550001".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("class=\"field-error\""), "{body}");
    let after = integrators::Entity::find_by_id(a.integrator.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before, after);
    // Good values (a real application's pair): saved, the secret sealed, never shown again.
    let res = post(vec![
        ("csrf", csrf.clone()),
        ("client_id", mp_client_id.clone()),
        ("client_secret", mp_secret.clone()),
        ("sponsor_id", "5550001".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let saved = integrators::Entity::find_by_id(a.integrator.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.mp_client_id.as_deref(), Some(mp_client_id.as_str()));
    assert_eq!(saved.sponsor_id.as_deref(), Some("5550001"));
    assert!(!saved.mp_client_secret.clone().unwrap().contains(&mp_secret));
    assert_eq!(
        saved.mp_webhook_secret, before.mp_webhook_secret,
        "an empty field keeps the secret"
    );
    let page = http
        .get(format!("{}/app/settings", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&mp_secret));
    app.web.stop().await;
    sandbox.stop().await;
}

async fn login_guards_and_headers(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    create_integrator(
        &app.state.db,
        &app.keyring,
        NewIntegrator {
            name: "Acme".into(),
            owner_email: "ana@acme.test".into(),
            owner_name: "Ana".into(),
            owner_password: "correct horse battery".into(),
            mp_app: None,
            is_demo: false,
        },
    )
    .await
    .unwrap();
    let http = client();
    let res = http
        .get(format!("{}/app/sellers?q=x", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/app/login?next=%2Fapp%2Fsellers%3Fq%3Dx"
    );

    let res = http
        .get(format!("{}/app/login", app.url))
        .send()
        .await
        .unwrap();
    for h in [
        "content-security-policy",
        "x-frame-options",
        "referrer-policy",
        "x-content-type-options",
    ] {
        assert!(res.headers().contains_key(h), "{h}");
    }
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let anon = set_cookie.split(';').next().unwrap().to_owned();
    let token = anon.split_once('=').unwrap().1.to_owned();

    let login_to = |csrf: &str, pw: &str, next: &str| {
        http.post(format!("{}/app/login", app.url))
            .header("cookie", &anon)
            .form(&[
                ("csrf", csrf),
                ("email", "ana@acme.test"),
                ("password", pw),
                ("next", next),
            ])
            .send()
    };
    let login = |csrf: &str, pw: &str| login_to(csrf, pw, "/app/sellers");
    assert_eq!(
        login("forged", "correct horse battery")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(login(&token, "wrong password").await.unwrap().status(), 401);
    let ok = login(&token, "correct horse battery").await.unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/app/sellers");
    // A `next` with control characters (a header injection attempt) or
    // leading elsewhere: logged in all the same, sent home.
    for next in [
        "/app/sellers\r\nSet-Cookie: x=1",
        "/app\n",
        "/app/\tsellers",
        "//evil.example/app",
        "https://evil.example/",
    ] {
        let res = login_to(&token, "correct horse battery", next)
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(res.headers()["location"], "/app", "{next:?}");
        assert!(
            res.headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap_or("").starts_with("x=")),
            "{next:?}"
        );
    }
    let session = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(session.starts_with("puente_session=") && session.contains("HttpOnly"));
    let cookie = session.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{}/app/sellers", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // Logging out needs the session's CSRF token, then ends the session.
    let res = http
        .post(format!("{}/app/logout", app.url))
        .header("cookie", &cookie)
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    app.web.stop().await;
}

async fn seller_failure_pages(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let http = client();
    for (path, status, outcome) in [
        ("/onboard/not-a-token", 404, "link_not_found"),
        (
            "/onboard/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            404,
            "link_not_found",
        ),
        // Not from a flow this browser started: refused before anything.
        (
            "/oauth/callback?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code=TG-1",
            400,
            "state_other_browser",
        ),
        ("/oauth/callback?error=access_denied", 404, "state_unknown"),
    ] {
        let res = http
            .get(format!("{}{path}", app.url))
            .header("accept-language", "pt-BR")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains(&format!("data-outcome=\"{outcome}\"")),
            "{path}: {body}"
        );
        assert!(
            body.contains("lang=\"pt-BR\""),
            "{path}: in the browser's language"
        );
    }
    app.web.stop().await;
}

/// The OAuth `state` is bound to the browser that set out for Mercado
/// Pago: the callback without that browser's cookie is refused and leaves
/// the attempt as it was; with it, the attempt goes on.
async fn oauth_state_is_bound_to_the_browser(t: &TestDb) {
    use platform_core::audit::Actor;
    use platform_core::onboarding::{self, NewLink};
    use platform_core::tenancy::Scope;
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(6_400_000).await;
    let scope = Scope::integrator(a.integrator.clone());
    let (_, token) = onboarding::create_link(
        &app.state.db,
        &scope,
        &Actor::system(),
        NewLink {
            label: "Shop".into(),
            ttl_hours: 24,
            seller_id: None,
        },
        None,
    )
    .await
    .unwrap();
    let token = token.expose_secret().clone();
    let http = client();
    let cookie_of = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .map(|v| v.to_owned())
    };
    let landing = http
        .get(format!("{}/onboard/{token}", app.url))
        .send()
        .await
        .unwrap();
    let anon = cookie_of(&landing, "puente_csrf").expect("anonymous CSRF cookie");
    let anon = anon.split(';').next().unwrap().to_owned();
    let page = landing.text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = page[at..].split('"').next().unwrap().to_owned();
    let go = http
        .post(format!("{}/onboard/{token}", app.url))
        .header("cookie", format!("puente_csrf={anon}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(go.status(), 303);
    let location = reqwest::Url::parse(go.headers()["location"].to_str().unwrap()).unwrap();
    let state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state in the authorization URL");
    let bound = cookie_of(&go, "puente_oauth_state").expect("state cookie");
    assert!(bound.starts_with(&format!("{state};")), "{bound}");
    assert!(
        bound.contains("HttpOnly") && bound.contains("SameSite=Lax"),
        "{bound}"
    );
    assert!(bound.contains("Path=/oauth/callback"), "{bound}");

    let callback = |cookie: Option<String>| {
        let mut req = http.get(format!(
            "{}/oauth/callback?state={state}&code=TG-not-a-code",
            app.url
        ));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    // Another browser (no cookie, or another attempt's): refused, and the
    // attempt is not spent.
    for other in [
        None,
        Some("puente_oauth_state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned()),
    ] {
        let res = callback(other).await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("data-outcome=\"state_other_browser\"")
        );
    }
    // This browser: the attempt goes on to the code exchange (no Mercado
    // Pago answers in this test: upstream_down).
    let res = callback(Some(format!("puente_oauth_state={state}")))
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(!body.contains("state_other_browser"), "{body}");
    assert!(body.contains("data-outcome=\"upstream_down\""), "{body}");
    app.web.stop().await;
}

/// `PUENTE_SIGNUP=closed`: no sign-up page, no link to it; open: a client
/// network makes at most `SIGNUPS_PER_HOUR` accounts.
async fn signup_can_be_closed_and_is_throttled(t: &TestDb) {
    let http = client();
    let closed = TestApp::start(t, |r| r.signup = Some("closed".into())).await;
    for res in [
        http.get(format!("{}/app/signup", closed.url))
            .send()
            .await
            .unwrap(),
        http.post(format!("{}/app/signup", closed.url))
            .form(&[("company", "Nope")])
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(res.status(), 404);
    }
    let login = http
        .get(format!("{}/app/login", closed.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!login.contains("href=\"/app/signup\""), "{login}");
    closed.web.stop().await;

    let app = TestApp::start(t, |_| {}).await;
    let form = http
        .get(format!("{}/app/signup", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let anon = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = anon.split_once('=').unwrap().1.to_owned();
    let sign_up = |i: usize| {
        http.post(format!("{}/app/signup", app.url))
            .header("cookie", &anon)
            .form(&[
                ("csrf", csrf.clone()),
                ("company", format!("Spam {i}")),
                ("name", "Spammer".to_owned()),
                ("email", format!("spam{i}@example.com")),
                ("password", "a long enough password".to_owned()),
                ("password2", "a long enough password".to_owned()),
            ])
            .send()
    };
    let before = integrators::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .len();
    let allowed = platform_web::state::SIGNUPS_PER_HOUR as usize;
    for i in 0..allowed {
        assert_eq!(sign_up(i).await.unwrap().status(), 303, "sign-up {i}");
    }
    let res = sign_up(allowed).await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.text().await.unwrap().contains("id=\"signup-error\""));
    let after = integrators::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .len();
    assert_eq!(after, before + allowed);
    app.web.stop().await;
}

on_both_databases!(
    signup_can_be_closed_and_is_throttled,
    oauth_state_is_bound_to_the_browser,
    another_integrators_ids_are_404,
    settings_form_rejects_and_changes_nothing,
    login_guards_and_headers,
    seller_failure_pages
);
