#!/usr/bin/env bash
# Does a full export move the proxy's added latency? (SPEC section 8: the logs API never runs on
# the proxy's async threads.) Not part of CI.
#
#   scripts/bench-isolation.sh            # 1,000,000 records, 10 s per run
#   N=200000 DUR=5 scripts/bench-isolation.sh
#
# Seeds N records through POST /api/logs into the gateway's embedded store, then measures
# non-stream requests at one connection straight at the mock (calibration), through the gateway,
# and through the gateway while `GET /api/export?format=jsonl` runs back to back, the whole
# store each time. The mock, the load generator and the export's client share CPU 0; the
# gateway (proxy, log writer and logs API threads) runs alone on CPU 1, so the export's work
# competes with the proxy on its one core, as on a one-CPU gateway in production.
# Output: target/bench-isolation/<stamp>/ (results.jsonl, logs) and a table on stdout.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
N="${N:-1000000}"
DUR="${DUR:-10}"
MOCK_PORT="${MOCK_PORT:-19300}"
GW_PORT="${GW_PORT:-19310}"
OUT="$ROOT/target/bench-isolation/$(date -u +%Y-%m-%dT%H%M%SZ)"
mkdir -p "$OUT"
# shellcheck source=scripts/bench/common.sh
source "$ROOT/scripts/bench/common.sh"
bench_init bench-isolation
need_release_bins

MOCK_ADDR="127.0.0.1:$MOCK_PORT" MOCK_THREADS=1 \
  taskset -c 0 timeout -k 5 3600 target/release/mock-provider >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
cat >"$OUT/switchboard.toml" <<EOF
[server]
listen = "127.0.0.1:$GW_PORT"
max_body_bytes = 16777216

[logging]
store = "sqlite://$OUT/switchboard.db"
spool_dir = "$OUT/spool"

[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"

[models."gpt-4o-mini"]
targets = [{ provider = "mock", model = "gpt-4o-mini" }]
EOF
taskset -c 1 timeout -k 5 3600 env RUST_LOG=warn target/release/switchboard serve \
  --config "$OUT/switchboard.toml" >"$OUT/gateway.log" 2>&1 &
PIDS+=($!)
wait_healthy "http://127.0.0.1:$GW_PORT"

log "seeding $N records through POST /api/logs"
taskset -c 0 python3 - "$GW_PORT" "$N" <<'EOF' || exit 1
import json, sys, urllib.request
port, n = int(sys.argv[1]), int(sys.argv[2])
batch = 2000
for start in range(0, n, batch):
    records = [{
        "model": "gpt-4o-mini", "provider_id": "mock", "status_code": 200,
        "start_time": 1767225600 + i * 0.01, "latency": 0.2, "ttft": 0.05,
        "prompt_messages": [{"role": "user", "content": f"turn {i}: what is the weather like?"}],
        "completion_message": {"role": "assistant", "content": "Sunny, 21 degrees, light wind from the west."},
        "thread_identifier": f"call-{i // 12}", "customer_identifier": f"acct-{i % 97}",
        "metadata": {"use_case": ["intent", "reply", "scam"][i % 3], "language": ["en", "es"][i % 2]},
        "prompt_tokens": 40, "completion_tokens": 12,
    } for i in range(start, min(n, start + batch))]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/logs", data=json.dumps(records).encode(),
                                     headers={"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=60).read()
EOF
# The writer inserts what was accepted: wait until it is all in the store.
for _ in $(seq 1 600); do
  written=$(curl -s "http://127.0.0.1:$GW_PORT/metrics" | awk '/^switchboard_logs_written_total/ {print $2}')
  [[ "${written:-0}" -ge "$N" ]] && break
  sleep 0.5
done
log "store holds ${written:-0} records"

run() { # $1 label, $2 url
  taskset -c 0 timeout -k 5 300 target/release/loadgen --url "$2" -c 1 -d "$DUR" --warmup 2 \
    --label "$1" >>"$OUT/results.jsonl" 2>>"$OUT/loadgen.log"
}
run direct "http://127.0.0.1:$MOCK_PORT/v1"
run gateway "http://127.0.0.1:$GW_PORT/v1"
log "exporting the whole store back to back during the next run"
(
  end=$((SECONDS + DUR + 4))
  exports=0
  while [[ $SECONDS -lt $end ]]; do
    taskset -c 0 curl -s --max-time 120 "http://127.0.0.1:$GW_PORT/api/export?format=jsonl" -o /dev/null \
      -w '%{size_download} %{time_total}\n' >>"$OUT/exports.txt"
    exports=$((exports + 1))
  done
) &
EXPORTER=$!
run "gateway during export" "http://127.0.0.1:$GW_PORT/v1"
wait "$EXPORTER"

python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/results.jsonl") if l.strip()]
by = {r["label"]: r for r in rows}
d = by["direct"]["lat_ms"]
print(f"| run | requests | p50 ms | p99 ms | added p50 ms | added p99 ms |")
print(f"|---|---|---|---|---|---|")
for label in ["direct", "gateway", "gateway during export"]:
    r = by[label]; l = r["lat_ms"]
    added = "" if label == "direct" else f"{l['p50'] - d['p50']:.3f} | {l['p99'] - d['p99']:.3f}"
    if label == "direct": added = "- | -"
    print(f"| {label} | {r['ok']} | {l['p50']:.3f} | {l['p99']:.3f} | {added} |")
exports = [l.split() for l in open(f"{out}/exports.txt") if l.strip()]
if exports:
    mb = sum(int(b) for b, _ in exports) / 1e6
    secs = sum(float(t) for _, t in exports)
    print(f"\nexports during the run: {len(exports)}, {mb:.0f} MB in {secs:.1f} s ({mb / secs:.0f} MB/s)")
EOF
log "results in $OUT"
