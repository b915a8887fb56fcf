#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 60) each, seeded from fuzz/seeds/
# (golden protocol files and Argo CD fixtures), and prints one summary line per target:
# executions and crashes. Exit 1 if any target crashed; the crashing input is kept under
# fuzz/artifacts/<target>/ (replay: cargo +nightly fuzz run <target> <file>).
#
#   FUZZ_SECONDS=300 make fuzz        # longer run
#   FUZZ_TARGETS="list_decoder" make fuzz
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-frame_decoder request_parser list_decoder cookie_regex}"
# Each run caps a single input's memory; the decoder's own caps keep it far below.
rss_mb="${FUZZ_RSS_MB:-2048}"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "error: cargo-fuzz needs the nightly toolchain: run rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io (once)" >&2
  cargo install cargo-fuzz --locked
fi

cd fuzz
cargo +nightly fuzz build -O >&2
failed=0
summary=()
for t in $targets; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  log="$(mktemp)"
  set +e
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -max_len=1100000 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  crashes="$(ls "artifacts/$t" 2>/dev/null | grep -c -E '^(crash|oom|timeout|leak)-' || true)"
  if [ "$rc" -ne 0 ]; then
    failed=1
    tail -40 "$log" >&2
  fi
  summary+=("$t: ${execs:-0} executions in ${seconds} s, exit $rc, ${crashes} crash artifacts")
  rm -f "$log"
done
printf '%s\n' "${summary[@]}"
exit "$failed"
