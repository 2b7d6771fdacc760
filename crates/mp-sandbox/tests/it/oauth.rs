//! OAuth: consent page, /sandbox/authorize, /oauth/token grants, PKCE, rotation, revocation.

use crate::common;
use base64::Engine;
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

const REDIRECT: &str = "https://puente.example/oauth/callback";

async fn app(c: &Ctx, webhook: Option<&str>) -> Value {
    c.post(
        "/sandbox/applications",
        None,
        json!({"redirect_uris": [REDIRECT], "webhook_url": webhook}),
    )
    .await
    .body
}

fn auth_query(app: &Value, extra: &str) -> String {
    format!(
        "client_id={}&response_type=code&platform_id=mp&state=st-123&redirect_uri={}{extra}",
        app["client_id"].as_str().unwrap(),
        "https%3A%2F%2Fpuente.example%2Foauth%2Fcallback"
    )
}

fn code_of(redirect: &str) -> String {
    let q = redirect.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_string()
}

async fn exchange(c: &Ctx, app: &Value, code: &str, verifier: Option<&str>) -> Resp {
    let mut b = json!({"client_id": app["client_id"], "client_secret": app["client_secret"], "grant_type": "authorization_code",
                       "code": code, "redirect_uri": REDIRECT});
    if let Some(v) = verifier {
        b["code_verifier"] = json!(v);
    }
    c.post("/oauth/token", None, b).await
}

