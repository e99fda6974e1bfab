#!/bin/sh
# install-debs.sh DIR [--certs CERTS] [--no-pyc]: install the packages
# fetch-debs.sh downloaded into DIR.
#
# Two package scripts take most of an emulated install's time, so with these
# options they do not run for the target; the Dockerfile does their work natively:
# --certs: update-ca-certificates (ca-certificates' script and trigger) is a
#   stub; CERTS, /etc/ssl/certs as the same package made it natively, is copied
#   in instead. Those files are the same on every architecture.
# --no-pyc: Python byte-compilation is a stub; the Dockerfile adds the .pyc
#   files compiled natively by the same Python version (bytecode is the same on
#   every architecture).
set -eu
dir=$1
shift
certs="" pyc=""
while [ $# -gt 0 ]; do
  case $1 in
    --certs) certs=$2; shift 2 ;;
    --no-pyc) pyc=/usr/lib/python3.13/py_compile.py; shift ;;
    *) echo "install-debs.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
stub() {
  mkdir -p "$(dirname "$1")"
  dpkg-divert --quiet --local --rename --divert "$1.layerlab" --add "$1"
  printf '%s\n' "$2" > "$1"
  chmod +x "$1"
}
unstub() {
  rm -f "$1"
  dpkg-divert --quiet --local --rename --remove "$1"
}
[ -z "$certs" ] || stub /usr/sbin/update-ca-certificates '#!/bin/sh'
# py3compile runs `python3 -m py_compile -` and writes the file names to its stdin.
[ -z "$pyc" ] || stub "$pyc" 'import sys
if __name__ == "__main__" and sys.argv[1:] == ["-"]:
    sys.stdin.read()'
# apt on local files only: it orders pre-dependencies, and with no package lists it has nothing big to read.
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$dir"/*.deb
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
if [ -n "$pyc" ]; then
  unstub "$pyc"
  find /usr/lib/python3* -name __pycache__ -type d -prune -exec rm -rf '{}' +
fi
if [ -n "$certs" ]; then
  unstub /usr/sbin/update-ca-certificates
  cp -a "$certs"/. /etc/ssl/certs/
fi
