#!/usr/bin/env bash
# beside.sh LABEL LONG SHORT: run the command LONG in the background, each of its lines marked [LABEL], while SHORT
# runs in the foreground; wait for both and fail if either failed. If SHORT fails, LONG is stopped: the run has
# failed already and nobody should wait minutes for the rest.
#
# `make test` builds the base images this way beside its engine-free steps (Chromium, the Dev Containers CLI,
# mypy, ruff, the unit tier): for minutes of the build, the arm64 root filesystem's debootstrap runs under qemu
# on one core and leaves the other idle.
set -uo pipefail
label=$1 long=$2 short=$3
set -m  # the background job gets its own process group, so stopping it stops the builds under it too
( set -o pipefail; bash -c "$long" 2>&1 | sed -u "s/^/[$label] /" ) &
pid=$!
set +m
bash -c "$short"
short_rc=$?
if [ $short_rc -ne 0 ]; then
  echo "[beside] $short failed (status $short_rc): stopping $label"
  kill -TERM -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  exit $short_rc
fi
wait "$pid"
long_rc=$?
[ $long_rc -eq 0 ] || echo "[beside] $label failed (status $long_rc)"
exit $long_rc
