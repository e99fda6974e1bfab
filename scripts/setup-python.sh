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
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
# The lock pins every version and hash; nothing unpinned may slip in. uv installs it in a fraction of pip's time
# (it downloads and unpacks in parallel), which every fresh machine's set-up waits for; pip is the fallback.
with_uv() {
  pip_install --only-binary :all: --require-hashes -r scripts/installer.lock || return 1
  # The gateway that inspects TLS here (and a corporate one) signs with a CA the system bundle holds; uv's
  # own roots would refuse it, pip's truststore does not.
  local certs=/etc/ssl/certs/ca-certificates.crt
  [ -n "${SSL_CERT_FILE:-}" ] || [ ! -f $certs ] || export SSL_CERT_FILE=$certs
  .venv/bin/uv pip install -q --python .venv/bin/python --require-hashes -r requirements.lock &&
    .venv/bin/uv pip install -q --python .venv/bin/python --no-deps --no-build-isolation -e .
}
say "installing the locked dependencies (uv pip --require-hashes)"
if ! with_uv; then
  say "uv could not install the lock (its messages above): installing it with pip --require-hashes"
  pip_install --require-hashes -r requirements.lock
  pip_install --no-deps --no-build-isolation -e .
fi
echo "$want" > "$stamp"
say "done: .venv/bin/layerlab"
