#!/bin/sh
# fetch-debs.sh ARCH STATUS PACKAGE...: download into /debs what `apt-get install
# --no-install-recommends PACKAGE...` would install on an ARCH machine whose dpkg
# status file is STATUS, running natively. Under qemu, apt spends minutes reading
# its package lists; here it takes seconds, and only dpkg runs emulated.
set -eu
arch=$1 status=$2
shift 2
as_target="-o APT::Architecture=$arch -o APT::Architectures::=$arch"
mkdir -p /debs/partial
# shellcheck disable=SC2086
apt-get $as_target update
# shellcheck disable=SC2086
apt-get $as_target -o Dir::State::status="$status" -o Dir::Cache::archives=/debs \
  install --download-only -y --no-install-recommends "$@"
rm -rf /debs/partial /debs/lock
ls /debs/*.deb | wc -l | xargs printf "%s packages to install for $arch\n"
