#!/usr/bin/env bash
# Stop before a long make command when the disk cannot hold what it writes, instead of failing
# twenty minutes in with "no space left on device":  scripts/need-disk.sh WHAT ENGINE_GB CHECKOUT_GB
# ENGINE_GB is the most the engine's store holds during it (images, build cache, containers), CHECKOUT_GB what
# lands beside this checkout and in the system (venv, browser, packages); both measured on a fresh machine
# (Makefile). What the store already holds counts towards ENGINE_GB: a second run rebuilds little of it.
# An engine whose store is not on this machine (DOCKER_HOST, or Docker Desktop's VM: its root is no folder here)
# leaves only the checkout's share to check here. POSIX df (-Pk) so that macOS's df answers too.
set -uo pipefail
what=$1 engine_gb=$2 checkout_gb=$3

# The nearest existing folder: before set-up installs an engine, /var/lib/docker does not exist yet.
existing() { local p=$1; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; echo "$p"; }
free_gb() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 {printf "%.1f", $4 * 1024 / 1e9}'; }
device() { df -P "$1" | awk 'NR == 2 {print $1}'; }

# The engine's own account of its store, in GB ("22.62GB", "512MB", "0B"): nothing when no engine answers.
held_gb() {
  timeout 20 docker system df --format '{{.Size}}' 2>/dev/null | awk '
    match($0, /^[0-9.]+(e[+-]?[0-9]+)?/) { n = substr($0, 1, RLENGTH); u = substr($0, RLENGTH + 1)
      f = (u == "TB") ? 1e3 : (u == "GB") ? 1 : (u == "MB") ? 1e-3 : (u == "kB") ? 1e-6 : 1e-9; t += n * f }
    END { printf "%.1f", t + 0 }'
}

store=""
if [ -z "${DOCKER_HOST:-}" ]; then
  root=$(timeout 20 docker info -f '{{.DockerRootDir}}' 2>/dev/null || true)
  if [ -z "$root" ]; then store=$(existing /var/lib/docker)  # no engine yet: set-up installs it there
  elif [ -d "$root" ]; then store=$root; fi
  engine_gb=$(awk -v n="$engine_gb" -v h="$(held_gb)" 'BEGIN {d = n - h; printf "%.0f", (d > 0 ? d : 0)}')
fi
here=$(pwd)

short=()
if [ -n "$store" ] && [ "$(device "$store")" = "$(device "$here")" ]; then
  need=$(awk -v a="$engine_gb" -v b="$checkout_gb" 'BEGIN {print a + b}')
  have=$(free_gb "$here")
  [ -n "$have" ] && awk -v h="$have" -v n="$need" 'BEGIN {exit !(h < n)}' && short+=("$have GB free at $here (the engine's store $store is on the same disk); $what needs about $need GB free")
else
  have=$(free_gb "$here")
  [ -n "$have" ] && awk -v h="$have" -v n="$checkout_gb" 'BEGIN {exit !(h < n)}' && short+=("$have GB free at $here; $what needs about $checkout_gb GB free there")
  if [ -n "$store" ]; then
    have=$(free_gb "$store")
    [ -n "$have" ] && awk -v h="$have" -v n="$engine_gb" 'BEGIN {exit !(h < n)}' && short+=("$have GB free at the engine's store $store; $what needs about $engine_gb GB free there")
  fi
fi

[ ${#short[@]} -eq 0 ] && exit 0
for line in "${short[@]}"; do echo "[disk] not enough space: $line" >&2; done
echo "[disk] Fix: free space on that disk (\`.venv/bin/layerlab clean\` removes the course's images, \`docker system prune\` unused ones), then run the same make command again." >&2
exit 1
