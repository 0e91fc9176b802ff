#!/usr/bin/env bash
# CI's guard on the cost per request ([perf]): counts, with valgrind's callgrind, the
# instructions of the whole gateway process (proxy, log writer shipping to a private Redis,
# metrics) over a fixed sequence of requests against the mock provider, and fails when a figure
# grows more than 10 % over the one committed in scripts/instructions-baseline.txt.
# Instruction counts do not move with machine noise, so the guard holds on a shared CI machine
# where timings would not. ~1 to 2 minutes after its build.
#
#   scripts/instructions-guard.sh            # check against the baseline
#   UPDATE=1 scripts/instructions-guard.sh   # write the baseline (a deliberate, reviewed change)
#
# It builds the `guard` profile (release optimisations without fat LTO, so CI builds it in
# minutes; its counts are its own, not BENCHMARKS.md's fat-LTO figures). Settings: N
# non-stream requests, then N streams of 20 and N of 100 chunks at one connection; the
# difference of the two stream figures over 80 chunks is the cost of one relayed chunk.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${N:-60}"
WARM_N="${WARM_N:-20}"
UPDATE="${UPDATE:-0}"
BASELINE="$ROOT/scripts/instructions-baseline.txt"
TOLERANCE="${TOLERANCE:-0.10}"
command -v valgrind >/dev/null || { echo "instructions-guard: valgrind is not installed" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "instructions-guard: redis-server is not installed" >&2; exit 1; }

cargo build -q --profile guard -p switchboard-cli -p switchboard-loadtest --bins
BIN="${CARGO_TARGET_DIR:-target}/guard"
OUT="$(mktemp -d /tmp/switchboard-guard.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MOCK_PORT=$(free_port)
REDIS_PORT=$(free_port)
GW_PORT=$(free_port)

MOCK_ADDR="127.0.0.1:$MOCK_PORT" timeout -k 5 600 "$BIN/mock-provider" >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
timeout -k 5 600 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$OUT" >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
# shellcheck source=scripts/bench/callgrind_run.sh
source "$ROOT/scripts/bench/callgrind_run.sh"
write_callgrind_config
RUST_LOG=warn timeout -k 5 600 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$OUT/callgrind.out.%p" "$BIN/switchboard" serve \
  --config "$OUT/switchboard.toml" >"$OUT/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$GW_PORT/healthz" >/dev/null || { cat "$OUT/gateway.log" >&2; exit 1; }
# valgrind runs as the child of `timeout`: callgrind_control is pointed at it.
CG_PID=$(pgrep -P "${PIDS[-1]}" | head -1)

NS=$(callgrind_measure ns)
S20=$(callgrind_measure st20 --stream)
S100=$(callgrind_measure st100 --stream)
python3 - "$N" "$NS" "$S20" "$S100" "$BASELINE" "$UPDATE" "$TOLERANCE" <<'PY'
import sys
n, ns, s20, s100 = int(sys.argv[1]), *(int(x) for x in sys.argv[2:5])
baseline, update, tolerance = sys.argv[5], sys.argv[6] == "1", float(sys.argv[7])
now = {
    "non_stream_request": ns // n,
    "stream_20_chunks": s20 // n,
    "relayed_chunk": round((s100 - s20) / n / 80),
}
if update:
    with open(baseline, "w") as f:
        f.write("# Instructions per request of the `guard` build (scripts/instructions-guard.sh).\n")
        f.write("# CI fails when a figure grows more than 10 % over these; change them on purpose.\n")
        for key, value in now.items():
            f.write(f"{key} = {value}\n")
    print("instructions-guard: baseline written:", now)
    sys.exit(0)
committed = {}
for line in open(baseline):
    line = line.strip()
    if line and not line.startswith("#"):
        key, value = (part.strip() for part in line.split("="))
        committed[key] = int(value)
failed = False
for key, value in now.items():
    limit = committed[key] * (1 + tolerance)
    verdict = "ok" if value <= limit else "OVER"
    failed |= value > limit
    print(f"instructions-guard: {key}: {value:,} (baseline {committed[key]:,}, limit {limit:,.0f}) {verdict}")
if failed:
    print(f"instructions-guard: the cost per request grew more than {tolerance:.0%}: find the change "
          "in a profile (scripts/callgrind.sh), or commit a new baseline with UPDATE=1 on purpose",
          file=sys.stderr)
    sys.exit(1)
PY
