//! One Puente setup under test, started from the real binary:
//! - embedded: `puente all` (SQLite, in-process queue, sandbox inside);
//! - distributed: `puente sandbox`, `puente web`, `puente worker` × N on a
//!   throwaway PostgreSQL cluster and a throwaway Redis.
//!
//! Seeding links sandbox sellers the way `platform-worker/tests/it/common`'s
//! `link_seller` does (rows written with `platform_core` and the keyring),
//! not through the OAuth pages: thousands of terminals in seconds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use platform_core::accounts::{self, MpApplication, NewIntegrator};
use platform_core::api_keys::{self, NewApiKey};
use platform_core::config::{RawSettings, Settings};
use platform_core::crypto::{Keyring, MasterKey};
use platform_core::db::Db;
use platform_core::entities::terminals;
use platform_core::id::TerminalId;
use platform_core::linked_sellers;
use platform_core::secret::SecretString;
use platform_core::states::{KeyMode, OperatingMode, ScopeKind, Site};
use platform_core::tenancy::Scope;
use sea_orm::{ConnectionTrait, EntityTrait, Set, Statement};
use serde_json::{Value, json};

use crate::procs::{self, Postgres, Proc, Redis};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setup {
    Embedded,
    PgRedis,
}

impl Setup {
    pub fn label(self) -> &'static str {
        match self {
            Setup::Embedded => "embedded (SQLite + in-process queue)",
            Setup::PgRedis => "PostgreSQL + Redis",
        }
    }
}

pub struct Options {
    pub setup: Setup,
    pub workers: usize,
    pub upstream_timeout_secs: u64,
    pub sellers: usize,
    pub terminals_per_seller: usize,
}

pub struct Stack {
    pub setup: Setup,
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub env: HashMap<String, String>,
    pub web_url: String,
    /// Every web process's base URL (the first is `web_url`); the load
    /// generator spreads the POS's requests over them.
    pub web_urls: Vec<String>,
    pub sandbox_url: String,
    /// `all` (embedded) or `web`, then `sandbox`, then more web processes
    /// (`web-2`, …) and the round-robin `proxy` in front of them for Mercado
    /// Pago's notifications, then workers.
    pub procs: Vec<Proc>,
    pub pg: Option<Postgres>,
    pub redis: Option<Redis>,
    pub db: Db,
    pub http: reqwest::Client,
    pub key: String,
    pub integrator_id: String,
    pub client_id: String,
    /// Puente terminal ids (`trm_…`).
    pub terminals: Vec<String>,
    /// Each terminal's seller access token at the sandbox (to read its
    /// orders as Mercado Pago has them).
    pub seller_tokens: HashMap<String, String>,
    worker_seq: usize,
}

pub fn puente_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("PUENTE_BIN") {
        return Ok(PathBuf::from(p));
    }
    // Beside this binary: target/<profile>/puente.
    let me = std::env::current_exe()?;
    let dir = me.parent().context("no parent dir")?;
    for cand in [dir.join("puente"), dir.join("../puente")] {
        if cand.is_file() {
            return Ok(cand);
        }
    }
    bail!(
        "no `puente` binary beside {}; build it: cargo build --release -p puente -p puente-bench (or set PUENTE_BIN)",
        me.display()
    )
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("http client")
}

impl Stack {
    pub async fn start(opts: Options) -> anyhow::Result<Stack> {
        Stack::start_with(opts, &[]).await
    }

    /// [`Stack::start`] with settings of the processes overridden (e.g.
    /// `PUENTE_SANDBOX_TIMINGS=human`).
    pub async fn start_with(opts: Options, overrides: &[(&str, &str)]) -> anyhow::Result<Stack> {
        Stack::start_scaled(opts, overrides, 1).await
    }

