//! `GET /users/me` (reference §1.3): the account behind the token.
//!
//! A Puente key narrowed to a seller (or to one of its stores or POS) stands
//! for that seller's token, so it answers the seller's Mercado Pago account
//! as Puente knows it from the linking (id, nickname, e-mail, site, whether
//! it is a test account). An integrator-wide key speaks for many sellers and
//! is no one account: 403, saying which key to use.
//!
//! `POST /users/test_user` and `POST /users/test` (§7) make a test seller
//! account, in sandbox mode only (the upstream is the built-in sandbox): a
//! sandbox seller with a store, a POS and a terminal, not linked; it links
//! through the integrator's onboarding like any seller (its nickname and
//! password log in on the sandbox's authorization page). With a real
//! upstream they are refused: Mercado Pago's test accounts are made in its
//! developer panel, and Puente does not make Mercado Pago accounts.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::error::{MpError, Shape};
use super::{caller, state};

const S: Shape = Shape::Classic;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/me", web::get().to(me))
        .route("/users/test_user", web::post().to(test_user))
        .route("/users/test", web::post().to(test));
}

async fn me(req: HttpRequest) -> Result<HttpResponse, MpError> {
    let caller = caller(&req, S).await?;
    let state = state(&req)?;
    let Some(seller_id) = caller.scope.seller_id() else {
        return Err(MpError::classic(
            403,
            "forbidden",
            "an integrator-wide key is not one Mercado Pago account: use a key narrowed to a seller, store or POS",
        ));
    };
    let seller = platform_core::sellers::in_scope(&state.db, &caller.scope, seller_id)
        .await
        .map_err(|e| MpError::from_core(S, e))?;
    let tags = if seller.live_mode {
        json!(["normal"])
    } else {
        json!(["test_user", "normal"])
    };
    Ok(HttpResponse::Ok().json(json!({
        "id": seller.mp_user_id,
        "nickname": seller.nickname,
        "email": seller.email,
        "site_id": seller.site_id,
        "country_id": seller.site_id.country_id(),
        "tags": tags,
    })))
}

async fn test_user(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    create_test_user(req, payload, false).await
}

async fn test(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, MpError> {
    create_test_user(req, payload, true).await
}

/// `current`: `/users/test` (site and description required; the answer
/// adds them and the dates), else the classic `/users/test_user`.
async fn create_test_user(
    req: HttpRequest,
    payload: web::Payload,
    current: bool,
) -> Result<HttpResponse, MpError> {
    use platform_core::states::Site;
    let caller = caller(&req, S).await?;
    let state = state(&req)?;
    let raw = super::read_body(payload, S).await?;
    let sandbox = match (&state.sandbox_url, state.settings.sandbox_mode()) {
        (Some(url), true) => url.clone(),
        _ => {
            return Err(MpError::classic(
                403,
                "forbidden",
                "test users are made in Mercado Pago's developer panel (Your integrations, Test accounts); Puente makes them only on its built-in sandbox",
            ));
        }
    };
    if !caller.scope.is_integrator_wide() {
        return Err(MpError::classic(
            403,
            "forbidden",
            "test users are made with an integrator-wide key",
        ));
    }
    let body = super::json_object(&raw, S)?;
    let site = body
        .get("site_id")
        .and_then(serde_json::Value::as_str)
        .and_then(Site::parse)
        .ok_or_else(|| {
            MpError::classic(
                400,
                "bad_request",
                "site_id is required and must be one of MLA, MLB, MLM, MLC, MCO, MPE, MLU",
            )
        })?;
    let description = match body.get("description") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(d)) if d.chars().count() <= 200 => Some(d.clone()),
        Some(_) => {
            return Err(MpError::classic(
                400,
                "bad_request",
                "description must be a string of at most 200 characters",
            ));
        }
    };
    if current && description.is_none() {
        return Err(MpError::classic(
            400,
            "bad_request",
            "description is required",
        ));
    }
    let app = platform_core::integrator_app::view(&state.db, &caller.scope)
        .await
        .map_err(|e| MpError::from_core(S, e))?;
    let Some(client_id) = app.client_id.filter(|_| app.has_client_secret) else {
        return Err(MpError::classic(
            409,
            "application_missing",
            "set the integrator's Mercado Pago application in the dashboard first",
        ));
    };
    let account =
        crate::sandbox_accounts::create(&sandbox, &client_id, site, 1, description.as_deref())
            .await
            .map_err(|e| MpError::classic(502, "bad_gateway", format!("the sandbox: {e}")))?;
    let mut out = json!({
        "id": account.user_id.parse::<i64>().map(serde_json::Value::from).unwrap_or_else(|_| json!(account.user_id)),
        "nickname": account.nickname,
        "password": account.password,
        "site_status": "active",
        "email": account.email,
    });
    if current {
        let now = platform_core::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        out["site_id"] = json!(site.as_str());
        out["description"] = json!(description);
        out["date_created"] = json!(now);
        out["date_last_updated"] = json!(now);
    }
    Ok(HttpResponse::Created().json(out))
}
