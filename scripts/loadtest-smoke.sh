#!/usr/bin/env bash
# CI smoke test of the load generator: starts mock-provider on a free loopback port, runs loadgen
# against it for ~2 s (open loop at a low rate, streaming; then a short closed loop), and checks
# that each JSON summary line parses and counts OK responses. No timing is asserted.
# Reuses the debug binaries of `cargo build --workspace --bins` (builds them if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug}"
if [[ ! -x $BIN/loadgen || ! -x $BIN/mock-provider ]]; then
  cargo build -q -p switchboard-loadtest --bins
fi

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOCK_ADDR="127.0.0.1:$PORT" timeout -k 2 60 "$BIN/mock-provider" >/dev/null 2>&1 &
MOCK_PID=$!
trap 'kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.05
done

CHECK_PY='
import json, sys
name = sys.argv[1]
line = sys.stdin.read().strip()
r = json.loads(line)
assert r["ok"] > 0, "%s: no OK response: %s" % (name, line)
assert r["errors"] == 0, "%s: errors: %s" % (name, line)
assert r["lat_ms"]["p50"] > 0, "%s: no latency: %s" % (name, line)
if r["stream"]:
    assert r["ttft_ms"]["p50"] > 0, "%s: no time to first token: %s" % (name, line)
print("loadtest smoke %s: ok=%d rps=%s p50=%s ms" % (name, r["ok"], r["rps"], r["lat_ms"]["p50"]))
'
check() { python3 -c "$CHECK_PY" "$1"; } # $1 = name; stdin = the JSON line

URL="http://127.0.0.1:$PORT/v1"
timeout -k 2 30 "$BIN/loadgen" --url "$URL" --model 'gpt-4o-mini?chunk_ms=1' --stream \
  --rate 50 -c 8 -d 2 --timeout 5 --label smoke-open | check open-loop-stream
timeout -k 2 30 "$BIN/loadgen" --url "$URL" -c 2 -n 100 -d 2 --timeout 5 --label smoke-closed |
  check closed-loop
