//! The dashboard's payment-intent and API-key pages over HTTP on both
//! databases: every form refuses bad input with a message on the form and
//! changes nothing; good input creates, cancels and revokes; the live stream
//! carries only the session's own intents.

use crate::common;

use std::time::Duration;

use common::{TestApp, session_for};
use platform_core::entities::{api_keys, payment_intent_events, payment_intents};
use platform_core::on_both_databases;
use platform_core::states::{EventSource, IntentStatus, UpstreamApi};
use platform_core::testing::TestDb;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn intents_of(app: &TestApp, integrator: &str) -> u64 {
    payment_intents::Entity::find()
        .filter(payment_intents::Column::IntegratorId.eq(integrator))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn keys_of(app: &TestApp, integrator: &str) -> u64 {
    api_keys::Entity::find()
        .filter(api_keys::Column::IntegratorId.eq(integrator))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn intent_form_cancel_and_stream(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_200_000).await;
    let b = app.seed(7_300_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        http.post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let (before_a, before_b) = (
        intents_of(&app, a.integrator.as_str()).await,
        intents_of(&app, b.integrator.as_str()).await,
    );

    let form = |terminal: &str, amount: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("terminal", terminal.to_owned()),
            ("amount", amount.to_owned()),
            ("description", "Café".to_owned()),
        ]
    };
    // No CSRF token: refused.
    let mut no_csrf = form(a.other_terminal.as_str(), "25.00");
    no_csrf.remove(0);
    assert_eq!(post("/app/intents", no_csrf).await.unwrap().status(), 403);
    // Each bad input: the form again with its message, nothing created.
    for (f, status, needle) in [
        (form("", "abc"), 422, "class=\"field-error\""),
        (
            form(a.other_terminal.as_str(), "0.50"),
            422,
            "1.00 – 70000.00 BRL",
        ),
        (
            form(b.terminal.as_str(), "25.00"),
            422,
            "class=\"field-error\"",
        ),
        (
            form(a.terminal.as_str(), "25.00"),
            409,
            "id=\"intent-form-error\"",
        ),
    ] {
        let res = post("/app/intents", f.clone()).await.unwrap();
        assert_eq!(res.status(), status, "{f:?}");
        let body = res.text().await.unwrap();
        assert!(body.contains(needle), "{f:?}: {body}");
        assert!(body.contains("id=\"intent-form\""), "shown on the form");
    }
    let res = post("/app/intents", form("", "abc")).await.unwrap();
    assert_eq!(
        res.text()
            .await
            .unwrap()
            .matches("class=\"field-error\"")
            .count(),
        2
    );
    let mut long = form(a.other_terminal.as_str(), "25");
    long[3].1 = "x".repeat(151);
    assert_eq!(post("/app/intents", long).await.unwrap().status(), 422);
    assert_eq!(intents_of(&app, a.integrator.as_str()).await, before_a);
    assert_eq!(intents_of(&app, b.integrator.as_str()).await, before_b);

    // The live stream: only this integrator's changes.
    let mut stream = http
        .get(format!("{}/app/intents/stream", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("retry:"));

    // Good input: created from the dashboard, queued, then canceled.
    let res = post("/app/intents", form(a.other_terminal.as_str(), "25,5"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location.strip_prefix("/app/intents/").unwrap().to_owned();
    let row = payment_intents::Entity::find_by_id(
        platform_core::id::PaymentIntentId::parse(&id).unwrap(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!((row.amount, row.status), (2550, IntentStatus::Queued));
    assert_eq!(row.sponsor_id.as_deref(), Some("7200000"));
    let event = payment_intent_events::Entity::find()
        .filter(payment_intent_events::Column::IntentId.eq(id.clone()))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.source, EventSource::Dashboard);

    let _ = app
        .state
        .queue
        .notify(platform_core::jobs::INTENT_CHANGED, b.intent.as_str())
        .await;
    let _ = app
        .state
        .queue
        .notify(platform_core::jobs::INTENT_CHANGED, &id)
        .await;
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(&id) {
            let chunk = stream.chunk().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the change arrives on the stream");
    assert!(seen.contains("event: intent") && seen.contains("\"status\":\"queued\""));
    assert!(
        !seen.contains(b.intent.as_str()),
        "another integrator's intent: {seen}"
    );
    drop(stream);

    let page = http
        .get(format!("{}{location}", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-status=\"queued\"") && page.contains("id=\"cancel-intent\""));
    let cancel = format!("/app/intents/{id}/cancel");
    assert_eq!(
        post(&cancel, vec![("csrf", "forged".into())])
            .await
            .unwrap()
            .status(),
        403
    );
    let res = post(&cancel, vec![("csrf", csrf.clone())]).await.unwrap();
    assert_eq!(res.status(), 303);
    let row = payment_intents::Entity::find_by_id(
        platform_core::id::PaymentIntentId::parse(&id).unwrap(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.status, IntentStatus::Canceled);
    // Canceling again: refused on the page, nothing changes.
    let res = post(&cancel, vec![("csrf", csrf.clone())]).await.unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("id=\"cancel-error\""));
    let again = payment_intents::Entity::find_by_id(
        platform_core::id::PaymentIntentId::parse(&id).unwrap(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(again, row);

    // The list with filters, and its empty state.
    for (q, present) in [
        ("status=canceled".to_owned(), true),
        ("status=processed".to_owned(), false),
        (format!("terminal={}", a.other_terminal), true),
        ("from=not-a-date".to_owned(), true),
    ] {
        let body = http
            .get(format!("{}/app/intents?{q}", app.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body.contains(&id), present, "{q}");
    }
    app.web.stop().await;
}

async fn api_key_form_creates_once_and_revokes(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_400_000).await;
    let b = app.seed(7_500_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        http.post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let before = keys_of(&app, a.integrator.as_str()).await;
    let form = |name: &str, target: &str, mode: &str, expiry: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", name.to_owned()),
            ("target", target.to_owned()),
            ("mode", mode.to_owned()),
            ("expiry_days", expiry.to_owned()),
        ]
    };
    let mut no_csrf = form("Caja", "integrator", "test", "0");
    no_csrf.remove(0);
    assert_eq!(post("/app/api-keys", no_csrf).await.unwrap().status(), 403);
    let res = post("/app/api-keys", form(" ", "org:x", "gold", "7"))
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert_eq!(body.matches("class=\"field-error\"").count(), 4, "{body}");
    for foreign in [
        format!("seller:{}", b.seller),
        format!("store:{}", b.store),
        format!("pos:{}", b.pos),
    ] {
        let res = post("/app/api-keys", form("Caja", &foreign, "test", "30"))
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{foreign}");
        assert!(!res.text().await.unwrap().contains("id=\"api-key\""));
    }
    assert_eq!(keys_of(&app, a.integrator.as_str()).await, before);

    let res = post(
        "/app/api-keys",
        form("Caja 1", &format!("pos:{}", a.pos), "test", "30"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let body = res.text().await.unwrap();
    let key = body
        .split("id=\"api-key\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    assert!(key.starts_with("pk_test_"), "{key}");
    let row = api_keys::Entity::find()
        .filter(api_keys::Column::IntegratorId.eq(a.integrator.clone()))
        .filter(api_keys::Column::Name.eq("Caja 1"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.pos_id.as_ref(), Some(&a.pos));
    assert_eq!(row.store_id.as_ref(), Some(&a.store));
    assert!(row.expires_at.is_some());
    // It works on the API, limited to its POS.
    let res = app.get(&key, "/v1/payment-intents").send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Shown once: the list has the prefix, never the key.
    let list = http
        .get(format!("{}/app/api-keys", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(&row.prefix) && !list.contains(&key));

    let revoke = format!("/app/api-keys/{}/revoke", row.id);
    assert_eq!(
        post(&revoke, vec![("csrf", "x".into())])
            .await
            .unwrap()
            .status(),
        403
    );
    let res = post(&revoke, vec![("csrf", csrf.clone())]).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/app/api-keys?done=key_revoked");
    let res = app.get(&key, "/v1/payment-intents").send().await.unwrap();
    assert_eq!(res.status(), 401);
    app.web.stop().await;
}

async fn refund_form(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_800_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let post = |amount: &str| {
        http.post(format!("{}/app/intents/{}/refunds", app.url, a.intent))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("amount", amount)])
            .send()
    };
    let refunds_of = || async {
        platform_core::entities::refunds::Entity::find()
            .filter(platform_core::entities::refunds::Column::IntentId.eq(a.intent.clone()))
            .all(&app.state.db)
            .await
            .unwrap()
    };
    let before = refunds_of().await.len();
    // Not processed yet: refused on the page.
    let res = post("").await.unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("id=\"refund-error\""));
    platform_core::intents::transition(
        &app.state.db,
        &a.intent,
        IntentStatus::Processed,
        Default::default(),
        EventSource::Worker,
    )
    .await
    .unwrap();
    // A terminal payment made through the legacy upstream is refundable the
    // same way (the worker refunds its payment instead of an order).
    payment_intents::Entity::update_many()
        .col_expr(
            payment_intents::Column::UpstreamApi,
            Expr::value(UpstreamApi::Legacy),
        )
        .filter(payment_intents::Column::Id.eq(a.intent.clone()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let page = http
        .get(format!("{}/app/intents/{}", app.url, a.intent))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"refund-form\"") && page.contains("value=\"10.00\""));
    for (bad, status) in [("abc", 422), ("-1", 422), ("10.01", 422)] {
        let res = post(bad).await.unwrap();
        assert_eq!(res.status(), status, "{bad}");
        let body = res.text().await.unwrap();
        assert!(body.contains("id=\"refund-error\""), "{bad}");
        assert!(
            body.contains(&format!("value=\"{bad}\"")),
            "{bad}: kept on the form"
        );
    }
    assert_eq!(refunds_of().await.len(), before);
    // The seeded refund took 5.00 already; partial, then the rest. The
    // partial one double-clicked (one form key, two submits at once) and
    // the answer reloaded: one refund.
    let key = form_key_of(&page);
    let keyed = || {
        http.post(format!("{}/app/intents/{}/refunds", app.url, a.intent))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("amount", "5"),
                ("form_key", key.as_str()),
            ])
            .send()
    };
    let (one, two) = tokio::join!(keyed(), keyed());
    for res in [one.unwrap(), two.unwrap(), keyed().await.unwrap()] {
        assert_eq!(res.status(), 303);
        assert_eq!(
            res.headers()["location"],
            format!("/app/intents/{}?done=refund_requested", a.intent).as_str()
        );
    }
    assert_eq!(post("").await.unwrap().status(), 303);
    let amounts: Vec<i64> = refunds_of().await.iter().map(|r| r.amount).collect();
    assert_eq!(&amounts[before..], &[500, 500]);
    // Nothing left: the form is gone and a forged post is refused.
    assert_eq!(post("1").await.unwrap().status(), 422);
    app.web.stop().await;
}

/// The `form_key` a rendered payment form carries.
fn form_key_of(page: &str) -> String {
    let at = page
        .find("name=\"form_key\" value=\"")
        .expect("the form carries a key")
        + "name=\"form_key\" value=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// A double click, a resent POST or a reload of the answer: one payment,
/// and every submit of that form lands on it.
async fn new_payment_form_is_sent_once(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let a = app.seed(7_900_000).await;
    let (cookie, csrf) = session_for(&app, &a.user).await;
    let http = client();
    let new_form = || async {
        http.get(format!("{}/app/intents/new", app.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let post = |key: &str, amount: &str| {
        http.post(format!("{}/app/intents", app.url))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("terminal", a.other_terminal.as_str()),
                ("amount", amount),
                ("description", "Café"),
                ("form_key", key),
            ])
            .send()
    };
    let before = intents_of(&app, a.integrator.as_str()).await;
    let key = form_key_of(&new_form().await);
    assert_ne!(key, form_key_of(&new_form().await), "a key per rendering");

    // A refusal keeps nothing: the corrected form goes through with its
    // new key, and the refused key is not spent either.
    let res = post(&key, "abc").await.unwrap();
    assert_eq!(res.status(), 422);
    let fresh = form_key_of(&res.text().await.unwrap());
    assert_ne!(fresh, key, "the form comes back with a new key");

    // Two submits at once with one key: one intent, both answered with it.
    let (one, two) = tokio::join!(post(&fresh, "12.00"), post(&fresh, "12.00"));
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!((one.status().as_u16(), two.status().as_u16()), (303, 303));
    let location = one.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/app/intents/pi_"), "{location}");
    assert_eq!(two.headers()["location"], location.as_str());
    assert_eq!(intents_of(&app, a.integrator.as_str()).await, before + 1);
    // Sent again later (a reload of the answer): the same payment.
    let again = post(&fresh, "12.00").await.unwrap();
    assert_eq!(again.headers()["location"], location.as_str());
    // The same form edited after going back: refused, nothing made.
    let edited = post(&fresh, "13.00").await.unwrap();
    assert_eq!(edited.status(), 409);
    let body = edited.text().await.unwrap();
    assert!(body.contains("id=\"intent-form-error\""), "{body}");
    assert_ne!(form_key_of(&body), fresh);
    assert_eq!(intents_of(&app, a.integrator.as_str()).await, before + 1);
    app.web.stop().await;
}

on_both_databases!(
    intent_form_cancel_and_stream,
    new_payment_form_is_sent_once,
    api_key_form_creates_once_and_revokes,
    refund_form
);
