import time

import pytest

from conftest import env, eventually, expect_refusal, required

SPONSOR = "446566691"
# Puente replaces the POS's sponsor with the integrator's.
EXPECTED_SPONSOR = env("MP_EXPECTED_SPONSOR_ID") or SPONSOR


def body(terminal_id, amount, ref):
    return {
        "type": "point",
        "external_reference": ref,
        "expiration_time": "PT16M",
        "description": "sdk scenario",
        "transactions": {"payments": [{"amount": amount}]},
        "config": {"point": {"terminal_id": terminal_id, "print_on_terminal": "no_ticket"}},
        "integration_data": {"sponsor": {"id": SPONSOR}},
    }


def test_order_processed_then_refunded(sdk):
    ref = f"py_{int(time.time() * 1000)}"
    res = sdk.order().create(body(required("MP_TERMINAL_ID"), "30.00", ref))
    assert res["status"] == 201, res
    order = res["response"]
    assert order["id"].startswith("ORD") and len(order["id"]) == 29
    assert order["integration_data"]["sponsor"]["id"] == EXPECTED_SPONSOR
    pay_id = order["transactions"]["payments"][0]["id"]

    def processed():
        r = sdk.order().get(order["id"])["response"]
        return r if r["status"] == "processed" else None

    eventually("processed", processed)
    partial = sdk.order().refund_transaction(order["id"], {"transactions": [{"id": pay_id, "amount": "10.00"}]})
    assert partial["status"] == 201, partial
    assert partial["response"]["status_detail"] == "partially_refunded"
    full = sdk.order().refund(order["id"])
    assert full["status"] == 201, full
    assert full["response"]["status"] == "refunded"
    found = sdk.order().search({"external_reference": ref})
    assert found["status"] == 200
    assert [o["id"] for o in found["response"]["data"]] == [order["id"]]
    paged = list(sdk.order().search_auto_paging_iter({"external_reference": ref}, limit=1))
    assert [o["id"] for o in paged] == [order["id"]] and paged[0]["status"] == "refunded"


def test_cancel_on_manual_terminal_and_conflict(sdk):
    manual = env("MP_MANUAL_TERMINAL_ID")
    if not manual:
        pytest.skip("MP_MANUAL_TERMINAL_ID not set")
    order = sdk.order().create(body(manual, "15.00", f"py_c_{int(time.time() * 1000)}"))["response"]
    res = sdk.order().cancel(order["id"])
    assert res["status"] == 200 and res["response"]["status"] == "canceled"
    again = sdk.order().cancel(order["id"])
    assert again["status"] == 409
    assert again["response"]["errors"][0]["code"] == "order_already_canceled"


def test_validation_error_uses_the_errors_envelope(sdk):
    res = sdk.order().create({**body(required("MP_TERMINAL_ID"), "10.00", "x"), "type": "bogus"})
    assert res["status"] == 400
    assert res["response"]["errors"][0]["code"] == "property_value"


def test_online_order_calls_on_a_point_order_are_refused_as_documented(sdk):
    res = sdk.order().create(body(required("MP_TERMINAL_ID"), "16.00", f"py_o_{int(time.time() * 1000)}"))
    assert res["status"] == 201, res
    order_id = res["response"]["id"]

    def processed():
        r = sdk.order().get(order_id)["response"]
        return r if r["status"] == "processed" else None

    pay = eventually("processed", processed)["transactions"]["payments"][0]["id"]
    expect_refusal("Order.process", sdk.order().process(order_id))
    expect_refusal("Order.capture", sdk.order().capture(order_id))
    expect_refusal("Order.createTransaction", sdk.order().create_transaction(order_id, {
        "payments": [{"amount": "1.00", "payment_method": {
            "id": "master", "type": "credit_card", "token": "card-token", "installments": 1}}]}))
    expect_refusal("Order.updateTransaction", sdk.order().update_transaction(
        order_id, pay, {"payment_method": {"installments": 2}}))
    expect_refusal("Order.deleteTransaction", sdk.order().delete_transaction(order_id, pay))
    after = sdk.order().get(order_id)["response"]
    assert after["status"] == "processed"
    assert [p["id"] for p in after["transactions"]["payments"]] == [pay]
