//! Puente's Mercado Pago client against the real sandbox, over HTTP only.
//! The sandbox's `/sandbox/...` helpers set up sellers, apps and faults; every
//! Mercado Pago call goes through `MpClient`.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Duration as ChronoDuration;
use platform_core::mercadopago::*;
use platform_core::secret::SecretString;
use reqwest::Url;
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

struct Env {
    sb: mp_sandbox::SandboxHandle,
    base: String,
    mp: MpClient,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        let sb = mp_sandbox::start(mp_sandbox::SandboxConfig::for_tests())
            .await
            .expect("sandbox starts");
        let base = sb.base_url();
        let mp = client_for(&base, Duration::from_secs(10));
        Env {
            sb,
            base,
            mp,
            http: reqwest::Client::new(),
        }
    }

    /// A `/sandbox/...` helper call; panics unless 2xx.
    async fn helper(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// A seller with `n` terminals that wait for a (simulated) operator.
    async fn seller(&self, n: u64, client_id: Option<&str>) -> Seller {
        let mut body = json!({"site_id": "MLB", "terminals": n, "terminal_mode": "manual"});
        if let Some(c) = client_id {
            body["client_id"] = json!(c);
        }
        let v = self.helper("/sandbox/sellers", body).await;
        Seller {
            user_id: v["user_id"].as_u64().unwrap(),
            token: SecretString::from(v["access_token"].as_str().unwrap()),
            terminals: v["terminals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string())
                .collect(),
            raw: v,
        }
    }

    async fn fault(&self, f: Value) {
        self.helper("/sandbox/faults", f).await;
    }
}

struct Seller {
    user_id: u64,
    token: SecretString,
    terminals: Vec<String>,
    raw: Value,
}

fn client_for(base: &str, timeout: Duration) -> MpClient {
    let url = Url::parse(base).unwrap();
    let mut cfg = MpClientConfig::with_bases(url.clone(), url);
    cfg.timeout = timeout;
    MpClient::new(cfg).unwrap()
}

/// Polls a condition (bounded); for state the sandbox moves asynchronously.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..250 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn api_code(e: &MpError) -> (Option<u16>, Option<&str>) {
    (e.status(), e.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_credential_errors() {
    let env = Env::start().await;
    let s = env.seller(1, None).await;
    let me = env.mp.me(&s.token).await.unwrap();
    assert_eq!(me.id.as_u64(), Some(s.user_id));
    assert_eq!(me.site_id.as_deref(), Some("MLB"));

    let e = env
        .mp
        .me(&SecretString::from("APP_USR-not-a-token"))
        .await
        .unwrap_err();
    assert!(matches!(e, MpError::Unauthorized { .. }), "{e:?}");
    assert!(!e.is_retryable());
    assert!(!format!("{e} {e:?}").contains("APP_USR-not-a-token"));
    // Orders family: flat {code,message} envelope on 401.
    let e = env
        .mp
        .get_order(&SecretString::from("nope"), "ORD00000000000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (Some(401), Some("unauthorized")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_code_exchange_with_pkce_and_refresh_rotation() {
    let env = Env::start().await;
    let redirect = "http://127.0.0.1:9/oauth/callback";
    let app = env
        .helper(
            "/sandbox/applications",
            json!({"redirect_uris": [redirect]}),
        )
        .await;
    let creds = AppCredentials {
        client_id: app["client_id"].as_str().unwrap().to_string(),
        client_secret: SecretString::from(app["client_secret"].as_str().unwrap()),
    };
    let seller = env.seller(0, None).await;

    // Consent through the sandbox helper, with the query of our own URL.
    let consent = |pkce: Pkce, state: &'static str, decision: &'static str| {
        let env = &env;
        let creds = &creds;
        async move {
            let url = env.mp.authorization_url(&AuthorizationRequest {
                client_id: &creds.client_id,
                redirect_uri: redirect,
                state,
                pkce: Some(&pkce),
            });
            let mut body: serde_json::Map<String, Value> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), json!(v)))
                .collect();
            body.insert("user_id".into(), json!(seller.user_id.to_string()));
            body.insert("decision".into(), json!(decision));
            let v = env.helper("/sandbox/authorize", Value::Object(body)).await;
            let to = Url::parse(v["redirect_to"].as_str().unwrap()).unwrap();
            let q: std::collections::HashMap<String, String> =
                to.query_pairs().into_owned().collect();
            (pkce, q)
        }
    };

    let (_, denied) = consent(Pkce::generate(), "s-deny", "deny").await;
    assert_eq!(
        denied.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert_eq!(denied.get("state").map(String::as_str), Some("s-deny"));

    // A wrong verifier is refused.
    let (_, q) = consent(Pkce::generate(), "s-1", "allow").await;
    assert_eq!(q["state"], "s-1");
    let wrong = Pkce::generate();
    let e = env
        .mp
        .exchange_code(&creds, &q["code"], redirect, Some(wrong.verifier()))
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (Some(400), Some("invalid_grant")), "{e:?}");

    let (pkce, q) = consent(Pkce::generate(), "s-2", "allow").await;
    let tok = env
        .mp
        .exchange_code(&creds, &q["code"], redirect, Some(pkce.verifier()))
        .await
        .unwrap();
    assert_eq!(tok.user_id.as_ref().unwrap().as_u64(), Some(seller.user_id));
    assert_eq!(tok.expires_in, Some(15_552_000));
    let me = env.mp.me(&tok.access_token).await.unwrap();
    assert_eq!(me.id.as_u64(), Some(seller.user_id));
    // The code is single-use.
    let e = env
        .mp
        .exchange_code(&creds, &q["code"], redirect, Some(pkce.verifier()))
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (Some(400), Some("invalid_grant")));

    // Refresh rotates: the old refresh token is spent.
    let r1 = tok.refresh_token.unwrap();
    let t2 = env.mp.refresh_token(&creds, &r1).await.unwrap();
    let r2 = t2.refresh_token.clone().unwrap();
    assert_ne!(r1.expose_secret(), r2.expose_secret());
    env.mp.me(&t2.access_token).await.unwrap();
    let e = env.mp.refresh_token(&creds, &r1).await.unwrap_err();
    assert_eq!(api_code(&e), (Some(400), Some("invalid_grant")));
    let t3 = env.mp.refresh_token(&creds, &r2).await.unwrap();
    assert!(t3.refresh_token.is_some());

    let app_token = env.mp.client_credentials(&creds).await.unwrap();
    assert!(!app_token.access_token.expose_secret().is_empty());
    let bad = AppCredentials {
        client_secret: SecretString::from("wrong"),
        ..creds.clone()
    };
    let e = env.mp.client_credentials(&bad).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(!format!("{e:?}").contains("wrong\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_pos() {
    let env = Env::start().await;
    let s = env.seller(0, None).await;
    let (mp, t, uid) = (&env.mp, &s.token, s.user_id);

    let req = StoreRequest {
        name: "Sucursal Centro".into(),
        external_id: Some("SUC900".into()),
        business_hours: Some(
            [(
                "monday".to_string(),
                vec![TimeRange {
                    open: "08:00".into(),
                    close: "12:00".into(),
                }],
            )]
            .into(),
        ),
        location: Some(StoreLocation {
            street_number: Some("123".into()),
            street_name: Some("Rua Augusta".into()),
            city_name: Some("São Paulo".into()),
            state_name: Some("São Paulo".into()),
            latitude: Some(-23.55),
            longitude: Some(-46.65),
            reference: Some("near".into()),
            address_line: None,
        }),
    };
    let store = mp.create_store(t, uid, &req).await.unwrap();
    let store_id = store.id.as_u64().unwrap();
    assert_eq!(store.external_id.as_deref(), Some("SUC900"));
    let got = mp.get_store(t, store_id).await.unwrap();
    assert_eq!(got.name.as_deref(), Some("Sucursal Centro"));
    let renamed = StoreRequest {
        name: "Sucursal Norte".into(),
        ..req.clone()
    };
    let upd = mp.update_store(t, uid, store_id, &renamed).await.unwrap();
    assert_eq!(upd.name.as_deref(), Some("Sucursal Norte"));
    let found = mp
        .search_stores(
            t,
            uid,
            &StoreSearch {
                external_id: Some("SUC900".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.results.len(), 1);
    assert_eq!(found.results[0].id, store.id);

    // Classic POS.
    let pos_req = PosRequest {
        name: "Caixa 1".into(),
        fixed_amount: Some(false),
        store_id: Some(store_id),
        external_store_id: Some("SUC900".into()),
        external_id: Some("SUC900POS1".into()),
        category: Some(621102),
        url: None,
    };
    let pos = mp.create_pos(t, &pos_req).await.unwrap();
    let pos_id = pos.id.as_u64().unwrap();
    assert_eq!(pos.store_id.as_ref().and_then(MpId::as_u64), Some(store_id));
    let e = mp.create_pos(t, &pos_req).await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e:?}");
    assert_eq!(
        mp.get_pos(t, pos_id).await.unwrap().external_id.as_deref(),
        Some("SUC900POS1")
    );
    let upd = PosRequest {
        name: "Caixa Um".into(),
        ..pos_req.clone()
    };
    let p = mp.update_pos(t, pos_id, &upd).await.unwrap();
    assert_eq!(p.name.as_deref(), Some("Caixa Um"));
    let page = mp
        .search_pos(
            t,
            &PosSearch {
                external_id: Some("SUC900POS1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.results.len(), 1);

    // POS v2 with an idempotency key: a replay returns the same POS.
    let v2 = PosV2Request {
        name: Some("Caixa 2".into()),
        store_id: Some(store_id.to_string()),
        external_store_id: None,
        external_id: "SUC900POS2".into(),
    };
    let a = mp.create_pos_v2(t, &v2, "pos-key-1").await.unwrap();
    let b = mp.create_pos_v2(t, &v2, "pos-key-1").await.unwrap();
    assert_eq!(a.id, b.id);
    let a_id = a.id.as_u64().unwrap();
    assert_eq!(
        mp.get_pos_v2(t, a_id).await.unwrap().name.as_deref(),
        Some("Caixa 2")
    );
    mp.delete_pos_v2(t, a_id, "pos-del-1").await.unwrap();
    let e = mp.get_pos_v2(t, a_id).await.unwrap_err();
    assert_eq!(e.status(), Some(404));

    mp.delete_pos(t, pos_id).await.unwrap();
    let e = mp.get_pos(t, pos_id).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    let del = mp.delete_store(t, uid, store_id).await.unwrap();
    assert_eq!(del.store.as_u64(), Some(store_id));
    let e = mp.get_store(t, store_id).await.unwrap_err();
    assert!(matches!(e, MpError::Api { status: 404, .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_legacy_and_orders_era() {
    let env = Env::start().await;
    let s = env.seller(3, None).await;
    let (mp, t) = (&env.mp, &s.token);

    let (page, paging) = mp
        .list_devices(
            t,
            &DeviceQuery {
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.len(), paging.total), (2, 3));
    let all = mp
        .list_all_devices(
            t,
            &DeviceQuery {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut ids: Vec<String> = all.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    let mut expected = s.terminals.clone();
    expected.sort();
    assert_eq!(ids, expected);

    let dev = &s.terminals[0];
    let mode = mp
        .set_device_operating_mode(t, dev, OperatingMode::Standalone)
        .await
        .unwrap();
    assert_eq!(mode, OperatingMode::Standalone);

    let terms = mp
        .list_all_terminals(
            t,
            &TerminalQuery {
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(terms.len(), 3);
    let t0 = terms.iter().find(|x| &x.id == dev).unwrap();
    assert_eq!(t0.operating_mode, Some(OperatingMode::Standalone));
    assert!(t0.pos_id.is_some() && t0.store_id.is_some());

    let echo = mp
        .setup_terminals(
            t,
            &[TerminalSetup {
                id: dev.clone(),
                operating_mode: OperatingMode::Pdv,
            }],
        )
        .await
        .unwrap();
    assert_eq!(echo[0].operating_mode, OperatingMode::Pdv);
    let e = mp
        .set_device_operating_mode(t, "PAX_A910__NOPE0000", OperatingMode::Pdv)
        .await
        .unwrap_err();
    assert!(matches!(e.status(), Some(403 | 404)), "{e:?}");
}

fn order_req(terminal: &str, cents: i64, reference: &str) -> PointOrderRequest {
    PointOrderRequest {
        external_reference: reference.into(),
        terminal_id: terminal.into(),
        amount: Amount::from_cents(cents).unwrap(),
        description: Some("Puente test".into()),
        expiration_time: None,
        print_on_terminal: Some(PrintOnTerminal::NoTicket),
        default_payment_type: None,
        sponsor_id: Some("446566691".into()),
        platform_id: None,
        integrator_id: None,
    }
}

fn processed() -> SimulatedOrderEvent {
    SimulatedOrderEvent {
        status: "processed".into(),
        payment_method_type: Some("credit_card".into()),
        installments: Some(1),
        payment_method_id: Some("master".into()),
        status_detail: Some("accredited".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_create_idempotency_cancel_refund() {
    let env = Env::start().await;
    let s = env.seller(1, None).await;
    let (mp, t, term) = (&env.mp, &s.token, s.terminals[0].as_str());

    let req = order_req(term, 2400, "intent_01");
    let o = mp.create_order(t, &req, "intent-01").await.unwrap();
    assert!(o.id.starts_with("ORD"));
    assert_eq!(o.status, OrderStatus::Created);
    assert_eq!(o.sponsor_id().unwrap(), "446566691");
    assert_eq!(o.transactions.payments[0].amount.unwrap().cents(), 2400);
    assert_eq!(o.terminal_id(), Some(term));
    // Same key, same body: the same order, never a second charge.
    let again = mp.create_order(t, &req, "intent-01").await.unwrap();
    assert_eq!(again.id, o.id);
    // Same key, other body.
    let e = mp
        .create_order(t, &order_req(term, 2500, "intent_01"), "intent-01")
        .await
        .unwrap_err();
    assert_eq!(
        api_code(&e),
        (Some(409), Some("idempotency_key_already_used"))
    );
    // One queued order per terminal.
    let e = mp
        .create_order(t, &order_req(term, 10_000, "intent_02"), "intent-02")
        .await
        .unwrap_err();
    assert_eq!(
        api_code(&e),
        (Some(409), Some("already_queued_order_for_terminal"))
    );

    let c = mp.cancel_order(t, &o.id, "cancel-01", true).await.unwrap();
    assert!(!c.asynchronous);
    assert_eq!(c.order.status, OrderStatus::Canceled);
    assert_eq!(
        mp.get_order(t, &o.id).await.unwrap().status,
        OrderStatus::Canceled
    );

    // A processed order, refunded partially then totally.
    let o2 = mp
        .create_order(t, &order_req(term, 5000, "intent_03"), "intent-03")
        .await
        .unwrap();
    mp.simulate_order_event(t, &o2.id, &processed())
        .await
        .unwrap();
    let done = eventually("order processed", || async {
        let o = mp.get_order(t, &o2.id).await.unwrap();
        (o.status == OrderStatus::Processed).then_some(o)
    })
    .await;
    let pay = done.transactions.payments[0].id.clone();
    let part = RefundRequest::Partial(vec![(pay, Amount::from_cents(1000).unwrap())]);
    let r = mp.refund_order(t, &o2.id, &part, "refund-1").await.unwrap();
    assert_eq!(r.status, OrderStatus::Processed);
    assert_eq!(r.status_detail.as_deref(), Some("partially_refunded"));
    let r = mp
        .refund_order(t, &o2.id, &RefundRequest::Total, "refund-2")
        .await
        .unwrap();
    assert!(!r.transactions.refunds.is_empty());
    let final_state = eventually("order refunded", || async {
        let o = mp.get_order(t, &o2.id).await.unwrap();
        (o.status == OrderStatus::Refunded).then_some(o)
    })
    .await;
    assert!(final_state.status.is_final());

    let e = mp
        .get_order(t, "ORD00000000000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), (Some(404), Some("order_not_found")));
    // Idempotency key is required by construction; empty is refused locally.
    let e = mp.create_order(t, &req, "").await.unwrap_err();
    assert!(matches!(e, MpError::InvalidRequest(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_cancel_at_terminal_is_asynchronous() {
    let env = Env::start().await;
    let s = env.seller(1, None).await;
    let (mp, t, term) = (&env.mp, &s.token, s.terminals[0].as_str());
    let o = mp
        .create_order(t, &order_req(term, 1500, "at_term"), "at-term-1")
        .await
        .unwrap();
    // The simulated operator picks it up (manual terminal).
    env.helper(&format!("/sandbox/terminals/{term}/charge"), json!({}))
        .await;
    let on = eventually("order at terminal", || async {
        let o = mp.get_order(t, &o.id).await.unwrap();
        (o.status != OrderStatus::Created).then_some(o)
    })
    .await;
    if on.status == OrderStatus::AtTerminal {
        let e = mp.cancel_order(t, &o.id, "c-1", false).await.unwrap_err();
        assert_eq!(api_code(&e), (Some(409), Some("cannot_cancel_order")));
        let c = mp.cancel_order(t, &o.id, "c-2", true).await.unwrap();
        assert!(c.asynchronous);
    } else {
        panic!("terminal charge did not leave the order at_terminal: {on:?}");
    }
}

/// The sandbox's manual terminal: a first press pulls the intent
/// (ON_TERMINAL), a second one reads the card.
async fn operator_charges(env: &Env, mp: &MpClient, t: &SecretString, dev: &str, id: &str) {
    let press = format!("/sandbox/terminals/{dev}/charge");
    env.helper(&press, json!({})).await;
    eventually("intent on terminal", || async {
        let i = mp.get_payment_intent(t, id).await.unwrap();
        (i.state != Some(IntentState::Open)).then_some(())
    })
    .await;
    env.helper(&press, json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_payment_and_refund_intents() {
    let env = Env::start().await;
    let s = env.seller(1, None).await;
    let (mp, t, dev) = (&env.mp, &s.token, s.terminals[0].as_str());
    let req = PaymentIntentRequest {
        amount: 1500,
        description: Some("Puente".into()),
        payment: Some(IntentPayment {
            kind: Some("credit_card".into()),
            installments: Some(1),
            installments_cost: Some("seller".into()),
            ..Default::default()
        }),
        additional_info: Some(IntentAdditionalInfo {
            external_reference: Some("pi-1".into()),
            print_on_terminal: Some(false),
            ticket_number: None,
        }),
    };
    let pi = mp
        .create_payment_intent(t, dev, &req, "pi-1")
        .await
        .unwrap();
    assert_eq!(pi.amount, Some(1500));
    assert_eq!(pi.device_id.as_deref(), Some(dev));
    let e = mp
        .create_payment_intent(t, dev, &req, "pi-2")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "{e:?}");
    let got = mp.get_payment_intent(t, &pi.id).await.unwrap();
    assert_eq!(got.state, Some(IntentState::Open));
    let c = mp.cancel_payment_intent(t, dev, &pi.id).await.unwrap();
    assert_eq!(c.id, pi.id.as_str());
    let last = mp.payment_intent_last_event(t, &pi.id).await.unwrap();
    assert_eq!(last.status, IntentState::Canceled);

    // A charged intent has a payment id; refund it through the terminal.
    let pi2 = mp
        .create_payment_intent(t, dev, &req, "pi-3")
        .await
        .unwrap();
    operator_charges(&env, mp, t, dev, &pi2.id).await;
    let fin = eventually("intent finished", || async {
        let i = mp.get_payment_intent(t, &pi2.id).await.unwrap();
        (i.state == Some(IntentState::Finished)).then_some(i)
    })
    .await;
    let payment_id = fin.payment.unwrap().id.unwrap();
    let today = env.sb.clock().now().date_naive();
    let events = mp
        .payment_intent_events(t, today - ChronoDuration::days(1), today)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.payment_intent_id.as_deref() == Some(&pi2.id))
    );

    let refund = mp
        .create_refund_intent(t, dev, payment_id.as_str(), &["BUYER_TICKET"], "rf-1")
        .await
        .unwrap();
    assert_eq!(refund.payment_id.as_ref(), Some(&payment_id));
    let got = mp.get_refund_intent(t, &refund.id).await.unwrap();
    assert_eq!(got.id, refund.id);
    let e = mp
        .get_payment_intent(t, "00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_orders() {
    let env = Env::start().await;
    let s = env.seller(1, None).await;
    let (mp, t, uid) = (&env.mp, &s.token, s.user_id);
    let store_ext = s.raw["stores"][0]["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pos_ext = s.raw["pos"][0]["external_id"].as_str().unwrap().to_string();
    let cents = |c| Amount::from_cents(c).unwrap();
    let order = QrOrderRequest {
        external_reference: "qr_1".into(),
        title: "Pedido".into(),
        description: "Pedido 1".into(),
        notification_url: None,
        expiration_date: None,
        total_amount: cents(2405),
        items: vec![QrItem {
            sku_number: Some("A1".into()),
            category: Some("food".into()),
            title: "Pão".into(),
            description: None,
            unit_price: cents(2405),
            quantity: 1,
            unit_measure: "unit".into(),
            total_amount: cents(2405),
        }],
        sponsor: Some(QrSponsor { id: 446566691 }),
        cash_out: None,
    };
    mp.put_qr_order(t, uid, &store_ext, &pos_ext, &order)
        .await
        .unwrap();
    let got = mp.get_qr_order(t, uid, &pos_ext).await.unwrap();
    assert_eq!(got.external_reference.as_deref(), Some("qr_1"));
    assert_eq!(got.total_amount_cents(), Some(2405));
    mp.delete_qr_order(t, uid, &pos_ext).await.unwrap();
    let e = mp.get_qr_order(t, uid, &pos_ext).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    let e = mp.delete_qr_order(t, uid, &pos_ext).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_faults_are_classified() {
    let env = Env::start().await;
    let s = env.seller(0, None).await;
    let t = &s.token;
    env.fault(json!({"path_prefix": "/users/me", "error_status": 503, "count": 1}))
        .await;
    let e = env.mp.me(t).await.unwrap_err();
    assert!(matches!(e, MpError::Server { status: 503, .. }), "{e:?}");
    assert!(e.is_retryable());
    env.fault(
        json!({"path_prefix": "/users/me", "error_status": 429, "retry_after": 7, "count": 1}),
    )
    .await;
    let e = env.mp.me(t).await.unwrap_err();
    assert!(
        matches!(e, MpError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7)),
        "{e:?}"
    );
    env.fault(json!({"path_prefix": "/users/me", "hang": true, "count": 1}))
        .await;
    let quick = client_for(&env.base, Duration::from_millis(300));
    let e = quick.me(t).await.unwrap_err();
    assert!(matches!(e, MpError::Timeout), "{e:?}");
    assert!(e.is_retryable());
    // Faults are used up: the next call works.
    env.mp.me(t).await.unwrap();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = client_for(&dead, Duration::from_secs(2))
        .me(t)
        .await
        .unwrap_err();
    assert!(matches!(e, MpError::Connect(_)), "{e:?}");
}

/// One notification as our receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    query: Vec<(String, String)>,
    x_signature: Option<String>,
    x_request_id: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn query(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    tx: web::Data<mpsc::UnboundedSender<Received>>,
) -> HttpResponse {
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let query = url_query(req.query_string());
    let _ = tx.send(Received {
        query,
        x_signature: h("x-signature"),
        x_request_id: h("x-request-id"),
        body: body.to_vec(),
    });
    HttpResponse::Ok().finish()
}

fn url_query(q: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://x/?{q}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// A webhook receiver on port 0; returns its URL and the stream of deliveries.
async fn receiver() -> (
    String,
    mpsc::UnboundedReceiver<Received>,
    actix_web::dev::ServerHandle,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let tx = web::Data::new(tx);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(tx.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}/mp/webhooks"), rx, handle)
}

async fn next_matching(
    env: &Env,
    rx: &mut mpsc::UnboundedReceiver<Received>,
    pred: impl Fn(&Received) -> bool,
) -> Received {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let Ok(r) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            let log: Value = env
                .http
                .get(format!("{}/sandbox/notifications", env.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            panic!("no matching notification within 10 s; sandbox log: {log:#}");
        };
        let r = r.expect("receiver open");
        if pred(&r) {
            return r;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_notifications_verify_with_our_signature_check() {
    let env = Env::start().await;
    let (url, mut rx, server) = receiver().await;
    let redirect = "http://127.0.0.1:9/cb";
    let app = env
        .helper(
            "/sandbox/applications",
            json!({"redirect_uris": [redirect], "webhook_url": url}),
        )
        .await;
    let secret = SecretString::from(app["webhook_secret"].as_str().unwrap());
    let s = env.seller(1, app["client_id"].as_str()).await;
    let (mp, t, term) = (&env.mp, &s.token, s.terminals[0].as_str());

    let o = mp
        .create_order(t, &order_req(term, 3000, "notif_1"), "notif-1")
        .await
        .unwrap();
    mp.simulate_order_event(t, &o.id, &processed())
        .await
        .unwrap();
    let got = next_matching(&env, &mut rx, |r| {
        r.query("type") == Some("order") && r.query("data.id") == Some(o.id.as_str())
    })
    .await;

    let now = env.sb.clock().now();
    let tolerance = Duration::from_secs(300);
    let info = verify_signature(
        got.x_signature.as_deref().expect("x-signature"),
        got.x_request_id.as_deref(),
        got.query("data.id"),
        &secret,
        now,
        tolerance,
    )
    .unwrap();
    assert!(
        !info.data_id_lowercased,
        "sandbox default signs as received"
    );
    // Any tampering breaks it.
    let other = verify_signature(
        got.x_signature.as_deref().unwrap(),
        got.x_request_id.as_deref(),
        Some("ORD0000000000000000000000000X"),
        &secret,
        now,
        tolerance,
    );
    assert_eq!(other, Err(SignatureError::Mismatch));
    let wrong = SecretString::from("not-the-secret");
    assert!(
        verify_signature(
            got.x_signature.as_deref().unwrap(),
            got.x_request_id.as_deref(),
            got.query("data.id"),
            &wrong,
            now,
            tolerance
        )
        .is_err()
    );

    let Notification::Order(n) = parse_notification(got.query("type"), &got.body).unwrap() else {
        panic!(
            "not an order notification: {}",
            String::from_utf8_lossy(&got.body)
        );
    };
    assert_eq!(n.data.id.as_ref().unwrap(), o.id.as_str());
    assert_eq!(n.user_id.as_ref().and_then(MpId::as_u64), Some(s.user_id));
    assert!(n.action.as_deref().is_some_and(|a| a.starts_with("order.")));

    // Legacy topic: the body is the intent itself.
    let pi = mp
        .create_payment_intent(
            t,
            term,
            &PaymentIntentRequest {
                amount: 1500,
                description: None,
                payment: None,
                additional_info: None,
            },
            "notif-pi",
        )
        .await
        .unwrap();
    {
        operator_charges(&env, mp, t, term, &pi.id).await;
        let got = next_matching(&env, &mut rx, |r| {
            r.query("data.id") == Some(pi.id.as_str()) || r.query("id") == Some(pi.id.as_str())
        })
        .await;
        verify_signature(
            got.x_signature
                .as_deref()
                .expect("legacy topic is signed too"),
            got.x_request_id.as_deref(),
            got.query("data.id"),
            &secret,
            env.sb.clock().now(),
            tolerance,
        )
        .unwrap();
        let Notification::PointIntegration(n) =
            parse_notification(got.query("type"), &got.body).unwrap()
        else {
            panic!(
                "not a legacy notification: {}",
                String::from_utf8_lossy(&got.body)
            );
        };
        assert_eq!(n.intent_id().unwrap(), pi.id.as_str());
        assert!(n.state.is_some_and(IntentState::is_final));
    }

    // mp-connect: linking through consent, then unlinking.
    let cid = app["client_id"].as_str().unwrap();
    let fresh = env
        .helper(
            "/sandbox/sellers",
            json!({"site_id": "MLB", "terminals": 0, "authorize": false, "client_id": cid}),
        )
        .await;
    let fresh_id = fresh["user_id"].as_u64().unwrap().to_string();
    let url = mp.authorization_url(&AuthorizationRequest {
        client_id: cid,
        redirect_uri: redirect,
        state: "link-1",
        pkce: None,
    });
    let mut consent: serde_json::Map<String, Value> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), json!(v)))
        .collect();
    consent.insert("user_id".into(), json!(fresh_id));
    env.helper("/sandbox/authorize", Value::Object(consent))
        .await;
    env.helper(
        &format!("/sandbox/sellers/{fresh_id}/deauthorize"),
        json!({"client_id": cid}),
    )
    .await;
    for action in ["application.authorized", "application.deauthorized"] {
        let got = next_matching(&env, &mut rx, |r| {
            r.query("type") == Some("mp-connect")
                && String::from_utf8_lossy(&r.body).contains(action)
        })
        .await;
        verify_signature(
            got.x_signature.as_deref().expect("mp-connect is signed"),
            got.x_request_id.as_deref(),
            got.query("data.id"),
            &secret,
            env.sb.clock().now(),
            tolerance,
        )
        .unwrap();
        let Notification::MpConnect(n) = parse_notification(got.query("type"), &got.body).unwrap()
        else {
            panic!("not mp-connect: {}", String::from_utf8_lossy(&got.body));
        };
        assert_eq!(n.user_id.as_ref().unwrap(), fresh_id.as_str());
        assert_eq!(n.is_deauthorization(), action == "application.deauthorized");
    }
    server.stop(false).await;
}
