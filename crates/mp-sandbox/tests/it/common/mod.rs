//! Shared test plumbing: a sandbox on port 0, a JSON client, a webhook
//! receiver that records what it gets, and bounded waits (no sleeping for time).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, KeyInit, Mac};
use mp_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Ctx {
    pub sb: SandboxHandle,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start() -> Ctx {
    start_with(SandboxConfig::for_tests()).await
}

pub async fn start_with(cfg: SandboxConfig) -> Ctx {
    let sb = mp_sandbox::start(cfg).await.expect("sandbox starts");
    let base = sb.base_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Ctx { sb, base, http }
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Ctx {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call("GET", path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call("POST", path, token, Some(body), &[]).await
    }

    /// A test seller with `n` terminals, tokens issued to the default app.
    pub async fn seller(&self, site: &str, n: u64) -> Value {
        let r = self
            .post(
                "/sandbox/sellers",
                None,
                json!({"site_id": site, "terminals": n}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }

    pub async fn manual_seller(&self, site: &str) -> Value {
        let r = self
            .post(
                "/sandbox/sellers",
                None,
                json!({"site_id": site, "terminal_mode": "manual"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }

    pub async fn app_with_webhook(&self, url: &str) -> Value {
        let r = self
            .post(
                "/sandbox/applications",
                None,
                json!({"redirect_uris": ["http://localhost:9/cb"], "webhook_url": url}),
            )
            .await;
        assert_eq!(r.status, 201);
        r.body
    }

    /// `/sandbox/stats?check=1`: the sandbox's indexes agree with its records.
    pub async fn assert_indexes_agree(&self) {
        let r = self.get("/sandbox/stats?check=1", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["check"], "ok", "{}", r.body);
    }

    pub async fn notifications(&self, query: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/sandbox/notifications?{query}"), None)
            .await;
        r.body["notifications"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

pub fn tok(seller: &Value) -> String {
    seller["access_token"].as_str().unwrap().to_string()
}

pub fn terminal(seller: &Value) -> String {
    seller["terminals"][0]["id"].as_str().unwrap().to_string()
}

/// Polls `f` every 10 ms, up to 5 s of real time, until it returns Some.
pub async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..500 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[derive(Clone, Debug)]
pub struct Received {
    pub query: String,
    pub data_id: Option<String>,
    pub topic: Option<String>,
    pub x_signature: String,
    pub x_request_id: String,
    pub x_retry: String,
    pub content_type: String,
    pub body: Value,
}

/// A webhook receiver answering with `status` (changeable) and recording every request.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<Mutex<u16>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(Mutex::new(200u16));
        let (g, s) = (got.clone(), status.clone());
        let server = HttpServer::new(move || {
            let (g, s) = (g.clone(), s.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let q = web::Query::<std::collections::HashMap<String, String>>::from_query(
                        req.query_string(),
                    )
                    .unwrap()
                    .into_inner();
                    g.lock().unwrap().push(Received {
                        query: req.query_string().to_string(),
                        data_id: q.get("data.id").cloned(),
                        topic: q.get("type").cloned(),
                        x_signature: h("x-signature"),
                        x_request_id: h("x-request-id"),
                        x_retry: h("x-retry"),
                        content_type: h("content-type"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    let code = *s.lock().unwrap();
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                        .finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://{addr}/hooks/mp"),
            got,
            status,
            handle,
        }
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn set_status(&self, s: u16) {
        *self.status.lock().unwrap() = s;
    }

    pub async fn wait_count(&self, n: usize) -> Vec<Received> {
        wait_for(&format!("{n} notifications"), || async {
            let all = self.all();
            (all.len() >= n).then_some(all)
        })
        .await
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Independent check of reference 4.6: HMAC-SHA256 over `id:…;request-id:…;ts:…;`.
pub fn verify_signature(r: &Received, secret: &str) -> bool {
    let mut ts = None;
    let mut v1 = None;
    for part in r.x_signature.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            match k.trim() {
                "ts" => ts = Some(v.trim().to_string()),
                "v1" => v1 = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let (Some(ts), Some(v1)) = (ts, v1) else {
        return false;
    };
    let mut manifest = String::new();
    if let Some(id) = &r.data_id {
        manifest += &format!("id:{id};");
    }
    if !r.x_request_id.is_empty() {
        manifest += &format!("request-id:{};", r.x_request_id);
    }
    manifest += &format!("ts:{ts};");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(manifest.as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}
