#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind (machine noise does not move
# them): the figure [perf] optimises. Not part of CI; ~5 min after the release build.
#
#   scripts/callgrind.sh            # N=500 requests per setting
#   OTEL=1 scripts/callgrind.sh     # the same with [otel] on, exporting every span to the
#                                   # mock provider's OTLP endpoint (its export thread counted)
#   PROMPT_BYTES=4000 scripts/callgrind.sh  # a 4 KB user message instead of loadgen's short one
#
# The gateway (release build, logging to a private redis-server, the log writer included: the
# whole process is counted) runs under callgrind with instrumentation off; the load generator
# warms it up, then instrumentation is switched on for exactly N requests at one connection and
# off again. Settings: non-stream requests; streams of 20 and of 100 chunks (their difference
# over 80 chunks is the cost of one relayed chunk). Output: target/callgrind/<stamp>/ and a
# table on stdout.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
N="${N:-500}"
WARM_N="${WARM_N:-100}"
MOCK_PORT="${MOCK_PORT:-19600}"
GW_PORT="${GW_PORT:-19610}"
REDIS_PORT="${REDIS_PORT:-19620}"
OTEL="${OTEL:-0}"
OUT="$ROOT/target/callgrind/$(date -u +%Y-%m-%dT%H%M%SZ)$([ "$OTEL" = 1 ] && echo -otel)"
mkdir -p "$OUT"
# shellcheck source=scripts/bench/common.sh
source "$ROOT/scripts/bench/common.sh"
bench_init callgrind
command -v valgrind >/dev/null || { log "valgrind is not installed"; exit 1; }
need_release_bins

MOCK_ADDR="127.0.0.1:$MOCK_PORT" timeout -k 5 1800 target/release/mock-provider >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
timeout -k 5 1800 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$OUT" >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
BIN=target/release
CG_PID=""
# shellcheck source=scripts/bench/callgrind_run.sh
source "$ROOT/scripts/bench/callgrind_run.sh"
write_callgrind_config
if [ "$OTEL" = 1 ]; then
  cat >>"$OUT/switchboard.toml" <<TOML

[otel]
endpoint = "http://127.0.0.1:$MOCK_PORT"
export_interval_ms = 200
TOML
fi
RUST_LOG=warn timeout -k 5 1800 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$OUT/callgrind.out.%p" target/release/switchboard serve \
  --config "$OUT/switchboard.toml" >"$OUT/gateway.log" 2>&1 &
GW=$!
PIDS+=($GW)
# Slow to start under valgrind: up to a minute.
wait_healthy "http://127.0.0.1:$GW_PORT" 600
# callgrind_control with no pid acts on every callgrind run: this one is the only one.

log "non-stream: $N requests"
NS=$(callgrind_measure ns)
log "streams of 20 chunks"
S20=$(callgrind_measure st20 --stream)
log "streams of 100 chunks"
S100=$(callgrind_measure st100 --stream)

python3 - "$N" "$NS" "$S20" "$S100" <<'PY'
import sys
n, ns, s20, s100 = int(sys.argv[1]), *(int(x) for x in sys.argv[2:])
import os
print("[otel] on" if os.environ.get("OTEL") == "1" else "[otel] off")
print("| setting | instructions (whole process) | per request |")
print("|---|---|---|")
print(f"| non-stream | {ns:,} | {ns // n:,} |")
print(f"| stream, 20 chunks | {s20:,} | {s20 // n:,} |")
print(f"| stream, 100 chunks | {s100:,} | {s100 // n:,} |")
print(f"\nper relayed chunk: {(s100 - s20) / n / 80:,.0f} instructions")
PY
log "results in $OUT"
