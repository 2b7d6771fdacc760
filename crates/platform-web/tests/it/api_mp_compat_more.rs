//! The compatible surface's stores, POS (classic and v2), QR in-store
//! orders, payments, `/oauth/token`, test users and integrator settings
//! (issue 13), on both databases, with the sandbox as Mercado Pago: each
//! endpoint's success and error paths in Mercado Pago's shapes, tenancy
//! (another tenant's key finds nothing: the same answer as a missing
//! object), bad input that changes nothing, and idempotency.

use crate::common;

use common::{TestApp, json};
use mp_sandbox::{SandboxConfig, SandboxHandle};
use platform_core::audit::Actor;
use platform_core::entities::{integrators, pos, qr_orders, stores};
use platform_core::linked_sellers::{self, Grant, NewLinkedSeller};
use platform_core::on_both_databases;
use platform_core::states::{ScopeKind, Site, UpstreamApi};
use platform_core::tenancy::Scope;
use platform_core::testing::{Seeded, TestDb};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use serde_json::{Value, json};

/// A Puente in sandbox mode, an integrator (seeded, with its sponsor) with
/// a linked sandbox seller whose registry is mirrored, and a second
/// integrator (the other tenant).
struct World {
    sandbox: SandboxHandle,
    app: TestApp,
    a: Seeded,
    b: Seeded,
    /// The linked sandbox seller: Puente id, Mercado Pago user id.
    seller: platform_core::id::SellerId,
    user: i64,
    /// Its terminal's Mercado Pago device id.
    device: String,
    /// Its first store's Mercado Pago id and external id, its POS's external id.
    store_mp: String,
    store_ext: String,
    pos_ext: String,
    /// Keys: integrator-wide, the seller's, the other integrator's.
    admin: String,
    seller_key: String,
    other: String,
}

