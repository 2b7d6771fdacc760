//! `/openapi.json`: the OpenAPI 3.1 description of the native API,
//! generated from the code (`api::openapi`).

use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(spec));
}

async fn spec() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::api::openapi::document_text())
}
