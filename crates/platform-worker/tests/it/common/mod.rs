//! The whole chain in one test: the Mercado Pago sandbox, a Puente web
//! server, and a worker, on a per-test database and queue.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mp_sandbox::{SandboxConfig, SandboxHandle};
use platform_core::accounts::{self, MpApplication, NewIntegrator};
use platform_core::api_keys::{self, NewApiKey};
use platform_core::config::{RawSettings, Settings};
use platform_core::crypto::Keyring;
use platform_core::entities::terminals;
use platform_core::id::{IntegratorId, SellerId, TerminalId};
use platform_core::secret::SecretString;
use platform_core::states::{KeyMode, OperatingMode, ScopeKind, Site};
use platform_core::tenancy::Scope;
use platform_core::testing::{TestDb, test_keyring};
use platform_queue::{Backend, Queue, QueueConfig};
use platform_web::{AppState, WebHandle};
use platform_worker::{WorkerContext, WorkerHandle};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

pub enum QueueKind {
    Memory,
    Redis,
}

pub struct Env {
    pub sandbox: SandboxHandle,
    pub web: WebHandle,
    pub url: String,
    pub ctx: WorkerContext,
    pub worker: Option<WorkerHandle>,
    pub keyring: Keyring,
    pub http: reqwest::Client,
    pub key: String,
    pub integrator_id: IntegratorId,
    pub seller_id: SellerId,
    pub seller: Value,
    pub terminal_id: TerminalId,
    pub device_id: String,
    pub redis_prefix: Option<String>,
}

pub async fn queue(kind: &QueueKind, consumer: &str) -> (Queue, Option<String>) {
    match kind {
        QueueKind::Memory => (
            Queue::connect(QueueConfig::new(Backend::Memory, consumer))
                .await
                .unwrap(),
            None,
        ),
        QueueKind::Redis => {
            let prefix = format!("t_{}:", uuid::Uuid::new_v4().simple());
            let mut cfg = QueueConfig::new(
                Backend::Redis {
                    url: "redis://127.0.0.1:6379".into(),
                    prefix: prefix.clone(),
                },
                consumer,
            );
            cfg.visibility_timeout = Duration::from_secs(2);
            let q = Queue::connect(cfg)
                .await
                .unwrap_or_else(|e| panic!("Redis must be running at 127.0.0.1:6379: {e}"));
            (q, Some(prefix))
        }
    }
}

/// The chain with the sandbox as Mercado Pago, configured as a real
/// upstream (`PUENTE_MP_API_URL`): Puente is not in sandbox mode.
pub async fn setup(t: &TestDb, kind: QueueKind) -> Env {
    setup_with(t, kind, false).await
}

/// The chain in sandbox mode with the sandbox in another process, as
/// `puente web` + `puente worker` + `puente sandbox` run it (no Mercado
/// Pago URL configured; the sandbox's address given): what Puente offers
/// only on its sandbox (test users) is served.
pub async fn setup_in_sandbox_mode(t: &TestDb, kind: QueueKind) -> Env {
    setup_with(t, kind, true).await
}