async fn world(t: &TestDb) -> World {
    let sandbox = mp_sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let base = sandbox.base_url();
    let app = TestApp::start_on_sandbox(t, &base).await;
    let a = app.seed(7_300).await;
    let b = app.seed(7_400).await;
    // The integrator's application is the sandbox's (test users need one).
    let client_id = sandbox.default_app().client_id;
    let mut row = integrators::Entity::find_by_id(a.integrator.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    row.mp_client_id = Set(Some(client_id));
    row.update(&app.state.db).await.unwrap();

    let s: Value = app
        .http
        .post(format!("{base}/sandbox/sellers"))
        .json(&json!({"site_id": "MLB", "terminals": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let linked = linked_sellers::insert(
        &app.state.db,
        NewLinkedSeller {
            integrator_id: a.integrator.clone(),
            mp_user_id: s["user_id"].as_i64().unwrap(),
            nickname: s["nickname"].as_str().unwrap().to_owned(),
            email: None,
            site: Site::Mlb,
            live_mode: false,
            label: None,
        },
    )
    .await
    .unwrap();
    linked_sellers::store_grant(
        &app.state.db,
        &app.keyring,
        &linked,
        Grant {
            access_token: &s["access_token"].as_str().unwrap().into(),
            refresh_token: Some(&s["refresh_token"].as_str().unwrap().into()),
            expires_in: Some(180 * 86_400),
            scope: "offline_access read write",
            public_key: None,
        },
    )
    .await
    .unwrap();
    let scope = Scope::integrator(a.integrator.clone());
    platform_core::registry::sync_seller(
        &app.state.db,
        &app.keyring,
        &app.state.mp,
        &scope,
        &linked.id,
        UpstreamApi::Orders,
        &Actor::system(),
    )
    .await
    .unwrap();
    let admin = app.key(&a, ScopeKind::Integrator, None).await;
    let seller_key = app
        .key(&a, ScopeKind::Seller, Some(linked.id.as_str()))
        .await;
    let other = app.key(&b, ScopeKind::Integrator, None).await;
    World {
        user: s["user_id"].as_i64().unwrap(),
        device: s["terminals"][0]["id"].as_str().unwrap().to_owned(),
        store_mp: s["stores"][0]["id"]
            .to_string()
            .trim_matches('"')
            .to_owned(),
        store_ext: s["stores"][0]["external_id"].as_str().unwrap().to_owned(),
        pos_ext: s["pos"][0]["external_id"].as_str().unwrap().to_owned(),
        seller: linked.id,
        sandbox,
        app,
        a,
        b,
        admin,
        seller_key,
        other,
    }
}

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    json(r.send().await.unwrap()).await
}

fn store_body(ext: &str) -> Value {
    json!({
        "name": "Sucursal Centro",
        "external_id": ext,
        "business_hours": {"monday": [{"open": "08:00", "close": "12:00"}]},
        "location": {"street_number": "123", "street_name": "Av. Paulista", "city_name": "São Paulo",
                     "state_name": "SP", "latitude": -23.56, "longitude": -46.65, "reference": "Near the park"},
    })
}

async fn store_rows(w: &World) -> u64 {
    stores::Entity::find()
        .filter(stores::Column::SellerId.eq(w.seller.clone()))
        .count(&w.app.state.db)
        .await
        .unwrap()
}

async fn stores_api(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    let user = w.user;
    let before = store_rows(&w).await;

    // Bad input: Mercado Pago's 400 with its errorKey, nothing created.
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut v = store_body("SUCX1");
    v.as_object_mut().unwrap().remove("name");
    cases.push((v, "INVALID_NAME"));
    let mut v = store_body("SUCX1");
    v["colour"] = json!("red");
    cases.push((v, "UNKNOWN_FIELD"));
    let mut v = store_body("SUCX1");
    v.as_object_mut().unwrap().remove("location");
    cases.push((v, "INVALID_LOCATION"));
    let mut v = store_body("SUCX1");
    v["business_hours"] = json!({"funday": []});
    cases.push((v, "INVALID_DAY"));
    let mut v = store_body("SUCX1");
    v["business_hours"]["monday"][0]["open"] = json!("25:00");
    cases.push((v, "INVALID_BUSINESS_HOURS"));
    let mut v = store_body("SUCX1");
    v["location"]["latitude"] = json!("north");
    cases.push((v, "INVALID_LOCATION"));
    for (body, want) in &cases {
        let (st, b) = send(
            app.post(&w.admin, &format!("/users/{user}/stores"))
                .json(body),
        )
        .await;
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some(*want)),
            "{body} -> {b}"
        );
        assert_eq!(b["cause"][0]["code"], *want, "{b}");
    }
    let (st, b) = send(
        app.post(&w.admin, &format!("/users/{user}/stores"))
            .body("{nope"),
    )
    .await;
    assert_eq!((st, b["status"].as_i64()), (400, Some(400)), "{b}");
    assert_eq!(store_rows(&w).await, before, "nothing created");

    // Created at Mercado Pago and mirrored; the SDKs' key replays.
    let create = |key: &str| {
        app.post(&w.seller_key, &format!("/users/{user}/stores"))
            .header("X-Idempotency-Key", key)
            .json(&store_body("SUCNEW1"))
    };
    let (st, s) = send(create("st-1")).await;
    assert_eq!(st, 201, "{s}");
    let id = s["id"].as_i64().expect("a numeric id");
    assert_eq!(s["name"], "Sucursal Centro");
    assert_eq!(s["external_id"], "SUCNEW1");
    assert_eq!(s["business_hours"]["monday"][0]["close"], "12:00");
    assert_eq!(s["location"]["city_name"], "São Paulo");
    assert!(s["date_created"].is_string());
    let (st, again) = send(create("st-1")).await;
    assert_eq!((st, again["id"].as_i64()), (201, Some(id)));
    assert_eq!(store_rows(&w).await, before + 1);
    let row = stores::Entity::find()
        .filter(stores::Column::MpStoreId.eq(id.to_string()))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("mirrored");
    assert_eq!(row.seller_id, w.seller);

    // Read back: by id, by search (`date_creation`), 404s.
    let (st, g) = send(app.get(&w.admin, &format!("/stores/{id}"))).await;
    assert_eq!((st, g["id"].as_i64()), (200, Some(id)), "{g}");
    let (st, f) = send(app.get(
        &w.admin,
        &format!("/users/{user}/stores/search?external_id=SUCNEW1"),
    ))
    .await;
    assert_eq!(st, 200, "{f}");
    assert_eq!(f["paging"]["total"], 1);
    assert_eq!(f["results"][0]["id"].as_i64(), Some(id));
    assert!(f["results"][0]["date_creation"].is_string(), "{f}");
    let (st, f) = send(app.get(&w.admin, &format!("/users/{user}/stores/search"))).await;
    assert_eq!((st, f["paging"]["total"].as_u64()), (200, Some(before + 1)));
    let (st, b) = send(app.get(
        &w.admin,
        &format!("/users/{user}/stores/search?external_id=NOPE"),
    ))
    .await;
    assert_eq!((st, b["error"].as_str()), (404, Some("store_not_found")));
    let (st, b) = send(app.get(&w.admin, &format!("/users/{user}/stores/search?limit=0"))).await;
    assert_eq!((st, b["error"].as_str()), (400, Some("INVALID_LIMIT")));
    let (st, b) = send(app.get(&w.admin, "/stores/999999999")).await;
    assert_eq!((st, b["error"].as_str()), (404, Some("not_found")));

    // Update (same body as create), then delete.
    let mut v = store_body("SUCNEW1");
    v["name"] = json!("Sucursal Norte");
    let (st, u) = send(
        app.put(&w.admin, &format!("/users/{user}/stores/{id}"))
            .json(&v),
    )
    .await;
    assert_eq!(
        (st, u["name"].as_str()),
        (200, Some("Sucursal Norte")),
        "{u}"
    );
    let (_, g) = send(app.get(&w.admin, &format!("/stores/{id}"))).await;
    assert_eq!(g["name"], "Sucursal Norte");

    // Another tenant: the user is not its account; the store does not exist.
    let (st, b) = send(
        app.post(&w.other, &format!("/users/{user}/stores"))
            .json(&store_body("SUCX9")),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (403, Some("forbidden")), "{b}");
    let (st, b) = send(
        app.post(&w.other, "/users/424242/stores")
            .json(&store_body("SUCX9")),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (403, Some("forbidden")), "{b}");
    for key in [&w.other] {
        let (st, _) = send(app.get(key, &format!("/stores/{id}"))).await;
        assert_eq!(st, 404);
        let (st, _) = send(app.get(key, &format!("/users/{user}/stores/search"))).await;
        assert_eq!(st, 403);
        let (st, _) = send(
            app.put(key, &format!("/users/{user}/stores/{id}"))
                .json(&store_body("SUCNEW1")),
        )
        .await;
        assert_eq!(st, 403);
        let (st, b) = send(app.delete(key, &format!("/users/{user}/stores/{id}"))).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (401, Some("unauthorized_scopes")),
            "{b}"
        );
    }
    // The other integrator's own seller (seeded) is no help either.
    let (st, _) = send(app.get(&w.admin, &format!("/users/{}/stores/search", 7_400 + 2))).await;
    assert_eq!(st, 403);
    // A POS key cannot make stores.
    let pos_key = app.key(&w.a, ScopeKind::Pos, Some(w.a.pos.as_str())).await;
    let (st, _) = send(
        app.post(&pos_key, &format!("/users/{}/stores", 7_300 + 1))
            .json(&store_body("SUCX8")),
    )
    .await;
    assert_eq!(st, 403);
    assert_eq!(store_rows(&w).await, before + 1);

    let (st, d) = send(app.delete(&w.seller_key, &format!("/users/{user}/stores/{id}"))).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d, json!({"store": id, "user": user}));
    let (st, _) = send(app.get(&w.admin, &format!("/stores/{id}"))).await;
    assert_eq!(st, 404);
    assert_eq!(store_rows(&w).await, before);
    let _ = &w.b;
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

async fn pos_rows(w: &World) -> u64 {
    pos::Entity::find()
        .filter(pos::Column::SellerId.eq(w.seller.clone()))
        .count(&w.app.state.db)
        .await
        .unwrap()
}

