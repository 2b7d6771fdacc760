import time

from conftest import eventually, expect_refusal, required


def terminal_payment(sdk, amount, ref):
    """A terminal payment of an Orders API order, as the Payments API shows it (its reference_id)."""
    res = sdk.order().create({
        "type": "point", "external_reference": ref, "description": "sdk payment scenario",
        "transactions": {"payments": [{"amount": amount}]},
        "config": {"point": {"terminal_id": required("MP_TERMINAL_ID"), "print_on_terminal": "no_ticket"}},
    })
    assert res["status"] == 201, res
    order_id = res["response"]["id"]

    def processed():
        o = sdk.order().get(order_id)["response"]
        pay = o["transactions"]["payments"][0]
        return o if o["status"] == "processed" and pay.get("reference_id") else None

    order = eventually("processed", processed)
    return order, order["transactions"]["payments"][0]["reference_id"]


def test_terminal_payment_read_searched_and_refunded(sdk, seller_sdk):
    ref = f"py_pay_{int(time.time() * 1000)}"
    order, pid = terminal_payment(sdk, "30.00", ref)

    res = seller_sdk.payment().get(pid)
    assert res["status"] == 200, res
    p = res["response"]
    assert str(p["id"]) == str(pid)
    assert (p["status"], p["status_detail"]) == ("approved", "accredited")
    assert p["transaction_amount"] == 30
    assert p["external_reference"] == ref
    assert p["point_of_interaction"]["type"] == "POINT"

    found = seller_sdk.payment().search({"external_reference": ref})
    assert found["status"] == 200, found
    assert [str(x["id"]) for x in found["response"]["results"]] == [str(pid)]
    assert found["response"]["paging"]["total"] == 1
    paged = list(seller_sdk.payment().search_auto_paging_iter({"external_reference": ref}, limit=1))
    assert [str(x["id"]) for x in paged] == [str(pid)]

    partial = seller_sdk.refund().create(pid, {"amount": 10})
    assert partial["status"] == 201, partial
    refund = partial["response"]
    assert (refund["amount"], refund["status"]) == (10, "approved")
    assert str(refund["payment_id"]) == str(pid)
    one = seller_sdk.refund().get(pid, refund["id"])
    assert one["status"] == 200 and one["response"]["amount"] == 10
    listed = seller_sdk.refund().list_all(pid)
    assert [r["id"] for r in listed["response"]] == [refund["id"]]
    after = seller_sdk.payment().get(pid)["response"]
    assert (after["status"], after["status_detail"]) == ("approved", "partially_refunded")
    assert sdk.order().get(order["id"])["response"]["status_detail"] == "partially_refunded"

    rest = seller_sdk.refund().create(pid)
    assert rest["status"] == 201, rest
    assert rest["response"]["amount"] == 20
    done = seller_sdk.payment().get(pid)["response"]
    assert done["status"] == "refunded" and done["transaction_amount_refunded"] == 30
    assert len(seller_sdk.refund().list_all(pid)["response"]) == 2
    assert sdk.order().get(order["id"])["response"]["status"] == "refunded"
    again = seller_sdk.refund().create(pid)
    assert again["status"] == 400 and again["response"]["error"] == "bad_request", again


def test_unknown_payments_and_refunds_are_not_found(seller_sdk):
    assert seller_sdk.payment().get(1)["status"] == 404
    assert seller_sdk.refund().list_all(1)["status"] == 404
    none = seller_sdk.payment().search({"external_reference": f"none_{int(time.time() * 1000)}"})
    assert none["status"] == 200
    assert none["response"]["results"] == [] and none["response"]["paging"]["total"] == 0


def test_online_payment_calls_are_refused_as_documented(sdk, seller_sdk):
    _, pid = terminal_payment(sdk, "12.50", f"py_online_{int(time.time() * 1000)}")
    expect_refusal("Payment.create", seller_sdk.payment().create({
        "transaction_amount": 12.5, "token": "ff8080814c11e237014c1ff593b57b4d", "description": "online",
        "installments": 1, "payment_method_id": "visa", "payer": {"email": "buyer@example.com"},
    }))
    expect_refusal("Payment.update", seller_sdk.payment().update(pid, {"description": "changed"}))
    expect_refusal("Payment.capture", seller_sdk.payment().capture(pid, 12.5))
    # The Python SDK has no cancel: it is an update to status "cancelled".
    expect_refusal("Payment.cancel", seller_sdk.payment().update(pid, {"status": "cancelled"}))
    p = seller_sdk.payment().get(pid)["response"]
    assert p["status"] == "approved" and p["transaction_amount"] == 12.5
