import datetime
import uuid

import pytest

from conftest import env, eventually, required


def test_get_devices_lists_the_terminal(sdk):
    res = sdk.point().get_devices({"limit": 50, "offset": 0})
    assert res["status"] == 200
    ids = [d["id"] for d in res["response"]["devices"]]
    assert required("MP_TERMINAL_ID") in ids
    assert isinstance(res["response"]["paging"]["total"], int)


def test_intent_is_created_processed_and_readable(sdk):
    res = sdk.point().create(required("MP_TERMINAL_ID"), {
        "amount": 1500,
        "description": "sdk scenario",
        "payment": {"type": "credit_card", "installments": 1, "installments_cost": "seller"},
        "additional_info": {"external_reference": f"py-{uuid.uuid4()}", "print_on_terminal": True},
    })
    assert res["status"] in (200, 201), res
    intent = res["response"]
    assert len(intent["id"]) == 36 and intent["amount"] == 1500

    def finished():
        r = sdk.point().get(intent["id"])
        return r["response"] if r["response"]["state"] == "FINISHED" else None

    done = eventually("FINISHED", finished)
    assert done["payment"]["id"]


def test_errors_come_back_as_status_and_body(sdk):
    res = sdk.point().create(required("MP_TERMINAL_ID"), {"amount": 1})
    assert res["status"] == 400
    assert res["response"]["error"] == "bad_request"
    res = sdk.point().get("00000000-0000-0000-0000-000000000000")
    assert res["status"] == 404


def test_cancel_an_intent_waiting_on_a_manual_terminal(sdk):
    manual = env("MP_MANUAL_TERMINAL_ID")
    if not manual:
        pytest.skip("MP_MANUAL_TERMINAL_ID not set")
    created = sdk.point().create(manual, {"amount": 2500})["response"]
    res = sdk.point().cancel(manual, created["id"])
    assert res["status"] == 200 and res["response"]["id"] == created["id"]
    assert sdk.point().get(created["id"])["response"]["state"] == "CANCELED"
