//! The fleet view on both databases: each terminal's last payment, last
//! error and charges today in the terminals list and on its page, and the
//! flags for a STANDALONE terminal and for one whose last charges failed.

use crate::common;

use common::{TestApp, session_for};
use platform_core::entities::terminals;
use platform_core::id::TerminalId;
use platform_core::intents::UpstreamFacts;
use platform_core::on_both_databases;
use platform_core::states::{IntentStatus, OperatingMode};
use platform_core::tenancy::Scope;
use platform_core::testing::{self, TestDb};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

async fn charge(
    app: &TestApp,
    scope: &Scope,
    terminal: &TerminalId,
    amount: i64,
    outcome: IntentStatus,
    detail: &str,
) {
    let facts = UpstreamFacts {
        status_detail: Some(detail.into()),
        ..Default::default()
    };
    testing::charge(
        &app.state.db,
        scope,
        terminal,
        testing::new_intent(amount),
        outcome,
        facts,
    )
    .await;
}

async fn fleet_view_shows_health_and_flags(t: &TestDb) {
    let app = TestApp::start(t, |_| {}).await;
    let s = app.seed(900).await;
    let scope = Scope::integrator(s.integrator.clone());
    testing::end_intents(&app.state.db, &[&s.intent]).await;
    // The first terminal: a payment, then three declines in a row.
    charge(
        &app,
        &scope,
        &s.terminal,
        2_500,
        IntentStatus::Processed,
        "accredited",
    )
    .await;
    for _ in 0..3 {
        charge(
            &app,
            &scope,
            &s.terminal,
            900,
            IntentStatus::Failed,
            "rejected_by_issuer",
        )
        .await;
    }
    // The other: paid once, then left in STANDALONE.
    charge(
        &app,
        &scope,
        &s.other_terminal,
        4_000,
        IntentStatus::Processed,
        "accredited",
    )
    .await;
    let other = terminals::Entity::find_by_id(s.other_terminal.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut other = other.into_active_model();
    other.operating_mode = Set(OperatingMode::Standalone);
    other.update(&app.state.db).await.unwrap();

    let (cookie, _) = session_for(&app, &s.user).await;
    let get = |path: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let res = app
                .http
                .get(format!("{}{path}", app.url))
                .header("cookie", cookie)
                .header("accept-language", "en")
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, html) = get("/app/terminals".into()).await;
    assert_eq!(status, 200);
    let row = |id: &str| {
        let start = html
            .find(&format!(r#"data-terminal="{id}""#))
            .expect("a row");
        let end = html[start..].find("</tr>").unwrap() + start;
        html[start..end].to_owned()
    };
    let failing = row(s.terminal.as_str());
    assert!(failing.contains("25.00 BRL"), "last payment: {failing}");
    assert!(
        failing.contains("rejected_by_issuer"),
        "last error: {failing}"
    );
    assert!(failing.contains(r#"data-flag="failing""#), "{failing}");
    assert!(!failing.contains("not_integrated"));
    assert!(
        failing.contains("<td data-label=\"Charges today\">5</td>"),
        "the seeded intent and four: {failing}"
    );
    let standalone = row(s.other_terminal.as_str());
    assert!(standalone.contains("40.00 BRL"));
    assert!(
        standalone.contains(r#"data-flag="not_integrated""#),
        "{standalone}"
    );
    assert!(!standalone.contains(r#"data-flag="failing""#));

    let (status, page) = get(format!("/app/terminals/{}", s.terminal)).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<dd id="intents-today">5</dd>"#), "{page}");
    assert!(page.contains(r#"role="status" data-flag="failing""#));
    assert!(page.contains("The last 3 charges on this terminal failed"));

    // A success ends the streak.
    charge(
        &app,
        &scope,
        &s.terminal,
        1_000,
        IntentStatus::Processed,
        "accredited",
    )
    .await;
    let (_, page) = get(format!("/app/terminals/{}", s.terminal)).await;
    assert!(!page.contains(r#"data-flag="failing""#));
    assert!(page.contains("10.00 BRL"));
}

on_both_databases!(fleet_view_shows_health_and_flags);
