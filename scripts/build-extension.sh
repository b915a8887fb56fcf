#!/usr/bin/env bash
# Builds the browser extension once (Rust -> wasm32 -> wasm-bindgen -> wasm-opt, plus
# extension/static/) and lays it out per browser: dist/chromium/ and dist/firefox/, each a
# loadable directory whose manifest.json is extension/manifest/common.json with that browser's
# overlay (chromium.json, firefox.json) merged in key by key, plus a zip of each for the Chrome
# Web Store and addons.mozilla.org (dist/preview-switch-<browser>-<version>.zip).
# dist/extension is a link to dist/chromium for older instructions and `preview-switch demo`.
# Prints the gzipped wasm size against the 250 KB budget.
# `build-extension.sh setup` installs the tools only, idempotently:
# the wasm32 target, wasm-bindgen-cli at exactly the crate's pinned version (into .tools/),
# and binaryen's wasm-opt from the npm lock file (Debian's binaryen breaks the module: PLATFORM A).
set -euo pipefail
cd "$(dirname "$0")/.."

WB_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' extension/Cargo.toml)
WASM_BINDGEN=.tools/bin/wasm-bindgen
WASM_OPT=node_modules/.bin/wasm-opt
OUT=dist
BUDGET=250000

setup() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$("$WASM_BINDGEN" --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ]; then
    # --locked where the registry serves the lock file's versions; 0.2.130's pins
    # webpki-roots 1.0.11, which it does not (PLATFORM A, SECURITY.md "Known gaps").
    if ! cargo install wasm-bindgen-cli --version "$WB_VERSION" --root .tools --force --locked; then
      echo "setup: wasm-bindgen-cli $WB_VERSION cannot be installed --locked (a locked dependency is not served); installing with fresh dependency versions" >&2
      cargo install wasm-bindgen-cli --version "$WB_VERSION" --root .tools --force
    fi
  fi
  if ! "$WASM_OPT" --version >/dev/null 2>&1; then
    npm ci --no-audit --no-fund
  fi
}

build() {
  setup
  cargo build -p preview-switch-extension --target wasm32-unknown-unknown --profile wasm-release
  local wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/preview_switch_extension.wasm"
  local pkg="$OUT/pkg"
  rm -rf "$OUT/extension" "$OUT/chromium" "$OUT/firefox" "$pkg" "$OUT"/preview-switch-*.zip
  mkdir -p "$pkg"
  "$WASM_BINDGEN" --target web --no-typescript --out-dir "$pkg" "$wasm"
  local bg="$pkg/preview_switch_extension_bg.wasm"
  local before
  before=$(wc -c <"$bg")
  # The features rustc enables for wasm32 by default; wasm-opt must accept what the module uses.
  "$WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue "$bg" -o "$bg"
  local version browser dir
  version=$(node -p 'require("./extension/manifest/common.json").version')
  for browser in chromium firefox; do
    dir="$OUT/$browser"
    mkdir -p "$dir"
    cp -R extension/static/. "$dir/"
    # Firefox's popup instantiates the module its background page compiled (boot.js): a
    # preload of the wasm there is a read nobody uses, competing with the popup's own.
    if [ "$browser" = firefox ]; then
      sed -i '/rel="preload" href="pkg\/preview_switch_extension_bg.wasm"/d' "$dir/popup.html"
      if grep -q 'rel="preload"' "$dir/popup.html"; then
        echo "error: $dir/popup.html still preloads: the line in extension/static/popup.html changed; update this sed" >&2
        exit 1
      fi
    fi
    cp -R "$pkg" "$dir/pkg"
    # Overlays only add keys (a unit test in extension/src/lib.rs checks it).
    node -e 'const fs = require("fs");
      const [common, overlay, out] = process.argv.slice(1);
      const read = (f) => JSON.parse(fs.readFileSync(f, "utf8"));
      fs.writeFileSync(out, JSON.stringify({ ...read(common), ...read(overlay) }, null, 2) + "\n");' \
      extension/manifest/common.json "extension/manifest/$browser.json" "$dir/manifest.json"
    # Stores want manifest.json at the zip's root; -X leaves out owners and extra timestamps.
    (cd "$dir" && zip -qrX "../preview-switch-$browser-$version.zip" .)
  done
  rm -rf "$pkg"
  ln -sfn chromium "$OUT/extension"
  bg="$OUT/chromium/pkg/preview_switch_extension_bg.wasm"
  local raw gz js
  raw=$(wc -c <"$bg")
  gz=$(gzip -9 -c "$bg" | wc -c)
  js=$(gzip -9 -c "$OUT/chromium/pkg/preview_switch_extension.js" | wc -c)
  echo "extension built in $OUT/chromium and $OUT/firefox (zips: $OUT/preview-switch-{chromium,firefox}-$version.zip)"
  echo "wasm: $before bytes after wasm-bindgen, $raw after wasm-opt -Oz, $gz gzipped (budget $BUDGET); JS glue $js gzipped"
  if [ "$gz" -ge "$BUDGET" ]; then
    echo "error: the gzipped wasm is $gz bytes, over the $BUDGET-byte budget: find what grew with twiggy or cargo bloat" >&2
    exit 1
  fi
}

case "${1:-build}" in
  setup) setup ;;
  build) build ;;
  *) echo "usage: $0 [setup|build]" >&2; exit 2 ;;
esac
