#!/usr/bin/env bash
# Installs the official Mercado Pago SDKs used by sdk-tests/ (pinned versions).
# Idempotent and fast when everything is already installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

node_dir="$root/sdk-tests/node"
want_node="$(node -p "require('$node_dir/package.json').dependencies.mercadopago")"
have_node="$(node -p "try { require('$node_dir/node_modules/mercadopago/package.json').version } catch (e) { '' }" 2>/dev/null || true)"
if [ "$have_node" != "$want_node" ]; then
  echo "installing npm mercadopago@$want_node"
  (cd "$node_dir" && npm ci --no-audit --no-fund)
else
  echo "npm mercadopago@$have_node already installed"
fi

# A fresh Debian machine may lack pip (the Python SDK, schemathesis).
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "installing python3-pip"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >/dev/null
fi

req="$root/sdk-tests/python/requirements.txt"
if python3 - "$req" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    name, _, want = line.partition("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
  echo "python requirements already installed"
else
  echo "installing python requirements"
  python3 -m pip install --quiet --disable-pip-version-check -r "$req"
fi
