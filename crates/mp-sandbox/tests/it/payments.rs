//! The Payments API view: `GET /v1/payments/{id}` and `/v1/payments/{id}/refunds`
//! for terminal payments (both API generations) and QR payments, and the
//! `/sandbox/qr/pay` buyer helper with its notification.

use crate::common;
use common::*;
use serde_json::{Value, json};

async fn processed_order(c: &Ctx, t: &str, term: &str, amount: &str) -> Value {
    let body = json!({"type": "point", "external_reference": "pay_ref_1",
                      "transactions": {"payments": [{"amount": amount}]},
                      "config": {"point": {"terminal_id": term}}});
    let r = c
        .call(
            "POST",
            "/v1/orders",
            Some(t),
            Some(body),
            &[("x-idempotency-key", "o1")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    wait_for("order processed", || async {
        let o = c.get(&format!("/v1/orders/{id}"), Some(t)).await.body;
        (o["status"] == "processed").then_some(o)
    })
    .await
}

#[tokio::test]
async fn an_order_payment_is_refunded_through_the_payments_api() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let (t, term) = (tok(&s), terminal(&s));
    let order = processed_order(&c, &t, &term, "30.00").await;
    let oid = order["id"].as_str().unwrap();
    let reference = order["transactions"]["payments"][0]["reference_id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = c.get(&format!("/v1/payments/{reference}"), Some(&t)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["id"].as_u64().unwrap().to_string(), reference);
    assert_eq!(p.body["status"], "approved");
    assert_eq!(p.body["transaction_amount"], 30.0);
    assert_eq!(p.body["external_reference"], "pay_ref_1");
    let refunds = format!("/v1/payments/{reference}/refunds");
    assert_eq!(c.get(&refunds, Some(&t)).await.body, json!([]));
    // Partial, then the rest (no body); more is refused.
    let r = c.post(&refunds, Some(&t), json!({"amount": 10.5})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["amount"], 10.5);
    assert_eq!(r.body["status"], "approved");
    let first = r.body["id"].as_u64().unwrap();
    let o = c.get(&format!("/v1/orders/{oid}"), Some(&t)).await.body;
    assert_eq!(o["status_detail"], "partially_refunded");
    assert_eq!(
        o["transactions"]["refunds"][0]["reference_id"],
        first.to_string(),
        "the order shows the same refund"
    );
    let r = c.post(&refunds, Some(&t), json!({"amount": 20.0})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"], "bad_request");
    let r = c.call("POST", &refunds, Some(&t), None, &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["amount"], 19.5);
    let list = c.get(&refunds, Some(&t)).await.body;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // The Node SDK's PaymentRefund.list path ends in a slash: the same list.
    assert_eq!(c.get(&format!("{refunds}/"), Some(&t)).await.body, list);
    let one = c.get(&format!("{refunds}/{first}"), Some(&t)).await;
    assert_eq!(one.body["amount"], 10.5);
    let p = c.get(&format!("/v1/payments/{reference}"), Some(&t)).await;
    assert_eq!(p.body["status"], "refunded");
    let o = c.get(&format!("/v1/orders/{oid}"), Some(&t)).await.body;
    assert_eq!(o["status"], "refunded");
    let r = c.post(&refunds, Some(&t), json!({})).await;
    assert_eq!(
        r.status, 400,
        "a refunded payment is not refundable: {}",
        r.body
    );
    // Another seller's payment does not exist for this token.
    let other = c.seller("MLB", 1).await;
    let r = c.get(&refunds, Some(&tok(&other))).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (404, Some("not_found"))
    );
    let r = c.post(&refunds, Some(&tok(&other)), json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(c.get(&format!("{refunds}/1"), Some(&t)).await.status, 404);
}

#[tokio::test]
async fn a_legacy_terminal_payment_is_refundable() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let (t, term) = (tok(&s), terminal(&s));
    let r = c
        .post(
            &format!("/point/integration-api/devices/{term}/payment-intents"),
            Some(&t),
            json!({"amount": 1500, "additional_info": {"external_reference": "leg-1", "print_on_terminal": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let pid = wait_for("intent finished", || async {
        let i = c
            .get(
                &format!("/point/integration-api/payment-intents/{id}"),
                Some(&t),
            )
            .await
            .body;
        (i["state"] == "FINISHED").then(|| i["payment"]["id"].as_u64().unwrap())
    })
    .await;
    // With X-Idempotency-Key a repeat answers the first refund, and the key
    // with another body is refused.
    let refunds = format!("/v1/payments/{pid}/refunds");
    let keyed = |body: serde_json::Value, key: &'static str| {
        let (c, t, refunds) = (&c, t.clone(), refunds.clone());
        async move {
            let headers = [("X-Idempotency-Key", key)];
            c.call("POST", &refunds, Some(&t), Some(body), &headers)
                .await
        }
    };
    let first = keyed(json!({"amount": 5.0}), "ref-1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = keyed(json!({"amount": 5.0}), "ref-1").await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    let other = keyed(json!({"amount": 6.0}), "ref-1").await;
    assert_eq!(other.status, 409, "{}", other.body);
    let p = c.get(&format!("/v1/payments/{pid}"), Some(&t)).await.body;
    assert_eq!(p["transaction_amount_refunded"], 5.0, "refunded once: {p}");
    assert_eq!(p["status"], "approved");

    let r = c.post(&refunds, Some(&t), json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["amount"], 10.0, "the rest");
    assert_eq!(r.body["payment_id"], pid);
    let p = c.get(&format!("/v1/payments/{pid}"), Some(&t)).await.body;
    assert_eq!(p["status"], "refunded");
    assert_eq!(p["transaction_amount_refunded"], 15.0);
}

#[tokio::test]
async fn a_buyer_pays_a_qr_order_and_the_app_is_notified() {
    let c = start().await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLA", "client_id": app["client_id"]}),
        )
        .await
        .body;
    let (t, uid) = (tok(&s), s["user_id"].as_u64().unwrap());
    let ext_pos = s["pos"][0]["external_id"].as_str().unwrap();
    let get = format!("/instore/qr/seller/collectors/{uid}/pos/{ext_pos}/orders");
    let order = json!({"external_reference": "qr-pay-1", "title": "Order", "total_amount": 100.0,
                       "items": [{"title": "Item", "unit_price": 50.0, "quantity": 2, "unit_measure": "unit", "total_amount": 100.0}],
                       "sponsor": {"id": 446566691u64}});
    let r = c.call("PUT", &get, Some(&t), Some(order), &[]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let pay = |outcome: &'static str| {
        let c = &c;
        let ext_pos = ext_pos.to_string();
        async move {
            c.post(
                "/sandbox/qr/pay",
                None,
                json!({"user_id": uid, "external_pos_id": ext_pos, "outcome": outcome}),
            )
            .await
        }
    };
    // A rejected attempt leaves the order on the POS.
    let r = pay("rejected").await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (201, Some("rejected"))
    );
    assert_eq!(c.get(&get, Some(&t)).await.status, 200);
    let r = pay("approved").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let pid = r.body["payment_id"].as_u64().unwrap();
    assert_eq!(r.body["external_reference"], "qr-pay-1");
    let p = c.get(&format!("/v1/payments/{pid}"), Some(&t)).await.body;
    assert_eq!(p["status"], "approved");
    assert_eq!(p["transaction_amount"], 100.0);
    assert_eq!(p["currency_id"], "ARS");
    assert_eq!(p["external_reference"], "qr-pay-1");
    assert_eq!(p["sponsor_id"], 446566691u64);
    assert_eq!(p["point_of_interaction"]["type"], "INSTORE");
    // Paid: the order left the POS; nothing more to pay.
    assert_eq!(c.get(&get, Some(&t)).await.status, 404);
    assert_eq!(pay("approved").await.status, 404);
    // Two payment notifications (rejected, then approved), signed, to the app.
    let got = rx.wait_count(2).await;
    let n = got
        .iter()
        .find(|n| n.data_id.as_deref() == Some(pid.to_string().as_str()))
        .expect("notification of the approved payment");
    assert_eq!(n.topic.as_deref(), Some("payment"));
    assert_eq!(n.body["type"], "payment");
    assert_eq!(n.body["action"], "payment.created");
    assert_eq!(n.body["data"]["id"], pid.to_string());
    assert!(verify_signature(n, app["webhook_secret"].as_str().unwrap()));
    // The QR payment is refundable like any other.
    let r = c
        .post(
            &format!("/v1/payments/{pid}/refunds"),
            Some(&t),
            json!({"amount": 40.0}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c
        .post("/sandbox/qr/pay", None, json!({"user_id": uid}))
        .await;
    assert_eq!(r.status, 400);
    rx.stop().await;
}

#[tokio::test]
async fn payments_are_searched_by_their_fields_and_paged() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let (t, term) = (tok(&s), terminal(&s));
    let first = processed_order(&c, &t, &term, "30.00").await;
    let ref_of = |o: &Value| {
        o["transactions"]["payments"][0]["reference_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = ref_of(&first);
    // A second order (another key and reference) on the same terminal.
    let body = json!({"type": "point", "external_reference": "pay_ref_2",
                      "transactions": {"payments": [{"amount": "12.00"}]},
                      "config": {"point": {"terminal_id": term}}});
    let r = c
        .call(
            "POST",
            "/v1/orders",
            Some(&t),
            Some(body),
            &[("x-idempotency-key", "o2")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let second = wait_for("second processed", || async {
        let o = c.get(&format!("/v1/orders/{id}"), Some(&t)).await.body;
        (o["status"] == "failed").then_some(o)
    })
    .await;
    let b = ref_of(&second);
    let ids = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].to_string())
            .collect()
    };

    let r = c
        .get("/v1/payments/search?external_reference=pay_ref_1", Some(&t))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), vec![a.clone()]);
    assert_eq!(
        r.body["paging"],
        json!({"total": 1, "limit": 30, "offset": 0})
    );
    // 12.00 is the sandbox's "rejected" amount.
    let r = c.get("/v1/payments/search?status=rejected", Some(&t)).await;
    assert_eq!(ids(&r.body), vec![b.clone()]);
    let r = c
        .get(
            "/v1/payments/search?sort=id&criteria=desc&limit=1&offset=1",
            Some(&t),
        )
        .await;
    let mut both = [a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()];
    both.sort();
    assert_eq!(ids(&r.body), vec![both[0].to_string()]);
    assert_eq!(r.body["paging"]["total"], 2);
    let r = c
        .get("/v1/payments/search?external_reference=nothing", Some(&t))
        .await;
    assert_eq!(
        r.body,
        json!({"paging": {"total": 0, "limit": 30, "offset": 0}, "results": []})
    );
    // Another seller sees none of them.
    let other = c.seller("MLB", 1).await;
    let r = c.get("/v1/payments/search", Some(&tok(&other))).await;
    assert_eq!(r.body["paging"]["total"], 0);
    for bad in [
        "limit=0",
        "criteria=up",
        "sort=amount",
        "range=date_created&begin_date=NOW-1DAYS",
    ] {
        let r = c.get(&format!("/v1/payments/search?{bad}"), Some(&t)).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("bad_request")),
            "{bad}"
        );
    }
    assert_eq!(c.get("/v1/payments/search", None).await.status, 401);
}
