//! Legacy Point Integration API over HTTP.

use crate::common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn devices_list_filters_and_paging() {
    let c = start().await;
    let s = c.seller("MLB", 3).await;
    let t = tok(&s);
    let r = c.get("/point/integration-api/devices", Some(&t)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["paging"]["total"], 3);
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 3);
    let d = &r.body["devices"][0];
    assert!(d["id"].as_str().unwrap().contains("__SBX"));
    assert_eq!(d["operating_mode"], "PDV");
    assert!(d["pos_id"].is_u64() && d["store_id"].is_string());
    let pos = d["pos_id"].as_u64().unwrap();
    let r = c
        .get(
            &format!("/point/integration-api/devices?pos_id={pos}"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["paging"]["total"], 1);
    let r = c
        .get("/point/integration-api/devices?limit=2&offset=2", Some(&t))
        .await;
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["paging"]["limit"], 2);
    let r = c
        .get("/point/integration-api/devices?limit=abc", Some(&t))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["status"], 400);
    // Another seller sees only its own devices.
    let other = c.seller("MLB", 1).await;
    let r = c
        .get("/point/integration-api/devices", Some(&tok(&other)))
        .await;
    assert_eq!(r.body["paging"]["total"], 1);
    // No token / bad token: classic 401.
    let r = c.get("/point/integration-api/devices", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "unauthorized");
    let r = c
        .get("/point/integration-api/devices", Some("APP_USR-nope"))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn operating_mode_patch() {
    let c = start().await;
    let s = c.seller("MLA", 1).await;
    let (t, dev) = (tok(&s), terminal(&s));
    let path = format!("/point/integration-api/devices/{dev}");
    let r = c
        .call(
            "PATCH",
            &path,
            Some(&t),
            Some(json!({"operating_mode": "STANDALONE"})),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"operating_mode": "STANDALONE"}))
    );
    let r = c
        .call(
            "PATCH",
            &path,
            Some(&t),
            Some(json!({"operating_mode": "WRONG"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
    let other = c.seller("MLA", 1).await;
    let r = c
        .call(
            "PATCH",
            &path,
            Some(&tok(&other)),
            Some(json!({"operating_mode": "PDV"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn intent_walks_to_finished_and_sends_a_signed_notification() {
    let c = start().await;
    let rx = Receiver::start().await;
    let app = c.app_with_webhook(&rx.url).await;
    let s = c
        .post(
            "/sandbox/sellers",
            None,
            json!({"site_id": "MLB", "client_id": app["client_id"]}),
        )
        .await
        .body;
    let (t, dev) = (tok(&s), terminal(&s));
    let body = json!({"amount": 1500, "description": "coffee", "payment": {"type": "credit_card", "installments": 1, "installments_cost": "seller"},
                      "additional_info": {"external_reference": "ref-1", "print_on_terminal": true}});
    let r = c
        .post(
            &format!("/point/integration-api/devices/{dev}/payment-intents"),
            Some(&t),
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.get("state").is_none(),
        "create response has no state"
    );
    assert_eq!(r.body["amount"], 1500);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    let got = rx.wait_count(1).await;
    let n = &got[0];
    assert_eq!(n.topic.as_deref(), Some("point_integration_wh"));
    assert_eq!(n.data_id.as_deref(), Some(id.as_str()));
    assert_eq!(n.body["state"], "FINISHED");
    assert_eq!(n.body["payment"]["state"], "approved");
    assert_eq!(n.body["additional_info"]["external_reference"], "ref-1");
    assert_eq!(n.x_retry, "0");
    assert!(n.content_type.starts_with("application/json"));
    assert!(
        verify_signature(n, app["webhook_secret"].as_str().unwrap()),
        "signature verifies"
    );
    assert!(!verify_signature(n, "wrong-secret"));
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["state"], "FINISHED");
    let pid = r.body["payment"]["id"]
        .as_u64()
        .expect("payment id once processed");
    let r = c.get(&format!("/v1/payments/{pid}"), Some(&t)).await;
    assert_eq!(r.body["status"], "approved");
    // The events endpoints show the walk.
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id}/events"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["status"], "FINISHED");
    let today = chrono_today(&c).await;
    let r = c
        .get(
            &format!(
                "/point/integration-api/payment-intents/events?startDate={today}&endDate={today}"
            ),
            Some(&t),
        )
        .await;
    let states: Vec<String> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        states,
        ["OPEN", "ON_TERMINAL", "PROCESSING", "PROCESSED", "FINISHED"]
    );
    let r = c
        .get(
            "/point/integration-api/payment-intents/events?startDate=2024-01-01",
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .get(
            "/point/integration-api/payment-intents/events?startDate=2024-01-01&endDate=2024-03-01",
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 400, "range over 30 days");
    // Exactly one charge on the terminal.
    let r = c
        .get(&format!("/sandbox/charges?terminal_id={dev}"), None)
        .await;
    assert_eq!(r.body["charges"].as_array().unwrap().len(), 1);
    rx.stop().await;
}

async fn chrono_today(c: &Ctx) -> String {
    let r = c.get("/sandbox/clock", None).await;
    r.body["now"].as_str().unwrap()[..10].to_string()
}

#[tokio::test]
async fn simulator_amounts_decide_the_outcome() {
    let c = start().await;
    for (amount, state, pay) in [
        (1200, "FINISHED", Some("rejected")),
        (1300, "ERROR", None),
        (1100, "FINISHED", Some("cancelled")),
    ] {
        let s = c.seller("MLB", 1).await;
        let (t, dev) = (tok(&s), terminal(&s));
        let r = c
            .post(
                &format!("/point/integration-api/devices/{dev}/payment-intents"),
                Some(&t),
                json!({"amount": amount}),
            )
            .await;
        let id = r.body["id"].as_str().unwrap().to_string();
        let body = wait_for("final state", || async {
            let r = c
                .get(
                    &format!("/point/integration-api/payment-intents/{id}"),
                    Some(&t),
                )
                .await;
            (r.body["state"] == state).then_some(r.body)
        })
        .await;
        let n = wait_for("notification", || async {
            c.notifications(&format!("data_id={id}"))
                .await
                .into_iter()
                .next()
        })
        .await;
        assert_eq!(n["body"]["state"], state);
        if let Some(p) = pay {
            assert_eq!(n["body"]["payment"]["state"], p, "{body}");
        } else {
            assert!(n["body"].get("payment").is_none());
        }
    }
    c.assert_indexes_agree().await;
}

#[tokio::test]
async fn intent_validation_and_one_queued_intent_per_device() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, dev) = (tok(&s), terminal(&s));
    let path = format!("/point/integration-api/devices/{dev}/payment-intents");
    for bad in [
        json!({}),
        json!({"amount": "15"}),
        json!({"amount": 50}),
        json!({"amount": 7_000_001}),
        json!({"amount": 1500, "payment": {"type": "cash"}}),
        json!({"amount": 1500, "payment": {"type": "debit_card", "installments": 2}}),
        json!({"amount": 1500, "payment": {"type": "credit_card", "installments": 73}}),
    ] {
        let r = c.post(&path, Some(&t), bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body["error"], "bad_request");
    }
    let r = c
        .call(
            "POST",
            &path,
            Some(&t),
            Some(json!({"amount": 1500})),
            &[("x-idempotency-key", "k1")],
        )
        .await;
    assert_eq!(r.status, 200);
    let id = r.body["id"].as_str().unwrap().to_string();
    // Same idempotency key and body: the same intent, not a 409.
    let r = c
        .call(
            "POST",
            &path,
            Some(&t),
            Some(json!({"amount": 1500})),
            &[("x-idempotency-key", "k1")],
        )
        .await;
    assert_eq!((r.status, r.body["id"].as_str()), (200, Some(id.as_str())));
    let r = c.post(&path, Some(&t), json!({"amount": 2000})).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["message"], "Device has a queued payment intent");
    // Another seller's device.
    let other = c.seller("MLB", 1).await;
    let r = c
        .post(
            &format!(
                "/point/integration-api/devices/{}/payment-intents",
                terminal(&other)
            ),
            Some(&t),
            json!({"amount": 1500}),
        )
        .await;
    assert_eq!(r.status, 403);
    // Another seller cannot read it.
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&tok(&other)),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn cancel_only_while_open_and_409_once_on_terminal() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, dev) = (tok(&s), terminal(&s));
    let path = format!("/point/integration-api/devices/{dev}/payment-intents");
    let id = c.post(&path, Some(&t), json!({"amount": 1500})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .call("DELETE", &format!("{path}/{id}"), Some(&t), None, &[])
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"id": id})));
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["state"], "CANCELED");
    // A new one, pulled by the terminal (operator pressed charge): API cancel is refused.
    let id2 = c.post(&path, Some(&t), json!({"amount": 1500})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post(&format!("/sandbox/terminals/{dev}/charge"), None, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for("on terminal", || async {
        let r = c
            .get(
                &format!("/point/integration-api/payment-intents/{id2}"),
                Some(&t),
            )
            .await;
        (r.body["state"] == "ON_TERMINAL").then_some(())
    })
    .await;
    let r = c
        .call("DELETE", &format!("{path}/{id2}"), Some(&t), None, &[])
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["message"], "Payment intent is blocked by terminal");
    // Cancel on the device works.
    let r = c
        .post(&format!("/sandbox/terminals/{dev}/cancel"), None, json!({}))
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id2}"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["state"], "CANCELED");
    let r = c
        .call("DELETE", &format!("{path}/nope"), Some(&t), None, &[])
        .await;
    assert_eq!(r.status, 404);
    c.assert_indexes_agree().await;
}

