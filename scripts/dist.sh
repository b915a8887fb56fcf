#!/usr/bin/env bash
# Packs the release artifacts into dist/ from the release build (`make dist` builds the
# companion and the extension first; README "Artifacts" lists each file):
#   preview-switch_<v>-1_amd64.deb          Debian package (dpkg-deb), checked by lintian
#   preview-switch-<v>-x86_64-linux.tar.gz  binary, man pages, completions, install.sh
#   preview-switch-<v>-x86_64-windows.zip   preview-switch.exe, install.ps1 (a release build
#                                           for x86_64-pc-windows-gnu; DIST_WINDOWS=0 skips it)
#   preview-switch-{chromium,firefox}-<v>.zip  the store zips (scripts/build-extension.sh)
#   preview-switch-chromium-<v>.crx, update.xml  only with CRX_KEY (and CRX_URL) set: the
#                                           self-hosted CRX3 and its update manifest (crx3.mjs)
#   policy/                                 Chrome/Edge and Firefox policy templates
#                                           (packaging/policy/)
#   SHA256SUMS                              sha256sum of the archives, the CRX and update.xml
# Every tree comes from the binary's own `preview-switch stage` (companion/src/package.rs);
# this script only packs them. Archives are reproducible: fixed owner, order and
# SOURCE_DATE_EPOCH (default: the last commit's time).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=$(realpath -m "${CARGO_TARGET_DIR:-target}")
BIN=$TARGET/release/preview-switch
OUT=$PWD/dist
if [[ ! -x $BIN ]]; then
  echo "dist.sh: $BIN is missing: run make dist (it builds the release binary first)" >&2
  exit 2
fi
version=$("$BIN" --version | awk '{print $2}')
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/preview-switch_*.deb "$OUT"/preview-switch-*.tar.gz "$OUT"/preview-switch-*-windows.zip "$OUT/SHA256SUMS" \
  "$OUT"/preview-switch-chromium-*.crx "$OUT/update.xml"
rm -rf "$OUT/policy"

# First, so a missing CRX_URL or a bad key stops the build before the slow steps. The CRX's
# id (update.xml's appid) goes into every package's host manifests beside the published
# extension's, so no machine needs `install --extension-id` for the team's CRX.
ids=()
if [[ -n ${CRX_KEY:-} ]]; then
  node scripts/crx3.mjs --out "$OUT"
  crx_id=$(sed -n 's/.*<app appid="\([a-p]\{32\}\)".*/\1/p' "$OUT/update.xml")
  if [[ -z $crx_id ]]; then
    echo "dist.sh: no extension id in $OUT/update.xml: run make crx again and read its error" >&2
    exit 1
  fi
  ids=(--extension-id "$crx_id")
  echo "dist.sh: the packages allow the CRX's id $crx_id beside the published extension" >&2
else
  echo "dist.sh: no self-hosted CRX (CRX_KEY is not set; README \"Self-hosting the Chromium extension (CRX)\")" >&2
fi

# Depends from the shared libraries the binary links (Debian's dpkg-shlibdeps reads them and
# the installed packages' symbols files). It wants a debian/control beside it.
mkdir -p "$work/shlibs/debian"
printf 'Source: preview-switch\n\nPackage: preview-switch\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e "$BIN" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
if [[ -z $depends ]]; then
  echo "dist.sh: dpkg-shlibdeps found no Depends for $BIN: install dpkg-dev (scripts/setup.sh dist)" >&2
  exit 1
fi

deb="$OUT/preview-switch_${version}-1_amd64.deb"
"$BIN" stage deb --out "$work/deb" --depends "$depends" "${ids[@]}" >/dev/null
scripts/package-deb.sh "$work/deb" "$deb" >/dev/null
# 0 errors and 0 warnings (the overrides in the package say why each is one); the
# informational tags are printed for the record.
lintian --display-info --fail-on error,warning "$deb"
echo "built $deb (Depends: $depends)"

pack_tar() { # DIR-WITH-ROOT NAME
  tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -cf - "$2" |
    gzip -9n >"$OUT/$2.tar.gz"
  echo "built $OUT/$2.tar.gz"
}
"$BIN" stage tarball --platform x86_64-linux --out "$work/linux" "${ids[@]}" >/dev/null
pack_tar "$work/linux" "preview-switch-$version-x86_64-linux"

exe=$TARGET/x86_64-pc-windows-gnu/release/preview-switch.exe
if [[ ${DIST_WINDOWS:-1} == 0 ]]; then
  echo "dist.sh: no Windows zip (DIST_WINDOWS=0)" >&2
elif rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
  cargo build --release -p preview-switch --target x86_64-pc-windows-gnu
  "$BIN" stage windows --binary "$exe" --out "$work/windows" "${ids[@]}" >/dev/null
  name="preview-switch-$version-x86_64-windows"
  find "$work/windows" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  (cd "$work/windows" && find "$name" | LC_ALL=C sort | zip -qX "$OUT/$name.zip" -@)
  echo "built $OUT/$name.zip"
else
  echo "dist.sh: no Windows zip: the x86_64-pc-windows-gnu target is not installed (scripts/setup.sh adds it)" >&2
fi

for browser in chromium firefox; do
  if [[ ! -f "$OUT/preview-switch-$browser-$version.zip" ]]; then
    echo "dist.sh: $OUT/preview-switch-$browser-$version.zip is missing: run make build-extension" >&2
    exit 1
  fi
done
cp -R packaging/policy "$OUT/policy"
echo "copied the policy templates to $OUT/policy"
(cd "$OUT" && sha256sum preview-switch_*.deb preview-switch-*.tar.gz preview-switch-*.zip $(compgen -G 'preview-switch-chromium-*.crx') $(compgen -G update.xml) >SHA256SUMS)
echo "checksums in $OUT/SHA256SUMS:"
cat "$OUT/SHA256SUMS"
