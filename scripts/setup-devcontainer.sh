#!/usr/bin/env bash
# The Dev Containers CLI, pinned by tools/devcontainer/package-lock.json, for
# tests/test_devcontainer.py (`devcontainer up` + `exec` on this machine's
# engine). Idempotent: `npm ci` runs again only when the lock changed. Without
# Node 20+ and npm it only says what is missing; the test then fails under
# --engine-required / CI, like the other engine tests.
set -euo pipefail
cd "$(dirname "$0")/../tools/devcontainer"
say() { printf '[setup-devcontainer] %s\n' "$*"; }

bin=node_modules/.bin/devcontainer
stamp=node_modules/.layerlab-installed
want=$(sha256sum package-lock.json | cut -c1-16)
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "reusing $bin (lock unchanged)"
  exit 0
fi
if ! command -v npm >/dev/null || ! node -e 'process.exit(+(process.versions.node.split(".")[0] < 20))' 2>/dev/null; then
  say "Node.js 20+ and npm are needed for the devcontainer test (Debian/Ubuntu: apt-get install nodejs npm)" >&2
  exit 0
fi
say "installing @devcontainers/cli from package-lock.json (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
say "done: devcontainer $("$bin" --version)"
