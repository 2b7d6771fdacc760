//! Test support: a fresh, migrated database per test on either backend,
//! and a fixture that fills every tenant table for one integrator.
//!
//! PostgreSQL tests get their own schema in the `test` database
//! (`PUENTE_TEST_PG_URL` overrides the server); a missing server fails the
//! test with a message saying how to start it. Nothing is skipped.

use crate::clock;
use crate::db::Db;
use chrono::Duration;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::config::DatabaseKind;
use crate::crypto::{Aad, Keyring, MasterKey};
use crate::entities::*;
use crate::id::*;
use crate::states::*;

pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn test_pg_url() -> String {
    std::env::var("PUENTE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_owned())
}

/// A migrated database that belongs to one test.
pub struct TestDb {
    pub db: Db,
    pub kind: DatabaseKind,
    pub url: String,
    /// PostgreSQL schema, or SQLite file path.
    location: String,
}

impl TestDb {
    pub async fn new(kind: DatabaseKind) -> TestDb {
        let unique = format!("pt_{}", new_body());
        match kind {
            DatabaseKind::Sqlite => {
                let dir = std::env::temp_dir().join("puente-tests");
                std::fs::create_dir_all(&dir).expect("temp dir for test databases");
                let path = dir.join(format!("{unique}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let db = crate::db::connect(&url, kind)
                    .await
                    .expect("open SQLite test database");
                crate::db::migrate(&db).await.expect("migrate SQLite");
                TestDb {
                    db,
                    kind,
                    url,
                    location: path.display().to_string(),
                }
            }
            DatabaseKind::Postgres => {
                let url = test_pg_url();
                let admin = crate::db::connect(&url, kind).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {url} ({e}). Start it with \
                         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                         or run scripts/test.sh, which installs and starts it."
                    )
                });
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{unique}\""))
                    .await
                    .expect("create test schema");
                admin.close().await.ok();
                let db = crate::db::connect_with(&url, kind, Some(&unique))
                    .await
                    .expect("connect to test schema");
                crate::db::migrate(&db).await.expect("migrate PostgreSQL");
                TestDb {
                    db,
                    kind,
                    url,
                    location: unique,
                }
            }
        }
    }

    /// The PostgreSQL schema this test owns (None for SQLite).
    pub fn pg_schema(&self) -> Option<&str> {
        (self.kind == DatabaseKind::Postgres).then_some(self.location.as_str())
    }

    /// Drops the schema or deletes the file. Tests call it at the end;
    /// leftovers from failed tests are removed by `scripts/test.sh`.
    pub async fn cleanup(self) {
        let TestDb {
            db,
            kind,
            url,
            location,
        } = self;
        db.close().await.ok();
        match kind {
            DatabaseKind::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{location}{suffix}"));
                }
            }
            DatabaseKind::Postgres => {
                if let Ok(admin) = crate::db::connect(&url, kind).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP SCHEMA IF EXISTS \"{location}\" CASCADE"
                        ))
                        .await;
                    admin.close().await.ok();
                }
            }
        }
    }
}

/// Generates `mod NAME { sqlite, postgres }` tests that each run
/// `NAME(&TestDb)` against a fresh database of that kind.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let db = $crate::testing::TestDb::new($crate::config::DatabaseKind::Sqlite).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }

                #[tokio::test]
                async fn postgres() {
                    let db = $crate::testing::TestDb::new($crate::config::DatabaseKind::Postgres).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            }
        )+
    };
}

/// A keyring with one fresh key, for tests.
pub fn test_keyring() -> Keyring {
    Keyring::from_spec(&MasterKey::generate_spec("test")).expect("generated key is valid")
}

