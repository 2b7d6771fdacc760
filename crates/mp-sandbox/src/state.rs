//! The in-memory world: applications, accounts, tokens, stores, POS,
//! terminals, intents, orders, notifications. One `State` behind one mutex.

use crate::faults::Fault;
use crate::ids;
use crate::model::*;
use crate::notify::Notification;
use crate::retention::{Cred, IDEMPOTENCY_TTL, Retained};
use crate::sites::{self, Site};
use crate::work::Work;
use crate::{AppConfig, Retention, SandboxConfig, StepDurations, TokenLifetimes};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

#[derive(Clone, Debug)]
pub struct App {
    pub cfg: AppConfig,
    /// The integrator's own account (client_credentials tokens act as it).
    pub owner_user_id: u64,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: u64,
    pub nickname: String,
    pub password: String,
    pub email: String,
    pub site: &'static Site,
    pub registration_date: DateTime<Utc>,
    pub description: Option<String>,
    pub public_key: String,
}

/// A QR order as the API shows it, and the application whose token put it
/// there (its webhook hears of the payment).
#[derive(Clone, Debug)]
pub struct QrOrder {
    pub body: Value,
    pub client_id: String,
}

#[derive(Clone, Debug)]
pub struct TokenRec {
    pub user_id: u64,
    pub client_id: String,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Clone, Debug)]
pub struct RefreshRec {
    pub user_id: u64,
    pub client_id: String,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Clone, Debug)]
pub struct CodeRec {
    pub client_id: String,
    pub user_id: u64,
    pub redirect_uri: String,
    pub challenge: Option<(String, String)>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Clone, Debug)]
