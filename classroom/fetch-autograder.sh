#!/usr/bin/env bash
# Fetch the instructor's autograder bundle and make sure it is the one the class was given:
#   classroom/fetch-autograder.sh SOURCE sha256:<64 hex> OUT
# SOURCE: an https:// URL (a release asset; file:// for a local copy), or oci://REGISTRY/REPOSITORY, where the
# bundle is the blob of that digest: `oras push` stores a file as a blob named by its own sha256, so the one digest
# that `layerlab release --autograder` prints pins both. OUT is written only once the sha256 of what came matches
# the pinned digest; anything else exits non-zero and leaves nothing at OUT.
# LAYERLAB_AUTOGRADER_TOKEN, when set, is sent as the credential: a bearer token for https (a private release asset
# through GitHub's API: https://api.github.com/repos/ORG/REPO/releases/assets/ID), the password for oci://
# (LAYERLAB_AUTOGRADER_USER the user name; GitHub's and GitLab's registries take any).
set -euo pipefail
say() { printf '[autograder] %s\n' "$*" >&2; }

if [ $# -ne 3 ]; then
  say "usage: fetch-autograder.sh SOURCE sha256:<64 hex> OUT"
  exit 2
fi
source=$1 digest=$2 out=$3
if [ -z "$source" ]; then
  say "no autograder source: the instructor sets LAYERLAB_AUTOGRADER_URL (a release asset URL or oci://REGISTRY/REPOSITORY)"
  exit 2
fi
if ! [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
  say "the pinned digest '${digest}' is not sha256:<64 lower-case hex digits>: copy it as \`layerlab release --autograder\` printed it"
  exit 2
fi

mkdir -p "$(dirname "$out")"
part=$(mktemp "${out}.part.XXXXXX")
trap 'rm -f "$part"' EXIT
token=${LAYERLAB_AUTOGRADER_TOKEN:-}

case $source in
  oci://*)
    if ! command -v oras >/dev/null 2>&1; then
      say "oci:// needs the oras CLI (https://oras.land); the GitHub action installs it, elsewhere install it first"
      exit 2
    fi
    ref=${source#oci://}
    login=()
    if [ -n "$token" ]; then login=(--username "${LAYERLAB_AUTOGRADER_USER:-layerlab}" --password-stdin); fi
    # A blob fetched by digest: oras checks the digest too; the check below is ours, whatever fetched it.
    printf '%s' "$token" | oras blob fetch "${login[@]}" --output "$part" "${ref}@${digest}" >&2
    ;;
  https://* | file://*)
    auth=()
    if [ -n "$token" ]; then auth=(-H "Authorization: Bearer ${token}"); fi
    curl -fsSL --retry 3 "${auth[@]}" -H "Accept: application/octet-stream" -o "$part" "$source"
    ;;
  *)
    say "cannot fetch '${source}': give an https:// URL (a release asset) or oci://REGISTRY/REPOSITORY"
    exit 2
    ;;
esac

got="sha256:$(sha256sum "$part" | cut -d' ' -f1)"
if [ "$got" != "$digest" ]; then
  say "the autograder at ${source} is ${got}, not the pinned ${digest}: it is not the bundle this class was given;" \
    "ask the instructor, do not grade with it"
  exit 1
fi
mv -f "$part" "$out"
trap - EXIT
say "autograder ${digest} fetched from ${source}"
