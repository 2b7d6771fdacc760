// A receiver for Puente's webhooks (Standard Webhooks) with Node's http and
// crypto only. Verifies every delivery as docs/webhooks.md says, answers 204
// to good ones and 400/401 to bad ones, prints each verified event's type on
// its own line, and exits 0 once it has verified an event whose type is in
// EXIT_AFTER (comma-separated; unset = run until stopped).
//
//   PORT=9000 PUENTE_WEBHOOK_SECRET=whsec_… EXIT_AFTER=payment_intent.processed node webhooks.mjs

import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const PORT = Number(process.env.PORT || 9000);
const HOST = process.env.HOST || "127.0.0.1";
const SECRET = process.env.PUENTE_WEBHOOK_SECRET;
if (!SECRET) {
  console.error("webhooks.mjs: set PUENTE_WEBHOOK_SECRET (the whsec_… shown when the endpoint was created)");
  process.exit(1);
}
const EXIT_AFTER = new Set(
  (process.env.EXIT_AFTER || "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);
// Reject deliveries signed more than this far from our clock (replay protection).
const TOLERANCE_SECS = 5 * 60;
// The HMAC key is the base64 after `whsec_`.
const KEY = Buffer.from(SECRET.replace(/^whsec_/, ""), "base64");
// Delivery is at least once: remember what was handled (a real receiver keeps this in its database).
const seen = new Set();

// null when the delivery is authentic, else [HTTP status, reason].
function verify(headers, body) {
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !ts || !signatures) return [400, "missing webhook-id, webhook-timestamp or webhook-signature"];
  if (!/^\d+$/.test(ts)) return [400, "webhook-timestamp is not a number of seconds"];
  if (Math.abs(Date.now() / 1000 - Number(ts)) > TOLERANCE_SECS) return [401, "timestamp outside the tolerance"];
  const expected = createHmac("sha256", KEY)
    .update(`${id}.${ts}.`)
    .update(body)
    .digest();
  for (const part of signatures.split(" ")) {
    if (!part.startsWith("v1,")) continue;
    const given = Buffer.from(part.slice(3), "base64");
    // timingSafeEqual needs equal lengths; the length of a signature is no secret.
    if (given.length === expected.length && timingSafeEqual(given, expected)) return null;
  }
  return [401, "no signature matches"];
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const body = Buffer.concat(chunks); // the raw bytes: verify before parsing
    const refused = verify(req.headers, body);
    if (refused) {
      console.error(`refused: ${refused[1]}`);
      res.writeHead(refused[0], { "Content-Type": "text/plain" }).end(refused[1]);
      return;
    }
    let event;
    try {
      event = JSON.parse(body.toString("utf8"));
    } catch {
      res.writeHead(400).end("not JSON");
      return;
    }
    const id = req.headers["webhook-id"];
    const first = !seen.has(id);
    seen.add(id);
    res.writeHead(204).end(() => {
      if (!first) return; // a repeat: already handled
      process.stdout.write(`${event.type}\n`, () => {
        if (EXIT_AFTER.has(event.type)) {
          server.close();
          process.exit(0);
        }
      });
    });
  });
});

server.listen(PORT, HOST, () => console.error(`listening on http://${HOST}:${PORT}/`));