#[tokio::test]
async fn consent_page_login_allow_and_deny() {
    let c = start().await;
    let rx = Receiver::start().await;
    let a = app(&c, Some(&rx.url)).await;
    let seller = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLA", "authorize": false}),
        )
        .await
        .body;
    assert!(seller.get("access_token").is_none());
    let r = c
        .http
        .get(c.url(&format!("/authorization?{}", auth_query(&a, ""))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<form") && html.contains("Authorize") && html.contains("Deny"));
    // A newcomer is told where the nickname and password come from.
    assert!(
        html.contains("id=\"where-credentials\"")
            && html.contains("href=\"/sandbox\"")
            && html.contains("Test sellers"),
        "{html}"
    );
    // A redirect_uri that does not match exactly: error page, no redirect.
    let bad = auth_query(&a, "").replace("callback", "callbackX");
    let r = c
        .http
        .get(c.url(&format!("/authorization?{bad}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let mut form: Vec<(String, String)> = vec![
        ("client_id".into(), a["client_id"].as_str().unwrap().into()),
        ("response_type".into(), "code".into()),
        ("platform_id".into(), "mp".into()),
        ("state".into(), "st-123".into()),
        ("redirect_uri".into(), REDIRECT.into()),
        (
            "nickname".into(),
            seller["nickname"].as_str().unwrap().into(),
        ),
        ("password".into(), "wrong".into()),
        ("decision".into(), "allow".into()),
    ];
    let r = c
        .http
        .post(c.url("/authorization"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "wrong password re-renders the form");
    form[6].1 = seller["password"].as_str().unwrap().into();
    let r = c
        .http
        .post(c.url("/authorization"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with(&format!("{REDIRECT}?code=TG-")) && loc.ends_with("&state=st-123"),
        "{loc}"
    );
    let tokens = exchange(&c, &a, &code_of(&loc), None).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.body["user_id"], seller["user_id"]);
    // mp-connect application.authorized, signed with the app's secret.
    let got = rx.wait_count(1).await;
    assert_eq!(got[0].topic.as_deref(), Some("mp-connect"));
    assert_eq!(got[0].body["action"], "application.authorized");
    assert_eq!(got[0].body["user_id"], seller["user_id"]);
    assert!(verify_signature(
        &got[0],
        a["webhook_secret"].as_str().unwrap()
    ));
    form[7].1 = "deny".into();
    let r = c
        .http
        .post(c.url("/authorization"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{REDIRECT}?error=access_denied&state=st-123")
    );
    // Deauthorize: tokens die, application.deauthorized is sent.
    let uid = seller["user_id"].as_u64().unwrap();
    let r = c
        .post(
            &format!("/sandbox/sellers/{uid}/deauthorize"),
            None,
            json!({"client_id": a["client_id"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let got = rx.wait_count(2).await;
    assert_eq!(got[1].body["action"], "application.deauthorized");
    let r = c
        .get("/users/me", tokens.body["access_token"].as_str())
        .await;
    assert_eq!(r.status, 401);
    rx.stop().await;
}

#[tokio::test]
async fn pkce_s256_plain_and_code_rules() {
    let c = start().await;
    let a = app(&c, None).await;
    let s = c.seller("MLB", 1).await;
    let uid = s["user_id"].as_u64().unwrap();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let authorize = |extra: String| {
        let (c, a) = (&c, a.clone());
        async move {
            let q = format!("{}{extra}&user_id={uid}&decision=allow", auth_query(&a, ""));
            let r = c
                .post(&format!("/sandbox/authorize?{q}"), None, json!({}))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            code_of(r.body["redirect_to"].as_str().unwrap())
        }
    };
    let code = authorize(format!(
        "&code_challenge={challenge}&code_challenge_method=S256"
    ))
    .await;
    assert_eq!(
        exchange(&c, &a, &code, None).await.body["error"],
        "invalid_grant"
    );
    assert_eq!(
        exchange(&c, &a, &code, Some(&"a".repeat(43))).await.body["error"],
        "invalid_grant"
    );
    let r = exchange(&c, &a, &code, Some(verifier)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.body["access_token"].as_str().unwrap();
    let cid = a["client_id"].as_str().unwrap();
    assert!(
        access.starts_with(&format!("APP_USR-{cid}-")) && access.ends_with(&format!("-{uid}")),
        "{access}"
    );
    assert_eq!(r.body["expires_in"], 15552000);
    assert_eq!(r.body["token_type"], "bearer");
    assert!(r.body["refresh_token"].as_str().unwrap().starts_with("TG-"));
    // Single use.
    let r = exchange(&c, &a, &code, Some(verifier)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(r.body["status"], 400);
    assert!(r.body["cause"].is_array());
    // plain: the verifier equals the challenge; too short verifiers fail.
    let plain = "p".repeat(43);
    let code = authorize(format!(
        "&code_challenge={plain}&code_challenge_method=plain"
    ))
    .await;
    assert_eq!(exchange(&c, &a, &code, Some(&plain)).await.status, 200);
    let short = "s".repeat(42);
    let code = authorize(format!(
        "&code_challenge={short}&code_challenge_method=plain"
    ))
    .await;
    assert_eq!(exchange(&c, &a, &code, Some(&short)).await.status, 400);
    // Codes expire after 10 minutes.
    let code = authorize(String::new()).await;
    c.sb.clock().advance(Duration::from_secs(601));
    assert_eq!(
        exchange(&c, &a, &code, None).await.body["error"],
        "invalid_grant"
    );
    // Wrong client secret.
    let code = authorize(String::new()).await;
    let r = c.post("/oauth/token", None, json!({"client_id": a["client_id"], "client_secret": "nope", "grant_type": "authorization_code", "code": code})).await;
    assert_eq!(r.body["error"], "invalid_client");
    // Deny through the helper.
    let q = format!("{}&user_id={uid}&decision=deny", auth_query(&a, ""));
    let r = c
        .post(&format!("/sandbox/authorize?{q}"), None, json!({}))
        .await;
    assert!(
        r.body["redirect_to"]
            .as_str()
            .unwrap()
            .contains("error=access_denied&state=st-123")
    );
}

#[tokio::test]
async fn refresh_rotation_client_credentials_and_legacy_forms() {
    let c = start().await;
    let a = app(&c, None).await;
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "client_id": a["client_id"]}),
        )
        .await
        .body;
    let r1 = s["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        let (c, a) = (&c, a.clone());
        async move {
            c.post("/oauth/token", None, json!({"client_id": a["client_id"], "client_secret": a["client_secret"], "grant_type": "refresh_token", "refresh_token": rt})).await
        }
    };
    let r = refresh(r1.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r2 = r.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    assert_eq!(r.body["expires_in"], 15552000);
    let r = refresh(r1).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant")),
        "old refresh token rejected"
    );
    // Form-encoded body works too.
    let r = c
        .http
        .post(c.url("/oauth/token"))
        .form(&[
            ("client_id", a["client_id"].as_str().unwrap()),
            ("client_secret", a["client_secret"].as_str().unwrap()),
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_string();
    // client_credentials: 6 hours, the app owner's account.
    let r = c.post("/oauth/token", None, json!({"client_id": a["client_id"], "client_secret": a["client_secret"], "grant_type": "client_credentials"})).await;
    assert_eq!(r.body["expires_in"], 21600);
    assert!(r.body.get("refresh_token").is_none());
    assert_eq!(r.body["user_id"], a["owner_user_id"]);
    let app_token = r.body["access_token"].as_str().unwrap().to_string();
    // Legacy: client_secret = an access token, no client_id.
    let r = c
        .post(
            "/oauth/token",
            None,
            json!({"client_secret": access, "grant_type": "client_credentials"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // HTTP Basic client authentication with a form body (generic OAuth clients).
    let r = c
        .http
        .post(c.url("/oauth/token"))
        .basic_auth(
            a["client_id"].as_str().unwrap(),
            a["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post("/oauth/token", None, json!({"grant_type": "password"}))
        .await;
    assert_eq!(r.body["error"], "unsupported_grant_type");
    let r = c.post("/oauth/token", None, json!({})).await;
    assert_eq!(r.body["error"], "invalid_request");
    // Tokens expire: the app token after 6 h, the seller's after 180 days.
    assert_eq!(c.get("/users/me", Some(&app_token)).await.status, 200);
    c.sb.clock().advance(Duration::from_secs(6 * 3600));
    assert_eq!(c.get("/users/me", Some(&app_token)).await.status, 401);
    assert_eq!(c.get("/users/me", Some(&access)).await.status, 200);
    c.sb.clock().advance(Duration::from_secs(15552000));
    assert_eq!(c.get("/users/me", Some(&access)).await.status, 401);
}

#[tokio::test]
async fn revoke_helper_makes_tokens_401() {
    let c = start().await;
    let s = c.seller("MLM", 1).await;
    let t = tok(&s);
    let r = c.get("/users/me", Some(&t)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["site_id"], "MLM");
    assert_eq!(r.body["country_id"], "MX");
    assert_eq!(r.body["id"], s["user_id"]);
    let uid = s["user_id"].as_u64().unwrap();
    let r = c
        .post(&format!("/sandbox/sellers/{uid}/revoke"), None, json!({}))
        .await;
    assert!(r.body["revoked"].as_u64().unwrap() >= 1);
    let r = c.get("/users/me", Some(&t)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let r = c.post("/oauth/token", None, json!({"client_id": c.sb.default_app().client_id, "client_secret": c.sb.default_app().client_secret,
                                                 "grant_type": "refresh_token", "refresh_token": s["refresh_token"]})).await;
    assert_eq!(r.body["error"], "invalid_grant");
}

async fn code_for(c: &Ctx, a: &Value, uid: u64) -> String {
    let q = format!("{}&user_id={uid}&decision=allow", auth_query(a, ""));
    let r = c
        .post(&format!("/sandbox/authorize?{q}"), None, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    code_of(r.body["redirect_to"].as_str().unwrap())
}

#[tokio::test]
async fn code_exchange_needs_the_redirect_uri_used_at_authorization() {
    let c = start().await;
    let a = app(&c, None).await;
    let uid = c.seller("MLB", 1).await["user_id"].as_u64().unwrap();
    let code = code_for(&c, &a, uid).await;
    let no_redirect = json!({"client_id": a["client_id"], "client_secret": a["client_secret"],
                             "grant_type": "authorization_code", "code": code});
    let r = c.post("/oauth/token", None, no_redirect).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        r.body
    );
    let mut other = json!({"client_id": a["client_id"], "client_secret": a["client_secret"],
                           "grant_type": "authorization_code", "code": code});
    other["redirect_uri"] = json!(format!("{REDIRECT}/other"));
    assert_eq!(
        c.post("/oauth/token", None, other).await.body["error"],
        "invalid_grant"
    );
    // The refusals did not burn the code: with the same redirect_uri it works.
    let r = exchange(&c, &a, &code, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn token_lifetimes_follow_the_configured_knob() {
    let mut cfg = mp_sandbox::SandboxConfig::for_tests();
    cfg.token_lifetimes = mp_sandbox::TokenLifetimes {
        access: Duration::from_secs(60),
        app_access: Duration::from_secs(30),
        refresh: Duration::from_secs(120),
    };
    let c = start_with(cfg).await;
    let a = app(&c, None).await;
    let uid = c.seller("MLB", 1).await["user_id"].as_u64().unwrap();
    let r = exchange(&c, &a, &code_for(&c, &a, uid).await, None).await;
    assert_eq!(r.body["expires_in"], 60, "{}", r.body);
    let access = r.body["access_token"].as_str().unwrap().to_string();
    let rt = r.body["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        let (c, a) = (&c, a.clone());
        async move {
            c.post("/oauth/token", None, json!({"client_id": a["client_id"], "client_secret": a["client_secret"],
                                                 "grant_type": "refresh_token", "refresh_token": rt})).await
        }
    };
    // The access token dies at its expires_in; the refresh token still works.
    c.sb.clock().advance(Duration::from_secs(59));
    assert_eq!(c.get("/users/me", Some(&access)).await.status, 200);
    c.sb.clock().advance(Duration::from_secs(1));
    assert_eq!(c.get("/users/me", Some(&access)).await.status, 401);
    let r = refresh(rt).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rt = r.body["refresh_token"].as_str().unwrap().to_string();
    // An unused refresh token expires too.
    c.sb.clock().advance(Duration::from_secs(120));
    let r = refresh(rt).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        r.body
    );
    let r = c
        .post(
            "/oauth/token",
            None,
            json!({"client_id": a["client_id"], "client_secret": a["client_secret"],
                                                 "grant_type": "client_credentials"}),
        )
        .await;
    assert_eq!(r.body["expires_in"], 30);
}
