#!/usr/bin/env bash
# One engine-matrix leg, inside its throw-away machine (engine/machine.py starts it; `layerlab matrix LEG`).
# The leg's set-up variables are in the environment; the README's set-up installs that engine, then
# every lesson runs and every exercise is graded (course/matrix_run.py). The result goes to /out/leg.json.
set -u
leg=$1
s=$(date +%s)
make setup 2>&1 | tee /out/setup.log
rc=${PIPESTATUS[0]}
# Podman's set-up says where its socket is; later commands must find the same engine.
[ -f /etc/layerlab-engine.env ] && set -a && . /etc/layerlab-engine.env && set +a
.venv/bin/python -m layerlab.course.matrix_run "$leg" --setup-rc "$rc" --setup-seconds $(( $(date +%s) - s )) \
  --setup-log /out/setup.log --out /out/leg.json
