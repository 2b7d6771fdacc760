"""In-store QR orders (reference 6) through the SDK's own HTTP layer: v2 PUT/GET/DELETE,
the legacy /mpmobile/instore/qr POST, a buyer paying the QR (a sandbox helper) and that
payment through the Payment and Refund resources."""
import datetime
import time

import pytest

from conftest import Rest, env, required, sandbox

SPONSOR = "446566691"
# Puente replaces the POS's sponsor with the integrator's.
EXPECTED_SPONSOR = env("MP_EXPECTED_SPONSOR_ID") or SPONSOR


@pytest.fixture(autouse=True)
def _empty_pos_afterwards():
    """Each test leaves the POS without a QR order, pass or fail."""
    yield
    Rest().delete(order_path())


def order_path():
    return f"/instore/qr/seller/collectors/{required('MP_USER_ID')}/pos/{required('MP_POS_EXTERNAL_ID')}/orders"


def put_path():
    return (f"/instore/qr/seller/collectors/{required('MP_USER_ID')}/stores/{required('MP_STORE_EXTERNAL_ID')}"
            f"/pos/{required('MP_POS_EXTERNAL_ID')}/orders")


def v2_order(ref, unit, quantity):
    total = unit * quantity
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).isoformat()
    return {
        "external_reference": ref, "title": "Py QR", "description": "sdk qr scenario",
        "expiration_date": expires, "total_amount": total,
        "items": [{"sku_number": "A123", "category": "marketplace", "title": "Item", "description": "item",
                   "unit_price": unit, "quantity": quantity, "unit_measure": "unit", "total_amount": total}],
        "sponsor": {"id": int(SPONSOR)},
    }


def test_v2_qr_order_put_read_delete(rest):
    ref = f"py_qr_{int(time.time() * 1000)}"
    res = rest.put(put_path(), v2_order(ref, 12.5, 2))
    assert res["status"] == 204, res
    got = rest.get(order_path())
    assert got["status"] == 200, got
    o = got["response"]
    assert o["external_reference"] == ref and o["total_amount"] == 25 and len(o["items"]) == 1
    assert str(o["sponsor"]["id"]) == EXPECTED_SPONSOR
    assert rest.delete(order_path())["status"] == 204
    assert rest.get(order_path())["status"] == 404
    assert rest.delete(order_path())["status"] == 404


def test_v2_qr_order_with_a_wrong_total_is_refused(rest):
    body = {**v2_order(f"py_qr_bad_{int(time.time() * 1000)}", 10, 1), "total_amount": 11}
    assert rest.put(put_path(), body)["status"] == 400
    assert rest.get(order_path())["status"] == 404


def test_buyer_pays_the_qr_and_the_payment_is_refunded(rest, seller_sdk):
    ref = f"py_qrpay_{int(time.time() * 1000)}"
    assert rest.put(put_path(), v2_order(ref, 40, 1))["status"] == 204
    status, paid = sandbox("POST", "/sandbox/qr/pay",
                           {"user_id": int(required("MP_USER_ID")), "external_pos_id": required("MP_POS_EXTERNAL_ID")})
    assert status == 201, paid
    pid = paid["payment_id"]
    p = seller_sdk.payment().get(pid)
    assert p["status"] == 200, p
    p = p["response"]
    assert (p["status"], p["payment_type_id"], p["transaction_amount"]) == ("approved", "account_money", 40)
    assert p["external_reference"] == ref and str(p["sponsor_id"]) == EXPECTED_SPONSOR
    assert rest.get(order_path())["status"] == 404
    found = seller_sdk.payment().search({"external_reference": ref})
    assert [str(x["id"]) for x in found["response"]["results"]] == [str(pid)]
    refund = seller_sdk.refund().create(pid)
    assert refund["status"] == 201 and refund["response"]["amount"] == 40, refund
    assert seller_sdk.payment().get(pid)["response"]["status"] == "refunded"


def test_legacy_qr_order_carries_the_sponsor(rest):
    ref = f"py_qrl_{int(time.time() * 1000)}"
    res = rest.post(f"/mpmobile/instore/qr/{required('MP_USER_ID')}/{required('MP_POS_EXTERNAL_ID')}", {
        "external_reference": ref, "notification_url": "https://example.com/notify", "sponsor_id": SPONSOR,
        "items": [{"id": "sku1", "title": "Item", "currency_id": "BRL", "unit_price": 7.5, "quantity": 2,
                   "description": "item", "picture_url": "https://example.com/i.png"}],
    }, headers={"X-Ttl-Store-Preference": "180"})
    assert res["status"] == 200, res
    o = res["response"]
    assert o["external_reference"] == ref and o["total_amount"] == 15
    assert str(o["sponsor_id"]) == EXPECTED_SPONSOR and str(o["collector_id"]) == required("MP_USER_ID")
    assert rest.get(order_path())["response"]["external_reference"] == ref
