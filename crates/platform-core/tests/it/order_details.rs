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
    let (db, intent, integrator) = (&t.db, &s.intent, &s.integrator);
    let row = || async {
        mp_order_details::Entity::find_by_id(intent.clone())
            .one(db)
            .await
            .unwrap()
    };
    // Records what the order carries; the row as it is after.
    let record = |transactions: serde_json::Value| async move {
        order_details::record(db, intent, integrator, &order(transactions))
            .await
            .unwrap();
        row().await
    };
    assert!(row().await.is_none());

    // Nothing to record: no row.
    assert!(
        record(json!({"payments": [{"id": "PAY1"}]}))
            .await
            .is_none()
    );

    // What the POS sent comes first (the create).
    order_details::save(
        db,
        intent,
        integrator,
        &RequestDetails {
            expiration_time: Some("PT5M".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The processed payment: its brand and reference.
    let r = record(json!({"payments": [{"id": "PAY1", "reference_id": "111",
                                         "payment_method": {"id": "visa"}}]}))
    .await
    .unwrap();
    assert_eq!(r.expiration_time.as_deref(), Some("PT5M"));
    assert_eq!(r.payment_method_id.as_deref(), Some("visa"));
    assert_eq!(r.reference_id.as_deref(), Some("111"));
    assert_eq!(r.refund_references, None);

    // A refund later: the payment's facts stay.
    let r = record(json!({"payments": [{"id": "PAY1"}],
                          "refunds": [{"id": "REF1", "reference_id": "222"}]}))
    .await
    .unwrap();
    assert_eq!(r.expiration_time.as_deref(), Some("PT5M"));
    assert_eq!(r.payment_method_id.as_deref(), Some("visa"));
    assert_eq!(r.reference_id.as_deref(), Some("111"));
    let refunds: serde_json::Value =
        serde_json::from_str(r.refund_references.as_deref().unwrap()).unwrap();
    assert_eq!(refunds, json!({"REF1": "222"}));

    // A new brand replaces the old one; the rest stays.
    let r = record(json!({"payments": [{"id": "PAY1", "payment_method": {"id": "master"}}]}))
        .await
        .unwrap();
    assert_eq!(r.payment_method_id.as_deref(), Some("master"));
    assert_eq!(r.reference_id.as_deref(), Some("111"));
    assert!(r.refund_references.is_some());
}

on_both_databases!(an_order_updates_only_what_it_carries);
