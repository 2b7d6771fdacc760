//! Accounts, stores, classic and v2 POS, and in-store QR orders.

use crate::common;
use common::*;
use serde_json::{Value, json};

fn store_body(ext: &str) -> Value {
    json!({"name": "Sucursal Instore", "external_id": ext,
           "business_hours": {"monday": [{"open": "08:00", "close": "12:00"}]},
           "location": {"street_number": "0123", "street_name": "Example Street Name", "city_name": "Culiacán",
                        "state_name": "Sinaloa", "latitude": 27.17, "longitude": 78.04, "reference": "Near to Mercado Pago"}})
}

#[tokio::test]
async fn test_users_classic_and_current() {
    let c = start().await;
    let s = c.seller("MLA", 1).await;
    let t = tok(&s);
    let r = c
        .post("/users/test_user", Some(&t), json!({"site_id": "MLA"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["id"].is_u64() && r.body["nickname"].is_string() && r.body["password"].is_string()
    );
    assert_eq!(r.body["site_status"], "active");
    let r = c
        .post(
            "/users/test",
            Some(&t),
            json!({"site_id": "MLB", "description": "a seller"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["site_id"], "MLB");
    assert_eq!(r.body["description"], "a seller");
    let r = c
        .post("/users/test", Some(&t), json!({"site_id": "MLB"}))
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post("/users/test_user", Some(&t), json!({"site_id": "XXX"}))
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post("/users/test_user", None, json!({"site_id": "MLA"}))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn stores_crud_search_and_errors() {
    let c = start().await;
    let s = c.seller("MLM", 1).await;
    let (t, uid) = (tok(&s), s["user_id"].as_u64().unwrap());
    let r = c
        .post(
            &format!("/users/{uid}/stores"),
            Some(&t),
            store_body("SUC001"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_u64().unwrap();
    assert!(
        r.body["location"]["address_line"]
            .as_str()
            .unwrap()
            .contains("Example Street Name")
    );
    assert!(r.body["date_created"].is_string());
    let r = c.get(&format!("/stores/{id}"), Some(&t)).await;
    assert_eq!(r.body["external_id"], "SUC001");
    let r = c
        .get(
            &format!("/users/{uid}/stores/search?external_id=SUC001"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["paging"]["total"], 1);
    assert!(r.body["results"][0]["date_creation"].is_string());
    let r = c
        .get(
            &format!("/users/{uid}/stores/search?external_id=NOPE"),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .get(&format!("/users/{uid}/stores/search?limit=x"), Some(&t))
        .await;
    assert_eq!(r.body["error"], "INVALID_LIMIT");
    let mut upd = store_body("SUC001");
    upd["name"] = json!("Renamed");
    let r = c
        .call(
            "PUT",
            &format!("/users/{uid}/stores/{id}"),
            Some(&t),
            Some(upd),
            &[],
        )
        .await;
    assert_eq!((r.status, r.body["name"].as_str()), (200, Some("Renamed")));
    for (patch, key) in [
        (json!({"name": ""}), "INVALID_NAME"),
        (json!({"color": "red"}), "UNKNOWN_FIELD"),
        (json!({"business_hours": {"funday": []}}), "INVALID_DAY"),
        (
            json!({"business_hours": {"monday": [{"open": "25:00", "close": "12:00"}]}}),
            "INVALID_BUSINESS_HOURS",
        ),
        (
            json!({"location": {"street_number": "1", "city_name": "X", "state_name": "Y", "latitude": 1, "longitude": 1}}),
            "INVALID_STREET_NAME",
        ),
    ] {
        let mut b = store_body("SUC002");
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = c.post(&format!("/users/{uid}/stores"), Some(&t), b).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some(key)),
            "{}",
            r.body
        );
    }
    let other = c.seller("MLM", 1).await;
    let r = c
        .post(
            &format!("/users/{uid}/stores"),
            Some(&tok(&other)),
            store_body("X"),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c.get(&format!("/stores/{id}"), Some(&tok(&other))).await;
    assert_eq!(r.status, 404);
    let r = c
        .call(
            "DELETE",
            &format!("/users/{uid}/stores/{id}"),
            Some(&t),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"store": id, "user": uid}))
    );
    let r = c
        .call(
            "DELETE",
            &format!("/users/{uid}/stores/{id}"),
            Some(&t),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn classic_pos_crud_and_errors() {
    let c = start().await;
    let s = c.seller("MLA", 1).await;
    let (t, uid) = (tok(&s), s["user_id"].as_u64().unwrap());
    let store = c
        .post(
            &format!("/users/{uid}/stores"),
            Some(&t),
            store_body("SUC001"),
        )
        .await
        .body["id"]
        .as_u64()
        .unwrap();
    let body = json!({"name": "First POS", "fixed_amount": false, "store_id": store, "external_store_id": "SUC001", "external_id": "SUC001POS001", "category": 621102});
    let r = c.post("/pos", Some(&t), body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_u64().unwrap();
    assert_eq!(r.body["store_id"], store.to_string());
    assert!(r.body["qr"]["image"].as_str().unwrap().ends_with(".png"));
    let r = c.post("/pos", Some(&t), body.clone()).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body["message"],
        "A pos with the same EXTERNAL_ID already exists"
    );
    for (patch, key) in [
        (json!({"name": "x".repeat(45)}), "NAME_TOO_LONG"),
        (json!({"external_id": "has-hyphen"}), "INVALID_EXTERNAL_ID"),
        (
            json!({"external_id": "A".repeat(40)}),
            "EXTERNAL_ID_TOO_LONG",
        ),
        (
            json!({"external_store_id": "OTHER"}),
            "INEXISTENT_EXTERNAL_STORE_ID",
        ),
        (json!({"fixed_amount": "no"}), "INVALID_FIXED_AMOUNT"),
        (json!({"category": "food"}), "INVALID_CATEGORY"),
        (json!({"url": "https://x.example/cb"}), "FIXED_AMOUNT_FALSE"),
        (json!({"extra": 1}), "UNKNOWN_FIELD_EXCEPTION"),
    ] {
        let mut b = body.clone();
        b["external_id"] = json!("OTHER1");
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = c.post("/pos", Some(&t), b).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some(key)),
            "{}",
            r.body
        );
    }
    let r = c
        .http
        .post(c.url("/pos"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c.get("/pos?external_id=SUC001POS001", Some(&t)).await;
    assert_eq!(r.body["paging"]["total"], 1);
    let r = c
        .call(
            "PUT",
            &format!("/pos/{id}"),
            Some(&t),
            Some(json!({"name": "Renamed"})),
            &[],
        )
        .await;
    assert_eq!(r.body["name"], "Renamed");
    assert_eq!(
        c.get(&format!("/pos/{id}"), Some(&t)).await.body["name"],
        "Renamed"
    );
    assert_eq!(
        c.call("DELETE", &format!("/pos/{id}"), Some(&t), None, &[])
            .await
            .status,
        200
    );
    assert_eq!(c.get(&format!("/pos/{id}"), Some(&t)).await.status, 404);
}

#[tokio::test]
async fn v2_pos_with_idempotency() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let (t, uid) = (tok(&s), s["user_id"].as_u64().unwrap());
    let store = c
        .post(
            &format!("/users/{uid}/stores"),
            Some(&t),
            store_body("SUC001"),
        )
        .await
        .body["id"]
        .as_u64()
        .unwrap();
    let body =
        json!({"name": "POS-001", "store_id": store.to_string(), "external_id": "SUC001POS001"});
    let r = c.post("/v2/pos", Some(&t), body.clone()).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"][0]["message"],
        "Missing X-Idempotency-Key header"
    );
    let h = [("x-idempotency-key", "p1")];
    let r = c
        .call("POST", "/v2/pos", Some(&t), Some(body.clone()), &h)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_u64().unwrap();
    assert!(r.body["qr_response"]["qr_code"].is_string());
    assert_eq!(r.body["external_store_id"], "SUC001");
    let r2 = c
        .call("POST", "/v2/pos", Some(&t), Some(body.clone()), &h)
        .await;
    assert_eq!((r2.status, r2.body["id"].as_u64()), (201, Some(id)));
    let mut other = body.clone();
    other["external_id"] = json!("POS2");
    let r = c
        .call("POST", "/v2/pos", Some(&t), Some(other.clone()), &h)
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (400, Some("idempotency_key_already_used"))
    );
    let r = c
        .call(
            "POST",
            "/v2/pos",
            Some(&t),
            Some(body.clone()),
            &[("x-idempotency-key", "p2")],
        )
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (409, Some("pos_already_exists"))
    );
    let mut num = other.clone();
    num["store_id"] = json!(store);
    let r = c
        .call(
            "POST",
            "/v2/pos",
            Some(&t),
            Some(num),
            &[("x-idempotency-key", "p3")],
        )
        .await;
    assert_eq!(
        r.body["errors"][0]["message"],
        "store_id expected string, but got number"
    );
    let mut missing = other.clone();
    missing["store_id"] = json!("999");
    let r = c
        .call(
            "POST",
            "/v2/pos",
            Some(&t),
            Some(missing),
            &[("x-idempotency-key", "p4")],
        )
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_str()),
        (404, Some("store_not_found"))
    );
    let r = c.get(&format!("/v2/pos/{id}"), Some(&t)).await;
    assert_eq!(r.body["name"], "POS-001");
    let r = c
        .call(
            "PATCH",
            &format!("/v2/pos/{id}"),
            Some(&t),
            Some(json!({"name": "POS 1"})),
            &[],
        )
        .await;
    assert_eq!(r.body["name"], "POS 1");
    let r = c.get("/v2/pos?external_id=SUC001POS001", Some(&t)).await;
    assert_eq!(r.body["paging"]["total"], 1);
    let h = [("x-idempotency-key", "d1")];
    assert_eq!(
        c.call("DELETE", &format!("/v2/pos/{id}"), Some(&t), None, &h)
            .await
            .status,
        204
    );
    assert_eq!(
        c.call("DELETE", &format!("/v2/pos/{id}"), Some(&t), None, &h)
            .await
            .status,
        200,
        "replay"
    );
    assert_eq!(
        c.call(
            "DELETE",
            &format!("/v2/pos/{id}"),
            Some(&t),
            None,
            &[("x-idempotency-key", "d2")]
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn qr_orders_store_and_echo_the_sponsor() {
    let c = start().await;
    let s = c.seller("MLA", 1).await;
    let (t, uid) = (tok(&s), s["user_id"].as_u64().unwrap());
    let ext_store = s["stores"][0]["external_id"].as_str().unwrap();
    let ext_pos = s["pos"][0]["external_id"].as_str().unwrap();
    let order = json!({"external_reference": "qr-1", "title": "Order", "description": "d", "total_amount": 100.0,
                       "items": [{"sku_number": "A1", "category": "food", "title": "Item", "unit_price": 50.0, "quantity": 2, "unit_measure": "unit", "total_amount": 100.0}],
                       "sponsor": {"id": 446566691u64}});
    let put =
        format!("/instore/qr/seller/collectors/{uid}/stores/{ext_store}/pos/{ext_pos}/orders");
    let r = c
        .call("PUT", &put, Some(&t), Some(order.clone()), &[])
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let get = format!("/instore/qr/seller/collectors/{uid}/pos/{ext_pos}/orders");
    let r = c.get(&get, Some(&t)).await;
    assert_eq!(r.body["sponsor"]["id"], 446566691u64);
    let mut bad = order.clone();
    bad["sponsor"] = json!({"id": "x"});
    assert_eq!(
        c.call("PUT", &put, Some(&t), Some(bad), &[]).await.body["error"],
        "invalid_sponsor.id"
    );
    let mut bad = order.clone();
    bad["total_amount"] = json!(99.0);
    assert_eq!(
        c.call("PUT", &put, Some(&t), Some(bad), &[]).await.body["error"],
        "invalid_total_amount"
    );
    assert_eq!(
        c.call("DELETE", &get, Some(&t), None, &[]).await.status,
        204
    );
    let r = c.get(&get, Some(&t)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (404, Some("point_of_sale_in_store_order_not_found"))
    );
    let other = c.seller("MLA", 1).await;
    assert_eq!(
        c.call("PUT", &put, Some(&tok(&other)), Some(order), &[])
            .await
            .body["error"],
        "invalid_collectorId"
    );
    // Legacy QR.
    let r = c.post(&format!("/mpmobile/instore/qr/{uid}/{ext_pos}"), Some(&t),
        json!({"external_reference": "l1", "notification_url": "https://x.example/n", "sponsor_id": "446566691",
               "items": [{"title": "Item", "currency_id": "ARS", "unit_price": 10.0, "quantity": 1}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sponsor_id"], 446566691u64);
    assert_eq!(r.body["collector_id"], uid);
}
