//! A real Puente web server per test: its own database (SQLite file or
//! PostgreSQL schema), its own in-process queue, a random port.

pub mod conformance;

use std::sync::Arc;

use platform_core::api_keys::{self, NewApiKey};
use platform_core::config::{RawSettings, Settings};
use platform_core::crypto::Keyring;
use platform_core::id::UserId;
use platform_core::states::{KeyMode, ScopeKind};
use platform_core::tenancy::Scope;
use platform_core::testing::{Seeded, TestDb, seed_integrator, test_keyring};
use platform_queue::{Backend, Queue, QueueConfig};
use platform_web::{AppState, WebHandle};

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub web: WebHandle,
    pub keyring: Keyring,
    pub http: reqwest::Client,
}

impl TestApp {
    pub async fn start(t: &TestDb, tweak: impl FnOnce(&mut RawSettings)) -> TestApp {
        Self::start_with(t, tweak, None).await
    }

    /// In sandbox mode, with `sandbox_url` (a running sandbox) as Mercado Pago.
    pub async fn start_on_sandbox(t: &TestDb, sandbox_url: &str) -> TestApp {
        Self::start_with(t, |_| {}, Some(sandbox_url.to_owned())).await
    }

    async fn start_with(
        t: &TestDb,
        tweak: impl FnOnce(&mut RawSettings),
        sandbox_url: Option<String>,
    ) -> TestApp {
        let mut raw = RawSettings::default();
        tweak(&mut raw);
        let settings = Settings::resolve(raw).expect("test settings");
        let queue = Queue::connect(QueueConfig::new(Backend::Memory, "test"))
            .await
            .unwrap();
        let keyring = test_keyring();
        let state = AppState::new(
            t.db.clone(),
            keyring.clone(),
            queue,
            Arc::new(settings),
            sandbox_url,
        );
        let web = platform_web::start(state.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        TestApp {
            url: format!("http://{}", web.local_addr),
            state,
            web,
            keyring,
            http: reqwest::Client::new(),
        }
    }

    pub async fn seed(&self, mp_base: i64) -> Seeded {
        seed_integrator(&self.state.db, &self.keyring, mp_base).await
    }

    /// A key of `kind` for the seeded integrator; `target` is the seller/store/POS id.
    pub async fn key(&self, s: &Seeded, kind: ScopeKind, target: Option<&str>) -> String {
        let scope = Scope::integrator(s.integrator.clone());
        let (_, key) = api_keys::create(
            &self.state.db,
            &scope,
            NewApiKey {
                name: "test".into(),
                scope_kind: kind,
                target_id: target.map(str::to_owned),
                expires_at: None,
                mode: KeyMode::Test,
                access: platform_core::states::KeyAccess::Full,
            },
            None,
            None,
        )
        .await
        .unwrap();
        key.expose_secret().clone()
    }

    pub fn get(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    pub fn post(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    pub fn put(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .put(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    pub fn patch(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .patch(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    pub fn delete(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(key)
    }
}

/// Status and JSON body of a response, checked against the OpenAPI
/// document (see `conformance`).
pub async fn json(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    let path = res.url().path().to_owned();
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    conformance::check(&path, status, &body);
    (status, body)
}

/// A logged-in browser for a user: (the session cookie, its CSRF token).
pub async fn session_for(app: &TestApp, user_id: &UserId) -> (String, String) {
    use platform_core::entities::users;
    use sea_orm::EntityTrait;
    let user = users::Entity::find_by_id(user_id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let (token, s) = platform_core::sessions::open(&app.state.db, user, None)
        .await
        .unwrap();
    (
        format!("puente_session={}", token.expose_secret()),
        s.csrf_token,
    )
}
