"""Target and credentials come from the environment (same names as sdk-tests/node/lib/env.js,
listed in sdk-tests/README.md), so these scenarios run against the Puente sandbox or Puente's
own MP-compatible API."""
import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest
from mercadopago.config.config import Config

# The SDK's only base-URL knob (reference section 9): a name-mangled class attribute.
Config._Config__api_base_url = os.environ.get("MP_BASE_URL", "").rstrip("/")

import mercadopago  # noqa: E402  (after the base URL is patched)
from mercadopago.config.request_options import RequestOptions  # noqa: E402
from mercadopago.core.mp_base import MPBase  # noqa: E402
from mercadopago.errors.response import MPResponse  # noqa: E402
from mercadopago.http.http_client import HttpClient  # noqa: E402

if os.environ.get("MP_TARGET") not in (None, "", "sandbox", "puente"):
    raise RuntimeError(f"MP_TARGET must be sandbox or puente, not {os.environ['MP_TARGET']}")


def env(name):
    return os.environ.get(name) or None


def target_is_puente():
    """MP_TARGET=puente: Puente's MP-compatible API (docs/mp-compat.md)."""
    return env("MP_TARGET") == "puente"


def target():
    return "puente" if target_is_puente() else "sandbox"


def required(name):
    value = env(name)
    if not value:
        raise RuntimeError(f"{name} must be set (see sdk-tests/README.md)")
    return value


@pytest.fixture(scope="session", autouse=True)
def _base_url_set():
    required("MP_BASE_URL")


@pytest.fixture
def sdk():
    return mercadopago.SDK(required("MP_ACCESS_TOKEN"))


def seller_token():
    """The seller's own account (users, stores, POS, QR, payments): Puente needs a key scoped
    to one seller there; the sandbox's seller token is both."""
    return env("MP_SELLER_ACCESS_TOKEN") or required("MP_ACCESS_TOKEN")


@pytest.fixture
def seller_sdk():
    return mercadopago.SDK(seller_token())


class Rest(MPBase):
    """The SDK's own HTTP layer (MPBase over its HttpClient: base URL, auth and idempotency
    headers, {"status", "response"} answers) for the endpoints it has no resource for."""

    def __init__(self, token=None):
        self._token = token or seller_token()
        self._http = HttpClient()
        super().__init__(RequestOptions(access_token=self._token), self._http)

    def _options(self, headers):
        return RequestOptions(access_token=self._token, custom_headers=headers) if headers else None

    def get(self, uri, query=None):
        return self._get(uri, filters=query)

    def post(self, uri, body=None, headers=None):
        return self._post(uri, data=body, request_options=self._options(headers))

    def put(self, uri, body=None, headers=None):
        return self._put(uri, data=body, request_options=self._options(headers))

    def delete(self, uri, headers=None):
        return self._delete(uri, request_options=self._options(headers))

    def patch(self, uri, body=None):
        # MPBase has no _patch: the same headers and base URL through HttpClient.request.
        headers = RequestOptions(access_token=self._token).get_headers()
        headers["Content-type"] = self.config.mime_json
        return MPResponse(self._http.request(
            "PATCH", url=self.config.api_base_url + uri, headers=headers,
            data=json.dumps(body), timeout=10))


@pytest.fixture
def rest():
    return Rest()


with open(os.path.join(os.path.dirname(__file__), "..", "refusals.json")) as _f:
    REFUSALS = json.load(_f)["calls"]


def refusal(call):
    """What refusals.json documents for `call` on this target (None: served)."""
    return REFUSALS[call][target()]


def expect_refusal(call, res):
    want = refusal(call)
    assert want, f"{call} is served on {target()}: expected no refusal"
    assert res["status"] == want["status"], f"{call}: {res}"
    if "error" in want:
        assert res["response"]["error"] == want["error"], f"{call}: {res}"


def uniq(prefix):
    """Unique and alphanumeric (POS external ids allow nothing else)."""
    return f"{prefix}{uuid.uuid4().hex[:12]}".upper()


def eventually(what, fn, tries=200, every=0.025):
    for _ in range(tries):
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def sandbox(method, path, body=None):
    base = required("MP_SANDBOX_URL").rstrip("/")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        return err.code, (json.loads(text) if text else None)
