#!/usr/bin/env bash
# `make install` / `make uninstall`: installs the release build of this checkout exactly as the
# Linux tarball's install.sh does (it stages that tarball's tree and runs its install.sh),
# recording the checkout so `doctor` and the popup name `make install` here as the upgrade.
#   scripts/install-from-checkout.sh install|uninstall     your user: ~/.local (or PREFIX)
#   SYSTEM=1 scripts/install-from-checkout.sh install|uninstall   every user: /usr/local (or
#                                                          PREFIX) and install --system (root)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CARGO_TARGET_DIR:-target}/release/preview-switch
if [[ ! -x $BIN ]]; then
  echo "install-from-checkout.sh: $BIN is missing: run make install (it builds it first)" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN" stage tarball --out "$work" >/dev/null
script=$(echo "$work"/preview-switch-*/install.sh)
# Only SYSTEM=1 writes machine-wide files, even when run as root.
scope=--user
if [[ ${SYSTEM:-0} == 1 ]]; then scope=--system; fi
case "${1:-}" in
  install) INSTALLED_BY="source $PWD" "$script" "$scope" ;;
  uninstall) "$script" --uninstall "$scope" ;;
  *) echo "install-from-checkout.sh: say install or uninstall" >&2; exit 2 ;;
esac
