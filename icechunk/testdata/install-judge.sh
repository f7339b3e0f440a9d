#!/usr/bin/env bash
# Installs the official Icechunk library (npm @earthmover/icechunk, the Rust
# library as a Node addon; it needs glibc >= 2.38) into /opt/icechunk-js of the
# Debian 13 chroot that scripts/trixie builds, where interop_test.go runs it.
#
#   icechunk/testdata/install-judge.sh [path/to/scripts/trixie]
#
# npm runs on the host (with the host's npm config and CA bundle) and installs
# into the chroot's directory; the addon package it picks is the linux-x64-gnu
# one either way. Idempotent: an existing install of the pinned version is kept.
set -euo pipefail
version=2.2.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
trixie="${1:-${VZARR_TRIXIE_SCRIPT:-$here/scripts/trixie}}"
root="$("$trixie" dir)"
dest="$root/opt/icechunk-js"
pkg="$dest/node_modules/@earthmover/icechunk/package.json"
if [ -f "$pkg" ] && grep -q "\"version\": \"$version\"" "$pkg"; then
  echo "icechunk-js: @earthmover/icechunk@$version already in $dest"
  exit 0
fi
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name":"vzarr-icechunk-judge","private":true}' > package.json
npm install --no-audit --no-fund "@earthmover/icechunk@$version" zarrita
echo "icechunk-js: installed @earthmover/icechunk@$version in $dest"
