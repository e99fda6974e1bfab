#!/usr/bin/env bash
# Give a CI runner's own Docker what scripts/setup-engine.sh gives the engine it installs, for one exercise:
#   classroom/runner-engine.sh EXERCISE        (after `make venv`: it reads course.yml with the course's Python)
# - the containerd image store, which keeps a base image's linux/amd64 and linux/arm64 under one name, as
#   `make images` pulls them (the classic store keeps one platform per name: the second pull replaces the first);
# - linux/arm64 emulation (qemu-user-static) when the exercise's module needs qemu (course.yml `needs`).
# setup-engine.sh never reconfigures an engine that already answers, since on a person's machine it is theirs. A
# GitHub-hosted runner is a throw-away VM that the job owns, so this script does it there, and elsewhere only when
# LAYERLAB_RECONFIGURE_ENGINE=1 says the machine is the job's; otherwise it says what is missing and changes nothing.
set -euo pipefail
say() { printf '[runner-engine] %s\n' "$*"; }

exercise=${1:?usage: runner-engine.sh EXERCISE}
needs=$(.venv/bin/python - "$exercise" <<'PY'
import sys
from layerlab import course
c = course.load()
ex = next((e for e in c.exercises if e.id == sys.argv[1]), None)
print(" ".join(c.module(ex.module).needs) if ex else "")
PY
)
say "exercise ${exercise}: its module needs ${needs:-nothing listed}"

ours=no
if [ "${RUNNER_ENVIRONMENT:-}" = github-hosted ] || [ "${LAYERLAB_RECONFIGURE_ENGINE:-}" = 1 ]; then ours=yes; fi

if docker info --format '{{json .DriverStatus}}' | grep -q 'io.containerd.snapshotter'; then
  say "the engine uses the containerd image store"
elif [ "$ours" = yes ]; then
  say "turning on the containerd image store (/etc/docker/daemon.json) and restarting dockerd"
  sudo python3 - <<'PY'
import json, pathlib
p = pathlib.Path("/etc/docker/daemon.json")
conf = json.loads(p.read_text() or "{}") if p.exists() else {}
conf.setdefault("features", {})["containerd-snapshotter"] = True
p.parent.mkdir(parents=True, exist_ok=True)
p.write_text(json.dumps(conf, indent=2) + "\n")
PY
  sudo systemctl restart docker
  for _ in $(seq 1 60); do
    if docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter'; then break; fi
    sleep 1
  done
  docker info --format '{{json .DriverStatus}}' | grep -q 'io.containerd.snapshotter' \
    || { say "dockerd did not come back with the containerd image store within 60 s"; exit 1; }
  say "engine answers with the containerd image store"
else
  say "the engine uses the classic image store; this machine is not the job's, so it is left as it is" \
    "(\`layerlab doctor\` says how to turn the containerd store on)"
fi

if [[ " $needs " == *" qemu "* ]] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  if [ "$ours" = yes ]; then
    say "registering linux/arm64 emulation (qemu-user-static)"
    sudo apt-get -qq update
    sudo DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends qemu-user-static binfmt-support >/dev/null
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || sudo update-binfmts --enable qemu-aarch64 || true
  fi
  if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    say "linux/arm64 emulation registered"
  else
    say "no linux/arm64 emulation here: the checks that need it will say they did not run"
  fi
fi
