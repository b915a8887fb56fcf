#!/usr/bin/env bash
# Installs what building and testing Preview Switch needs on Debian 12, idempotently: each
# step checks first and costs nothing when already done. Called by `make setup`.
#   scripts/setup.sh            toolchain pieces for build, run and test
#   scripts/setup.sh bench      plus the tools the benchmarks compare against or load with (jq, curl,
#                               hyperfine, GNU time, wrk)
set -euo pipefail

want_apt=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || want_apt+=("$2"); }

need_cmd curl curl
need_cmd pkg-config pkg-config
# The extension's build (npm: wasm-opt), its glue tests (chromedriver) and its end-to-end
# suite (Debian's Chromium, nginx as the cookie router, openssl for its throwaway certificate).
need_cmd node nodejs
need_cmd npm npm
need_cmd openssl openssl
[[ -x /usr/bin/chromium ]] || want_apt+=(chromium)
[[ -x /usr/bin/chromedriver ]] || want_apt+=(chromium-driver)
[[ -x /usr/sbin/nginx ]] || want_apt+=(nginx)
if [[ "${1:-}" == bench ]]; then
  need_cmd jq jq
  need_cmd hyperfine hyperfine
  [[ -x /usr/bin/time ]] || want_apt+=(time)
  # The relay bench's HTTP load generator.
  need_cmd wrk wrk
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
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# Node packages (wasm-opt, playwright-core; never a browser download): only when
# node_modules is missing or older than the lock file.
cd "$(dirname "$0")/.."
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
