//! OAuth (reference 1): the authorization decision behind the consent page and
//! `/sandbox/authorize`, and `POST /oauth/token` with its three grants.

use crate::errors::{ApiError, ApiResult};
use crate::ids;
use crate::notify;
use crate::retention::Cred;
use crate::sandbox::Sandbox;
use crate::state::{CodeRec, Issued, State};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub type Params = HashMap<String, String>;

fn oerr(error: &str, message: &str) -> ApiError {
    ApiError::classic(400, error, message)
}

/// Checks an authorization request; an `Err` is shown as an error page (never redirected).
pub fn check_request(st: &State, q: &Params) -> Result<String, String> {
    let client_id = q.get("client_id").ok_or("client_id is required")?;
    let app = st
        .apps
        .get(client_id)
        .ok_or("unknown application (client_id)")?;
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err("response_type must be code".into());
    }
    let redirect = q.get("redirect_uri").ok_or("redirect_uri is required")?;
    if !app.cfg.redirect_uris.iter().any(|u| u == redirect) {
        return Err("redirect_uri does not match any Redirect URL of the application".into());
    }
    if q.contains_key("code_challenge") {
        let m = q
            .get("code_challenge_method")
            .map(String::as_str)
            .unwrap_or("plain");
        if m != "S256" && m != "plain" {
            return Err("code_challenge_method must be S256 or plain".into());
        }
    }
    Ok(redirect.clone())
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", notify::url_encode(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", q.join("&"))
}

/// The seller's decision: returns where the browser is sent.
pub fn decide(sb: &Sandbox, q: &Params, user_id: u64, allow: bool) -> Result<String, String> {
    let now = sb.clock.now();
    let mut st = sb.lock();
    let redirect = check_request(&st, q)?;
    if !st.users.contains_key(&user_id) {
        return Err("unknown user".into());
    }
    let state = q.get("state").cloned().unwrap_or_default();
    if !allow {
        let mut pairs = vec![("error", "access_denied")];
        if !state.is_empty() {
            pairs.push(("state", state.as_str()));
        }
        return Ok(with_query(&redirect, &pairs));
    }
    let client_id = q["client_id"].clone();
    let code = ids::tg_token(user_id);
    let challenge = q.get("code_challenge").map(|c| {
        (
            c.clone(),
            q.get("code_challenge_method")
                .cloned()
                .unwrap_or_else(|| "plain".into()),
        )
    });
    let expires_at = now + chrono::Duration::minutes(10);
    st.codes.insert(
        code.clone(),
        CodeRec {
            client_id: client_id.clone(),
            user_id,
            redirect_uri: redirect.clone(),
            challenge,
            expires_at,
            used: false,
        },
    );
    st.file_cred(expires_at, Cred::Code(code.clone()));
    if st.authorizations.insert((user_id, client_id.clone())) {
        let body =
            notify::connect_body(&client_id, user_id, "application.authorized", now).to_string();
        notify::enqueue(
            &mut st,
            &client_id,
            user_id,
            "mp-connect",
            &user_id.to_string(),
            body,
            now,
        );
    }
    drop(st);
    sb.kick();
    let mut pairs = vec![("code", code.as_str())];
    if !state.is_empty() {
        pairs.push(("state", state.as_str()));
    }
    Ok(with_query(&redirect, &pairs))
}

/// Unlinks a seller from an application: tokens revoked, `application.deauthorized` sent.
pub fn deauthorize(sb: &Sandbox, user_id: u64, client_id: &str) -> usize {
    let now = sb.clock.now();
    let mut st = sb.lock();
    let n = st.revoke_tokens(user_id, Some(client_id), now);
    if st.authorizations.remove(&(user_id, client_id.to_string())) {
        let body =
            notify::connect_body(client_id, user_id, "application.deauthorized", now).to_string();
        notify::enqueue(
            &mut st,
            client_id,
            user_id,
            "mp-connect",
            &user_id.to_string(),
            body,
            now,
        );
    }
    drop(st);
    sb.kick();
    n
}

