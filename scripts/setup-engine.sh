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

export DEBIAN_FRONTEND=noninteractive
apt_quiet() { apt-get -o Dpkg::Use-Pty=0 -qq "$@"; }

# The packages we need beside the engine itself: emulation for linux/arm64,
# debootstrap for offline base images, qemu-system for the VM lesson.
extras=(qemu-user-static binfmt-support debootstrap qemu-system-x86 busybox-static cpio iptables ca-certificates xz-utils)

if [ "${ID}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; then
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
  if apt-cache show docker-compose-v2 >/dev/null 2>&1; then engine_pkgs+=(docker-compose-v2); else engine_pkgs+=(docker-compose); fi
  # cosign for lesson 09's signing cells, where the distribution packages it (the lesson says so when it is missing).
  if apt-cache show cosign >/dev/null 2>&1; then engine_pkgs+=(cosign); fi
fi

say "installing ${engine_pkgs[*]} ${extras[*]}"
# policy-rc.d keeps package scripts from starting services we start ourselves.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt_quiet install -y --no-install-recommends "${engine_pkgs[@]}" "${extras[@]}" >/dev/null

# The containerd image store holds multi-platform images (needed for
# 'buildx build --platform linux/amd64,linux/arm64 --load').
mkdir -p /etc/docker
if [ ! -s /etc/docker/daemon.json ]; then
  echo '{"features": {"containerd-snapshotter": true}}' > /etc/docker/daemon.json
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

# Without systemd, dockerd runs in its own session so it outlives this script.
if ! pgrep -x dockerd >/dev/null; then
  say "starting dockerd (log: $log)"
  setsid nohup dockerd >"$log" 2>&1 < /dev/null &
fi
for i in $(seq 1 60); do
  if engine_answers; then
    say "engine answers: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}')"
    exit 0
  fi
  sleep 1
done
say "dockerd did not answer within 60 s; the end of its log:" >&2
tail -n 40 "$log" >&2 || true
exit 1
