import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import mercadopago
import pytest
from mercadopago.webhook.validator import InvalidWebhookSignatureError, WebhookSignatureValidator

from conftest import Rest, eventually, expect_refusal, refusal, required, sandbox, target_is_puente


def test_user_get(seller_sdk):
    res = seller_sdk.user().get()
    assert res["status"] == 200, res
    me = res["response"]
    assert isinstance(me["id"], int) and str(me["id"]) == required("MP_USER_ID")
    assert me["site_id"] and me["nickname"] and me["email"]
    assert "test_user" in me["tags"]


def test_invalid_token_is_401():
    res = mercadopago.SDK("APP_USR-invalid").user().get()
    assert res["status"] == 401


def test_get_authorization_url(sdk):
    url = sdk.oauth().get_authorization_url("123", "https://pos.example/cb", "st")
    parsed = urllib.parse.urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("https", "auth.mercadopago.com", "/authorization")
    q = urllib.parse.parse_qs(parsed.query)
    assert q == {"client_id": ["123"], "response_type": ["code"], "platform_id": ["mp"],
                 "state": ["st"], "redirect_uri": ["https://pos.example/cb"]}


def test_code_exchange_and_refresh_rotation(sdk):
    """A real authorization code and refresh token, from the sandbox (Mercado Pago) for a fresh
    application: the sandbox exchanges and rotates them; Puente refuses even valid ones
    (refusals.json) and neither uses nor forwards them, so they still work upstream."""
    redirect = "http://127.0.0.1:9/sdk/callback"
    status, app = sandbox("POST", "/sandbox/applications", {"redirect_uris": [redirect]})
    assert status == 201, app
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    url = sdk.oauth().get_authorization_url(creds["client_id"], redirect, "py-state")
    parsed = urllib.parse.urlparse(url)
    user_id = required("MP_USER_ID")
    status, body = sandbox("POST", f"/sandbox/authorize?{parsed.query}&user_id={user_id}&decision=allow", {})
    assert status == 200, body
    back = urllib.parse.parse_qs(urllib.parse.urlparse(body["redirect_to"]).query)
    assert back["state"] == ["py-state"]
    code = back["code"][0]
    exchange = {**creds, "grant_type": "authorization_code", "code": code, "redirect_uri": redirect}

    if refusal("OAuth.create"):
        expect_refusal("OAuth.create", sdk.oauth().create(exchange))
        status, upstream = sandbox("POST", "/oauth/token", exchange)
        assert status == 200, f"the code is still unused upstream: {upstream}"
        rotate = {**creds, "grant_type": "refresh_token", "refresh_token": upstream["refresh_token"]}
        expect_refusal("OAuth.refresh", sdk.oauth().refresh(rotate))
        status, rotated = sandbox("POST", "/oauth/token", rotate)
        assert status == 200, f"the refresh token is still unused upstream: {rotated}"
        return

    tokens = sdk.oauth().create(exchange)
    assert tokens["status"] == 200, tokens
    assert str(tokens["response"]["user_id"]) == user_id
    assert tokens["response"]["expires_in"] == 15552000
    assert str(mercadopago.SDK(tokens["response"]["access_token"]).user().get()["response"]["id"]) == user_id
    rotate = {**creds, "grant_type": "refresh_token", "refresh_token": tokens["response"]["refresh_token"]}
    refreshed = sdk.oauth().refresh(rotate)
    assert refreshed["status"] == 200
    assert refreshed["response"]["refresh_token"] != tokens["response"]["refresh_token"]
    reused = sdk.oauth().refresh(rotate)
    assert reused["status"] == 400 and reused["response"]["error"] == "invalid_grant"
    again = sdk.oauth().create(exchange)
    assert again["status"] == 400 and again["response"]["error"] == "invalid_grant"


def test_create_test_user():
    rest = Rest(required("MP_ACCESS_TOKEN"))
    res = rest.post("/users/test_user", {"site_id": "MLB"})
    assert res["status"] == 201, res
    u = res["response"]
    assert isinstance(u["id"], int) and u["nickname"] and u["password"] and u["email"]
    assert u["site_status"] == "active"
    assert rest.post("/users/test_user", {"site_id": "XXX"})["status"] == 400


def expect_valid(x_signature, x_request_id, data_id):
    WebhookSignatureValidator.validate(x_signature, x_request_id, data_id, required("MP_WEBHOOK_SECRET"))
    with pytest.raises(InvalidWebhookSignatureError):
        WebhookSignatureValidator.validate(x_signature, x_request_id, data_id, "not-the-secret")


def test_sdk_validator_accepts_received_notifications(sdk):
    if target_is_puente():
        return validate_what_puente_received(sdk)
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("content-length", 0))
            received.append((self.path, dict(self.headers), json.loads(self.rfile.read(length))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{server.server_port}/mp"
        status, _ = sandbox("PATCH", f"/sandbox/applications/{required('MP_CLIENT_ID')}", {"webhook_url": hook})
        assert status == 200
        order = sdk.order().create({
            "type": "point", "external_reference": f"py_wh_{int(time.time() * 1000)}",
            "transactions": {"payments": [{"amount": "20.00"}]},
            "config": {"point": {"terminal_id": required("MP_TERMINAL_ID")}},
        })["response"]

        def hit():
            for path, headers, body in received:
                query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
                if query.get("data.id") == [order["id"]]:
                    return query, {k.lower(): v for k, v in headers.items()}, body
            return None

        query, headers, body = eventually("order notification", hit)
        assert query["type"] == ["order"] and body["action"] == "order.processed"
        expect_valid(headers["x-signature"], headers["x-request-id"], query["data.id"][0])
    finally:
        sandbox("PATCH", f"/sandbox/applications/{required('MP_CLIENT_ID')}", {"webhook_url": None})
        server.shutdown()


def validate_what_puente_received(sdk):
    """Against Puente the application's webhook URL is Puente's own inbound endpoint: the
    notifications Mercado Pago (the sandbox) delivered there for an order made through Puente
    must be ones the SDK's validator accepts, and Puente took them (200)."""
    q = f"/sandbox/notifications?topic=order&user_id={required('MP_USER_ID')}&status=delivered"
    before = {n["id"] for n in sandbox("GET", q)[1]["notifications"]}
    order = sdk.order().create({
        "type": "point", "external_reference": f"py_whp_{int(time.time() * 1000)}",
        "transactions": {"payments": [{"amount": "21.00"}]},
        "config": {"point": {"terminal_id": required("MP_TERMINAL_ID")}},
    })["response"]
    eventually("processed", lambda: sdk.order().get(order["id"])["response"]["status"] == "processed")
    fresh = eventually("a delivered order notification",
                       lambda: [n for n in sandbox("GET", q)[1]["notifications"] if n["id"] not in before])
    for n in fresh:
        assert n["body"]["type"] == "order"
        ok = [a for a in n["attempts"] if a["status"] == 200]
        assert ok, n["attempts"]
        expect_valid(ok[0]["x_signature"], ok[0]["request_id"], n["data_id"])
