#!/usr/bin/env bash
# DESIGN §7 budgets owned by the companion, each against its baseline on the same data:
#  (a) decoding an unprojected 10,000-app ApplicationList vs jq selecting the previews;
#  (b) `preview-switch list` against a fake Argo CD holding 10,000 apps / 500 previews vs
#      curl + jq doing the same selection;
#  (c) the native host: `list` round trips over one port with a warm cache, and a fresh
#      process (one per sendNativeMessage) answering one `list` from the disk cache.
# Prints a Markdown table (also saved to target/bench/results.md) for the README.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p preview-switch --bin preview-switch --example bench-tool --example relay-bench
BIN=target/release/preview-switch
TOOL=target/release/examples/bench-tool
OUT=target/bench
mkdir -p "$OUT"
DATA=$OUT/apps-10000.json
[[ -s $DATA ]] || $TOOL gen "$DATA" 10000 500
MB=$(( $(stat -c %s "$DATA") / 1000000 ))

rss_mb() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", $1/1024}'; }
median_ms() { jq -r ".results[$1].median * 1000 | floor" "$2"; }

hyperfine -N --warmup 1 --runs 5 --export-json "$OUT/decode.json" \
  "$TOOL decode $DATA" \
  "jq '[.items[] | select(.metadata.labels.type == \"pr\")] | length' $DATA" >&2
dec_ms=$(median_ms 0 "$OUT/decode.json"); jq_ms=$(median_ms 1 "$OUT/decode.json")
dec_rss=$(rss_mb "$TOOL" decode "$DATA"); jq_rss=$(rss_mb jq '[.items[] | select(.metadata.labels.type == "pr")] | length' "$DATA")

PORTFILE=$OUT/serve.url
rm -f "$PORTFILE"
$TOOL serve "$PORTFILE" 10000 500 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s $PORTFILE ]] && break; sleep 0.1; done
URL=$(cat "$PORTFILE")
FIELDS='metadata.resourceVersion,items.metadata.name,items.metadata.namespace,items.metadata.labels,items.metadata.annotations,items.metadata.creationTimestamp,items.spec,items.status.sync.status,items.status.health,items.status.operationState.phase,items.status.summary'
hyperfine -N --warmup 1 --runs 10 --export-json "$OUT/list.json" \
  "$BIN list -o json --server $URL --auth-token bench-token" \
  "bash -c \"curl -sf -H 'Authorization: Bearer bench-token' '$URL/api/v1/applications?selector=type%3Dpr&fields=$FIELDS' | jq '[.items[] | {app: .metadata.name, pr: .metadata.labels[\\\"preview-switch.io/pr\\\"], cookie: .metadata.annotations[\\\"preview-switch.io/cookie\\\"], hosts: .metadata.annotations[\\\"preview-switch.io/hosts\\\"], health: .status.health.status}]'\"" >&2
list_ms=$(median_ms 0 "$OUT/list.json"); curl_ms=$(median_ms 1 "$OUT/list.json")
count=$($BIN list -o json --server "$URL" --auth-token bench-token | jq length)
read -r rtt_med rtt_p95 < <($TOOL host-rtt "$BIN" "$URL" 2000)
HOST=$($BIN list -o json --server "$URL" --auth-token bench-token | jq -r '.[0].routes[0].hosts[0]')
on_host=$($BIN list -o json --server "$URL" --auth-token bench-token --host "$HOST" | jq length)
read -r hrtt_med hrtt_p95 < <($TOOL host-rtt "$BIN" "$URL" 2000 "$HOST")
read -r cold_med cold_p95 < <($TOOL host-cold "$BIN" "$URL" 100)

{
  echo "| budget | preview-switch | baseline | ratio |"
  echo "| --- | --- | --- | --- |"
  echo "| (a) decode a ${MB} MB, 10,000-app ApplicationList, keep the 500 previews | ${dec_ms} ms, peak RSS ${dec_rss} MB | jq: ${jq_ms} ms, peak RSS ${jq_rss} MB | $(awk "BEGIN{printf \"%.1fx faster\", $jq_ms/$dec_ms}") |"
  echo "| (b) \`list -o json\` against the fake with 10,000 apps / 500 previews (${count} listed) | ${list_ms} ms | curl + jq: ${curl_ms} ms | $(awk "BEGIN{printf \"%.1fx\", $curl_ms/$list_ms}") |"
  echo "| native host \`list {host}\` round trip over one port, warm cache (${on_host} previews on the host, as the popup asks) (budget: median < 2 ms) | median ${hrtt_med} ms, p95 ${hrtt_p95} ms | | |"
  echo "| native host \`list\` of all ${count} previews over one port, warm cache (one ~0.5 MB frame) | median ${rtt_med} ms, p95 ${rtt_p95} ms | | |"
  echo "| fresh host process to its first \`list\` answer from the disk cache (budget: median < 20 ms) | median ${cold_med} ms, p95 ${cold_p95} ms | | |"
} | tee "$OUT/results.md"

# The team relay: 500 previews, 200 event streams, 100 GET /v1/previews per second (wrk);
# PASS or FAIL per budget, saved to target/bench/relay.md; exits 1 on a miss.
target/release/examples/relay-bench "$BIN" 10