/// The ids of one row of every tenant table, all under one integrator,
/// and of a second seller (with its own store, POS and terminal).
#[derive(Debug, Clone)]
pub struct Seeded {
    pub integrator: IntegratorId,
    pub user: UserId,
    pub seller: SellerId,
    pub other_seller: SellerId,
    pub credential: SellerCredentialId,
    pub link: OnboardingLinkId,
    pub oauth_state: OAuthStateId,
    pub store: StoreId,
    pub other_store: StoreId,
    pub pos: PosId,
    pub other_pos: PosId,
    pub terminal: TerminalId,
    pub other_terminal: TerminalId,
    pub intent: PaymentIntentId,
    pub intent_event: IntentEventId,
    pub refund: RefundId,
    pub qr_order: QrOrderId,
    pub api_key: ApiKeyId,
    pub endpoint: WebhookEndpointId,
    pub event: EventId,
    pub delivery: WebhookDeliveryId,
    pub attempt: WebhookAttemptId,
    pub notification: InboundNotificationId,
    pub audit: AuditEntryId,
    pub idempotency: IdempotencyRecordId,
}

/// Creates an integrator with a row in every tenant table. `mp_user_base`
/// keeps Mercado Pago user ids distinct between seeded integrators.
pub async fn seed_integrator(db: &Db, keyring: &Keyring, mp_user_base: i64) -> Seeded {
    let now = clock::now();
    let org = IntegratorId::new();
    let seal = |table: &str, column: &str, id: &str, value: &str| {
        keyring.seal(&value.into(), Aad::new(table, column, id))
    };

    integrators::ActiveModel {
        id: Set(org.clone()),
        name: Set(format!("Integrator {mp_user_base}")),
        mp_client_id: Set(Some(format!("{mp_user_base}0"))),
        mp_client_secret: Set(Some(seal(
            "integrators",
            "mp_client_secret",
            org.as_str(),
            "client-secret",
        ))),
        mp_webhook_secret: Set(Some(seal(
            "integrators",
            "mp_webhook_secret",
            org.as_str(),
            "webhook-secret",
        ))),
        mp_redirect_url: Set(Some("http://127.0.0.1:8080/oauth/callback".into())),
        sponsor_id: Set(Some(mp_user_base.to_string())),
        upstream_api: Set(UpstreamApi::Orders),
        is_demo: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert integrator");

    let user = UserId::new();
    users::ActiveModel {
        id: Set(user.clone()),
        integrator_id: Set(org.clone()),
        email: Set(format!("{user}@example.com")),
        name: Set("Owner".into()),
        password_hash: Set("$argon2id$placeholder".into()),
        role: Set(UserRole::Owner),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        disabled_at: Set(None),
    }
    .insert(db)
    .await
    .expect("insert user");

    let mut seller_ids = Vec::new();
    let mut store_ids = Vec::new();
    let mut pos_ids = Vec::new();
    let mut terminal_ids = Vec::new();
    let mut first_seller = None;
    for n in 0..2 {
        let linked = crate::linked_sellers::insert(
            db,
            crate::linked_sellers::NewLinkedSeller {
                integrator_id: org.clone(),
                mp_user_id: mp_user_base + 1 + n,
                nickname: format!("TESTUSER{mp_user_base}{n}"),
                email: None,
                site: Site::Mlb,
                live_mode: false,
                label: None,
            },
        )
        .await
        .expect("insert seller");
        if n == 0 {
            first_seller = Some(linked.clone());
        }
        let seller = linked.id;
        let store = StoreId::new();
        stores::ActiveModel {
            id: Set(store.clone()),
            integrator_id: Set(org.clone()),
            seller_id: Set(seller.clone()),
            mp_store_id: Set(Some(format!("{}", 1000 + n))),
            external_id: Set(Some(format!("SUC{n}"))),
            name: Set(format!("Store {n}")),
            street_name: Set(None),
            street_number: Set(None),
            city_name: Set(None),
            state_name: Set(None),
            latitude: Set(None),
            longitude: Set(None),
            reference: Set(None),
            business_hours: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .expect("insert store");
        let pos_id = PosId::new();
        pos::ActiveModel {
            id: Set(pos_id.clone()),
            integrator_id: Set(org.clone()),
            seller_id: Set(seller.clone()),
            store_id: Set(store.clone()),
            mp_pos_id: Set(Some(format!("{}", 2000 + n))),
            external_id: Set(format!("SUC{n}POS1")),
            name: Set(format!("Caja {n}")),
            category: Set(None),
            fixed_amount: Set(false),
            qr: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .expect("insert pos");
        let terminal = TerminalId::new();
        terminals::ActiveModel {
            id: Set(terminal.clone()),
            integrator_id: Set(org.clone()),
            seller_id: Set(seller.clone()),
            store_id: Set(Some(store.clone())),
            pos_id: Set(Some(pos_id.clone())),
            device_id: Set(format!("NEWLAND_N950__SBX{mp_user_base}{n}")),
            model: Set(Some("NEWLAND_N950".into())),
            operating_mode: Set(OperatingMode::Pdv),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .expect("insert terminal");
        seller_ids.push(seller);
        store_ids.push(store);
        pos_ids.push(pos_id);
        terminal_ids.push(terminal);
    }
    let seller = seller_ids[0].clone();

    let credential = crate::linked_sellers::store_grant(
        db,
        keyring,
        first_seller.as_ref().expect("two sellers"),
        crate::linked_sellers::Grant {
            access_token: &"APP_USR-access".into(),
            refresh_token: Some(&"TG-refresh".into()),
            expires_in: Some(180 * 86_400),
            scope: "offline_access read write",
            public_key: Some("APP_USR-public"),
        },
    )
    .await
    .expect("insert credentials")
    .id;

    let link = OnboardingLinkId::new();
    onboarding_links::ActiveModel {
        id: Set(link.clone()),
        integrator_id: Set(org.clone()),
        label: Set(Some("Panadería".into())),
        token_hash: Set(format!("hash-{link}")),
        status: Set(OnboardingLinkStatus::Open),
        expires_at: Set(now + Duration::days(7)),
        used_at: Set(None),
        seller_id: Set(None),
        created_by: Set(Some(user.to_string())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert link");

    let oauth_state = OAuthStateId::new();
    oauth_states::ActiveModel {
        id: Set(oauth_state.clone()),
        integrator_id: Set(org.clone()),
        link_id: Set(link.clone()),
        state_hash: Set(format!("hash-{oauth_state}")),
        pkce_verifier: Set(seal(
            "oauth_states",
            "pkce_verifier",
            oauth_state.as_str(),
            "verifier",
        )),
        expires_at: Set(now + Duration::minutes(10)),
        consumed_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert oauth state");

    let intent = PaymentIntentId::new();
    payment_intents::ActiveModel {
        id: Set(intent.clone()),
        integrator_id: Set(org.clone()),
        seller_id: Set(seller.clone()),
        terminal_id: Set(terminal_ids[0].clone()),
        store_id: Set(Some(store_ids[0].clone())),
        pos_id: Set(Some(pos_ids[0].clone())),
        api_key_id: Set(None),
        upstream_api: Set(UpstreamApi::Orders),
        upstream_id: Set(None),
        status: Set(IntentStatus::Queued),
        status_detail: Set(None),
        amount: Set(1500),
        currency: Set("BRL".into()),
        description: Set(Some("Coffee".into())),
        external_reference: Set(Some("ref-1".into())),
        print_on_terminal: Set(true),
        payment_type: Set(None),
        installments: Set(None),
        installments_cost: Set(None),
        sponsor_id: Set(Some(mp_user_base.to_string())),
        mp_payment_id: Set(None),
        upstream_version: Set(0),
        open_on_terminal: Set(Some(terminal_ids[0].clone())),
        dispatch_attempts: Set(0),
        next_dispatch_at: Set(Some(now)),
        last_error_code: Set(None),
        last_error_message: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        finalized_at: Set(None),
        cancel_state: Set(None),
        cancel_at_terminal: Set(false),
        cancel_requested_at: Set(None),
        requires_attention: Set(false),
        attention_reason: Set(None),
    }
    .insert(db)
    .await
    .expect("insert intent");

    let intent_event = IntentEventId::new();
    payment_intent_events::ActiveModel {
        id: Set(intent_event.clone()),
        integrator_id: Set(org.clone()),
        intent_id: Set(intent.clone()),
        from_status: Set(None),
        to_status: Set(IntentStatus::Queued),
        source: Set(EventSource::Api),
        detail: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert intent event");

    let refund = RefundId::new();
    refunds::ActiveModel {
        id: Set(refund.clone()),
        integrator_id: Set(org.clone()),
        seller_id: Set(seller.clone()),
        intent_id: Set(intent.clone()),
        amount: Set(500),
        status: Set(RefundStatus::Queued),
        upstream_id: Set(None),
        last_error_code: Set(None),
        last_error_message: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert refund");

    let qr_order = QrOrderId::new();
    qr_orders::ActiveModel {
        id: Set(qr_order.clone()),
        integrator_id: Set(org.clone()),
        seller_id: Set(seller.clone()),
        store_id: Set(Some(store_ids[0].clone())),
        pos_id: Set(pos_ids[0].clone()),
        external_reference: Set("qr-1".into()),
        title: Set(Some("Order".into())),
        total_amount: Set(2500),
        currency: Set("BRL".into()),
        status: Set(QrOrderStatus::Active),
        sponsor_id: Set(Some(mp_user_base.to_string())),
        expires_at: Set(None),
        mp_payment_id: Set(None),
        request: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert qr order");

    let api_key = ApiKeyId::new();
    api_keys::ActiveModel {
        id: Set(api_key.clone()),
        integrator_id: Set(org.clone()),
        name: Set("POS key".into()),
        prefix: Set(format!("pk_test_{}", &api_key.as_str()[4..16])),
        key_hash: Set("hash".into()),
        mode: Set(KeyMode::Test),
        scope_kind: Set(ScopeKind::Seller),
        seller_id: Set(Some(seller.clone())),
        store_id: Set(None),
        pos_id: Set(None),
        created_by: Set(Some(user.to_string())),
        created_at: Set(now),
        expires_at: Set(None),
        revoked_at: Set(None),
        last_used_at: Set(None),
        access: Set(crate::states::KeyAccess::Full),
    }
    .insert(db)
    .await
    .expect("insert api key");

    let endpoint = WebhookEndpointId::new();
    webhook_endpoints::ActiveModel {
        id: Set(endpoint.clone()),
        integrator_id: Set(org.clone()),
        url: Set("https://example.com/hooks".into()),
        description: Set(None),
        event_types: Set("[]".into()),
        seller_id: Set(None),
        secret: Set(seal(
            "webhook_endpoints",
            "secret",
            endpoint.as_str(),
            "whsec_abc",
        )),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        status: Set(EndpointStatus::Enabled),
        disabled_reason: Set(None),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert endpoint");

    let event = EventId::new();
    events::ActiveModel {
        id: Set(event.clone()),
        integrator_id: Set(org.clone()),
        seller_id: Set(Some(seller.clone())),
        event_type: Set("payment_intent.processed".into()),
        payload: Set("{}".into()),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert event");

    let delivery = WebhookDeliveryId::new();
    webhook_deliveries::ActiveModel {
        id: Set(delivery.clone()),
        integrator_id: Set(org.clone()),
        endpoint_id: Set(endpoint.clone()),
        event_id: Set(event.clone()),
        event_type: Set("payment_intent.processed".into()),
        status: Set(DeliveryStatus::Pending),
        attempt_count: Set(0),
        next_attempt_at: Set(Some(now)),
        last_status_code: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        completed_at: Set(None),
    }
    .insert(db)
    .await
    .expect("insert delivery");

    let attempt = WebhookAttemptId::new();
    webhook_attempts::ActiveModel {
        id: Set(attempt.clone()),
        integrator_id: Set(org.clone()),
        delivery_id: Set(delivery.clone()),
        endpoint_id: Set(endpoint.clone()),
        attempt_no: Set(1),
        status_code: Set(Some(500)),
        latency_ms: Set(12),
        response_snippet: Set(Some("oops".into())),
        error: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert attempt");

    let notification = InboundNotificationId::new();
    inbound_notifications::ActiveModel {
        id: Set(notification.clone()),
        integrator_id: Set(Some(org.clone())),
        topic: Set("order".into()),
        action: Set(Some("order.processed".into())),
        resource_id: Set(Some("ORD01".into())),
        mp_user_id: Set(Some(mp_user_base + 1)),
        request_id: Set(Some(format!("req-{notification}"))),
        signature_valid: Set(true),
        dedupe_key: Set(format!("dedupe-{notification}")),
        body: Set("{}".into()),
        status: Set(NotificationStatus::Received),
        error: Set(None),
        received_at: Set(now),
        processed_at: Set(None),
    }
    .insert(db)
    .await
    .expect("insert notification");

    let audit = AuditEntryId::new();
    audit_log::ActiveModel {
        id: Set(audit.clone()),
        integrator_id: Set(org.clone()),
        actor_kind: Set(ActorKind::User),
        actor_id: Set(Some(user.to_string())),
        action: Set("seller.linked".into()),
        target_kind: Set(Some("seller".into())),
        target_id: Set(Some(seller.to_string())),
        detail: Set(None),
        ip: Set(Some("127.0.0.1".into())),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert audit");

    let idempotency = IdempotencyRecordId::new();
    idempotency_keys::ActiveModel {
        id: Set(idempotency.clone()),
        integrator_id: Set(org.clone()),
        principal: Set(api_key.to_string()),
        key: Set("key-1".into()),
        request_hash: Set("hash".into()),
        status: Set(IdempotencyStatus::Completed),
        response_status: Set(Some(201)),
        response_body: Set(Some(seal(
            "idempotency_keys",
            "response_body",
            idempotency.as_str(),
            "{}",
        ))),
        resource_id: Set(Some(intent.to_string())),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(24)),
    }
    .insert(db)
    .await
    .expect("insert idempotency record");

    Seeded {
        integrator: org,
        user,
        seller,
        other_seller: seller_ids[1].clone(),
        credential,
        link,
        oauth_state,
        store: store_ids[0].clone(),
        other_store: store_ids[1].clone(),
        pos: pos_ids[0].clone(),
        other_pos: pos_ids[1].clone(),
        terminal: terminal_ids[0].clone(),
        other_terminal: terminal_ids[1].clone(),
        intent,
        intent_event,
        refund,
        qr_order,
        api_key,
        endpoint,
        event,
        delivery,
        attempt,
        notification,
        audit,
        idempotency,
    }
}

/// An intent of `amount` on `terminal`, made through the domain
/// (`intents::create`, so the terminal lock and site rules hold), then
/// moved to `outcome` with `facts` as Mercado Pago would report it. Its id.
pub async fn charge(
    db: &Db,
    scope: &crate::tenancy::Scope,
    terminal: &TerminalId,
    new: crate::intents::NewIntent,
    outcome: IntentStatus,
    facts: crate::intents::UpstreamFacts,
) -> PaymentIntentId {
    let origin = crate::intents::Origin {
        api_key_id: None,
        source: EventSource::Api,
    };
    let id = crate::intents::create(db, scope, terminal, new, origin, None)
        .await
        .expect("create the intent")
        .value
        .id;
    if outcome != IntentStatus::Queued {
        crate::intents::transition(db, &id, outcome, facts, EventSource::Sync)
            .await
            .expect("move the intent");
    }
    id
}

/// A plain intent of `amount` (minor units).
pub fn new_intent(amount: i64) -> crate::intents::NewIntent {
    crate::intents::NewIntent {
        amount,
        description: None,
        external_reference: None,
        print_on_terminal: false,
        payment_type: None,
        installments: None,
        installments_cost: None,
    }
}

/// Ends seeded intents (canceled), freeing their terminals for a test's own.
pub async fn end_intents(db: &Db, ids: &[&PaymentIntentId]) {
    for id in ids {
        crate::intents::transition(
            db,
            id,
            IntentStatus::Canceled,
            crate::intents::UpstreamFacts::default(),
            EventSource::Sync,
        )
        .await
        .expect("cancel the seeded intent");
    }
}
