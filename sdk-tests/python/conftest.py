"""Target and credentials come from the environment (same names as sdk-tests/node/test/env.js),
so these scenarios run against the Puente sandbox or Puente's own MP-compatible API."""
import json
import os
import time
import urllib.request

import pytest
from mercadopago.config.config import Config

# The SDK's only base-URL knob (reference section 9): a name-mangled class attribute.
Config._Config__api_base_url = os.environ.get("MP_BASE_URL", "").rstrip("/")

import mercadopago  # noqa: E402  (after the base URL is patched)


def env(name):
    return os.environ.get(name) or None


def target_is_puente():
    """MP_TARGET=puente: Puente's MP-compatible API serves Point/Orders/Terminals only."""
    return env("MP_TARGET") == "puente"


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
