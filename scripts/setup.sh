#!/usr/bin/env bash
# Installs what building and testing Preview Switch needs on Debian 12, idempotently: each
# step checks first and costs nothing when already done. Called by `make setup`.
#   scripts/setup.sh            toolchain pieces for build, run and test
#   scripts/setup.sh bench      plus the tools the benchmarks compare against or load with (jq, curl,
#                               hyperfine, GNU time, wrk)
#   scripts/setup.sh dist       plus what packing the release needs (lintian, dpkg-shlibdeps)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Node.js that the end-to-end suite needs: playwright-core's engines say >= 20 (and it
# refuses to start on less), while Debian 12's own nodejs is 18. An older node gets the
# official Node.js build from the npm registry (package node-linux-<arch>, the binary that
# nodejs.org ships) in .tools/node; the Makefile puts .tools/node/bin first on PATH.
NODE_PIN=20.20.2

want_apt=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || want_apt+=("$2"); }

# curl: the share-link test follows a link with it, a cookie jar and all
# (companion/tests/it/share.rs).
need_cmd curl curl
need_cmd pkg-config pkg-config
# The extension's build (npm: wasm-opt; zip for the store packages, jq for the lint report),
# its glue tests (chromedriver) and its end-to-end suites (Debian's Chromium and Firefox ESR,
# nginx as the cookie router, openssl for its throwaway certificate).
need_cmd node nodejs
need_cmd npm npm
need_cmd openssl openssl
need_cmd zip zip
need_cmd jq jq
[[ -x /usr/bin/chromium ]] || want_apt+=(chromium)
[[ -x /usr/bin/chromedriver ]] || want_apt+=(chromium-driver)
# Debian 12's security suite carries the current ESR (153 when written); the base suite an
# older one (140, the build's strict_min_version). apt takes the newest it sees.
[[ -x /usr/bin/firefox-esr ]] || want_apt+=(firefox-esr)
# The Korean language pack: the suite runs the popup in Korean in Firefox too (e2e/korean).
[[ -f /usr/lib/firefox-esr/browser/extensions/langpack-ko@firefox-esr.mozilla.org.xpi ]] || want_apt+=(firefox-esr-l10n-ko)
# A Korean font, or the Korean popup's screenshot (README) shows empty boxes.
[[ -d /usr/share/fonts/truetype/nanum ]] || want_apt+=(fonts-nanum)
[[ -x /usr/sbin/nginx ]] || want_apt+=(nginx)
# `make lint` checks the companion for Windows: ring's build script compiles C with
# Debian's mingw-w64 even for `cargo clippy --target x86_64-pc-windows-gnu`.
need_cmd x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
if [[ "${1:-}" == bench ]]; then
  need_cmd jq jq
  need_cmd hyperfine hyperfine
  [[ -x /usr/bin/time ]] || want_apt+=(time)
  # The relay bench's HTTP load generator.
  need_cmd wrk wrk
fi

if [[ "${1:-}" == dist ]]; then
  need_cmd lintian lintian
  need_cmd dpkg-shlibdeps dpkg-dev
fi

if ((${#want_apt[@]})); then
  echo "setup: installing Debian packages: ${want_apt[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  # RUNLEVEL=1: do not start the nginx system service; the suite runs its own nginx.
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${want_apt[@]}" >/dev/null
fi

# Rust pieces: clippy and rustfmt for lint, the wasm32 target for the extension.
installed_components=$(rustup component list --installed)
for c in clippy rustfmt; do
  grep -q "^$c" <<<"$installed_components" || rustup component add "$c"
done
installed_targets=$(rustup target list --installed)
for t in wasm32-unknown-unknown x86_64-pc-windows-gnu; do
  grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)) && [[ ! -x .tools/node/bin/node ]]; then
  case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "error: node $(node --version) is older than 20 and no Node.js build for $(uname -m) is on the npm registry: install Node.js 20 or newer yourself" >&2; exit 1 ;;
  esac
  echo "setup: node $(node --version) is older than the 20 that playwright-core needs: installing Node.js $NODE_PIN (npm package node-linux-$arch) into .tools/node" >&2
  tmp=$(mktemp -d)
  npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund "node-linux-$arch@$NODE_PIN" >/dev/null
  mkdir -p .tools
  rm -rf .tools/node
  mv "$tmp/node_modules/node-linux-$arch" .tools/node
  rm -rf "$tmp"
fi
export PATH="$PWD/.tools/node/bin:$PATH"

# Node packages (wasm-opt, playwright-core, puppeteer-core, web-ext; never a browser
# download): only when node_modules is missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
