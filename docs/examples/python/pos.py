#!/usr/bin/env python3
"""A POS talking to Puente's native API with the standard library only:
charge, wait for the outcome, refund, then charge again and cancel. Prints a
one-line JSON summary last; exits 1 on anything unexpected.

    PUENTE_URL=http://127.0.0.1:8080 PUENTE_KEY=pk_test_… PUENTE_TERMINAL=trm_… python3 pos.py

PUENTE_CANCEL_TERMINAL (optional, default PUENTE_TERMINAL) is the terminal
used for the intent that is canceled.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

# Not 11.00, 12.00 or 13.00: in the sandbox those end reversed, rejected or in error.
AMOUNT = 1500
# Statuses after which an intent does not change any more (except processed → refunded).
FINAL = {"processed", "failed", "canceled", "expired", "refunded"}


def fail(message):
    print(f"pos.py: {message}", file=sys.stderr)
    sys.exit(1)


def required(name):
    value = os.environ.get(name)
    if not value:
        fail(f"set {name}")
    return value


BASE = os.environ.get("PUENTE_URL", "http://127.0.0.1:8080").rstrip("/")
KEY = required("PUENTE_KEY")
TERMINAL = required("PUENTE_TERMINAL")
CANCEL_TERMINAL = os.environ.get("PUENTE_CANCEL_TERMINAL") or TERMINAL


def api(method, path, body=None, idempotency_key=None):
    """One API call: (HTTP status, parsed JSON body or None)."""
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    req = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=70) as res:
            status, text = res.status, res.read()
    except urllib.error.HTTPError as e:  # 4xx and 5xx answers carry a JSON error
        status, text = e.code, e.read()
    if not text:
        return status, None
    try:
        return status, json.loads(text)
    except ValueError:
        fail(f"{method} {path}: HTTP {status}, not JSON: {text[:200]!r}")


def expect(what, answer, *codes):
    status, body = answer
    if status not in codes:
        fail(f"{what}: expected HTTP {' or '.join(map(str, codes))}, got {status}: {json.dumps(body)}")
    return body


def create_intent(terminal, reference):
    """Creates an intent. The Idempotency-Key makes a retry (after a timeout
    or a 503) safe: the same key and body answer with the same intent."""
    key = f"pos-example-{uuid.uuid4()}"
    body = {"terminal_id": terminal, "amount": AMOUNT, "description": "Café", "external_reference": reference}
    for attempt in range(1, 6):
        answer = api("POST", "/v1/payment-intents", body, idempotency_key=key)
        if answer[0] in (429, 503) and attempt < 5:
            time.sleep(1)
            continue
        intent = expect("create intent", answer, 201)
        if intent["status"] != "queued":
            fail(f"a new intent should be queued, it is {intent['status']}")
        return intent


def wait_final(intent_id, limit=90):
    """Long-polls (wait=30) until the intent is final; gives up after `limit` seconds."""
    end = time.monotonic() + limit
    while True:
        intent = expect("get intent", api("GET", f"/v1/payment-intents/{intent_id}?wait=30"), 200)
        if intent["status"] in FINAL:
            return intent
        if time.monotonic() > end:
            fail(f"intent {intent_id} still {intent['status']} after {limit} s")


# 1. Charge and wait for the outcome.
charge = create_intent(TERMINAL, f"example-charge-{int(time.time() * 1000)}")
print(f"created {charge['id']} ({charge['status']})", flush=True)
charged = wait_final(charge["id"])
print(f"{charged['id']}: {charged['status']}", flush=True)
if charged["status"] != "processed":
    fail(f"expected the charge to be processed, it is {charged['status']}")

# 2. Refund all of it (no amount = everything still refundable) and wait for the refund.
refund = expect(
    "refund",
    api("POST", f"/v1/payment-intents/{charged['id']}/refunds", {}, idempotency_key=f"refund-{charged['id']}"),
    202,
)
print(f"refund {refund['id']} ({refund['status']})", flush=True)
end = time.monotonic() + 60
while refund["status"] in ("queued", "pending"):
    if time.monotonic() > end:
        fail(f"refund {refund['id']} still {refund['status']} after 60 s")
    time.sleep(0.25)
    listed = expect("list refunds", api("GET", f"/v1/payment-intents/{charged['id']}/refunds"), 200)
    refund = next((r for r in listed["data"] if r["id"] == refund["id"]), None) or fail(
        f"refund {refund['id']} is not listed"
    )
print(f"refund {refund['id']}: {refund['status']}", flush=True)
if refund["status"] != "succeeded":
    fail(f"expected the refund to succeed, it {refund['status']}")

# 3. A second intent, canceled before the buyer pays.
second = create_intent(CANCEL_TERMINAL, f"example-cancel-{int(time.time() * 1000)}")
print(f"created {second['id']} ({second['status']})", flush=True)
cancel_body = {}
canceled = None
attempt = 0
while canceled is None:
    attempt += 1
    status, body = api("POST", f"/v1/payment-intents/{second['id']}/cancel", cancel_body)
    code = (body or {}).get("code")
    if status == 200:
        canceled = body  # canceled, at Mercado Pago too
    elif status == 202 or (status == 504 and code == "cancel_pending"):
        canceled = wait_final(second["id"])  # the terminal or Mercado Pago decides; follow it
    elif status == 409 and code == "intent_at_terminal" and attempt < 5:
        cancel_body = {"at_terminal": True}  # the terminal shows it already: ask the terminal
    elif status == 409 and code == "concurrent_update" and attempt < 5:
        time.sleep(0.2)
    else:
        fail(f"cancel: HTTP {status}: {json.dumps(body)}")
print(f"{canceled['id']}: {canceled['status']}", flush=True)
if canceled["status"] != "canceled":
    fail(f"expected the intent to be canceled, it is {canceled['status']}")

print(
    json.dumps(
        {
            "charged": charged["id"],
            "status": charged["status"],
            "refund": refund["status"],
            "canceled": canceled["id"],
            "cancel_status": canceled["status"],
        },
        separators=(",", ":"),
    ),
    flush=True,
)