async fn pos_api(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    let before = pos_rows(&w).await;
    let store_num: i64 = w.store_mp.parse().unwrap();

    // Classic: bad input with its errorKey, nothing created.
    let good = json!({"name": "Caja 2", "fixed_amount": false, "store_id": store_num,
                      "external_store_id": w.store_ext, "external_id": "CAJA2", "category": 5611203});
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut v = good.clone();
    v["external_id"] = json!("CAJA-2");
    cases.push((v, "INVALID_EXTERNAL_ID"));
    let mut v = good.clone();
    v["name"] = json!("x".repeat(50));
    cases.push((v, "NAME_TOO_LONG"));
    let mut v = good.clone();
    v["colour"] = json!(1);
    cases.push((v, "UNKNOWN_FIELD_EXCEPTION"));
    let mut v = good.clone();
    v["store_id"] = json!(999_999_999);
    v.as_object_mut().unwrap().remove("external_store_id");
    cases.push((v, "INVALID_STORE_ID"));
    let mut v = good.clone();
    v["external_store_id"] = json!("NOPE");
    cases.push((v, "EXTERNAL_STORE_ID_NOT_MATCH"));
    for (body, want) in &cases {
        let (st, b) = send(app.post(&w.admin, "/pos").json(body)).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some(*want)),
            "{body} -> {b}"
        );
    }
    let (st, b) = send(app.post(&w.admin, "/pos")).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("MISSING_BODY")),
        "{b}"
    );
    // Another tenant's store is one that does not exist.
    let (st, b) = send(app.post(&w.other, "/pos").json(&good)).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("INVALID_STORE_ID")),
        "{b}"
    );
    assert_eq!(pos_rows(&w).await, before);

    let (st, p) = send(app.post(&w.admin, "/pos").json(&good)).await;
    assert_eq!(st, 200, "{p}");
    let id = p["id"].as_i64().expect("numeric");
    assert_eq!(p["store_id"], w.store_mp.as_str());
    assert_eq!(p["external_store_id"], w.store_ext.as_str());
    assert_eq!(p["user_id"], w.user);
    assert_eq!(p["status"], "active");
    assert!(
        p["qr"]["image"]
            .as_str()
            .is_some_and(|u| u.ends_with(".png")),
        "{p}"
    );
    let (st, b) = send(app.post(&w.admin, "/pos").json(&good)).await;
    assert_eq!(st, 409, "Mercado Pago's duplicate: {b}");
    assert_eq!(pos_rows(&w).await, before + 1);

    // Search, get, update, by either API.
    let (st, f) = send(app.get(&w.admin, "/pos?external_id=CAJA2")).await;
    assert_eq!((st, f["paging"]["total"].as_u64()), (200, Some(1)), "{f}");
    assert_eq!(f["results"][0]["id"].as_i64(), Some(id));
    let (_, f) = send(app.get(&w.admin, &format!("/pos?store_id={}", w.store_mp))).await;
    assert_eq!(f["paging"]["total"].as_u64(), Some(before + 1));
    let (st, g) = send(app.get(&w.admin, &format!("/v2/pos/{id}"))).await;
    assert_eq!(st, 200, "{g}");
    // Made through the classic API: what Mercado Pago answered then (its
    // EMV `qr_code` comes with `/v2/pos` answers only).
    assert!(g["qr_response"]["image"].is_string(), "{g}");
    assert!(g["qr_response"]["uuid"].is_string(), "{g}");
    assert!(g.get("qr").is_none());
    let (st, u) = send(
        app.put(&w.admin, &format!("/pos/{id}"))
            .json(&json!({"name": "Caja Dos"})),
    )
    .await;
    assert_eq!((st, u["name"].as_str()), (200, Some("Caja Dos")), "{u}");
    let (st, b) = send(
        app.put(&w.admin, &format!("/pos/{id}"))
            .json(&json!({"external_id": "X"})),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    let (st, u) = send(
        app.patch(&w.admin, &format!("/v2/pos/{id}"))
            .json(&json!({"name": "Caja 2b"})),
    )
    .await;
    assert_eq!((st, u["name"].as_str()), (200, Some("Caja 2b")), "{u}");

    // Tenancy: the other integrator finds nothing.
    let (st, b) = send(app.get(&w.other, &format!("/pos/{id}"))).await;
    assert_eq!((st, b["error"].as_str()), (404, Some("not_found")));
    let (st, b) = send(app.get(&w.other, &format!("/v2/pos/{id}"))).await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (404, Some("pos_not_found"))
    );
    let (_, f) = send(app.get(&w.other, "/pos?external_id=CAJA2")).await;
    assert_eq!(f["paging"]["total"], 0);
    let (st, _) = send(
        app.put(&w.other, &format!("/pos/{id}"))
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = send(app.delete(&w.other, &format!("/pos/{id}"))).await;
    assert_eq!(st, 404);

    // /v2/pos: the key is required; same key + body replays; another body is 400.
    let v2 = json!({"name": "POS-003", "store_id": w.store_mp, "external_id": "CAJA3"});
    let (st, b) = send(app.post(&w.admin, "/v2/pos").json(&v2)).await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (400, Some("bad_request")),
        "{b}"
    );
    let mut bad = v2.clone();
    bad["store_id"] = json!(store_num);
    let (st, b) = send(
        app.post(&w.admin, "/v2/pos")
            .header("X-Idempotency-Key", "v2-bad")
            .json(&bad),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(
        b["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expected string")
    );
    let (st, b) = send(
        app.post(&w.other, "/v2/pos")
            .header("X-Idempotency-Key", "v2-o")
            .json(&v2),
    )
    .await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (404, Some("store_not_found")),
        "{b}"
    );
    let post = |key: &'static str, body: &Value| {
        app.post(&w.admin, "/v2/pos")
            .header("X-Idempotency-Key", key)
            .json(body)
    };
    let (st, c) = send(post("v2-1", &v2)).await;
    assert_eq!(st, 201, "{c}");
    let v2_id = c["id"].as_i64().unwrap();
    assert!(c["qr_response"]["uuid"].is_string(), "{c}");
    assert!(c["qr_response"]["qr_code"].is_string(), "{c}");
    let (st, again) = send(post("v2-1", &v2)).await;
    assert_eq!((st, again["id"].as_i64()), (201, Some(v2_id)));
    let mut other_body = v2.clone();
    other_body["external_id"] = json!("CAJA4");
    let (st, b) = send(post("v2-1", &other_body)).await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (400, Some("idempotency_key_already_used"))
    );
    assert_eq!(pos_rows(&w).await, before + 2);

    // Deletes: classic 200; v2 204, replayed 200; then not found.
    let (st, b) = send(app.delete(&w.admin, &format!("/v2/pos/{v2_id}"))).await;
    assert_eq!(
        (st, b["errors"][0]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let del = || {
        app.delete(&w.admin, &format!("/v2/pos/{v2_id}"))
            .header("X-Idempotency-Key", "d-1")
    };
    assert_eq!(del().send().await.unwrap().status().as_u16(), 204);
    assert_eq!(del().send().await.unwrap().status().as_u16(), 200);
    let (st, _) = send(app.get(&w.admin, &format!("/v2/pos/{v2_id}"))).await;
    assert_eq!(st, 404);
    let (st, d) = send(app.delete(&w.admin, &format!("/pos/{id}"))).await;
    assert_eq!((st, d["id"].as_i64()), (200, Some(id)), "{d}");
    assert_eq!(pos_rows(&w).await, before);
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

fn qr_body(sponsor: Value) -> Value {
    json!({
        "external_reference": "qr_ref_1",
        "title": "Mesa 4",
        "description": "Almuerzo",
        "notification_url": "https://pos.example/notify",
        "total_amount": 24.5,
        "items": [{"sku_number": "A1", "category": "food", "title": "Feijoada", "description": "Plato",
                   "unit_price": 12.25, "quantity": 2, "unit_measure": "unit", "total_amount": 24.5}],
        "sponsor": sponsor,
    })
}

async fn qr_orders_api(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    let user = w.user;
    let (store, pos) = (&w.store_ext, &w.pos_ext);
    let with_store =
        format!("/instore/qr/seller/collectors/{user}/stores/{store}/pos/{pos}/orders");
    let plain = format!("/instore/qr/seller/collectors/{user}/pos/{pos}/orders");
    let count = || async {
        qr_orders::Entity::find()
            .filter(qr_orders::Column::SellerId.eq(w.seller.clone()))
            .count(&app.state.db)
            .await
            .unwrap()
    };

    // Nothing yet.
    let (st, b) = send(app.get(&w.admin, &plain)).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (404, Some("point_of_sale_in_store_order_not_found"))
    );

    // Bad input: Mercado Pago's codes, nothing sent.
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut v = qr_body(json!({"id": 1}));
    v["external_reference"] = json!("has space");
    cases.push((v, "invalid_external_reference"));
    let mut v = qr_body(json!({"id": 1}));
    v["total_amount"] = json!(30);
    cases.push((v, "invalid_total_amount"));
    let mut v = qr_body(json!({"id": 1}));
    v["items"] = json!([]);
    cases.push((v, "invalid_items"));
    let mut v = qr_body(json!({"id": 1}));
    v["items"][0]["quantity"] = json!("two");
    cases.push((v, "invalid_items.quantity"));
    for (body, want) in &cases {
        let (st, b) = send(app.put(&w.admin, &with_store).json(body)).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some(*want)),
            "{body} -> {b}"
        );
    }
    assert_eq!(count().await, 0, "nothing sent");

    // Created: 204; the sponsor is the integrator's whatever the POS sent.
    let res = app
        .put(&w.admin, &with_store)
        .json(&qr_body(json!({"id": 446566691})))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (st, o) = send(app.get(&w.seller_key, &plain)).await;
    assert_eq!(st, 200, "{o}");
    assert_eq!(o["sponsor"]["id"], 7_300, "{o}");
    assert_eq!(o["external_reference"], "qr_ref_1");
    assert_eq!(o["items"][0]["title"], "Feijoada");
    assert!(o.get("notification_url").is_none(), "not forwarded: {o}");
    // Upstream has it, with the same sponsor.
    let up: Value = app
        .http
        .get(format!("{}{plain}", w.sandbox.base_url()))
        .bearer_auth(seller_token(&w).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(up["sponsor"]["id"], 7_300, "{up}");
    // Omitting the sponsor does not omit it.
    let mut v = qr_body(Value::Null);
    v.as_object_mut().unwrap().remove("sponsor");
    let res = app.put(&w.admin, &plain).json(&v).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (_, o) = send(app.get(&w.admin, &plain)).await;
    assert_eq!(o["sponsor"]["id"], 7_300, "{o}");

    // Tenancy: another integrator's key, or a POS of no one.
    let (st, b) = send(app.put(&w.other, &plain).json(&qr_body(json!({"id": 1})))).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("invalid_collectorId")),
        "{b}"
    );
    let (st, b) = send(app.get(&w.other, &plain)).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("invalid_collectorId"))
    );
    let (st, _) = send(app.delete(&w.other, &plain)).await;
    assert_eq!(st, 400);
    let (st, b) = send(app.get(
        &w.admin,
        &format!("/instore/qr/seller/collectors/{user}/pos/NOPE/orders"),
    ))
    .await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("invalid_externalPosId"))
    );
    let (st, b) = send(
        app.put(
            &w.admin,
            &format!("/instore/qr/seller/collectors/{user}/stores/OTHER/pos/{pos}/orders"),
        )
        .json(&qr_body(json!({"id": 1}))),
    )
    .await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("invalid_externalPosId")),
        "{b}"
    );

    // Delete: 204, then nothing.
    let res = app.delete(&w.admin, &plain).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (st, _) = send(app.get(&w.admin, &plain)).await;
    assert_eq!(st, 404);
    let (st, _) = send(app.delete(&w.admin, &plain)).await;
    assert_eq!(st, 404);

    // Legacy create: a v2 order upstream, the legacy answer here.
    let legacy = json!({"external_reference": "legacy_1", "notification_url": "https://pos.example/n",
                        "sponsor_id": "12345",
                        "items": [{"id": "SKU1", "title": "Café", "currency_id": "BRL", "unit_price": 5.5, "quantity": 2}]});
    let (st, l) = send(
        app.post(&w.admin, &format!("/mpmobile/instore/qr/{user}/{pos}"))
            .header("X-Idempotency-Key", "lg-1")
            .json(&legacy),
    )
    .await;
    assert_eq!(st, 200, "{l}");
    assert_eq!(l["sponsor_id"], 7_300, "the integrator's: {l}");
    assert_eq!(l["collector_id"], user);
    assert_eq!(l["total_amount"], 11.0);
    assert!(l["id"].as_i64().is_some());
    let (st, again) = send(
        app.post(&w.admin, &format!("/mpmobile/instore/qr/{user}/{pos}"))
            .header("X-Idempotency-Key", "lg-1")
            .json(&legacy),
    )
    .await;
    assert_eq!((st, again["id"].as_i64()), (200, l["id"].as_i64()));
    let (_, o) = send(app.get(&w.admin, &plain)).await;
    assert_eq!(o["total_amount"], 11.0, "{o}");
    assert_eq!(o["sponsor"]["id"], 7_300);
    let (st, b) = send(
        app.post(&w.admin, &format!("/mpmobile/instore/qr/{user}/{pos}"))
            .json(&json!({"items": []})),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (400, Some("invalid_items")));
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

