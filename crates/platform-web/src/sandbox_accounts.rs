//! Test seller accounts on the built-in sandbox (sandbox mode only): the
//! dashboard's test sellers and the compatible surface's `/users/test_user`.
//! `POST /sandbox/sellers` is the sandbox's documented test helper, not a
//! Mercado Pago API, so it is not part of the Mercado Pago client.

use platform_core::states::Site;

/// A test account as the sandbox made it (not linked to anything).
pub struct SandboxAccount {
    pub user_id: String,
    pub nickname: String,
    pub password: String,
    pub email: String,
}

/// Makes a seller account with `terminals` terminals (and a store and POS
/// each), its authorization left to the integrator's onboarding (`client_id`).
pub async fn create(
    base: &str,
    client_id: &str,
    site: Site,
    terminals: u32,
    description: Option<&str>,
) -> Result<SandboxAccount, String> {
    let mut body = serde_json::json!({
        "site_id": site.as_str(),
        "terminals": terminals,
        "client_id": client_id,
        "authorize": false,
    });
    if let Some(d) = description {
        body["description"] = serde_json::json!(d);
    }
    let res = reqwest::Client::new()
        .post(format!("{}/sandbox/sellers", base.trim_end_matches('/')))
        .timeout(std::time::Duration::from_secs(10))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("sandbox answered {}", res.status()));
    }
    let v: serde_json::Value = res.json().await.map_err(|e| e.to_string())?;
    let s = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(SandboxAccount {
        nickname: s("nickname"),
        password: s("password"),
        user_id: s("user_id"),
        email: s("email"),
    })
}
