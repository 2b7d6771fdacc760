import uuid

import pytest

from conftest import Rest, env, eventually, required


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


# The Terminals API and the integrator settings have no SDK resource: the SDK's HTTP layer.
def test_terminals_list_and_setup():
    rest = Rest(required("MP_ACCESS_TOKEN"))
    terminal = required("MP_TERMINAL_ID")
    res = rest.get("/terminals/v1/list", {"limit": 50, "offset": 0})
    assert res["status"] == 200, res
    listed = {t["id"]: t for t in res["response"]["data"]["terminals"]}
    assert listed[terminal]["operating_mode"] == "PDV"
    assert isinstance(res["response"]["paging"]["total"], int)
    assert rest.get("/terminals/v1/list", {"limit": 500})["response"]["paging"]["limit"] == 50
    res = rest.patch("/terminals/v1/setup", {"terminals": [{"id": terminal, "operating_mode": "PDV"}]})
    assert res["status"] == 200, res
    assert res["response"]["terminals"] == [{"id": terminal, "operating_mode": "PDV"}]
    bad = rest.patch("/terminals/v1/setup", {"terminals": [{"id": terminal, "operating_mode": "TURBO"}]})
    assert bad["status"] == 400, bad


def test_integrator_settings():
    rest = Rest()  # the settings of the account the token is: the seller's
    res = rest.patch("/point/integration-api/integrator", {"event_channel_devices": ["email"]})
    assert res["status"] == 204, res
    res = rest.get("/point/integration-api/integrator")
    assert res["status"] == 200, res
    assert res["response"]["event_channel_devices"] == ["email"]
    assert isinstance(res["response"]["notification_url_enabled"], bool)
    bad = rest.patch("/point/integration-api/integrator", {"event_channel_devices": ["pigeon"]})
    assert bad["status"] == 400, bad