/// The linked seller's sandbox token (to check what Mercado Pago holds).
async fn seller_token(w: &World) -> String {
    let t = platform_core::credentials::access_token(&w.app.state.db, &w.app.keyring, &w.seller)
        .await
        .unwrap();
    t.token.expose_secret().clone()
}

async fn payments_unknown_and_foreign(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    for key in [&w.admin, &w.other] {
        for path in [
            "/v1/payments/123456",
            "/v1/payments/123456/refunds",
            "/v1/payments/123456/refunds/1",
            "/v1/payments/not-a-number",
        ] {
            let (st, b) = send(app.get(key, path)).await;
            assert_eq!(
                (st, b["error"].as_str()),
                (404, Some("not_found")),
                "{path}: {b}"
            );
        }
        let (st, b) = send(
            app.post(key, "/v1/payments/123456/refunds")
                .json(&json!({"amount": 1})),
        )
        .await;
        assert_eq!((st, b["status"].as_i64()), (404, Some(404)), "{b}");
    }
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

async fn oauth_token_for_a_key(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    let key_id = platform_core::api_keys::authenticate(&app.state.db, &w.seller_key)
        .await
        .unwrap()
        .unwrap()
        .key
        .id;
    let post = |body: Value| {
        app.http
            .post(format!("{}/oauth/token", app.url))
            .json(&body)
    };
    let (st, tok) = send(post(json!({"grant_type": "client_credentials", "client_id": key_id, "client_secret": w.seller_key}))).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["access_token"], w.seller_key.as_str());
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(tok["user_id"], w.user);
    assert!(tok["expires_in"].as_i64().unwrap() > 0);
    // The token works as the POS's token.
    let (st, me) = send(app.get(tok["access_token"].as_str().unwrap(), "/users/me")).await;
    assert_eq!((st, me["id"].as_i64()), (200, Some(w.user)));
    // Form-encoded too.
    let res = app
        .http
        .post(format!("{}/oauth/token", app.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", key_id.as_str()),
            ("client_secret", w.seller_key.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // Wrong pairs, other grants.
    for (body, status, code) in [
        (
            json!({"grant_type": "client_credentials", "client_id": "key_nope", "client_secret": w.seller_key}),
            400,
            "invalid_client",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": key_id, "client_secret": "pk_test_nope"}),
            400,
            "invalid_client",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": key_id}),
            400,
            "invalid_client",
        ),
        (
            json!({"grant_type": "authorization_code", "client_id": "1", "client_secret": "x", "code": "TG-1", "redirect_uri": "https://x"}),
            400,
            "invalid_grant",
        ),
        (
            json!({"grant_type": "refresh_token", "client_id": "1", "client_secret": "x", "refresh_token": "TG-1"}),
            400,
            "invalid_grant",
        ),
        (
            json!({"grant_type": "password"}),
            400,
            "unsupported_grant_type",
        ),
        (json!({}), 400, "invalid_request"),
    ] {
        let (st, b) = send(post(body.clone())).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (status, Some(code)),
            "{body} -> {b}"
        );
        assert_eq!(b["status"], status);
    }
    let (_, b) = send(post(
        json!({"grant_type": "authorization_code", "code": "TG-1"}),
    ))
    .await;
    assert!(b["message"].as_str().unwrap().contains("onboarding"), "{b}");
    // An integrator-wide key's token is the integrator's account (its sponsor id).
    let admin_id = platform_core::api_keys::authenticate(&app.state.db, &w.admin)
        .await
        .unwrap()
        .unwrap()
        .key
        .id;
    let (st, tok) = send(post(json!({"grant_type": "client_credentials", "client_id": admin_id, "client_secret": w.admin}))).await;
    assert_eq!((st, tok["user_id"].as_i64()), (200, Some(7_300)), "{tok}");
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

async fn test_users_in_sandbox_mode_only(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    let (st, u) = send(
        app.post(&w.admin, "/users/test_user")
            .json(&json!({"site_id": "MLA"})),
    )
    .await;
    assert_eq!(st, 201, "{u}");
    assert!(u["id"].as_i64().is_some(), "{u}");
    assert!(u["nickname"].is_string() && u["password"].is_string() && u["email"].is_string());
    assert_eq!(u["site_status"], "active");
    assert!(u.get("site_id").is_none());
    // The account exists at the sandbox.
    let at: Value = app
        .http
        .get(format!(
            "{}/sandbox/sellers/{}",
            w.sandbox.base_url(),
            u["id"]
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(at["nickname"], u["nickname"]);
    let (st, u) = send(
        app.post(&w.admin, "/users/test")
            .json(&json!({"site_id": "MLB", "description": "caja 1"})),
    )
    .await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(
        (u["site_id"].as_str(), u["description"].as_str()),
        (Some("MLB"), Some("caja 1"))
    );
    assert!(u["date_created"].is_string());
    for (path, body) in [
        ("/users/test", json!({"site_id": "MLB"})),
        ("/users/test_user", json!({"site_id": "XXX"})),
        ("/users/test_user", json!({})),
    ] {
        let (st, b) = send(app.post(&w.admin, path).json(&body)).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some("bad_request")),
            "{body} -> {b}"
        );
    }
    let (st, b) = send(
        app.post(&w.seller_key, "/users/test_user")
            .json(&json!({"site_id": "MLB"})),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (403, Some("forbidden")));

    // With a real upstream: refused, saying where test accounts are made.
    // (The first app stops last: the pool's connections opened on its
    // workers' runtimes must not be handed to the second.)
    let real = TestApp::start(t, |raw| {
        raw.mp_api_url = Some("http://127.0.0.1:9".into());
        raw.mp_auth_url = Some("http://127.0.0.1:9".into());
    })
    .await;
    let s = real.seed(7_500).await;
    let key = real.key(&s, ScopeKind::Integrator, None).await;
    let (st, b) = send(
        real.post(&key, "/users/test_user")
            .json(&json!({"site_id": "MLB"})),
    )
    .await;
    assert_eq!((st, b["error"].as_str()), (403, Some("forbidden")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("panel"), "{b}");
    real.web.stop().await;
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

async fn integrator_settings(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    let path = "/point/integration-api/integrator";
    let (st, g) = send(app.get(&w.seller_key, path)).await;
    assert_eq!(st, 200, "{g}");
    assert_eq!(g["id"], w.user, "the seller's account at Mercado Pago: {g}");
    let res = app
        .patch(&w.seller_key, path)
        .json(&json!({"event_channel_devices": ["email"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (_, g) = send(app.get(&w.seller_key, path)).await;
    assert_eq!(g["event_channel_devices"], json!(["email"]));
    for body in [
        json!({"event_channel_devices": ["sms"]}),
        json!({"other": 1}),
        json!([]),
    ] {
        let (st, b) = send(app.patch(&w.seller_key, path).json(&body)).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some("bad_request")),
            "{body} -> {b}"
        );
    }
    for key in [&w.admin, &w.other] {
        let (st, b) = send(app.get(key, path)).await;
        assert_eq!((st, b["error"].as_str()), (403, Some("forbidden")), "{b}");
    }
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

/// `GET {path}` at the sandbox with the seller's own token: what Mercado
/// Pago answers.
async fn at_sandbox(w: &World, path: &str) -> (u16, Value) {
    send(
        w.app
            .http
            .get(format!("{}{path}", w.sandbox.base_url()))
            .bearer_auth(seller_token(w).await),
    )
    .await
}

/// A terminal payment as the worker leaves it: an Orders API order made
/// through Puente with the POS's `reference`, sent to the sandbox with
/// Puente's intent id as its `external_reference`, processed by the
/// sandbox's terminal, its payment's `reference_id` recorded. Returns the
/// intent id and the payment id.
async fn terminal_payment(
    w: &World,
    idem: &str,
    reference: &str,
    amount: &str,
) -> (String, String) {
    use platform_core::entities::mp_order_details;
    use platform_core::intents::{self, UpstreamFacts};
    use platform_core::states::{EventSource, IntentStatus};
    let app = &w.app;
    let (st, o) = send(
        app.post(&w.seller_key, "/v1/orders")
            .header("X-Idempotency-Key", idem)
            .json(&json!({"type": "point", "external_reference": reference,
                          "transactions": {"payments": [{"amount": amount}]},
                          "config": {"point": {"terminal_id": w.device}}})),
    )
    .await;
    assert_eq!(st, 201, "{o}");
    let pi = platform_core::id::PaymentIntentId::parse(&format!(
        "pi_{}",
        o["id"].as_str().unwrap()[3..].to_ascii_lowercase()
    ))
    .unwrap();
    let (st, up) = send(
        app.http
            .post(format!("{}/v1/orders", w.sandbox.base_url()))
            .bearer_auth(seller_token(w).await)
            .header("X-Idempotency-Key", pi.as_str())
            .json(&json!({"type": "point", "external_reference": pi.as_str(),
                          "transactions": {"payments": [{"amount": amount}]},
                          "config": {"point": {"terminal_id": w.device}}})),
    )
    .await;
    assert_eq!(st, 201, "{up}");
    let upstream = up["id"].as_str().unwrap().to_owned();
    let mut done = Value::Null;
    for _ in 0..400 {
        let (_, o) = at_sandbox(w, &format!("/v1/orders/{upstream}")).await;
        done = o;
        if !matches!(done["status"].as_str(), Some("created" | "at_terminal")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(done["status"], "processed", "{done}");
    let payment = done["transactions"]["payments"][0]["reference_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the payment's reference: {done}"))
        .to_owned();
    assert!(
        mp_order_details::Entity::find_by_id(pi.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none(),
        "nothing to keep for a plain order"
    );
    mp_order_details::ActiveModel {
        intent_id: Set(pi.clone()),
        integrator_id: Set(w.a.integrator.clone()),
        expiration_time: Set(None),
        platform_id: Set(None),
        mp_integrator_id: Set(None),
        payment_method_id: Set(None),
        reference_id: Set(Some(payment.clone())),
        refund_references: Set(None),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    for (to, facts) in [
        (IntentStatus::AtTerminal, UpstreamFacts::default()),
        (
            IntentStatus::Processed,
            UpstreamFacts {
                upstream_id: Some(upstream.clone()),
                mp_payment_id: done["transactions"]["payments"][0]["id"]
                    .as_str()
                    .map(str::to_owned),
                ..Default::default()
            },
        ),
    ] {
        intents::transition(&app.state.db, &pi, to, facts, EventSource::Worker)
            .await
            .unwrap();
    }
    (pi.to_string(), payment)
}

fn ids(search: &Value) -> Vec<String> {
    search["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {search}"))
        .iter()
        .map(|p| p["id"].to_string())
        .collect()
}

/// A payment read or searched through Puente shows the POS's own
/// `external_reference` (upstream carries Puente's intent id); the search
/// finds it by that reference only, within the key's scope, pages, and
/// refuses what it cannot answer; the Node SDK's trailing-slash refunds list.
async fn payments_search_and_the_pos_reference(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    let (pi, payment) = terminal_payment(&w, "ps-1", "pos_sale_1", "30.00").await;

    // Mercado Pago holds Puente's id; the POS reads its own.
    let (st, up) = at_sandbox(&w, &format!("/v1/payments/{payment}")).await;
    assert_eq!(
        (st, up["external_reference"].as_str()),
        (200, Some(pi.as_str())),
        "{up}"
    );
    let (st, p) = send(app.get(&w.seller_key, &format!("/v1/payments/{payment}"))).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["id"].to_string(), payment);
    assert_eq!(p["external_reference"], "pos_sale_1", "{p}");
    assert_eq!(
        (p["status"].as_str(), p["transaction_amount"].as_f64()),
        (Some("approved"), Some(30.0))
    );
    assert_eq!(p["point_of_interaction"]["type"], "POINT");

    // Searched by the POS's reference, not by Puente's.
    for key in [&w.seller_key, &w.admin] {
        let (st, found) =
            send(app.get(key, "/v1/payments/search?external_reference=pos_sale_1")).await;
        assert_eq!(st, 200, "{found}");
        assert_eq!(ids(&found), vec![payment.clone()]);
        assert_eq!(
            found["paging"],
            json!({"total": 1, "limit": 30, "offset": 0})
        );
        assert_eq!(found["results"][0]["external_reference"], "pos_sale_1");
    }
    let (_, none) = send(app.get(
        &w.seller_key,
        &format!("/v1/payments/search?external_reference={pi}"),
    ))
    .await;
    assert_eq!(none["paging"]["total"], 0, "{none}");
    assert_eq!(none["results"], json!([]));

    // Another tenant: nothing, exactly as for an id nobody has.
    let (st, theirs) = send(app.get(
        &w.other,
        "/v1/payments/search?external_reference=pos_sale_1",
    ))
    .await;
    assert_eq!(
        (st, theirs["paging"]["total"].as_u64()),
        (200, Some(0)),
        "{theirs}"
    );
    let (st, foreign) = send(app.get(&w.other, &format!("/v1/payments/{payment}"))).await;
    let (_, unknown) = send(app.get(&w.other, "/v1/payments/1")).await;
    assert_eq!((st, &foreign), (404, &unknown));
    for path in [
        format!("/v1/payments/{payment}/refunds"),
        format!("/v1/payments/{payment}/refunds/"),
    ] {
        let (st, b) = send(app.get(&w.other, &path)).await;
        assert_eq!((st, &b), (404, &unknown), "{path}");
    }

    // The refunds list, with and without the trailing slash the Node SDK sends.
    let (st, plain) =
        send(app.get(&w.seller_key, &format!("/v1/payments/{payment}/refunds"))).await;
    let (st2, slash) =
        send(app.get(&w.seller_key, &format!("/v1/payments/{payment}/refunds/"))).await;
    assert_eq!((st, st2), (200, 200), "{plain} {slash}");
    assert_eq!(plain, json!([]));
    assert_eq!(slash, plain);

    // Paging over two payments, oldest first or newest first.
    let (_, second) = terminal_payment(&w, "ps-2", "pos_sale_2", "16.00").await;
    let key = w.seller_key.as_str();
    let page = |q: &str| {
        let q = q.to_owned();
        async move { send(app.get(key, &format!("/v1/payments/search?{q}"))).await }
    };
    let (_, all) = page("").await;
    assert_eq!(ids(&all), vec![payment.clone(), second.clone()], "{all}");
    assert_eq!(all["paging"]["total"], 2);
    let (_, first) = page("limit=1").await;
    let (_, next) = page("limit=1&offset=1").await;
    assert_eq!(
        (ids(&first), ids(&next)),
        (vec![payment.clone()], vec![second.clone()])
    );
    assert_eq!(next["paging"], json!({"total": 2, "limit": 1, "offset": 1}));
    let (_, newest) = page("criteria=desc&sort=date_created").await;
    assert_eq!(ids(&newest), vec![second.clone(), payment.clone()]);
    let (_, past) = page("offset=2").await;
    assert_eq!(
        (ids(&past).len(), past["paging"]["total"].as_u64()),
        (0, Some(2))
    );
    // At most 100 a page (each is read from Mercado Pago), said in `paging`.
    let (st, big) = page("limit=1000").await;
    assert_eq!(
        (st, big["paging"]["limit"].as_u64()),
        (200, Some(100)),
        "{big}"
    );

    // What Puente cannot answer from its records is refused, not ignored.
    for q in [
        "status=approved",
        "payment_type_id=credit_card",
        "sort=date_approved",
        "sort=id",
        "sort=nonsense",
        "criteria=sideways",
        "range=date_created&begin_date=NOW-1DAYS&end_date=NOW",
        "limit=0",
        "limit=1001",
        "limit=ten",
        "offset=-1",
        "offset=10001",
    ] {
        let (st, b) = page(q).await;
        assert_eq!(
            (st, b["error"].as_str(), b["status"].as_u64()),
            (400, Some("bad_request"), Some(400)),
            "{q}: {b}"
        );
    }
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

async fn put_qr(w: &World, reference: &str, amount: f64) {
    let path = format!(
        "/instore/qr/seller/collectors/{}/stores/{}/pos/{}/orders",
        w.user, w.store_ext, w.pos_ext
    );
    let body = json!({"external_reference": reference, "title": "Mesa", "total_amount": amount,
                      "items": [{"title": "Item", "unit_price": amount, "quantity": 1,
                                 "unit_measure": "unit", "total_amount": amount}]});
    let res = w
        .app
        .put(&w.seller_key, &path)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204, "{}", res.text().await.unwrap());
}

async fn buyer_pays(w: &World) -> String {
    let (st, paid) = send(
        w.app
            .http
            .post(format!("{}/sandbox/qr/pay", w.sandbox.base_url()))
            .json(&json!({"user_id": w.user, "external_pos_id": w.pos_ext})),
    )
    .await;
    assert_eq!(st, 201, "{paid}");
    paid["payment_id"].to_string()
}

/// A QR payment is readable, and searchable by the POS's reference, as soon
/// as Mercado Pago has it — here no worker ever processes its notification —
/// and recorded as the notification would record it; a payment of the same
/// seller that pays no QR order of the scope stays unknown; a QR payment is
/// refunded at Mercado Pago, idempotently, and audited.
async fn qr_payments_found_as_soon_as_paid_and_refunded(t: &TestDb) {
    use platform_core::states::QrOrderStatus;
    let w = world(t).await;
    let app = &w.app;
    let (_, unknown) = send(app.get(&w.seller_key, "/v1/payments/1")).await;

    put_qr(&w, "qr_sale_1", 24.5).await;
    let paid = buyer_pays(&w).await;
    let (st, p) = send(app.get(&w.seller_key, &format!("/v1/payments/{paid}"))).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(
        (
            p["status"].as_str(),
            p["external_reference"].as_str(),
            p["transaction_amount"].as_f64()
        ),
        (Some("approved"), Some("qr_sale_1"), Some(24.5)),
        "{p}"
    );
    assert_eq!(p["sponsor_id"].to_string(), "7300", "{p}");
    let row = qr_orders::Entity::find()
        .filter(qr_orders::Column::ExternalReference.eq("qr_sale_1"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.mp_payment_id.as_deref()),
        (QrOrderStatus::Paid, Some(paid.as_str()))
    );
    let (st, _) = send(app.get(
        &w.seller_key,
        &format!(
            "/instore/qr/seller/collectors/{}/pos/{}/orders",
            w.user, w.pos_ext
        ),
    ))
    .await;
    assert_eq!(st, 404, "paid: no order waits on the POS");
    // Another tenant's key finds nothing, as for an unknown id.
    let (st, b) = send(app.get(&w.other, &format!("/v1/payments/{paid}"))).await;
    assert_eq!((st, &b), (404, &unknown));

    // Searched by its reference before anything recorded it.
    put_qr(&w, "qr_sale_2", 10.0).await;
    let paid2 = buyer_pays(&w).await;
    let (st, found) = send(app.get(
        &w.seller_key,
        "/v1/payments/search?external_reference=qr_sale_2",
    ))
    .await;
    assert_eq!((st, ids(&found)), (200, vec![paid2.clone()]), "{found}");
    assert_eq!(found["results"][0]["external_reference"], "qr_sale_2");

    // The seller's payment of an order not made through Puente: not Puente's,
    // even while a Puente order waits on the same POS.
    put_qr(&w, "qr_sale_3", 8.0).await;
    let qr_path = format!(
        "/instore/qr/seller/collectors/{}/pos/{}/orders",
        w.user, w.pos_ext
    );
    let res = app
        .http
        .put(format!("{}{qr_path}", w.sandbox.base_url()))
        .bearer_auth(seller_token(&w).await)
        .json(&json!({"external_reference": "not_through_puente", "title": "x", "total_amount": 8.0,
                      "items": [{"title": "x", "unit_price": 8.0, "quantity": 1, "unit_measure": "unit", "total_amount": 8.0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let foreign = buyer_pays(&w).await;
    let (st, at_mp) = at_sandbox(&w, &format!("/v1/payments/{foreign}")).await;
    assert_eq!(st, 200, "it exists at Mercado Pago: {at_mp}");
    let (st, b) = send(app.get(&w.seller_key, &format!("/v1/payments/{foreign}"))).await;
    assert_eq!((st, &b), (404, &unknown));
    let (_, none) = send(app.get(
        &w.seller_key,
        "/v1/payments/search?external_reference=not_through_puente",
    ))
    .await;
    assert_eq!(none["paging"]["total"], 0, "{none}");

    // Refunded at Mercado Pago: partial (replayed with its key), then the rest.
    let refunds = format!("/v1/payments/{paid}/refunds");
    let (st, r) = send(
        app.post(&w.seller_key, &refunds)
            .header("X-Idempotency-Key", "qr-refund-1")
            .json(&json!({"amount": 4.5})),
    )
    .await;
    assert_eq!(
        (st, r["amount"].as_f64(), r["status"].as_str()),
        (201, Some(4.5), Some("approved")),
        "{r}"
    );
    let (st, again) = send(
        app.post(&w.seller_key, &refunds)
            .header("X-Idempotency-Key", "qr-refund-1")
            .json(&json!({"amount": 4.5})),
    )
    .await;
    assert_eq!((st, &again["id"]), (201, &r["id"]), "replayed: {again}");
    let (st, b) = send(
        app.post(&w.other, &refunds)
            .header("X-Idempotency-Key", "qr-refund-x")
            .json(&json!({})),
    )
    .await;
    assert_eq!((st, &b), (404, &unknown), "another tenant refunds nothing");
    let (st, rest) = send(app.post(&w.seller_key, &refunds).json(&json!({}))).await;
    assert_eq!((st, rest["amount"].as_f64()), (201, Some(20.0)), "{rest}");
    let (_, p) = send(app.get(&w.seller_key, &format!("/v1/payments/{paid}"))).await;
    assert_eq!(
        (
            p["status"].as_str(),
            p["transaction_amount_refunded"].as_f64()
        ),
        (Some("refunded"), Some(24.5)),
        "{p}"
    );
    let (_, listed) = send(app.get(&w.seller_key, &format!("{refunds}/"))).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let (st, one) = send(app.get(&w.seller_key, &format!("{refunds}/{}", r["id"]))).await;
    assert_eq!((st, one["amount"].as_f64()), (200, Some(4.5)), "{one}");
    let (st, b) = send(app.post(&w.seller_key, &refunds).json(&json!({}))).await;
    assert_eq!((st, b["error"].as_str()), (400, Some("bad_request")), "{b}");
    // At Mercado Pago: two refunds, no more.
    let (_, up) = at_sandbox(&w, &format!("/v1/payments/{paid}/refunds")).await;
    assert_eq!(up.as_array().map(Vec::len), Some(2), "{up}");
    // Audited as the key's action.
    let scope = Scope::integrator(w.a.integrator.clone());
    let log = platform_core::audit::list(
        &app.state.db,
        &scope,
        Some("qr_payment."),
        None,
        &platform_core::paging::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(log.items.len(), 2);
    assert!(log.items.iter().all(|e| {
        e.actor_kind == platform_core::states::ActorKind::ApiKey
            && e.detail.as_deref().is_some_and(|d| d.contains(&paid))
    }));
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

/// Unknown payments and refunds answer exactly what the sandbox answers for
/// the same call (status and body), whichever key asks.
async fn unknown_payments_answer_as_the_sandbox(t: &TestDb) {
    let w = world(t).await;
    let app = &w.app;
    // A waiting QR order: Puente also asks Mercado Pago about unknown ids.
    put_qr(&w, "qr_waiting", 5.0).await;
    let token = seller_token(&w).await;
    let calls: &[(&str, &str, Option<Value>)] = &[
        ("GET", "/v1/payments/1", None),
        ("GET", "/v1/payments/999999999999", None),
        ("GET", "/v1/payments/abc", None),
        ("GET", "/v1/payments/1/refunds", None),
        ("GET", "/v1/payments/1/refunds/", None),
        ("GET", "/v1/payments/1/refunds/1", None),
        ("POST", "/v1/payments/1/refunds", Some(json!({}))),
        ("POST", "/v1/payments/1/refunds", Some(json!({"amount": 5}))),
        (
            "GET",
            "/v1/payments/search?external_reference=none_at_all",
            None,
        ),
    ];
    for (method, path, body) in calls {
        let request = |base: &str, token: &str| {
            let mut r = app
                .http
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .bearer_auth(token);
            if let Some(b) = body {
                r = r.json(b);
            }
            r
        };
        let want = send(request(&w.sandbox.base_url(), &token)).await;
        for key in [&w.seller_key, &w.admin, &w.other] {
            let got = send(request(&app.url, key)).await;
            assert_eq!(got, want, "{method} {path}");
        }
    }
    w.app.web.stop().await;
    w.sandbox.stop().await;
}

on_both_databases!(
    stores_api,
    pos_api,
    qr_orders_api,
    payments_unknown_and_foreign,
    payments_search_and_the_pos_reference,
    qr_payments_found_as_soon_as_paid_and_refunded,
    unknown_payments_answer_as_the_sandbox,
    oauth_token_for_a_key,
    test_users_in_sandbox_mode_only,
    integrator_settings,
);
