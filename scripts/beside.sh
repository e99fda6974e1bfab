#!/usr/bin/env bash
# beside.sh [--both] LABEL LONG SHORT: run the command LONG in the background, each of its lines marked [LABEL],
# while SHORT runs in the foreground; wait for both and fail if either failed. If SHORT fails, LONG is stopped:
# the run has failed already and nobody should wait minutes for the rest. With --both, LONG runs on: two halves
# of a test suite should each say all that failed.
#
# `make test` builds the base images this way beside its engine-free steps (Chromium, the Dev Containers CLI,
# mypy, ruff, the unit tier): for minutes of the build, the stand-ins' emulated arm64 steps run under qemu
# on one core and leave the other idle. Then it runs the lessons under nbval beside the other engine tests.
set -uo pipefail
both=0
if [ "${1:-}" = "--both" ]; then both=1; shift; fi
label=$1 long=$2 short=$3
# The background half's lines are kept too: when it fails first, its summary scrolls far up among the other
# half's lines, and a CI log that keeps only its tail would lose what failed. It is said again at the end.
kept=$(mktemp)
trap 'rm -f "$kept"' EXIT
set -m  # the background job gets its own process group, so stopping it stops the builds under it too
( set -o pipefail; bash -c "$long" 2>&1 | sed -u "s/^/[$label] /" | tee "$kept" ) &
pid=$!
set +m
bash -c "$short"
short_rc=$?
if [ $short_rc -ne 0 ] && [ $both -eq 0 ]; then
  echo "[beside] $short failed (status $short_rc): stopping $label"
  kill -TERM -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  exit $short_rc
fi
wait "$pid"
long_rc=$?
if [ $long_rc -ne 0 ]; then
  # pytest's short summary (FAILED/ERROR, each with its message's first line); else the half's last lines.
  said=$(grep -E "^\[$label\] (FAILED|ERROR) " "$kept" | tail -n 30)
  [ -n "$said" ] || said=$(tail -n 10 "$kept")
  printf '[beside] what failed in %s:\n%s\n' "$label" "$said"
  echo "[beside] $label failed (status $long_rc)"
fi
[ $short_rc -eq 0 ] || echo "[beside] the foreground half failed (status $short_rc)"
[ $short_rc -eq 0 ] && exit $long_rc
exit $short_rc
