//! Static assets, compiled into the binary so `puente` runs from any
//! directory with nothing beside it.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const CSS: &str = include_str!("../../../../static/puente.css");
const JS: &str = include_str!("../../../../static/puente.js");
const FAVICON: &str = include_str!("../../../../static/favicon.svg");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/puente.css", web::get().to(css))
        .route("/static/puente.js", web::get().to(js))
        .route("/static/favicon.svg", web::get().to(favicon))
        // Browsers ask for this on pages that name no icon (the JSON and
        // OpenAPI documents): the same SVG rather than a 404 in every log.
        .route("/favicon.ico", web::get().to(favicon));
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(JS)
}

/// Our own SVG (no external fetch; allowed by the dashboard CSP's `img-src 'self'`).
async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(FAVICON)
}