async fn setup_with(t: &TestDb, kind: QueueKind, sandbox_mode: bool) -> Env {
    let sandbox = mp_sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let base = sandbox.base_url();
    let mut raw = RawSettings::default();
    if !sandbox_mode {
        raw.mp_api_url = Some(base.clone());
        raw.mp_auth_url = Some(base.clone());
    }
    raw.upstream_timeout_secs = Some(5);
    let settings = Arc::new(Settings::resolve(raw).unwrap());
    assert_eq!(settings.sandbox_mode(), sandbox_mode);
    let sandbox_url = sandbox_mode.then(|| base.clone());
    let (q, redis_prefix) = queue(&kind, "web").await;
    let keyring = test_keyring();
    let state = AppState::new(
        t.db.clone(),
        keyring.clone(),
        q.clone(),
        settings.clone(),
        sandbox_url.clone(),
    );
    let web = platform_web::start(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", web.local_addr);
    let http = reqwest::Client::new();
    let app = sandbox.default_app();
    let res = http
        .patch(format!("{base}/sandbox/applications/{}", app.client_id))
        .json(&json!({"webhook_url": format!("{url}/webhooks/mercadopago")}))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "sandbox app webhook: {}",
        res.text().await.unwrap()
    );

    let (integrator, _) = accounts::create_integrator(
        &t.db,
        &keyring,
        NewIntegrator {
            name: "Integrator".into(),
            owner_email: format!("{}@example.com", uuid::Uuid::new_v4().simple()),
            owner_name: "Owner".into(),
            owner_password: SecretString::from("a long password"),
            mp_app: Some(MpApplication {
                client_id: app.client_id.clone(),
                client_secret: app.client_secret.clone().into(),
                webhook_secret: app.webhook_secret.clone().into(),
                redirect_url: format!("{url}/oauth/callback"),
                sponsor_id: Some("999000".into()),
            }),
            is_demo: false,
        },
    )
    .await
    .unwrap();

    let seller: Value = http
        .post(format!("{base}/sandbox/sellers"))
        .json(&json!({"site_id": "MLB", "terminals": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (seller_id, terminal_id, device_id) =
        link_seller(&t.db, &keyring, &integrator.id, &seller).await;

    let scope = Scope::integrator(integrator.id.clone());
    let (_, key) = api_keys::create(
        &t.db,
        &scope,
        NewApiKey {
            name: "pos".into(),
            scope_kind: ScopeKind::Integrator,
            target_id: None,
            expires_at: None,
            mode: KeyMode::Test,
            access: platform_core::states::KeyAccess::Full,
        },
        None,
        None,
    )
    .await
    .unwrap();

    let (wq, _) = match (&kind, &redis_prefix) {
        (QueueKind::Memory, _) => (q.with_consumer("worker"), None),
        (QueueKind::Redis, Some(p)) => {
            let mut cfg = QueueConfig::new(
                Backend::Redis {
                    url: "redis://127.0.0.1:6379".into(),
                    prefix: p.clone(),
                },
                "worker-1",
            );
            cfg.visibility_timeout = Duration::from_secs(2);
            (Queue::connect(cfg).await.unwrap(), None::<String>)
        }
        _ => unreachable!(),
    };
    let mut ctx = WorkerContext::new(
        t.db.clone(),
        keyring.clone(),
        wq,
        settings,
        sandbox_url.as_deref(),
    );
    ctx.dispatch.backoff = vec![Duration::from_millis(50)];
    ctx.dispatch.jitter = 0.0;
    let worker = Some(platform_worker::start(ctx.clone()));
    Env {
        sandbox,
        web,
        url,
        ctx,
        worker,
        keyring,
        http,
        key: key.expose_secret().clone(),
        integrator_id: integrator.id,
        seller_id,
        seller,
        terminal_id,
        device_id,
        redis_prefix,
    }
}

/// What onboarding would store: the seller, its encrypted tokens, a terminal.
pub async fn link_seller(
    db: &platform_core::db::Db,
    keyring: &Keyring,
    integrator_id: &IntegratorId,
    seller: &Value,
) -> (SellerId, TerminalId, String) {
    let now = Utc::now();
    let linked = platform_core::linked_sellers::insert(
        db,
        platform_core::linked_sellers::NewLinkedSeller {
            integrator_id: integrator_id.clone(),
            mp_user_id: seller["user_id"].as_i64().unwrap(),
            nickname: seller["nickname"].as_str().unwrap().to_owned(),
            email: seller["email"].as_str().map(str::to_owned),
            site: Site::Mlb,
            live_mode: false,
            label: None,
        },
    )
    .await
    .unwrap();
    platform_core::linked_sellers::store_grant(
        db,
        keyring,
        &linked,
        platform_core::linked_sellers::Grant {
            access_token: &seller["access_token"].as_str().unwrap().into(),
            refresh_token: Some(&seller["refresh_token"].as_str().unwrap().into()),
            expires_in: Some(180 * 86_400),
            scope: "offline_access read write",
            public_key: None,
        },
    )
    .await
    .unwrap();
    let seller_id = linked.id;
    let device_id = seller["terminals"][0]["id"].as_str().unwrap().to_owned();
    let terminal_id = TerminalId::new();
    terminals::ActiveModel {
        id: Set(terminal_id.clone()),
        integrator_id: Set(integrator_id.clone()),
        seller_id: Set(seller_id.clone()),
        store_id: Set(None),
        pos_id: Set(None),
        device_id: Set(device_id.clone()),
        model: Set(None),
        operating_mode: Set(OperatingMode::Pdv),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    (seller_id, terminal_id, device_id)
}

impl Env {
    pub async fn create_intent(&self, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/v1/payment-intents", self.url))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// `GET {path}` on Puente's API with the integrator's key, as JSON.
    pub async fn api_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sends the integrator's intents through the legacy Integration API.
    pub async fn use_legacy_upstream(&self) {
        use platform_core::entities::integrators;
        use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
        let integrator = integrators::Entity::find_by_id(self.integrator_id.clone())
            .one(&self.ctx.db)
            .await
            .unwrap()
            .unwrap();
        let mut active = integrator.into_active_model();
        active.upstream_api = Set(platform_core::states::UpstreamApi::Legacy);
        active.update(&self.ctx.db).await.unwrap();
    }

    /// Long-polls until the intent is final (or 30 s pass).
    /// `id`: a `pi_…` id, typed or as the API returned it.
    pub async fn wait_final(&self, id: &(impl AsRef<str> + ?Sized)) -> Value {
        let id = id.as_ref();
        for _ in 0..3 {
            let v: Value = self
                .http
                .get(format!("{}/v1/payment-intents/{id}?wait=30", self.url))
                .bearer_auth(&self.key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if !matches!(
                v["status"].as_str(),
                Some("queued" | "created" | "at_terminal")
            ) {
                return v;
            }
        }
        panic!("intent {id} did not finish");
    }

    pub async fn charges(&self, external_reference: &(impl AsRef<str> + ?Sized)) -> Vec<Value> {
        let external_reference = external_reference.as_ref();
        let v: Value = self
            .http
            .get(format!(
                "{}/sandbox/charges?external_reference={external_reference}",
                self.sandbox.base_url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["charges"].as_array().cloned().unwrap_or_default()
    }

    pub async fn fault(&self, body: Value) {
        let res = self
            .http
            .post(format!("{}/sandbox/faults", self.sandbox.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }

    pub async fn shutdown(mut self) {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
        self.web.stop().await;
        self.sandbox.stop().await;
    }
}

/// Polls `check` every 20 ms until it yields a value, failing with `what`
/// after 20 s: tests wait on conditions, never on fixed sleeps.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let poll = async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), poll)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"))
}
