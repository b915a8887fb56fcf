#!/usr/bin/env bash
# Mozilla's own validator (web-ext lint = addons-linter, the checks addons.mozilla.org runs)
# over the Firefox build. Fails on any error and on any warning not justified below.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${1:-dist/firefox}
# Each accepted warning code, and why:
JUSTIFIED=(
  # gecko.data_collection_permissions exists from Firefox 140 on desktop but 142 on
  # Android. Android is not a target: Firefox for Android has no native messaging, so the
  # extension could not reach its companion there. Declaring gecko_android would claim it.
  KEY_FIREFOX_ANDROID_UNSUPPORTED_BY_MIN_VERSION
)

[[ -f "$DIR/manifest.json" ]] || { echo "error: $DIR/manifest.json is missing: run make build-extension" >&2; exit 1; }
report=$(node_modules/.bin/web-ext lint --source-dir "$DIR" --no-config-discovery --output json || true)
allowed=$(printf '%s\n' "${JUSTIFIED[@]}" | jq -R . | jq -s .)
verdict=$(jq --argjson allowed "$allowed" '{
  errors: [.errors[] | "\(.code): \(.message) (\(.file // "-"))"],
  unjustified: [.warnings[] | select(.code as $c | $allowed | index($c) | not) | "\(.code): \(.message) (\(.file // "-"))"],
  justified: [.warnings[] | select(.code as $c | $allowed | index($c)) | .code]
}' <<<"$report") || { echo "error: web-ext lint gave no JSON report:" >&2; echo "$report" >&2; exit 1; }
jq -r '(.errors + .unjustified)[] | "web-ext lint: \(.)"' <<<"$verdict" >&2
if jq -e '(.errors + .unjustified) | length > 0' <<<"$verdict" >/dev/null; then
  echo "error: web-ext lint found problems in $DIR: fix them, or justify a warning in scripts/lint-firefox.sh" >&2
  exit 1
fi
echo "web-ext lint $DIR: 0 errors, 0 unjustified warnings (justified: $(jq -r '.justified | join(", ") | if . == "" then "none" else . end' <<<"$verdict"))"
