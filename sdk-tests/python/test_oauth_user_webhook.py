import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import mercadopago
import pytest
from mercadopago.webhook.validator import InvalidWebhookSignatureError, WebhookSignatureValidator

from conftest import env, eventually, required, sandbox, target_is_puente


def test_user_get(sdk):
    if target_is_puente():
        pytest.skip("MP_TARGET=puente: Puente does not serve /users/me")
    res = sdk.user().get()
    assert res["status"] == 200
    assert isinstance(res["response"]["id"], int) and res["response"]["site_id"]


def test_invalid_token_is_401():
    if target_is_puente():
        pytest.skip("MP_TARGET=puente: Puente does not serve /users/me")
    res = mercadopago.SDK("APP_USR-invalid").user().get()
    assert res["status"] == 401


def test_authorization_url_code_exchange_and_refresh_rotation(sdk):
    if not env("MP_CLIENT_ID") or not env("MP_SANDBOX_URL"):
        pytest.skip("MP_CLIENT_ID / MP_SANDBOX_URL not set")
    url = sdk.oauth().get_authorization_url(required("MP_CLIENT_ID"), required("MP_REDIRECT_URI"), "py-state")
    parsed = urllib.parse.urlparse(url)
    assert parsed.netloc == "auth.mercadopago.com"
    me = sdk.user().get()["response"]
    status, body = sandbox("POST", f"/sandbox/authorize?{parsed.query}&user_id={me['id']}&decision=allow", {})
    assert status == 200, body
    back = urllib.parse.parse_qs(urllib.parse.urlparse(body["redirect_to"]).query)
    assert back["state"] == ["py-state"]
    creds = {"client_id": required("MP_CLIENT_ID"), "client_secret": required("MP_CLIENT_SECRET")}
    tokens = sdk.oauth().create({**creds, "grant_type": "authorization_code", "code": back["code"][0], "redirect_uri": required("MP_REDIRECT_URI")})
    assert tokens["status"] == 200, tokens
    assert tokens["response"]["user_id"] == me["id"]
    refreshed = sdk.oauth().refresh({**creds, "grant_type": "refresh_token", "refresh_token": tokens["response"]["refresh_token"]})
    assert refreshed["status"] == 200
    assert refreshed["response"]["refresh_token"] != tokens["response"]["refresh_token"]
    reused = sdk.oauth().refresh({**creds, "grant_type": "refresh_token", "refresh_token": tokens["response"]["refresh_token"]})
    assert reused["status"] == 400 and reused["response"]["error"] == "invalid_grant"


def test_sdk_validator_accepts_received_notifications(sdk):
    if not (env("MP_SANDBOX_URL") and env("MP_WEBHOOK_SECRET") and env("MP_CLIENT_ID")):
        pytest.skip("MP_SANDBOX_URL / MP_WEBHOOK_SECRET / MP_CLIENT_ID not set")
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
        WebhookSignatureValidator.validate(
            headers["x-signature"], headers["x-request-id"], query["data.id"][0], required("MP_WEBHOOK_SECRET"))
        with pytest.raises(InvalidWebhookSignatureError):
            WebhookSignatureValidator.validate(
                headers["x-signature"], headers["x-request-id"], query["data.id"][0], "not-the-secret")
    finally:
        sandbox("PATCH", f"/sandbox/applications/{required('MP_CLIENT_ID')}", {"webhook_url": None})
        server.shutdown()
