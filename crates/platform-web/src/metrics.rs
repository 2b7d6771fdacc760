//! Prometheus metrics: `/metrics` renders every metric recorded in this
//! process (HTTP, and in `puente all` the worker's too) plus queue gauges
//! read at scrape time (they are shared state in Redis, the same from every
//! process).

use std::future::{Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use platform_core::jobs;

use crate::state::AppState;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once (later calls reuse it).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0,
                    ],
                )
                .expect("static buckets");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (tests): keep ours for rendering.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(render));
}

const TOPICS: &[&str] = &[
    jobs::INTENT_DISPATCH,
    jobs::REFUND_DISPATCH,
    jobs::WEBHOOK_DELIVERY,
    jobs::NOTIFICATION,
];

async fn render(state: web::Data<AppState>) -> HttpResponse {
    for topic in TOPICS {
        if let Ok(s) = state.queue.stats(topic).await {
            let t = topic.to_string();
            metrics::gauge!("puente_queue_depth", "topic" => t.clone()).set(s.depth as f64);
            metrics::gauge!("puente_queue_in_flight", "topic" => t.clone()).set(s.in_flight as f64);
            metrics::gauge!("puente_queue_delayed", "topic" => t.clone()).set(s.delayed as f64);
            metrics::gauge!("puente_queue_dead_letters", "topic" => t).set(s.dead as f64);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(install().render())
}

/// Records `puente_http_requests_total` and `puente_http_request_duration_seconds`
/// by method, route pattern (not the raw path: ids would explode the
/// cardinality) and status.
pub struct HttpMetrics;

impl<S, B> Transform<S, ServiceRequest> for HttpMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = HttpMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(HttpMetricsMiddleware {
            service: Rc::new(service),
        }))
    }
}

/// The `method` label: the standard methods by name, anything a caller
/// invents as `other` (a label per invented method would let anyone grow
/// the series without bound). `route` is the matched route template, never
/// the raw path, and `status` is one of the statuses the server answers.
pub fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

pub struct HttpMetricsMiddleware<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for HttpMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = method_label(req.method());
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let res = service.call(req).await?;
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".into());
            let status = res.status().as_u16().to_string();
            metrics::counter!("puente_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
                .increment(1);
            metrics::histogram!("puente_http_request_duration_seconds", "method" => method, "route" => route)
                .record(started.elapsed().as_secs_f64());
            Ok(res)
        })
    }
}