pub struct Store {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub external_id: Option<String>,
    pub business_hours: Value,
    pub location: Value,
    pub date_created: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Pos {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub store_id: u64,
    pub external_store_id: Option<String>,
    pub external_id: String,
    pub fixed_amount: bool,
    pub category: Option<Value>,
    pub url: Option<String>,
    pub uuid: String,
    pub date_created: DateTime<Utc>,
    pub date_last_updated: DateTime<Utc>,
}

/// `(user, scope, key)`: a key is per seller and per kind of request.
pub type IdemKey = (u64, &'static str, String);

/// Keys that created an order or an intent: they are evicted with it (their
/// 24 hours are checked when they are looked up), not by the key queue.
const OWNED_SCOPES: &[&str] = &["orders", "intents"];

/// A request answered under an idempotency key: a digest of its body (to
/// tell a replay from another request) and the answer, serialized.
#[derive(Clone, Debug)]
pub struct IdemEntry {
    pub digest: u64,
    pub status: u16,
    pub response: String,
    pub at: DateTime<Utc>,
}

/// A digest of a JSON value (objects have sorted keys, so equal values
/// serialize alike).
pub fn digest(v: &Value) -> u64 {
    use std::hash::Hasher;
    struct W(std::collections::hash_map::DefaultHasher);
    impl std::io::Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.write(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = W(std::collections::hash_map::DefaultHasher::new());
    let _ = serde_json::to_writer(&mut w, v);
    w.0.finish()
}

/// Issued credentials, as returned by `/oauth/token` and `/sandbox/sellers`.
#[derive(Clone, Debug)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub user_id: u64,
    pub public_key: String,
}

pub struct State {
    pub lifetimes: TokenLifetimes,
    pub retention: Retention,
    pub steps: StepDurations,
    pub default_terminal_mode: TerminalMode,
    pub default_client_id: String,
    pub apps: BTreeMap<String, App>,
    pub users: BTreeMap<u64, User>,
    pub tokens: HashMap<String, TokenRec>,
    pub refresh: HashMap<String, RefreshRec>,
    pub codes: HashMap<String, CodeRec>,
    /// (seller, application) pairs that are linked.
    pub authorizations: BTreeSet<(u64, String)>,
    pub stores: BTreeMap<u64, Store>,
    pub pos: BTreeMap<u64, Pos>,
    pub terminals: BTreeMap<String, Terminal>,
    pub intents: HashMap<String, Intent>,
    pub refunds: HashMap<String, RefundIntent>,
    pub orders: HashMap<String, Order>,
    /// Legacy Payments API view of terminal charges (`GET /v1/payments/{id}`).
    pub payments: HashMap<u64, Value>,
    /// Payments of Orders API orders, by payment id: the order they belong
    /// to, which their Payments API view is shown from.
    pub order_payments: HashMap<u64, String>,
    /// Current QR order per (collector, external_pos_id).
    pub qr_orders: HashMap<(u64, String), QrOrder>,
    pub idem: HashMap<IdemKey, IdemEntry>,
    pub charges: Charges,
    /// By id; ids grow, so this is also creation order.
    pub notifications: BTreeMap<u64, Notification>,
    pub faults: Vec<Fault>,
    pub integrators: HashMap<u64, Value>,
    /// Unfinished work items by the next time something happens to them.
    pub schedule: BTreeSet<(DateTime<Utc>, Work)>,
    /// The unfinished item each busy terminal holds.
    pub busy: HashMap<String, Work>,
    /// Notifications waiting for an attempt (or held back), by when.
    pub notes_due: BTreeSet<(DateTime<Utc>, u64)>,
    /// Notifications held back by the reordering fault.
    pub notes_held: HashSet<u64>,
    /// Unfinished notifications per `data.id`: what they are about stays.
    pub open_notes: HashMap<String, u32>,
    pub retained: Retained,
    next_id: u64,
    next_serial: u64,
    pub next_notification: u64,
}

impl State {
    pub fn new(cfg: &SandboxConfig, now: DateTime<Utc>) -> Self {
        let mut st = State {
            steps: cfg.timings.steps(),
            lifetimes: cfg.token_lifetimes,
            retention: cfg.retention,
            default_terminal_mode: cfg.terminal_mode,
            default_client_id: cfg.default_app.client_id.clone(),
            apps: BTreeMap::new(),
            users: BTreeMap::new(),
            tokens: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            authorizations: BTreeSet::new(),
            stores: BTreeMap::new(),
            pos: BTreeMap::new(),
            terminals: BTreeMap::new(),
            intents: HashMap::new(),
            refunds: HashMap::new(),
            orders: HashMap::new(),
            payments: HashMap::new(),
            order_payments: HashMap::new(),
            qr_orders: HashMap::new(),
            idem: HashMap::new(),
            charges: Charges::default(),
            notifications: BTreeMap::new(),
            faults: Vec::new(),
            integrators: HashMap::new(),
            schedule: BTreeSet::new(),
            busy: HashMap::new(),
            notes_due: BTreeSet::new(),
            notes_held: HashSet::new(),
            open_notes: HashMap::new(),
            retained: Retained::default(),
            next_id: 40_000_000 + (ids::random_u64() % 1_000_000) * 10,
            next_serial: 0,
            next_notification: 0,
        };
        st.add_app(cfg.default_app.clone(), now);
        st
    }

    /// A fresh numeric id (stores, POS, users, payments share one sequence).
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1 + ids::random_u64() % 7;
        self.next_id
    }

    pub fn add_app(&mut self, cfg: AppConfig, now: DateTime<Utc>) -> App {
        let owner = self.create_user("MLB", None, now);
        let app = App {
            cfg,
            owner_user_id: owner,
        };
        self.apps.insert(app.cfg.client_id.clone(), app.clone());
        app
    }

    pub fn create_user(
        &mut self,
        site_id: &str,
        description: Option<String>,
        now: DateTime<Utc>,
    ) -> u64 {
        let site = sites::site(site_id).unwrap_or(sites::site("MLB").expect("MLB site"));
        let id = 1_000_000_000 + self.next_id() * 7 % 999_999_999;
        let nickname = format!("TESTUSER{}", id % 100_000_000);
        let user = User {
            id,
            nickname: nickname.clone(),
            password: format!("qatest{}", ids::random_digits(4)),
            email: format!("test_user_{}@testuser.com", id % 100_000_000),
            site,
            registration_date: now,
            description,
            public_key: ids::public_key(),
        };
        self.users.insert(id, user);
        id
    }

    pub fn issue_tokens(
        &mut self,
        user_id: u64,
        client_id: &str,
        with_refresh: bool,
        now: DateTime<Utc>,
    ) -> Issued {
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
        let ttl = secs(if with_refresh {
            self.lifetimes.access
        } else {
            self.lifetimes.app_access
        });
        let refresh_ttl = secs(self.lifetimes.refresh);
        let access = ids::access_token(client_id, user_id, now);
        let expires_at = now + chrono::Duration::seconds(ttl);
        self.tokens.insert(
            access.clone(),
            TokenRec {
                user_id,
                client_id: client_id.to_string(),
                expires_at,
                revoked: false,
            },
        );
        self.file_cred(expires_at, Cred::Access(access.clone()));
        let refresh = with_refresh.then(|| {
            let r = ids::tg_token(user_id);
            let expires_at = now + chrono::Duration::seconds(refresh_ttl);
            self.refresh.insert(
                r.clone(),
                RefreshRec {
                    user_id,
                    client_id: client_id.to_string(),
                    expires_at,
                    used: false,
                },
            );
            self.file_cred(expires_at, Cred::Refresh(r.clone()));
            r
        });
        let public_key = self
            .users
            .get(&user_id)
            .map(|u| u.public_key.clone())
            .unwrap_or_default();
        Issued {
            access_token: access,
            refresh_token: refresh,
            expires_in: ttl,
            user_id,
            public_key,
        }
    }

    /// Revokes every access and refresh token of a seller (for one app, or all).
    pub fn revoke_tokens(
        &mut self,
        user_id: u64,
        client_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> usize {
        let mut dead = vec![];
        for (k, t) in self.tokens.iter_mut() {
            if t.user_id == user_id && client_id.is_none_or(|c| c == t.client_id) && !t.revoked {
                t.revoked = true;
                dead.push(Cred::Access(k.clone()));
            }
        }
        let n = dead.len();
        for (k, r) in self.refresh.iter_mut() {
            if r.user_id == user_id && client_id.is_none_or(|c| c == r.client_id) && !r.used {
                r.used = true;
                dead.push(Cred::Refresh(k.clone()));
            }
        }
        for c in dead {
            self.file_cred(now, c);
        }
        n
    }

    pub fn create_store(
        &mut self,
        user_id: u64,
        name: &str,
        external_id: Option<String>,
        location: Value,
        hours: Value,
        now: DateTime<Utc>,
    ) -> u64 {
        let id = self.next_id();
        self.stores.insert(
            id,
            Store {
                id,
                user_id,
                name: name.to_string(),
                external_id,
                business_hours: hours,
                location,
                date_created: now,
            },
        );
        id
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_pos(
        &mut self,
        user_id: u64,
        store_id: u64,
        name: &str,
        external_id: &str,
        fixed_amount: bool,
        category: Option<Value>,
        url: Option<String>,
        now: DateTime<Utc>,
    ) -> u64 {
        let id = self.next_id();
        let external_store_id = self
            .stores
            .get(&store_id)
            .and_then(|s| s.external_id.clone());
        self.pos.insert(
            id,
            Pos {
                id,
                user_id,
                name: name.to_string(),
                store_id,
                external_store_id,
                external_id: external_id.to_string(),
                fixed_amount,
                category,
                url,
                uuid: ids::random_hex(64),
                date_created: now,
                date_last_updated: now,
            },
        );
        id
    }

    /// A new simulated terminal `<MODEL>__SBX<7 digits>`, unique across the sandbox.
    pub fn create_terminal(
        &mut self,
        user_id: u64,
        store_id: u64,
        pos_id: u64,
        model: &str,
        mode: OperatingMode,
    ) -> String {
        self.next_serial += 1;
        let id = format!("{model}__SBX{:07}", self.next_serial);
        self.terminals.insert(
            id.clone(),
            Terminal {
                id: id.clone(),
                user_id,
                store_id,
                pos_id,
                operating_mode: mode,
                mode: self.default_terminal_mode,
            },
        );
        id
    }

    /// Store + one POS and one PDV terminal per requested terminal, as MP does for Point test users.
    pub fn provision_seller(&mut self, user_id: u64, terminals: usize, now: DateTime<Utc>) {
        let Some(user) = self.users.get(&user_id).cloned() else {
            return;
        };
        let store_ext = format!("SBXSTORE{}", user_id % 100_000);
        let location = json!({"street_number":"123","street_name":"Calle Falsa","city_name":"Ciudad","state_name":"Estado",
                               "latitude":-34.6,"longitude":-58.38,"reference":"Sandbox"});
        let store_id = self.create_store(
            user_id,
            "Sandbox store",
            Some(store_ext),
            location,
            json!({}),
            now,
        );
        for i in 0..terminals.max(1) {
            let pos_ext = format!("SBXPOS{}", i + 1);
            let pos_id = self.create_pos(
                user_id,
                store_id,
                &format!("Sandbox POS {}", i + 1),
                &pos_ext,
                false,
                None,
                None,
                now,
            );
            if i < terminals {
                let model = user.site.models[i % user.site.models.len()];
                self.create_terminal(user_id, store_id, pos_id, model, OperatingMode::Pdv);
            }
        }
    }

    /// Replays an idempotent request: `Ok(Some)` same body, `Err(())` different body.
    pub fn idem_lookup(
        &mut self,
        user: u64,
        scope: &'static str,
        key: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<(u16, Value)>, ()> {
        self.idem_lookup_digest(user, scope, key, digest(body), now)
    }

    /// [`State::idem_lookup`] with the body's [`digest`] computed by the caller.
    pub fn idem_lookup_digest(
        &mut self,
        user: u64,
        scope: &'static str,
        key: &str,
        body_digest: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<(u16, Value)>, ()> {
        let k = (user, scope, key.to_string());
        if let Some(e) = self.idem.get(&k) {
            if now - e.at > IDEMPOTENCY_TTL {
                self.idem.remove(&k);
                return Ok(None);
            }
            if e.digest == body_digest {
                let response = serde_json::from_str(&e.response).unwrap_or(Value::Null);
                return Ok(Some((e.status, response)));
            }
            return Err(());
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn idem_store(
        &mut self,
        user: u64,
        scope: &'static str,
        key: &str,
        body: Value,
        status: u16,
        response: Value,
        now: DateTime<Utc>,
    ) {
        self.idem_store_digest(user, scope, key, digest(&body), status, &response, now);
    }

    /// [`State::idem_store`] with the body's [`digest`] computed by the caller.
    #[allow(clippy::too_many_arguments)]
    pub fn idem_store_digest(
        &mut self,
        user: u64,
        scope: &'static str,
        key: &str,
        body_digest: u64,
        status: u16,
        response: &Value,
        now: DateTime<Utc>,
    ) {
        let k = (user, scope, key.to_string());
        let owned = OWNED_SCOPES.contains(&scope);
        self.idem.insert(
            k.clone(),
            IdemEntry {
                digest: body_digest,
                status,
                response: response.to_string(),
                at: now,
            },
        );
        if !owned {
            self.retained.idem.push(now, k);
        }
    }

    /// The active (unfinished) work queued on a terminal, if any.
    pub fn terminal_busy(&self, terminal_id: &str) -> Option<String> {
        self.busy.get(terminal_id).map(|w| w.id().to_string())
    }
}
