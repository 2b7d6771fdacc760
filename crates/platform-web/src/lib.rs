//! Puente's HTTP face: health and readiness, and (growing) the OAuth
//! onboarding flow, the dashboard, the POS-facing API and the inbound
//! Mercado Pago notifications.
//!
//! Handlers get what they need from [`AppState`]; every error leaves through
//! [`error::ApiError`], mapped to HTTP in one place.

pub mod api;
pub mod client_ip;
mod csv_download;
pub mod dashboard;
pub mod error;
pub mod idempotency;
pub mod intent_wait;
pub mod live;
pub mod metrics;
pub mod notifications;
pub mod onboarding;
pub mod request_id;
mod routes;
mod sandbox_accounts;
pub mod state;

use std::net::SocketAddr;

use actix_web::{App, HttpServer, middleware, web};

pub use state::AppState;

/// A running web server.
pub struct WebHandle {
    pub local_addr: SocketAddr,
    server: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Closed first at stop, so open streams and long-polls end at once
    /// instead of holding the shutdown for its whole timeout.
    feed: Option<live::IntentFeed>,
}

impl WebHandle {
    /// Stops accepting, lets in-flight requests finish (up to the shutdown
    /// timeout), and waits for the server to end.
    pub async fn stop(self) {
        if let Some(feed) = &self.feed {
            feed.close();
        }
        self.server.stop(true).await;
        let _ = self.task.await;
    }
}

/// Runs a bound server in the background.
fn spawn_server(
    local_addr: SocketAddr,
    server: actix_web::dev::Server,
    feed: Option<live::IntentFeed>,
) -> WebHandle {
    let handle = server.handle();
    let task = tokio::spawn(server);
    WebHandle {
        local_addr,
        server: handle,
        task,
        feed,
    }
}

/// The operations endpoints alone (`/metrics`, `/healthz`, `/readyz`) on
/// `PUENTE_METRICS_ADDR`: for `puente worker`, which records the dispatch,
/// delivery and token-refresh outcomes only its own recorder holds, and for
/// the web role, to keep them off the public listener.
pub async fn start_ops(state: AppState, addr: SocketAddr) -> std::io::Result<WebHandle> {
    metrics::install();
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(metrics::HttpMetrics)
            .configure(routes::health::configure)
            .configure(metrics::configure)
            .default_service(web::to(error::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(2)
    .bind(addr)?;
    Ok(spawn_server(server.addrs()[0], server.run(), None))
}

/// Binds `addr` (port 0 picks a free port) and serves in the background.
pub async fn start(state: AppState, addr: SocketAddr) -> std::io::Result<WebHandle> {
    metrics::install();
    let feed = state.intent_feed.clone();
    let ops_here = state.settings.metrics_addr.is_none();
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::JsonConfig::default().error_handler(error::json_error_handler))
            .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
            .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
            .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .wrap(metrics::HttpMetrics)
            .wrap(request_id::RequestId)
            .configure(|cfg| routes::configure(cfg, ops_here))
            .default_service(web::to(error::not_found))
    })
    // Signals are handled by the `puente` binary, which stops every role.
    .disable_signals()
    .shutdown_timeout(10)
    .bind(addr)?;
    Ok(spawn_server(server.addrs()[0], server.run(), Some(feed)))
}
