//! `GET /users/me` (reference §1.3): the account behind the token.
//!
//! A Puente key narrowed to a seller (or to one of its stores or POS) stands
//! for that seller's token, so it answers the seller's Mercado Pago account
//! as Puente knows it from the linking (id, nickname, e-mail, site, whether
//! it is a test account). An integrator-wide key speaks for many sellers and
//! is no one account: 403, saying which key to use.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::error::{MpError, Shape};
use super::{caller, state};

const S: Shape = Shape::Classic;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/me", web::get().to(me));
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
