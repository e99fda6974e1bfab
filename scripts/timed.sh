#!/usr/bin/env bash
# Run one set-up step and say how long it took, so every `make setup` (and CI's
# log) shows where set-up time goes:  scripts/timed.sh NAME COMMAND...
name=$1; shift
start=$(date +%s)
"$@"; rc=$?
echo "[setup] $name: $(( $(date +%s) - start )) s$([ $rc -eq 0 ] || echo ", failed with status $rc")"
exit $rc
