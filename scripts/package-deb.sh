#!/usr/bin/env bash
# Packs a tree written by `preview-switch stage deb --out STAGE` into a .deb with Debian's
# own dpkg-deb: adds DEBIAN/md5sums (what `dpkg --verify` checks), then builds with root
# ownership. Used by scripts/dist.sh and by the package test (companion/tests/it/package.rs).
#   scripts/package-deb.sh STAGE OUT.deb [COMPRESSION]   COMPRESSION: xz (default), gzip, none
set -euo pipefail
stage=$1 out=$2 compression=${3:-xz}
if [[ ! -f "$stage/DEBIAN/control" ]]; then
  echo "package-deb.sh: $stage has no DEBIAN/control: run preview-switch stage deb --out $stage first" >&2
  exit 2
fi
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$out" >/dev/null
echo "$out"
