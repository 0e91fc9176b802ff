#!/usr/bin/env bash
# The two operations figures of BENCHMARKS.md (SPEC section 9). Not part of CI.
#
#   scripts/bench-operations.sh            # ~2 min after the release build
#   N=1000 RATE=300 scripts/bench-operations.sh
#
# 1. Circuit breakers: N streams (2,000) at 8 connections through a two-target chain whose
#    primary stalls before its first token on 5 % of its calls (first_token_timeout_ms = 300, a
#    healthy backup), with the breaker off (circuit_failures = 0) and on (5 consecutive
#    failures open it for 2 s). Two fault shapes: the stalls spread at random over the run, and
#    the same number of stalls in one burst (an outage of the primary's streaming endpoint:
#    its first 5 % of calls). The backup alone is the reference.
# 2. Reload under load: RATE (500) requests per second, half streams, for DUR (20) s, once
#    without reloads and once with a reload every 500 ms (POST /api/admin/reload alternating
#    two valid configs, and SIGHUP every fifth). Failed requests must be 0.
#
# The mock and the load generator share CPU 0; the gateway runs alone on CPU 1. All traffic
# stays on 127.0.0.1; every process is bounded by `timeout` and stopped by its PID.
# Output: target/bench-operations/<stamp>/ (results.jsonl, logs) and tables on stdout.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
N="${N:-2000}"
RATE="${RATE:-500}"
DUR="${DUR:-20}"
MOCK_PORT="${MOCK_PORT:-19400}"
GW_PORT="${GW_PORT:-19410}"
OUT="$ROOT/target/bench-operations/$(date -u +%Y-%m-%dT%H%M%SZ)"
mkdir -p "$OUT"
# shellcheck source=scripts/bench/common.sh
source "$ROOT/scripts/bench/common.sh"
bench_init bench-operations
need_release_bins

MOCK_ADDR="127.0.0.1:$MOCK_PORT" MOCK_THREADS=1 \
  taskset -c 0 timeout -k 5 1800 target/release/mock-provider >"$OUT/mock.log" 2>&1 &
PIDS+=($!)

# The first 5 % of the primary's calls stall in the burst shape: N/20 of them.
BURST=$((N / 20))
HEALTHY="ttft_ms=20&chunks=5&chunk_ms=5"
write_config() { # $1 extra model tables
  cat >"$OUT/switchboard.toml" <<EOF
[server]
listen = "127.0.0.1:$GW_PORT"

[logging]
store = "sqlite://$OUT/switchboard.db"
spool_dir = "$OUT/spool"

[providers.primary]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"

[providers.backup]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"

[defaults]
first_token_timeout_ms = 300
retries = 0

[models."backup-only"]
targets = [{ provider = "backup", model = "b0?$HEALTHY" }]

[models."random-off"]
targets = [{ provider = "primary", model = "p1?$HEALTHY&stall_after=0&stall_rate=0.05" }, { provider = "backup", model = "b1?$HEALTHY" }]

[models."random-on"]
targets = [{ provider = "primary", model = "p2?$HEALTHY&stall_after=0&stall_rate=0.05" }, { provider = "backup", model = "b2?$HEALTHY" }]
circuit_failures = 5
circuit_open_ms = 2000

[models."burst-off"]
targets = [{ provider = "primary", model = "p3?$HEALTHY&stall_after=0&stall_times=$BURST" }, { provider = "backup", model = "b3?$HEALTHY" }]

[models."burst-on"]
targets = [{ provider = "primary", model = "p4?$HEALTHY&stall_after=0&stall_times=$BURST" }, { provider = "backup", model = "b4?$HEALTHY" }]
circuit_failures = 5
circuit_open_ms = 2000

[models."steady"]
targets = [{ provider = "primary", model = "s?ttft_ms=20&chunks=3&chunk_ms=5" }]
$1
EOF
}

start_gateway() {
  taskset -c 1 timeout -k 5 1200 env RUST_LOG=warn target/release/switchboard serve \
    --config "$OUT/switchboard.toml" >>"$OUT/gateway.log" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  wait_healthy "http://127.0.0.1:$GW_PORT"
}

