//! The OpenAPI spec and the route table agree: every native `/v1` route in
//! the code is in the spec and every operation in the spec answers (no
//! `route_not_found`, no 405), and the served spec is the file.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use platform_core::config::DatabaseKind;
use platform_core::states::ScopeKind;
use platform_core::testing::TestDb;

const SPEC: &str = include_str!("../openapi/openapi.json");

/// `(METHOD, path)` pairs of `.route("/v1/…", web::method()` in the API
/// sources (the Mercado Pago-compatible surface is documented separately).
fn routes_in_code() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text: String = std::fs::read_to_string(&path)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("");
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(\"") {
            rest = &rest[i + 8..];
            let end = rest.find('"').unwrap();
            let route = rest[..end].to_owned();
            let after = &rest[end..];
            let method = after
                .strip_prefix("\",web::")
                .and_then(|m| m.split('(').next())
                .unwrap_or_default()
                .to_uppercase();
            if route.starts_with("/v1/") {
                found.insert((method, route));
            }
        }
    }
    found
}

fn routes_in_spec() -> BTreeSet<(String, String)> {
    let spec: serde_json::Value = serde_json::from_str(SPEC).unwrap();
    let mut found = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists_in_code() {
    let code = routes_in_code();
    let spec = routes_in_spec();
    assert!(code.len() > 20, "found the routes: {code:?}");
    let undocumented: Vec<_> = code.difference(&spec).collect();
    let missing: Vec<_> = spec.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );
    assert!(
        missing.is_empty(),
        "openapi.json describes routes the code lacks: {missing:?}"
    );
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let t = TestDb::new(DatabaseKind::Sqlite).await;
    let app = TestApp::start(&t, |r| r.api_rate_limit = Some(0)).await;
    let s = app.seed(1_000).await;
    let key = app.key(&s, ScopeKind::Integrator, None).await;
    let served = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, SPEC);
    for (method, path) in routes_in_spec() {
        let url = format!("{}{}", app.url, path.replace("{id}", "zz_unknown"));
        let req = app
            .http
            .request(method.parse().unwrap(), &url)
            .bearer_auth(&key);
        let req = if matches!(method.as_str(), "POST" | "PATCH") {
            req.json(&serde_json::json!({}))
        } else {
            req
        };
        let res = if path.ends_with("/stream") {
            // Streams answer headers at once and never end: look at the status only.
            tokio::time::timeout(std::time::Duration::from_secs(5), req.send())
                .await
                .unwrap()
                .unwrap()
        } else {
            req.send().await.unwrap()
        };
        let status = res.status().as_u16();
        let body: serde_json::Value = if path.ends_with("/stream") {
            serde_json::Value::Null
        } else {
            res.json().await.unwrap_or_default()
        };
        assert_ne!(status, 405, "{method} {path}");
        assert_ne!(body["code"], "route_not_found", "{method} {path}");
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
    t.cleanup().await;
}
