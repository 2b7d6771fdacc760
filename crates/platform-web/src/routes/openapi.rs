//! `/openapi.json`: the OpenAPI 3.1 description of the native API, kept in
//! sync with the route table by `tests/openapi.rs`.

use actix_web::{HttpResponse, web};

const SPEC: &str = include_str!("../../openapi/openapi.json");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(spec));
}

async fn spec() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(SPEC)
}
