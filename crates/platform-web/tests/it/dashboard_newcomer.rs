//! What a newcomer tripped over in the dashboard (issue 14, item 5), over
//! HTTP on both databases: the intent page's stream starts with the current
//! state, the login page's language switch and Accept-Language fallback,
//! nicknames instead of ids in lists, saving an unchanged terminal mode,
//! STANDALONE terminals shown disabled on the payment form, the payment
//! button on a terminal's page, the favicon, where test credentials come
//! from, and a shutdown that does not wait for open streams.

use crate::common;

use std::time::{Duration, Instant};

use common::{TestApp, session_for};
use platform_core::entities::{onboarding_links, payment_intents, sellers, terminals};
use platform_core::on_both_databases;
use platform_core::states::{IntentStatus, OnboardingLinkStatus, OperatingMode};
use platform_core::testing::TestDb;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = client()
        .get(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Reads the stream until `needle` shows up (or 5 s pass); returns all read.
async fn read_until(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains(needle) {
            match stream.chunk().await {
                Ok(Some(c)) => seen.push_str(&String::from_utf8_lossy(&c)),
                _ => break,
            }
        }
    })
    .await;
    seen
}

async fn intent_stream_starts_with_the_current_state(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(8_100_000).await;
    let b = app.seed(8_200_000).await;
    let (cookie, _) = session_for(&app, &a.user).await;

    // The page was rendered while the intent was queued; then it moved (a
    // refund and its status commit, say) and the announcement went out
    // before the page's stream connected. Nothing will announce it again.
    let row = payment_intents::Entity::find_by_id(a.intent.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut moved = row.into_active_model();
    moved.status = Set(IntentStatus::Refunded);
    moved.update(&app.state.db).await.unwrap();

    let mut stream = client()
        .get(format!(
            "{}/app/intents/stream?intent={}",
            app.url, a.intent
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let seen = read_until(&mut stream, "\"status\":\"refunded\"").await;
    assert!(seen.starts_with("retry:"), "{seen}");
    assert!(
        seen.contains(&format!("\"id\":\"{}\"", a.intent)) && seen.contains("event: intent"),
        "the current state arrives without any change announced: {seen}"
    );
    drop(stream);

    // Another integrator's intent id: the stream opens but says nothing of it.
    let mut foreign = client()
        .get(format!(
            "{}/app/intents/stream?intent={}",
            app.url, b.intent
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let first = foreign.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("retry:"));
    let next = tokio::time::timeout(Duration::from_millis(700), foreign.chunk()).await;
    assert!(next.is_err(), "nothing about a foreign intent: {next:?}");
    drop(foreign);

    // Stopping the server with a stream open ends it at once, not after
    // the 10 s shutdown timeout.
    let mut open = client()
        .get(format!("{}/app/intents/stream", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let _ = open.chunk().await.unwrap();
    let reader = tokio::spawn(async move {
        let ended = Instant::now();
        while let Ok(Some(_)) = open.chunk().await {}
        ended
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    app.web.stop().await;
    let took = started.elapsed();
    let ended = reader.await.unwrap();
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    assert!(ended.elapsed() < Duration::from_secs(5));
}

async fn login_language_switch_and_fallback(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let http = client();
    let login = |lang: Option<&'static str>| {
        let mut req = http.get(format!("{}/app/login?next=/app/intents", app.url));
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        req.send()
    };
    for (accept, code) in [
        (Some("fr-FR,fr;q=0.9"), "en"),
        (Some("de-DE,de;q=0.8"), "en"),
        (Some("de, pt-BR;q=0.5"), "pt-BR"),
        (Some("es-AR"), "es"),
        (None, "es"),
    ] {
        let body = login(accept).await.unwrap().text().await.unwrap();
        assert!(
            body.contains(&format!("<html lang=\"{code}\">")),
            "{accept:?}: {body}"
        );
        assert!(body.contains("id=\"lang-switch\""));
        assert!(body.contains("rel=\"icon\""), "the favicon is named");
    }
    // The switch keeps where the user was going.
    let body = login(Some("fr")).await.unwrap().text().await.unwrap();
    let href = body
        .split("href=\"/app/lang/pt-BR?next=")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a link to Portuguese")
        .to_owned();
    let res = http
        .get(format!("{}/app/lang/pt-BR?next={href}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/app/login?next=%2Fapp%2Fintents"
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("puente_lang=pt-BR"), "{cookie}");
    let body = http
        .get(format!("{}/app/login?next=%2Fapp%2Fintents", app.url))
        .header("cookie", "puente_lang=pt-BR")
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("<html lang=\"pt-BR\">"));
    assert!(body.contains("name=\"next\" value=\"/app/intents\""));
    // The sign-up page has the switch too.
    let body = http
        .get(format!("{}/app/signup", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("href=\"/app/lang/en?next=%2Fapp%2Fsignup\""));

    // The favicon: our own SVG, no 404.
    for path in ["/static/favicon.svg", "/favicon.ico"] {
        let res = http.get(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "image/svg+xml");
        assert!(res.text().await.unwrap().starts_with("<svg"));
    }
    app.web.stop().await;
}

async fn lists_terminals_and_payment_form(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(8_300_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let db = &app.state.db;
    let nickname = |id: &str| {
        let id = id.to_owned();
        async move {
            sellers::Entity::find_by_id(platform_core::id::SellerId::parse(&id).unwrap())
                .one(db)
                .await
                .unwrap()
                .unwrap()
                .nickname
        }
    };
    let (seller_nick, other_nick) = (
        nickname(a.seller.as_str()).await,
        nickname(a.other_seller.as_str()).await,
    );

    // A used link names its seller by nickname.
    let link = onboarding_links::Entity::find_by_id(a.link.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut used = link.into_active_model();
    used.status = Set(OnboardingLinkStatus::Used);
    used.seller_id = Set(Some(a.seller.clone()));
    used.update(db).await.unwrap();
    let (status, body) = page(&app, &cookie, "/app/links").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!(
            "<a href=\"/app/sellers/{}\">{seller_nick}</a>",
            a.seller
        )),
        "{body}"
    );
    assert!(!body.contains(&format!(">{}</a>", a.seller)));

    let (_, body) = page(&app, &cookie, "/app/terminals").await;
    for (id, nick) in [(&a.seller, &seller_nick), (&a.other_seller, &other_nick)] {
        assert!(body.contains(&format!("<a href=\"/app/sellers/{id}\">{nick}</a>")));
        assert!(!body.contains(&format!(">{id}</a>")), "an id shown: {body}");
    }

    // Saving the mode a terminal already has: said so, no restart asked,
    // Mercado Pago not called (the seeded seller's upstream is unreachable,
    // so a call would have answered with an error page).
    let res = client()
        .post(format!("{}/app/terminals/{}/mode", app.url, a.terminal))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("mode", "PDV")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("done=mode_unchanged"), "{location}");
    let (_, body) = page(&app, &cookie, &location).await;
    assert!(!body.contains("id=\"restart-notice\""), "{body}");
    assert!(body.contains("The terminal was already in that mode") || body.contains("ya estaba"));
    let row = terminals::Entity::find_by_id(a.terminal.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.operating_mode, OperatingMode::Pdv);

    // A PDV terminal's page starts a payment on it.
    assert!(body.contains(&format!(
        "id=\"new-payment\" href=\"/app/intents/new?terminal={}\"",
        a.terminal
    )));

    // A STANDALONE terminal: on the form, disabled, with why.
    let other = terminals::Entity::find_by_id(a.other_terminal.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut standalone = other.into_active_model();
    standalone.operating_mode = Set(OperatingMode::Standalone);
    standalone.update(db).await.unwrap();
    let (status, body) = page(
        &app,
        &cookie,
        &format!("/app/intents/new?terminal={}", a.terminal),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!(
            "<option value=\"{}\" disabled data-mode=\"STANDALONE\">",
            a.other_terminal
        )),
        "{body}"
    );
    assert!(body.contains(&format!("<option value=\"{}\" selected>", a.terminal)));
    assert!(body.contains("id=\"standalone-why\""));
    let (_, body) = page(
        &app,
        &cookie,
        &format!("/app/terminals/{}", a.other_terminal),
    )
    .await;
    assert!(body.contains("id=\"new-payment-standalone\"") && !body.contains("id=\"new-payment\""));
    app.web.stop().await;
}

async fn test_sellers_page_says_where_credentials_come_from(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    if !app.state.settings.sandbox_mode() {
        panic!("the default test settings are sandbox mode");
    }
    let a = app.seed(8_400_000).await;
    let (cookie, _) = session_for(&app, &a.user).await;
    let (status, body) = page(&app, &cookie, "/app/test-sellers").await;
    assert_eq!(status, 200, "{body}");
    let console = format!("{}/sandbox", app.state.sandbox_url.as_deref().unwrap());
    assert!(body.contains("id=\"test-credentials-help\""), "{body}");
    assert!(body.contains(&format!("<a href=\"{console}\">")), "{body}");
    app.web.stop().await;
}

on_both_databases!(
    intent_stream_starts_with_the_current_state,
    login_language_switch_and_fallback,
    lists_terminals_and_payment_form,
    test_sellers_page_says_where_credentials_come_from
);
