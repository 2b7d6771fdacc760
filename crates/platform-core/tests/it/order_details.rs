//! `order_details::record`: what Mercado Pago reports about an order's
//! payment and refunds is kept in one upsert; a value an order does not
//! carry keeps the one recorded before, and what the POS sent
//! (`order_details::save`) is never overwritten by it.

use platform_core::entities::mp_order_details;
use platform_core::mercadopago::Order;
use platform_core::on_both_databases;
use platform_core::order_details::{self, RequestDetails};
use platform_core::testing::{TestDb, seed_integrator, test_keyring};
use sea_orm::EntityTrait;
use serde_json::json;

fn order(transactions: serde_json::Value) -> Order {
    serde_json::from_value(json!({
        "id": "ORD01TEST",
        "status": "processed",
        "transactions": transactions,
    }))
    .expect("an order")
}

async fn an_order_updates_only_what_it_carries(t: &TestDb) {
    let s = seed_integrator(&t.db, &test_keyring(), 7_300).await;
    let (db, intent) = (&t.db, &s.intent);
    let row = || async {
        mp_order_details::Entity::find_by_id(intent.clone())
            .one(db)
            .await
            .unwrap()
    };
    assert!(row().await.is_none());

    // Nothing to record: no row.
    let plain = order(json!({"payments": [{"id": "PAY1"}]}));
    order_details::record(db, intent, &s.integrator, &plain)
        .await
        .unwrap();
    assert!(row().await.is_none());

    // What the POS sent comes first (the create).
    order_details::save(
        db,
        intent,
        &s.integrator,
        &RequestDetails {
            expiration_time: Some("PT5M".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The processed payment: its brand and reference.
    let paid = order(json!({"payments": [{"id": "PAY1", "reference_id": "111",
                                          "payment_method": {"id": "visa"}}]}));
    order_details::record(db, intent, &s.integrator, &paid)
        .await
        .unwrap();
    let r = row().await.unwrap();
    assert_eq!(r.expiration_time.as_deref(), Some("PT5M"));
    assert_eq!(r.payment_method_id.as_deref(), Some("visa"));
    assert_eq!(r.reference_id.as_deref(), Some("111"));
    assert_eq!(r.refund_references, None);

    // A refund later: the payment's facts stay.
    let refunded = order(json!({"payments": [{"id": "PAY1"}],
                                "refunds": [{"id": "REF1", "reference_id": "222"}]}));
    order_details::record(db, intent, &s.integrator, &refunded)
        .await
        .unwrap();
    let r = row().await.unwrap();
    assert_eq!(r.expiration_time.as_deref(), Some("PT5M"));
    assert_eq!(r.payment_method_id.as_deref(), Some("visa"));
    assert_eq!(r.reference_id.as_deref(), Some("111"));
    let refunds: serde_json::Value =
        serde_json::from_str(r.refund_references.as_deref().unwrap()).unwrap();
    assert_eq!(refunds, json!({"REF1": "222"}));

    // A new brand replaces the old one; the rest stays.
    let rebranded = order(json!({"payments": [{"id": "PAY1",
                                               "payment_method": {"id": "master"}}]}));
    order_details::record(db, intent, &s.integrator, &rebranded)
        .await
        .unwrap();
    let r = row().await.unwrap();
    assert_eq!(r.payment_method_id.as_deref(), Some("master"));
    assert_eq!(r.reference_id.as_deref(), Some("111"));
    assert!(r.refund_references.is_some());
}

on_both_databases!(an_order_updates_only_what_it_carries);
