#!/usr/bin/env bash
# Create .venv from the hashed lock file. Re-runs only when the lock or
# pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup-python] %s\n' "$*"; }

py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1 || ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "[setup-python] Python 3.11 or newer is needed (found: $($py --version 2>&1 || echo none))." >&2
  echo "[setup-python] On Debian or Ubuntu: apt-get install python3 python3-venv" >&2
  exit 1
fi
if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing python3-venv"
    apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y python3-venv >/dev/null
  else
    echo "[setup-python] the venv module is missing: apt-get install python3-venv (as root)" >&2
    exit 1
  fi
fi

stamp=.venv/.layerlab-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/layerlab ]; then
  say "reusing .venv (lock unchanged)"
  exit 0
fi
[ -x .venv/bin/python ] || { say "creating .venv with $($py --version)"; "$py" -m venv .venv; }
say "installing the locked dependencies (pip --require-hashes)"
# The lock pins every version and hash; nothing unpinned may slip in.
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
say "done: .venv/bin/layerlab"
