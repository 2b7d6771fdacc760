#!/usr/bin/env python3
"""A receiver for Puente's webhooks (Standard Webhooks) with http.server and
hmac only. Verifies every delivery as docs/webhooks.md says, answers 204 to
good ones and 400/401 to bad ones, prints each verified event's type on its
own line, and exits 0 once it has verified an event whose type is in
EXIT_AFTER (comma-separated; unset = run until stopped).

    PORT=9000 PUENTE_WEBHOOK_SECRET=whsec_… EXIT_AFTER=payment_intent.processed python3 webhooks.py
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(os.environ.get("PORT", "9000"))
HOST = os.environ.get("HOST", "127.0.0.1")
SECRET = os.environ.get("PUENTE_WEBHOOK_SECRET")
if not SECRET:
    print("webhooks.py: set PUENTE_WEBHOOK_SECRET (the whsec_… shown when the endpoint was created)", file=sys.stderr)
    sys.exit(1)
EXIT_AFTER = {t.strip() for t in os.environ.get("EXIT_AFTER", "").split(",") if t.strip()}
# Reject deliveries signed more than this far from our clock (replay protection).
TOLERANCE_SECS = 5 * 60
# The HMAC key is the base64 after `whsec_`.
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))


def verify(headers, body):
    """None when the delivery is authentic, else (HTTP status, reason)."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not ts or not signatures:
        return 400, "missing webhook-id, webhook-timestamp or webhook-signature"
    if not ts.isdigit():
        return 400, "webhook-timestamp is not a number of seconds"
    if abs(time.time() - int(ts)) > TOLERANCE_SECS:
        return 401, "timestamp outside the tolerance"
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = hmac.new(KEY, signed, hashlib.sha256).digest()
    for part in signatures.split():
        if not part.startswith("v1,"):
            continue
        try:
            given = base64.b64decode(part[3:], validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(given, expected):  # constant time
            return None
    return 401, "no signature matches"


class Receiver(BaseHTTPRequestHandler):
    # Delivery is at least once: remember what was handled (a real receiver keeps this in its database).
    seen = set()
    done = False

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # raw bytes: verify first
        refused = verify(self.headers, body)
        if refused:
            print(f"refused: {refused[1]}", file=sys.stderr, flush=True)
            self.answer(refused[0], refused[1].encode())
            return
        try:
            event = json.loads(body)
        except ValueError:
            self.answer(400, b"not JSON")
            return
        msg_id = self.headers["webhook-id"]
        first = msg_id not in Receiver.seen
        Receiver.seen.add(msg_id)
        self.answer(204, b"")
        if first:
            print(event.get("type"), flush=True)
            if event.get("type") in EXIT_AFTER:
                Receiver.done = True

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, fmt, *args):  # requests are not logged
        pass


server = HTTPServer((HOST, PORT), Receiver)
print(f"listening on http://{HOST}:{PORT}/", file=sys.stderr, flush=True)
while not Receiver.done:
    server.handle_request()
server.server_close()