    /// [`Stack::start_with`] with `webs` web processes (distributed setup;
    /// embedded has one `puente all`). With more than one, the sandbox's
    /// notifications reach them through a round-robin TCP proxy
    /// (`puente-bench proxy`, its own process).
    pub async fn start_scaled(
        opts: Options,
        overrides: &[(&str, &str)],
        webs: usize,
    ) -> anyhow::Result<Stack> {
        let dir =
            std::env::temp_dir().join(format!("puente-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let bin = puente_bin()?;
        let http = http_client();
        let web_port = procs::free_port();
        let sb_port = procs::free_port();
        let master = MasterKey::generate_spec("kbench");
        let mut env = HashMap::new();
        let data_dir = dir.join("data");
        for (k, v) in [
            ("PUENTE_DATA_DIR", data_dir.to_str().unwrap().to_owned()),
            ("PUENTE_HTTP_ADDR", format!("127.0.0.1:{web_port}")),
            ("PUENTE_SANDBOX_ADDR", format!("127.0.0.1:{sb_port}")),
            ("PUENTE_MASTER_KEYS", master.expose_secret().clone()),
            ("PUENTE_SANDBOX_TIMINGS", "instant".into()),
            ("PUENTE_API_RATE_LIMIT", "0".into()),
            ("PUENTE_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8".into()),
            (
                "PUENTE_UPSTREAM_TIMEOUT_SECS",
                opts.upstream_timeout_secs.to_string(),
            ),
            (
                "RUST_LOG",
                std::env::var("PUENTE_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ] {
            env.insert(k.to_owned(), v);
        }
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let (pg, redis) = match opts.setup {
            Setup::Embedded => {
                env.insert(
                    "DATABASE_URL".into(),
                    format!("sqlite://{}/puente.db?mode=rwc", data_dir.display()),
                );
                (None, None)
            }
            Setup::PgRedis => {
                let pg = Postgres::start(&dir)?;
                let redis = Redis::start(&dir).await?;
                env.insert("DATABASE_URL".into(), pg.url());
                env.insert("REDIS_URL".into(), redis.url());
                env.insert("PUENTE_REDIS_PREFIX".into(), "bench:".into());
                (Some(pg), Some(redis))
            }
        };
        let mut web_url = format!("http://127.0.0.1:{web_port}");
        let mut sandbox_url = format!("http://127.0.0.1:{sb_port}");
        let mut procs_v = Vec::new();
        let mut web_urls = Vec::new();
        let mut notify_url = None;
        match opts.setup {
            Setup::Embedded => {
                // A free port can be taken by another program between the
                // probe and the bind (tests run in parallel): try new ones.
                let mut attempt = 0;
                let all = loop {
                    attempt += 1;
                    let mut all = procs::spawn("all", &bin, &["all"], &env, &dir)?;
                    match procs::wait_http(
                        &http,
                        &format!("{web_url}/readyz"),
                        &mut all,
                        Duration::from_secs(60),
                    )
                    .await
                    {
                        Ok(()) => break all,
                        Err(e)
                            if attempt < 3 && e.to_string().contains("Address already in use") =>
                        {
                            let (w, sb) = (procs::free_port(), procs::free_port());
                            env.insert("PUENTE_HTTP_ADDR".into(), format!("127.0.0.1:{w}"));
                            env.insert("PUENTE_SANDBOX_ADDR".into(), format!("127.0.0.1:{sb}"));
                            web_url = format!("http://127.0.0.1:{w}");
                            sandbox_url = format!("http://127.0.0.1:{sb}");
                        }
                        Err(e) => return Err(e),
                    }
                };
                procs_v.push(all);
            }
            Setup::PgRedis => {
                let st = std::process::Command::new(&bin)
                    .arg("migrate")
                    .envs(&env)
                    .output()?;
                if !st.status.success() {
                    bail!(
                        "puente migrate failed: {}",
                        String::from_utf8_lossy(&st.stderr)
                    );
                }
                let mut web = procs::spawn("web", &bin, &["web"], &env, &dir)?;
                procs::wait_http(
                    &http,
                    &format!("{web_url}/readyz"),
                    &mut web,
                    Duration::from_secs(60),
                )
                .await?;
                let mut sb = procs::spawn("sandbox", &bin, &["sandbox"], &env, &dir)?;
                procs::wait_http(
                    &http,
                    &format!("{sandbox_url}/sandbox/clock"),
                    &mut sb,
                    Duration::from_secs(30),
                )
                .await?;
                procs_v.push(web);
                procs_v.push(sb);
                web_urls.push(web_url.clone());
                let mut addrs = vec![format!("127.0.0.1:{web_port}")];
                for n in 2..=webs {
                    let port = procs::free_port();
                    let mut e = env.clone();
                    e.insert("PUENTE_HTTP_ADDR".into(), format!("127.0.0.1:{port}"));
                    let url = format!("http://127.0.0.1:{port}");
                    let mut w = procs::spawn(&format!("web-{n}"), &bin, &["web"], &e, &dir)?;
                    procs::wait_http(
                        &http,
                        &format!("{url}/readyz"),
                        &mut w,
                        Duration::from_secs(60),
                    )
                    .await?;
                    procs_v.push(w);
                    web_urls.push(url);
                    addrs.push(format!("127.0.0.1:{port}"));
                }
                if webs > 1 {
                    let port = procs::free_port();
                    let listen = format!("127.0.0.1:{port}");
                    let mut args = vec!["proxy", "--listen", &listen];
                    for a in &addrs {
                        args.extend(["--to", a.as_str()]);
                    }
                    let me = std::env::current_exe()?;
                    let mut p = procs::spawn("proxy", &me, &args, &HashMap::new(), &dir)?;
                    let url = format!("http://{listen}");
                    procs::wait_http(
                        &http,
                        &format!("{url}/readyz"),
                        &mut p,
                        Duration::from_secs(10),
                    )
                    .await?;
                    procs_v.push(p);
                    notify_url = Some(url);
                }
            }
        }
        if web_urls.is_empty() {
            web_urls.push(web_url.clone());
        }
        let notify_url = notify_url.unwrap_or_else(|| web_url.clone());
        let mut raw = RawSettings {
            database_url: env.get("DATABASE_URL").cloned(),
            master_keys: Some(master.clone()),
            data_dir: Some(data_dir.to_str().unwrap().to_owned()),
            ..Default::default()
        };
        raw.migrate_on_start = Some(false);
        let settings = Settings::resolve(raw)?;
        let keyring = Keyring::from_spec(&master)?;
        let db = platform_core::db::connect(&settings.database_url, settings.database_kind).await?;

        let mut stack = Stack {
            setup: opts.setup,
            dir,
            bin,
            env,
            web_url,
            web_urls,
            sandbox_url,
            procs: procs_v,
            pg,
            redis,
            db,
            http,
            key: String::new(),
            integrator_id: String::new(),
            client_id: String::new(),
            terminals: Vec::new(),
            seller_tokens: HashMap::new(),
            worker_seq: 0,
        };
        stack
            .seed(
                &keyring,
                &notify_url,
                opts.sellers,
                opts.terminals_per_seller,
            )
            .await?;
        for _ in 0..opts.workers {
            stack.start_worker()?;
        }
        Ok(stack)
    }

    pub fn is_sqlite(&self) -> bool {
        self.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite
    }

    /// Starts one more `puente worker` (distributed setup only).
    pub fn start_worker(&mut self) -> anyhow::Result<()> {
        if self.setup == Setup::Embedded {
            return Ok(());
        }
        self.worker_seq += 1;
        let p = procs::spawn(
            &format!("worker-{}", self.worker_seq),
            &self.bin,
            &["worker"],
            &self.env,
            &self.dir,
        )?;
        self.procs.push(p);
        Ok(())
    }

    pub fn worker_indices(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|i| {
                self.procs[*i].name.starts_with("worker-") && self.procs[*i].child.is_some()
            })
            .collect()
    }

    /// A dedicated sandbox application whose notifications go to this
    /// integrator's routed URL; an integrator using it; sellers and their
    /// terminals linked by writing the rows onboarding would write.
    async fn seed(
        &mut self,
        keyring: &Keyring,
        notify_url: &str,
        sellers_n: usize,
        per_seller: usize,
    ) -> anyhow::Result<()> {
        let app: Value = self
            .http
            .post(format!("{}/sandbox/applications", self.sandbox_url))
            .json(&json!({"redirect_uris": [format!("{}/oauth/callback", self.web_url)]}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let client_id = app["client_id"].as_str().context("client_id")?.to_owned();
        let (integrator, _) = accounts::create_integrator(
            &self.db,
            keyring,
            NewIntegrator {
                name: "Bench integrator".into(),
                owner_email: format!("bench-{}@example.com", uuid::Uuid::new_v4().simple()),
                owner_name: "Bench".into(),
                owner_password: SecretString::from("a long bench password"),
                mp_app: Some(MpApplication {
                    client_id: client_id.clone(),
                    client_secret: app["client_secret"].as_str().unwrap().to_owned().into(),
                    webhook_secret: app["webhook_secret"].as_str().unwrap().to_owned().into(),
                    redirect_url: format!("{}/oauth/callback", self.web_url),
                    sponsor_id: Some("999000".into()),
                }),
                is_demo: false,
            },
        )
        .await?;
        self.http
            .patch(format!("{}/sandbox/applications/{client_id}", self.sandbox_url))
            .json(&json!({"webhook_url": format!("{notify_url}/webhooks/mercadopago/{}", integrator.id)}))
            .send()
            .await?
            .error_for_status()?;
        let scope = Scope::integrator(integrator.id.clone());
        let (_, key) = api_keys::create(
            &self.db,
            &scope,
            NewApiKey {
                name: "bench".into(),
                scope_kind: ScopeKind::Integrator,
                target_id: None,
                expires_at: None,
                mode: KeyMode::Test,
                access: platform_core::states::KeyAccess::Full,
            },
            None,
            None,
        )
        .await?;
        self.key = key.expose_secret().clone();
        self.integrator_id = integrator.id.to_string();
        self.client_id = client_id.clone();

        let now = Utc::now();
        let mut terminal_rows = Vec::new();
        for _ in 0..sellers_n {
            let seller: Value = self
                .http
                .post(format!("{}/sandbox/sellers", self.sandbox_url))
                .json(&json!({"site_id": "MLB", "terminals": per_seller, "client_id": client_id}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let linked = linked_sellers::insert(
                &self.db,
                linked_sellers::NewLinkedSeller {
                    integrator_id: integrator.id.clone(),
                    mp_user_id: seller["user_id"].as_i64().context("user_id")?,
                    nickname: seller["nickname"].as_str().unwrap_or("seller").to_owned(),
                    email: None,
                    site: Site::Mlb,
                    live_mode: false,
                    label: None,
                },
            )
            .await?;
            let grant = |field: &str| -> anyhow::Result<SecretString> {
                Ok(seller[field].as_str().context("token")?.into())
            };
            let (access, refresh) = (grant("access_token")?, grant("refresh_token")?);
            linked_sellers::store_grant(
                &self.db,
                keyring,
                &linked,
                linked_sellers::Grant {
                    access_token: &access,
                    refresh_token: Some(&refresh),
                    expires_in: Some(180 * 86_400),
                    scope: "offline_access read write",
                    public_key: None,
                },
            )
            .await?;
            let seller_id = linked.id;
            for t in seller["terminals"].as_array().context("terminals")? {
                let id = TerminalId::new();
                terminal_rows.push(terminals::ActiveModel {
                    id: Set(id.clone()),
                    integrator_id: Set(integrator.id.clone()),
                    seller_id: Set(seller_id.clone()),
                    store_id: Set(None),
                    pos_id: Set(None),
                    device_id: Set(t["id"].as_str().context("terminal id")?.to_owned()),
                    model: Set(None),
                    operating_mode: Set(OperatingMode::Pdv),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
                self.seller_tokens.insert(
                    id.to_string(),
                    seller["access_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                self.terminals.push(id.into_string());
            }
        }
        for chunk in terminal_rows.chunks(200) {
            terminals::Entity::insert_many(chunk.to_vec())
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    pub async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(backend, sql.to_owned()))
            .await?
            .context("no row")?;
        Ok(row.try_get_by_index::<i64>(0)?)
    }

    /// Waits until no intent is open on a terminal and no webhook delivery is
    /// pending (the previous run's work is done), up to `limit`.
    pub async fn drain(&self, limit: Duration) -> anyhow::Result<Duration> {
        let start = std::time::Instant::now();
        loop {
            let open = self
                .count("SELECT COUNT(*) FROM payment_intents WHERE open_on_terminal IS NOT NULL")
                .await?;
            let pending = self
                .count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                .await?;
            if open == 0 && pending == 0 {
                return Ok(start.elapsed());
            }
            if start.elapsed() > limit {
                bail!(
                    "not drained after {limit:?}: {open} open intents, {pending} pending deliveries"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// (name, pid) of every Puente process.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.procs
            .iter()
            .filter(|p| p.child.is_some() && p.name != "proxy")
            .map(|p| (p.name.clone(), p.pid()))
            .collect()
    }

    /// (name, pid, whole process tree?) of every process of the setup:
    /// Puente's, the bench's notification proxy, PostgreSQL's postmaster
    /// (with its backends) and Redis. For CPU and memory accounting.
    pub fn all_pids(&self) -> Vec<(String, u32, bool)> {
        let mut v: Vec<(String, u32, bool)> = self
            .procs
            .iter()
            .filter(|p| p.child.is_some())
            .map(|p| (p.name.clone(), p.pid(), false))
            .collect();
        if let Some(pid) = self.pg.as_ref().and_then(|pg| pg.postmaster_pid()) {
            v.push(("postgresql".into(), pid, true));
        }
        if let Some(r) = &self.redis
            && r.proc.child.is_some()
        {
            v.push(("redis".into(), r.proc.pid(), false));
        }
        v
    }

    pub async fn add_endpoint(&self, url: &str) -> anyhow::Result<(String, String)> {
        let v: Value = self
            .http
            .post(format!("{}/v1/webhook-endpoints", self.web_url))
            .bearer_auth(&self.key)
            .json(&json!({"url": url}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok((
            v["id"].as_str().context("endpoint id")?.to_owned(),
            v["secret"].as_str().context("endpoint secret")?.to_owned(),
        ))
    }

    pub async fn delete_endpoint(&self, id: &str) -> anyhow::Result<()> {
        self.http
            .delete(format!("{}/v1/webhook-endpoints/{id}", self.web_url))
            .bearer_auth(&self.key)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    pub fn keep_dir(&self) -> &Path {
        &self.dir
    }

    pub fn stop(mut self) {
        for p in self.procs.iter_mut().rev() {
            p.stop(Duration::from_secs(5));
        }
        drop(self.redis.take());
        drop(self.pg.take());
        if std::env::var("PUENTE_BENCH_KEEP").is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