/// Reads a token request from JSON or form-encoded bodies, whatever the content type says.
fn parse_body(req: &HttpRequest, body: &[u8]) -> Params {
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let from_json = || -> Option<Params> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let o = v.as_object()?;
        Some(
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
        )
    };
    let from_form = || -> Option<Params> {
        let s = std::str::from_utf8(body).ok()?;
        web::Query::<Params>::from_query(s)
            .ok()
            .map(|q| q.into_inner())
    };
    let parsed = if ct.starts_with("application/x-www-form-urlencoded") {
        from_form().or_else(from_json)
    } else {
        from_json().or_else(from_form)
    };
    let mut p = parsed.unwrap_or_default();
    // HTTP Basic client authentication (RFC 6749 2.3.1, what generic OAuth clients default to).
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    if let Some((id, secret)) = basic.as_deref().and_then(|s| s.split_once(':')) {
        let decode = |s: &str| {
            web::Query::<Params>::from_query(&format!("v={s}"))
                .ok()
                .and_then(|q| q.get("v").cloned())
        };
        if let (Some(id), Some(secret)) = (decode(id), decode(secret)) {
            p.entry("client_id".into()).or_insert(id);
            p.entry("client_secret".into()).or_insert(secret);
        }
    }
    // Query parameters also count (some clients send the grant that way).
    if let Ok(q) = web::Query::<Params>::from_query(req.query_string()) {
        for (k, v) in q.into_inner() {
            p.entry(k).or_insert(v);
        }
    }
    p
}

fn issued_json(i: &Issued) -> Value {
    let mut v = json!({"access_token": i.access_token, "token_type": "bearer", "expires_in": i.expires_in,
                       "scope": "offline_access read write", "user_id": i.user_id,
                       "public_key": i.public_key, "live_mode": true});
    if let Some(r) = &i.refresh_token {
        v["refresh_token"] = json!(r);
    }
    v
}

fn pkce_ok(challenge: &(String, String), verifier: Option<&String>) -> bool {
    let Some(v) = verifier else { return false };
    let valid_chars = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !(43..=128).contains(&v.len()) || !valid_chars {
        return false;
    }
    let computed = match challenge.1.as_str() {
        "S256" => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
        }
        _ => v.clone(),
    };
    computed == challenge.0
}

pub async fn token(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    let p = parse_body(&req, &body);
    let grant = p.get("grant_type").map(String::as_str).unwrap_or("");
    if grant.is_empty() {
        return Err(oerr("invalid_request", "grant_type is required"));
    }
    if !matches!(
        grant,
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(oerr("unsupported_grant_type", "unsupported grant_type"));
    }
    let now = sb.clock.now();
    let mut st = sb.lock();
    let secret = p.get("client_secret").cloned().unwrap_or_default();
    // Authenticate the client: client_id + client_secret, or the legacy access-token-as-secret form.
    let client_id = match p.get("client_id").filter(|c| !c.is_empty()) {
        Some(cid) => match st.apps.get(cid) {
            Some(app) if app.cfg.client_secret == secret => cid.clone(),
            _ => return Err(oerr("invalid_client", "invalid client_id or client_secret")),
        },
        None => match st.tokens.get(&secret) {
            Some(t) if !t.revoked && t.expires_at > now => t.client_id.clone(),
            _ => return Err(oerr("invalid_client", "invalid client_secret")),
        },
    };
    let invalid_grant = || {
        oerr(
            "invalid_grant",
            "Error validating grant. Your authorization code or refresh token may be expired or it was already used.",
        )
    };
    let issued = match grant {
        "authorization_code" => {
            let code = p
                .get("code")
                .ok_or_else(|| oerr("invalid_request", "code is required"))?;
            let rec = st.codes.get(code).cloned().ok_or_else(invalid_grant)?;
            if rec.used || rec.expires_at <= now || rec.client_id != client_id {
                return Err(invalid_grant());
            }
            // The redirect_uri used at authorization must be sent again, identical
            // (RFC 6749 4.1.3; Mercado Pago refuses the exchange without it).
            if p.get("redirect_uri") != Some(&rec.redirect_uri) {
                return Err(invalid_grant());
            }
            if let Some(ch) = &rec.challenge
                && !pkce_ok(ch, p.get("code_verifier"))
            {
                return Err(invalid_grant());
            }
            st.codes.get_mut(code).expect("exists").used = true;
            st.file_cred(now, Cred::Code(code.clone()));
            st.issue_tokens(rec.user_id, &client_id, true, now)
        }
        "refresh_token" => {
            let r = p
                .get("refresh_token")
                .ok_or_else(|| oerr("invalid_request", "refresh_token is required"))?;
            let rec = st.refresh.get(r).cloned().ok_or_else(invalid_grant)?;
            if rec.used || rec.expires_at <= now || rec.client_id != client_id {
                return Err(invalid_grant());
            }
            // Single use: the old refresh token dies, a new pair is issued.
            st.refresh.get_mut(r).expect("exists").used = true;
            st.file_cred(now, Cred::Refresh(r.clone()));
            st.issue_tokens(rec.user_id, &client_id, true, now)
        }
        _ => {
            let owner = st.apps[&client_id].owner_user_id;
            st.issue_tokens(owner, &client_id, false, now)
        }
    };
    Ok(HttpResponse::Ok().json(issued_json(&issued)))
}
