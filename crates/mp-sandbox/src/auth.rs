//! Bearer-token authentication. Each token maps to one seller (`user_id`) and
//! the application it was issued to, which decides where notifications go.

use crate::errors::{ApiError, Shape};
use crate::sandbox::Sandbox;
use actix_web::HttpRequest;

#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: u64,
    pub client_id: String,
}

pub fn bearer(req: &HttpRequest) -> Option<String> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if let Some(h) = header {
        let h = h.trim();
        let tok = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .unwrap_or(h)
            .trim();
        return (!tok.is_empty()).then(|| tok.to_string());
    }
    // Older MP APIs also accepted `?access_token=`.
    actix_web::web::Query::<std::collections::HashMap<String, String>>::from_query(
        req.query_string(),
    )
    .ok()
    .and_then(|q| q.get("access_token").cloned())
}

pub fn principal(sb: &Sandbox, req: &HttpRequest, shape: Shape) -> Result<Principal, ApiError> {
    let Some(token) = bearer(req) else {
        return Err(match shape {
            Shape::Orders => ApiError::flat(401, "unauthorized", "authorization value not present"),
            Shape::Classic => {
                ApiError::classic(401, "unauthorized", "authorization value not present")
            }
        });
    };
    let now = sb.clock.now();
    let st = sb.lock();
    match st.tokens.get(&token) {
        Some(t) if !t.revoked && t.expires_at > now => Ok(Principal {
            user_id: t.user_id,
            client_id: t.client_id.clone(),
        }),
        _ => Err(match shape {
            Shape::Orders => ApiError::flat(401, "unauthorized", "user not found"),
            Shape::Classic => ApiError::classic(401, "unauthorized", "invalid access token"),
        }),
    }
}

pub fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
