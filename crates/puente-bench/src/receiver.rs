//! The integrator's side: a local HTTP receiver for Puente's outgoing
//! webhooks (checks every signature, records every delivery), and a trivial
//! actix-web endpoint as the physical reference.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use platform_core::secret::SecretString;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Received {
    pub webhook_id: String,
    pub event_type: String,
    /// `data.id` of the event (the intent id for intent events).
    pub object_id: String,
    pub event_created: Option<chrono::DateTime<chrono::Utc>>,
    pub at: SystemTime,
}

#[derive(Default)]
pub struct Inbox {
    pub secrets: RwLock<HashMap<usize, SecretString>>,
    pub received: Mutex<Vec<Received>>,
    pub bad_signatures: std::sync::atomic::AtomicU64,
}

impl Inbox {
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
    pub fn snapshot(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn hook(
    inbox: web::Data<Arc<Inbox>>,
    path: web::Path<usize>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let at = SystemTime::now();
    let n = path.into_inner();
    let h = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let id = h("webhook-id");
    let ok = inbox.secrets.read().unwrap().get(&n).is_some_and(|secret| {
        platform_core::webhooks::signing::verify(
            secret,
            &id,
            &h("webhook-timestamp"),
            &h("webhook-signature"),
            &body,
            chrono::Utc::now().timestamp(),
            300,
        )
        .is_ok()
    });
    if !ok {
        inbox
            .bad_signatures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return HttpResponse::Unauthorized().finish();
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let rec = Received {
        webhook_id: id,
        event_type: v["type"].as_str().unwrap_or("").to_owned(),
        object_id: v["data"]["id"].as_str().unwrap_or("").to_owned(),
        event_created: v["created_at"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        at,
    };
    inbox.received.lock().unwrap().push(rec);
    HttpResponse::NoContent().finish()
}

/// Starts the receiver on a free loopback port; returns its base URL.
pub async fn start_receiver(
    inbox: Arc<Inbox>,
) -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let data = web::Data::new(inbox);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook/{n}", web::post().to(hook))
    })
    .workers(1)
    .backlog(4096)
    .bind(("127.0.0.1", 0))?;
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://{addr}"), handle))
}

/// `puente-bench hello`: the trivial actix-web endpoint, in its own process,
/// with actix's default worker count (one per core), like `puente web`.
pub fn run_hello(addr: &str) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async {
        HttpServer::new(|| {
            App::new().route(
                "/hello",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
        })
        .backlog(4096)
        .bind(addr)?
        .run()
        .await
    })?;
    Ok(())
}

/// `puente-bench proxy`: a round-robin TCP proxy (one connection to the next
/// backend in turn), its own single-threaded process so its CPU is its own
/// line. It spreads the sandbox's notifications over several `puente web`.
pub fn run_proxy(listen: &str, to: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(!to.is_empty(), "no backend (--to)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(listen).await?;
        let mut next = 0usize;
        loop {
            let (mut inbound, _) = l.accept().await?;
            let backend = to[next % to.len()].clone();
            next += 1;
            tokio::spawn(async move {
                let _ = inbound.set_nodelay(true);
                if let Ok(mut out) = tokio::net::TcpStream::connect(&backend).await {
                    let _ = out.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    })
}
