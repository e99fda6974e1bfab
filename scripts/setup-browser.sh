#!/usr/bin/env bash
# Chromium for the browser test (tests/test_browser_lab.py drives JupyterLab with
# Playwright from the lock, on the distribution's Chromium: Playwright's own
# browser download is often unreachable). Idempotent; without root or apt it
# only says what is missing, and the test fails under --engine-required / CI.
set -euo pipefail
say() { printf '[setup-browser] %s\n' "$*"; }

chromium=${LAYERLAB_CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
  say "reusing $chromium"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq install -y chromium >/dev/null 2>&1 || { apt-get -qq update && apt-get -qq install -y chromium >/dev/null; }
  say "done: $(command -v chromium)"
else
  say "no Chromium at $chromium: as root on Debian/Ubuntu run 'apt-get install -y chromium'" >&2
  say "(or set LAYERLAB_CHROMIUM to a Chromium binary); the browser test needs it" >&2
fi
