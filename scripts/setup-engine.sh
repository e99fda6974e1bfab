#!/usr/bin/env bash
# Make sure a container engine answers, installing one from the distribution's
# packages when this is Debian or Ubuntu and we are root. An engine that
# already answers is used as it is: we never reconfigure someone else's daemon.
set -euo pipefail

log=/var/log/layerlab-dockerd.log
say() { printf '[setup-engine] %s\n' "$*"; }

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
  say "an engine already answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null)); using it as it is"
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  say "DOCKER_HOST=$DOCKER_HOST is set but nothing answers there."
  say "Start that engine, or unset DOCKER_HOST so set-up can start a local one."
  exit 1
fi

. /etc/os-release 2>/dev/null || true
if [ "$(id -u)" != 0 ] || { [ "${ID:-}" != debian ] && [ "${ID:-}" != ubuntu ]; }; then
  cat >&2 <<MSG
[setup-engine] No container engine answers, and this machine is not one set-up can provision
(it needs root on Debian or Ubuntu; this is ${PRETTY_NAME:-an unknown system} as uid $(id -u)).
Pick one of:
  - Docker Desktop (macOS, Windows) or Docker Engine (Linux): https://docs.docker.com/engine/install/
  - the course devcontainer: open this folder in VS Code and "Reopen in Container"
  - Podman: install podman, run 'podman system service --time=0 &' and
    export DOCKER_HOST=unix://\$XDG_RUNTIME_DIR/podman/podman.sock
Then run the same make command again. Without any engine the notebooks replay recorded runs.
MSG
  exit 1
fi

# The engine matrix (`layerlab matrix`) sets these in its throw-away machines; a learner sets none of them.
#   LAYERLAB_SETUP_SUITE=sid            the engine packages from Debian sid (Docker 28.5) instead of the release's
#   LAYERLAB_SETUP_STORE=classic        leave the classic overlay2 image store on (default: the containerd store)
#   LAYERLAB_SETUP_ENGINE=podman        Podman's Docker-compatible socket instead of dockerd
suite=${LAYERLAB_SETUP_SUITE:-}
store=${LAYERLAB_SETUP_STORE:-containerd}
kind=${LAYERLAB_SETUP_ENGINE:-docker}
podman_sock=/run/podman/podman.sock

export DEBIAN_FRONTEND=noninteractive
apt_quiet() { apt-get -o Dpkg::Use-Pty=0 -qq "$@"; }

# The packages we need beside the engine itself: emulation for linux/arm64,
# mmdebstrap (debootstrap where it fails) for offline base images, qemu-system for the VM lesson.
extras=(qemu-user-static binfmt-support mmdebstrap debootstrap qemu-system-x86 busybox-static cpio iptables ca-certificates xz-utils)

add_source() {  # $1: suite; sid's Release file is re-signed daily, and a stale snapshot must not stop the install
  [ -f /etc/apt/sources.list.d/layerlab-$1.sources ] && return 0
  say "adding a low-priority $1 source for the engine packages"
  cat > /etc/apt/sources.list.d/layerlab-$1.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $1
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
Check-Valid-Until: no
SRC
  printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "$1" > /etc/apt/preferences.d/layerlab-$1
}

if [ "$kind" = podman ]; then
  # Podman answers the Docker API on its own socket; the docker client, buildx and compose talk to it there.
  engine_pkgs=(podman docker-cli docker-buildx docker-compose)
  # Bookworm's Podman is 4.3: Podman 5 comes from trixie.
  if [ "${ID}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; then add_source trixie; engine_pkgs=(-t trixie "${engine_pkgs[@]}"); fi
  say "apt-get update"
  apt_quiet update
elif [ -n "$suite" ]; then
  add_source "$suite"
  say "apt-get update"
  apt_quiet update
  # -t: the engine's dependencies come from the same suite where the release's are too old.
  engine_pkgs=(-t "$suite" docker.io docker-cli docker-buildx docker-compose containerd runc tini)
elif [ "${ID}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; then
  # Bookworm's docker.io is 20.10, too old for the containerd image store.
  # Trixie's engine runs on bookworm's glibc; its runc does not, so runc stays
  # from bookworm. A low pin keeps every other package on bookworm.
  if [ ! -f /etc/apt/sources.list.d/layerlab-trixie.sources ]; then
    say "adding a low-priority trixie source for the engine packages"
    cat > /etc/apt/sources.list.d/layerlab-trixie.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    cat > /etc/apt/preferences.d/layerlab-trixie <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  fi
  say "apt-get update"
  apt_quiet update
  # cosign (lesson 09 signs an image) needs glibc >= 2.34: bookworm's 2.36 runs trixie's build.
  engine_pkgs=(docker.io/trixie docker-cli/trixie docker-buildx/trixie docker-compose/trixie
              containerd/trixie runc tini cosign/trixie)
else
  say "apt-get update"
  apt_quiet update
  engine_pkgs=(docker.io docker-buildx)
  # Debian 13 ships the client apart (docker-cli, only recommended by docker.io, and recommends are not installed).
  if apt-cache show docker-cli >/dev/null 2>&1; then engine_pkgs+=(docker-cli); fi
  if apt-cache show docker-compose-v2 >/dev/null 2>&1; then engine_pkgs+=(docker-compose-v2); else engine_pkgs+=(docker-compose); fi
  # cosign for lesson 09's signing cells, where the distribution packages it (the lesson says so when it is missing).
  if apt-cache show cosign >/dev/null 2>&1; then engine_pkgs+=(cosign); fi
fi

say "installing ${engine_pkgs[*]} ${extras[*]}"
# policy-rc.d keeps package scripts from starting services we start ourselves.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
# Two installs: the extras from the release itself, then the engine (its own suite's, with -t, where one is asked).
apt_quiet install -y --no-install-recommends "${extras[@]}" >/dev/null
apt_quiet install -y --no-install-recommends "${engine_pkgs[@]}" >/dev/null

# The containerd image store holds multi-platform images (needed for
# 'buildx build --platform linux/amd64,linux/arm64 --load').
mkdir -p /etc/docker
if [ ! -s /etc/docker/daemon.json ]; then
  if [ "$store" = classic ]; then echo '{}' > /etc/docker/daemon.json
  else echo '{"features": {"containerd-snapshotter": true}}' > /etc/docker/daemon.json; fi
fi

# arm64 emulation: binfmt_misc may not be mounted where there is no systemd.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && say "linux/arm64 emulation registered" \
  || say "warning: could not register linux/arm64 emulation; multi-arch lessons will replay"

if [ "$kind" = podman ]; then
  if ! pgrep -f "podman system service" >/dev/null; then
    say "starting podman's Docker-compatible socket at $podman_sock (log: $log)"
    mkdir -p "$(dirname $podman_sock)"
    setsid nohup podman system service --time=0 "unix://$podman_sock" >"$log" 2>&1 < /dev/null &
  fi
  export DOCKER_HOST=unix://$podman_sock
  # Where the next commands find it: whoever runs set-up this way exports the same (scripts/matrix-leg.sh).
  echo "DOCKER_HOST=$DOCKER_HOST" > /etc/layerlab-engine.env
elif ! pgrep -x dockerd >/dev/null; then
  # Without systemd, dockerd runs in its own session so it outlives this script.
  say "starting dockerd (log: $log)"
  setsid nohup dockerd >"$log" 2>&1 < /dev/null &
fi
for i in $(seq 1 180); do
  if engine_answers; then
    say "engine answers: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}')"
    exit 0
  fi
  sleep 1
done
say "dockerd did not answer within 180 s; the end of its log:" >&2
tail -n 40 "$log" >&2 || true
exit 1
