//! Accounts: `GET /users/me` and test-user creation (reference 1.3 and 7).

use crate::auth::principal;
use crate::errors::{ApiError, ApiResult, Shape, parse_json_object};
use crate::sandbox::Sandbox;
use crate::sites;
use crate::state::User;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "nickname": u.nickname, "registration_date": u.registration_date.to_rfc3339(),
        "first_name": "Test", "last_name": "Test", "gender": "", "country_id": u.site.country_id,
        "email": u.email, "identification": {"type": null, "number": null},
        "address": {"address": null, "city": null, "state": null, "zip_code": null},
        "phone": {"area_code": null, "extension": "", "number": null, "verified": false},
        "user_type": "normal", "tags": ["normal", "test_user", "user_product_seller"],
        "site_id": u.site.id, "permalink": format!("http://perfil.mercadolibre.com/{}", u.nickname),
        "status": {"site_status": "active"}, "context": {}, "company": {}, "credit": {},
    })
}

pub async fn me(sb: web::Data<Sandbox>, req: HttpRequest) -> ApiResult {
    let p = principal(&sb, &req, Shape::Classic)?;
    let st = sb.lock();
    let u = st
        .users
        .get(&p.user_id)
        .ok_or_else(|| ApiError::classic(404, "not_found", "user not found"))?;
    Ok(HttpResponse::Ok().json(user_json(u)))
}

fn create_test_user(sb: &Sandbox, req: &HttpRequest, body: &[u8], current: bool) -> ApiResult {
    principal(sb, req, Shape::Classic)?;
    let b = parse_json_object(body, Shape::Classic)?;
    let site = b
        .get("site_id")
        .and_then(Value::as_str)
        .and_then(sites::site)
        .ok_or_else(|| {
            ApiError::classic(
                400,
                "bad_request",
                "site_id is required and must be one of MLA, MLB, MLM, MLC, MCO, MPE, MLU",
            )
        })?;
    let description = b
        .get("description")
        .and_then(Value::as_str)
        .map(String::from);
    if current && description.is_none() {
        return Err(ApiError::classic(
            400,
            "bad_request",
            "description is required",
        ));
    }
    let now = sb.clock.now();
    let mut st = sb.lock();
    let id = st.create_user(site.id, description.clone(), now);
    // Point test users come with a store, a POS and a terminal (reference 5.3).
    st.provision_seller(id, 1, now);
    let u = &st.users[&id];
    let mut v = json!({"id": id, "nickname": u.nickname, "password": u.password, "site_status": "active", "email": u.email});
    if current {
        v["site_id"] = json!(site.id);
        v["description"] = json!(description);
        v["date_created"] = json!(now.to_rfc3339());
        v["date_last_updated"] = json!(now.to_rfc3339());
    }
    Ok(HttpResponse::Created().json(v))
}

pub async fn test_user(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    create_test_user(&sb, &req, &body, false)
}

pub async fn test(sb: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> ApiResult {
    create_test_user(&sb, &req, &body, true)
}