write_config ""
start_gateway

log "breaker: $N streams per run at 8 connections"
for model in backup-only random-off random-on burst-off burst-on; do
  taskset -c 0 timeout -k 5 600 target/release/loadgen --url "http://127.0.0.1:$GW_PORT/v1" \
    --model "$model" --stream -c 8 -n "$N" -d 600 --label "$model" \
    >>"$OUT/results.jsonl" 2>>"$OUT/loadgen.log"
done
curl -s "http://127.0.0.1:$GW_PORT/metrics" | grep -E '^switchboard_(circuit_transitions_total|stream_timeouts_total)' \
  >"$OUT/breaker-metrics.txt"

log "reload under load: $RATE req/s for $DUR s, without and with reloads"
load() { # $1 label, $2 stream flag ("" or --stream)
  taskset -c 0 timeout -k 5 300 target/release/loadgen --url "http://127.0.0.1:$GW_PORT/v1" \
    --model steady $2 --rate "$((RATE / 2))" -d "$DUR" --warmup 2 --label "$1" \
    >>"$OUT/results.jsonl" 2>>"$OUT/loadgen.log"
}
load "steady non-stream" "" & A=$!
load "steady stream" "--stream" & B=$!
wait $A $B

reloads=0
refused=0
(
  end=$((SECONDS + DUR + 3))
  i=0
  while [[ $SECONDS -lt $end ]]; do
    i=$((i + 1))
    if (( i % 2 )); then
      write_config $'[models."extra"]\ntargets = [{ provider = "backup", model = "x" }]'
    else
      write_config ""
    fi
    if (( i % 5 == 0 )); then
      # The switchboard process itself: `timeout` would pass a HUP on and then kill it.
      kill -HUP "$(pgrep -f "^target/release/switchboard serve --config $OUT/" | head -1)"
      echo "sighup" >>"$OUT/reloads.txt"
    else
      curl -s -o /dev/null -w '%{http_code}\n' -X POST "http://127.0.0.1:$GW_PORT/api/admin/reload" \
        >>"$OUT/reloads.txt"
    fi
    sleep 0.5
  done
) &
RELOADER=$!
load "steady non-stream, reloading" "" & A=$!
load "steady stream, reloading" "--stream" & B=$!
wait $A $B
wait "$RELOADER"
reloads=$(grep -c . "$OUT/reloads.txt")
refused=$(grep -vcE '^(200|sighup)$' "$OUT/reloads.txt")
version=$(curl -s "http://127.0.0.1:$GW_PORT/readyz")
log "reloads: $reloads ($refused not 200); /readyz: $version"

python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
rows = {r["label"]: r for r in (json.loads(l) for l in open(f"{out}/results.jsonl") if l.strip())}
print("| chain | breaker | streams | errors | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | TTFT max ms |")
print("|---|---|---|---|---|---|---|---|")
for label, chain, breaker in [("backup-only", "backup alone", "-"),
                              ("random-off", "5 % random stalls", "off"), ("random-on", "5 % random stalls", "on"),
                              ("burst-off", "5 % in one burst", "off"), ("burst-on", "5 % in one burst", "on")]:
    r = rows[label]; t = r["ttft_ms"]
    print(f"| {chain} | {breaker} | {r['ok']} | {r['errors']} | {t['p50']:.1f} | {t['p90']:.1f} | {t['p99']:.1f} | {t['max']:.1f} |")
print()
print("| run | requests | errors | p50 ms | p99 ms | max ms | TTFT p99 ms |")
print("|---|---|---|---|---|---|---|")
for label in ["steady non-stream", "steady non-stream, reloading", "steady stream", "steady stream, reloading"]:
    r = rows[label]; l = r["lat_ms"]; t = r.get("ttft_ms") or {}
    ttft = f"{t['p99']:.1f}" if t else "-"
    print(f"| {label} | {r['requests']} | {r['errors']} | {l['p50']:.1f} | {l['p99']:.1f} | {l['max']:.1f} | {ttft} |")
EOF
cat "$OUT/breaker-metrics.txt"
log "results in $OUT"