#[tokio::test]
async fn open_intent_is_abandoned_when_the_clock_passes_the_timeout() {
    let c = start().await;
    let s = c.manual_seller("MLB").await;
    let (t, dev) = (tok(&s), terminal(&s));
    let id = c
        .post(
            &format!("/point/integration-api/devices/{dev}/payment-intents"),
            Some(&t),
            json!({"amount": 1500}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.sb.clock().advance(Duration::from_secs(14 * 60));
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["state"], "OPEN");
    let r = c
        .post("/sandbox/clock/advance", None, json!({"seconds": 61}))
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .get(
            &format!("/point/integration-api/payment-intents/{id}"),
            Some(&t),
        )
        .await;
    assert_eq!(r.body["state"], "ABANDONED");
    // The device is free again.
    let r = c
        .post(
            &format!("/point/integration-api/devices/{dev}/payment-intents"),
            Some(&t),
            json!({"amount": 1500}),
        )
        .await;
    assert_eq!(r.status, 200);
    c.assert_indexes_agree().await;
}

#[tokio::test]
async fn refund_intents_and_integrator_settings() {
    let c = start().await;
    let s = c.seller("MLB", 1).await;
    let (t, dev) = (tok(&s), terminal(&s));
    let id = c
        .post(
            &format!("/point/integration-api/devices/{dev}/payment-intents"),
            Some(&t),
            json!({"amount": 2500}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pid = wait_for("payment id", || async {
        let r = c
            .get(
                &format!("/point/integration-api/payment-intents/{id}"),
                Some(&t),
            )
            .await;
        (r.body["state"] == "FINISHED").then(|| r.body["payment"]["id"].as_u64().unwrap())
    })
    .await;
    let r = c.post(&format!("/point/integration-api/devices/{dev}/refund"), Some(&t), json!({"payment_id": pid.to_string(), "additional_info": {"print_on_terminal": ["SELLER_TICKET"]}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["payment_id"], pid.to_string());
    wait_for("refund finished", || async {
        let r = c
            .get(&format!("/point/integration-api/refund/{rid}"), Some(&t))
            .await;
        (r.body["state"] == "FINISHED").then_some(())
    })
    .await;
    let r = c.get(&format!("/v1/payments/{pid}"), Some(&t)).await;
    assert_eq!(r.body["status"], "refunded");
    let r = c
        .post(
            &format!("/point/integration-api/devices/{dev}/refund"),
            Some(&t),
            json!({"payment_id": "123"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .call(
            "DELETE",
            &format!("/point/integration-api/devices/{dev}/refund/{rid}"),
            Some(&t),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 409, "finished refunds cannot be canceled");
    // Integrator settings.
    let r = c.get("/point/integration-api/integrator", Some(&t)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["event_channel_devices"], json!(["email"]));
    let r = c
        .call(
            "PATCH",
            "/point/integration-api/integrator",
            Some(&t),
            Some(json!({"event_channel_devices": ["email"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 204);
    let r = c
        .call(
            "PATCH",
            "/point/integration-api/integrator",
            Some(&t),
            Some(json!({"event_channel_devices": ["sms"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
    c.assert_indexes_agree().await;
}
