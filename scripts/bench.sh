#!/usr/bin/env bash
# `make bench`: every docs/DESIGN.md §7 and §10 budget the companion owns, measured and checked by
# `bench-tool bench` (companion/examples/bench-tool/) against its baseline on the same data
# (jq, curl + jq, timed by hyperfine, peak RSS by GNU time: `scripts/setup.sh bench`
# installs them). Prints each budget with PASS or FAIL and how `list` grows with the number
# of previews; the tables are saved to target/bench/results.md for the README. Then the team
# relay's budgets (`bench-tool relay`, loaded by wrk; table in target/bench/relay.md). Exits
# non-zero when a budget is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Two builds: together, the binary would get the example's dev-dependency features; alone,
# it is the binary `make build` ships.
cargo build -q --release -p preview-switch --bin preview-switch
cargo build -q --release -p preview-switch --example bench-tool
status=0
target/release/examples/bench-tool bench target/release/preview-switch || status=$?
# The team relay: 500 previews, 200 event streams, 100 GET /v1/previews per second (wrk).
target/release/examples/bench-tool relay target/release/preview-switch 10 || status=$?
exit "$status"
