#!/usr/bin/env bash
# Popup open to rows on the real toolbar popup, in Chromium and in Firefox (DESIGN §7 budget
# 100 ms; issue 12): runs the two end-to-end timing scenarios (9 openings each, after the
# suites' worlds start) and prints their medians from target/e2e/metrics.json. `make bench`
# calls it; `make test` records the same numbers.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p preview-switch --bin preview-switch --example e2e-fake
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! node --test --test-concurrency=1 --test-name-pattern="draws the cached rows" e2e/ >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: the popup timing scenarios failed: see above" >&2
  exit 1
fi
jq -r '
  def line($b): "  \($b): click -> rows median \(.[$b].popup_click_to_rows_ms.median) ms (min \(.[$b].popup_click_to_rows_ms.min), max \(.[$b].popup_click_to_rows_ms.max)); page start -> rows median \(.[$b].popup_page_start_to_rows_ms.median) ms   [\(.[$b].browser)]";
  "popup open to rows, real toolbar popup, \(.chromium.popup_click_to_rows_ms.samples | length) openings each (budget \(.popup_budget_ms) ms):",
  line("chromium"), line("firefox")' target/e2e/metrics.json
