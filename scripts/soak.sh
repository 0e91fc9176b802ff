#!/usr/bin/env bash
# Soak: a steady open-loop load with provider faults and hostile clients for SOAK_MIN minutes
# (default 30), RSS sampled every 10 s. Not part of CI. Prints the RSS slope after warm-up, the
# client-side errors by kind, and whether every request left exactly one record.
#
#   scripts/soak.sh                  # 30 minutes
#   SOAK_MIN=3 RATE=200 scripts/soak.sh
#
# Provider faults (mock directives): 503s, 429s, stalls before the first token and after it,
# cut streams, bodies past max_upstream_body_bytes; each falls back to a healthy target.
# Hostile clients (scripts/soak_hostile.py): slow heads, idle sockets, garbage bodies, clients
# that hang up mid-stream. Records go to a private redis-server; the gateway runs alone on CPU 1.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
SOAK_MIN="${SOAK_MIN:-30}"
RATE="${RATE:-300}"
MOCK_PORT="${MOCK_PORT:-19400}"
GW_PORT="${GW_PORT:-19410}"
REDIS_PORT="${REDIS_PORT:-19420}"
OUT="$ROOT/target/soak/$(date -u +%Y-%m-%dT%H%M%SZ)"
SECS=$((SOAK_MIN * 60))
mkdir -p "$OUT"
log() { printf '[soak %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

if [[ ! -x target/release/switchboard || ! -x target/release/mock-provider || ! -x target/release/loadgen ]]; then
  log "building release binaries"
  cargo build --release -q -p switchboard-cli -p switchboard-loadtest --bins || exit 1
fi
command -v redis-server >/dev/null || { log "redis-server missing: apt-get install -y redis-server"; exit 1; }

taskset -c 0 timeout -k 5 $((SECS + 600)) redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save '' --appendonly no --dir "$OUT" >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
MOCK_ADDR="127.0.0.1:$MOCK_PORT" MOCK_THREADS=1 MOCK_CHUNKS=10 MOCK_CHUNK_MS=5 \
  taskset -c 0 timeout -k 5 $((SECS + 600)) target/release/mock-provider >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
HUGE=$(python3 -c 'print("x" * 70000)')
cat >"$OUT/switchboard.toml" <<EOF
[server]
listen = "127.0.0.1:$GW_PORT"
header_timeout_ms = 2000
idle_timeout_ms = 10000
max_upstream_body_bytes = 65536

[logging]
redis_url = "redis://127.0.0.1:$REDIS_PORT"
spool_dir = "$OUT/spool"
max_stream_len = 100000000

[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"

[models.soak]
targets = [
  { provider = "mock", model = "a?fail=503&fail_rate=0.03&stall_after=0&stall_rate=0.02" },
  { provider = "mock", model = "b?fail=429&fail_rate=0.05" },
  { provider = "mock", model = "c" },
]
retries = 0
first_token_timeout_ms = 300
stall_timeout_ms = 300
timeout_ms = 2000

[models.midstall]
targets = [{ provider = "mock", model = "d?stall_after=3&stall_rate=0.05" }]
stall_timeout_ms = 300

[models.cut]
targets = [{ provider = "mock", model = "f?drop_after=0&drop_times=1000000000" }, { provider = "mock", model = "c" }]
retries = 0

[models.huge]
targets = [{ provider = "mock", model = "e?chunks=1&content=$HUGE" }, { provider = "mock", model = "c" }]
retries = 0
EOF
taskset -c 1 timeout -k 5 $((SECS + 600)) env RUST_LOG=warn target/release/switchboard serve \
  --config "$OUT/switchboard.toml" >"$OUT/gateway.log" 2>&1 &
GW=$!
PIDS+=("$GW")
for _ in $(seq 1 100); do
  curl -sf --max-time 1 "http://127.0.0.1:$GW_PORT/healthz" >/dev/null && break
  sleep 0.1
done
GW_REAL=$(pgrep -P "$GW" -f "switchboard serve" | head -1)
GW_REAL=${GW_REAL:-$GW}

URL="http://127.0.0.1:$GW_PORT/v1"
lg() { taskset -c 0 timeout -k 5 $((SECS + 120)) target/release/loadgen --url "$URL" -d "$SECS" --timeout 10 "$@"; }
log "soaking for $SOAK_MIN min at $RATE req/s (+ hostile clients); out: $OUT"
lg --model soak --rate $((RATE / 2)) --stream --label stream >"$OUT/stream.json" 2>"$OUT/stream.log" &
L1=$!
lg --model soak --rate $((RATE / 4)) --label nonstream >"$OUT/nonstream.json" 2>"$OUT/nonstream.log" &
L2=$!
lg --model midstall --rate $((RATE / 8)) --stream --label midstall >"$OUT/midstall.json" 2>"$OUT/midstall.log" &
L3=$!
lg --model huge --rate 10 --label huge >"$OUT/huge.json" 2>"$OUT/huge.log" &
L4=$!
lg --model cut --rate 10 --stream --label cut >"$OUT/cut.json" 2>"$OUT/cut.log" &
L6=$!
taskset -c 0 timeout -k 5 $((SECS + 120)) python3 scripts/soak_hostile.py "$GW_PORT" "$SECS" >"$OUT/hostile.json" 2>"$OUT/hostile.log" &
L5=$!
PIDS+=("$L1" "$L2" "$L3" "$L4" "$L5" "$L6")

echo "t_s,rss_kb" >"$OUT/rss.csv"
start=$SECONDS
while [[ $((SECONDS - start)) -lt $SECS ]]; do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$GW_REAL/status" 2>/dev/null)
  echo "$((SECONDS - start)),${rss:-0}" >>"$OUT/rss.csv"
  sleep 10
done
wait "$L1" "$L2" "$L3" "$L4" "$L5" "$L6"
sleep 3
curl -s "http://127.0.0.1:$GW_PORT/metrics" >"$OUT/metrics.txt"
records=$(redis-cli -p "$REDIS_PORT" XLEN switchboard:logs)

python3 - "$OUT" "$records" <<'EOF'
import csv, json, sys
out, records = sys.argv[1], int(sys.argv[2])
rows = [(int(r["t_s"]), int(r["rss_kb"])) for r in csv.DictReader(open(f"{out}/rss.csv")) if int(r["rss_kb"]) > 0]
warm = [r for r in rows if r[0] >= 120] or rows
n = len(warm)
mx = sum(t for t, _ in warm) / n; my = sum(k for _, k in warm) / n
var = sum((t - mx) ** 2 for t, _ in warm) or 1
slope = sum((t - mx) * (k - my) for t, k in warm) / var  # KB per second
print(f"RSS after warm-up: {min(k for _, k in warm) / 1024:.1f} to {max(k for _, k in warm) / 1024:.1f} MB, "
      f"slope {slope * 60:.2f} KB/min over {n} samples")
total, kinds = 0, {}
for name in ["stream", "nonstream", "midstall", "huge", "cut"]:
    r = json.loads(open(f"{out}/{name}.json").read().strip().splitlines()[-1])
    total += r["requests"]
    for k, v in (r["error_kinds"] or {}).items():
        kinds[f"{name}:{k}"] = kinds.get(f"{name}:{k}", 0) + v
    print(f"{name}: {r['requests']} requests, {r['ok']} ok, {r['rps']} req/s, p50 {r['lat_ms']['p50']:.1f} ms, p99 {r['lat_ms']['p99']:.1f} ms")
hostile = json.loads(open(f"{out}/hostile.json").read())
print(f"hostile clients: {hostile}")
expected = total + hostile["chat_requests"]
print(f"client-side errors by kind: {kinds or 'none'}")
print(f"records in the stream: {records}; requests that should have one: {expected}; "
      f"{'every request has its record' if records == expected else 'MISMATCH'}")
EOF
log "done; results in $OUT"
