//! Integrator automation over the API against the sandbox: switching a
//! terminal's mode (mirrored to Mercado Pago) and onboarding links.

use crate::common;

use common::{QueueKind, setup};
use platform_core::entities::{events, seller_credentials, sellers};
use platform_core::on_both_databases;
use platform_core::states::LinkStatus;
use platform_core::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

async fn terminal_mode_and_onboarding_links(t: &TestDb) {
    let env = setup(t, QueueKind::Memory).await;
    let patch = |body: serde_json::Value| {
        env.http
            .patch(format!("{}/v1/terminals/{}", env.url, env.terminal_id))
            .bearer_auth(&env.key)
            .json(&body)
            .send()
    };
    let res = patch(json!({"operating_mode": "STANDALONE"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (
            t["operating_mode"].as_str(),
            t["restart_required"].as_bool()
        ),
        (Some("STANDALONE"), Some(true))
    );
    // Mirrored at Mercado Pago.
    let token = platform_core::credentials::access_token(&env.ctx.db, &env.keyring, &env.seller_id)
        .await
        .unwrap();
    let (list, _) = env
        .ctx
        .mp
        .list_terminals(&token.token, &Default::default())
        .await
        .unwrap();
    let upstream = list.iter().find(|x| x.id == env.device_id).unwrap();
    assert_eq!(
        format!("{:?}", upstream.operating_mode).to_uppercase(),
        "SOME(STANDALONE)"
    );
    // A standalone terminal does not take intents from a POS.
    let (st, b) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 1000}))
        .await;
    assert_eq!(
        (st, b["code"].as_str()),
        (409, Some("terminal_not_integrated"))
    );
    // Bad input changes nothing.
    let res = patch(json!({"operating_mode": "TURBO"})).await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        patch(json!({"operating_mode": "PDV"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let (st, _) = env
        .create_intent(json!({"terminal_id": env.terminal_id, "amount": 1000}))
        .await;
    assert_eq!(st, 201);

    // Onboarding links: created with a URL shown once, listed without it, revoked.
    let res = env
        .http
        .post(format!("{}/v1/onboarding-links", env.url))
        .bearer_auth(&env.key)
        .json(&json!({"label": "Panadería Sol", "expires_in_hours": 24}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let link: serde_json::Value = res.json().await.unwrap();
    // Built on PUENTE_PUBLIC_URL (the default here); this test's server has a random port.
    let shown = link["url"].as_str().unwrap();
    let path = shown
        .strip_prefix("http://127.0.0.1:8080")
        .expect("public URL");
    assert!(path.starts_with("/onboard/"), "{shown}");
    let url = &format!("{}{path}", env.url);
    let page = env.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the seller's landing page opens");
    let list: serde_json::Value = env
        .http
        .get(format!("{}/v1/onboarding-links", env.url))
        .bearer_auth(&env.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["label"], "Panadería Sol");
    assert!(list["data"][0].get("url").is_none());
    let res = env
        .http
        .delete(format!(
            "{}/v1/onboarding-links/{}",
            env.url,
            link["id"].as_str().unwrap()
        ))
        .bearer_auth(&env.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_ne!(
        env.http.get(url).send().await.unwrap().status(),
        200,
        "a revoked link no longer opens"
    );
    let bad = env
        .http
        .post(format!("{}/v1/onboarding-links", env.url))
        .bearer_auth(&env.key)
        .json(&json!({"expires_in_hours": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    // A QR order on the seller's POS: the integrator's sponsor, not the POS's.
    let pos = platform_core::entities::pos::Entity::find()
        .all(&env.ctx.db)
        .await
        .unwrap();
    assert!(
        pos.is_empty(),
        "the harness links terminals without POS rows"
    );
    // Mirror the sandbox's store and POS the way a registry sync would.
    let sync = platform_core::registry::sync_seller(
        &env.ctx.db,
        &env.keyring,
        &env.ctx.mp,
        &platform_core::tenancy::Scope::integrator(env.integrator_id.clone()),
        &env.seller_id,
        platform_core::states::UpstreamApi::Orders,
        &platform_core::audit::Actor::system(),
    )
    .await;
    assert!(sync.is_ok(), "{sync:?}");
    let pos = platform_core::entities::pos::Entity::find()
        .one(&env.ctx.db)
        .await
        .unwrap()
        .expect("a POS after sync");
    let put = |b: serde_json::Value| {
        env.http
            .put(format!("{}/v1/pos/{}/qr-order", env.url, pos.id))
            .bearer_auth(&env.key)
            .json(&b)
            .send()
    };
    let res = put(json!({"title": "Mesa 4", "total_amount": 4200, "sponsor": {"id": 1}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let token = platform_core::credentials::access_token(&env.ctx.db, &env.keyring, &env.seller_id)
        .await
        .unwrap();
    let upstream = env
        .ctx
        .mp
        .get_qr_order(
            &token.token,
            env.seller["user_id"].as_u64().unwrap(),
            &pos.external_id,
        )
        .await
        .unwrap();
    assert_eq!(
        upstream.sponsor.map(|s| s.id),
        Some(999000),
        "the integrator's sponsor"
    );
    assert_eq!(upstream.total_amount_cents(), Some(4200));
    let got: serde_json::Value = env
        .http
        .get(format!("{}/v1/pos/{}/qr-order", env.url, pos.id))
        .bearer_auth(&env.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "active");
    assert_eq!(
        put(json!({"title": "", "total_amount": 4200}))
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        put(json!({"title": "x", "total_amount": 1}))
            .await
            .unwrap()
            .status(),
        422
    );
    let res = env
        .http
        .delete(format!("{}/v1/pos/{}/qr-order", env.url, pos.id))
        .bearer_auth(&env.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        env.ctx
            .mp
            .get_qr_order(
                &token.token,
                env.seller["user_id"].as_u64().unwrap(),
                &pos.external_id
            )
            .await
            .is_err()
    );

    // Both mode switches became integrator events.
    let kinds = event_types(&env).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "terminal.mode_changed")
            .count(),
        2,
        "{kinds:?}"
    );

    // The seller removes the app at Mercado Pago: the signed mp-connect
    // notification unlinks it here and tells the integrator.
    let res = env
        .http
        .post(format!(
            "{}/sandbox/sellers/{}/deauthorize",
            env.sandbox.base_url(),
            env.seller["user_id"]
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    common::eventually("the seller is unlinked by mp-connect", || async {
        let s = sellers::Entity::find_by_id(env.seller_id.clone())
            .one(&env.ctx.db)
            .await
            .unwrap()
            .unwrap();
        (s.link_status == LinkStatus::Unlinked).then_some(())
    })
    .await;
    assert!(
        event_types(&env)
            .await
            .contains(&"seller.unlinked".to_owned())
    );
    let creds = seller_credentials::Entity::find()
        .filter(seller_credentials::Column::SellerId.eq(env.seller_id.clone()))
        .one(&env.ctx.db)
        .await
        .unwrap();
    assert!(creds.is_none(), "tokens removed");
    env.shutdown().await;
}

async fn event_types(env: &common::Env) -> Vec<String> {
    events::Entity::find()
        .all(&env.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

on_both_databases!(terminal_mode_and_onboarding_links);
