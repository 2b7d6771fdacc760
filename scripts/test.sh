#!/usr/bin/env bash
# Runs Puente's whole test suite, on SQLite and PostgreSQL, with the
# in-process queue and Redis. Installs and starts what the tests need when it
# is missing (PostgreSQL, Redis, the SDK test dependencies), so it works on a
# fresh Debian machine as well as on a developer's.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p platform-core   # extra arguments go to cargo nextest
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${PUENTE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
export PUENTE_TEST_PG_URL="$PG_URL"
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ok() { psql "$PG_URL" -tAc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  if command -v psql >/dev/null && pg_ok; then return; fi
  say "PostgreSQL is not answering at $PG_URL: installing/starting it"
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
  elif ! command -v psql >/dev/null; then
    apt_install postgresql-client
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && break
    sleep 1
  done
  if ! pg_ok; then
    # A fresh cluster asks for passwords over TCP; the tests use a local
    # throwaway server with trust auth on the loopback address only.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    fi
    as_root su postgres -c "psql -tAc \"select 1 from pg_database where datname='test'\" | grep -q 1 || createdb test" || true
  fi
  pg_ok || { echo "PostgreSQL still not reachable at $PG_URL" >&2; exit 1; }
}

ensure_redis() {
  # The Sentinel and Cluster tests start their own servers (redis-server, which
  # is also Sentinel with --sentinel), even when a shared Redis already answers.
  command -v redis-server >/dev/null || apt_install redis-server
  if command -v redis-cli >/dev/null && [ "$(redis-cli -h $REDIS_HOST -p $REDIS_PORT ping 2>/dev/null)" = "PONG" ]; then return; fi
  say "Redis is not answering at $REDIS_HOST:$REDIS_PORT: installing/starting it"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do
    [ "$(redis-cli -h $REDIS_HOST -p $REDIS_PORT ping 2>/dev/null)" = "PONG" ] && return
    sleep 0.5
  done
  echo "Redis did not start" >&2; exit 1
}

drop_stale_test_schemas() {
  # Schemas left by tests that panicked before cleaning up, older than an
  # hour (their names carry a creation time), so a run in progress on the
  # same server keeps its own. One per statement: dropping hundreds at once
  # exhausts PostgreSQL's lock table.
  psql "$PG_URL" -tAc "select nspname from pg_namespace where nspname like 'pt\\_%'" 2>/dev/null \
    | python3 -c '
import sys, time
alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
for name in sys.stdin.read().split():
    body = name.rsplit("_", 1)[-1]
    if len(body) != 26 or any(c not in alphabet for c in body):
        continue
    value = 0
    for c in body[:10]:
        value = value * 32 + alphabet.index(c)
    created_ms = value  # 10 chars = 2 zero bits + the 48-bit ms timestamp
    if created_ms / 1000 < time.time() - 3600:
        print(name)
' \
    | while read -r schema; do
        psql "$PG_URL" -qc "set client_min_messages = warning; drop schema if exists \"$schema\" cascade" >/dev/null 2>&1
      done
  return 0
}

ensure_postgres
ensure_redis
drop_stale_test_schemas
if [ -x scripts/setup-browser-tests.sh ]; then
  say "Browser test dependencies (Debian chromium, playwright-core)"
  scripts/setup-browser-tests.sh
fi
if [ -x scripts/setup-sdk-tests.sh ]; then
  say "SDK test dependencies (npm mercadopago, PyPI mercadopago)"
  scripts/setup-sdk-tests.sh
fi

if ! command -v st >/dev/null 2>&1; then
  say "schemathesis (OpenAPI fuzzing)"
  python3 -m pip install -q --disable-pip-version-check schemathesis==4.32.5
fi

say "Running the test suite (SQLite + PostgreSQL, in-process queue + Redis: one node, Sentinel, Cluster)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
