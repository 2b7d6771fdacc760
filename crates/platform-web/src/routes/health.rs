//! `/healthz`: the process answers. `/readyz`: it can do its work (the
//! database answers and is migrated, the queue answers), so a load balancer may send traffic.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_liveness(cfg);
    configure_readiness(cfg);
}

pub fn configure_liveness(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
}

pub fn configure_readiness(cfg: &mut web::ServiceConfig) {
    cfg.route("/readyz", web::get().to(readyz));
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started_at.elapsed().as_secs(),
    }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = match platform_core::db::ping(&state.db).await {
        Err(e) => json!({"ok": false, "error": e.to_string()}),
        Ok(()) => match platform_core::db::pending_migrations(&state.db).await {
            Ok(0) => json!({"ok": true}),
            Ok(n) => {
                json!({"ok": false, "error": format!("{n} migrations pending; run `puente migrate`")})
            }
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
    };
    let queue = match state.queue.ping().await {
        Ok(()) => json!({"ok": true, "backend": state.queue.backend_name()}),
        Err(e) => {
            json!({"ok": false, "backend": state.queue.backend_name(), "error": e.to_string()})
        }
    };
    let ready = database["ok"] == true && queue["ok"] == true;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "database": database, "queue": queue },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
