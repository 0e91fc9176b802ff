#!/usr/bin/env bash
# The voice-tail figures of BENCHMARKS.md (SPEC section 10). Not part of CI.
#
#   scripts/bench-tail.sh              # ~1 min after the release build
#   N=1000 scripts/bench-tail.sh
#
# N (200) streams per row at 8 connections, after WARM_N (40) warm-up streams per row (so
# "auto" has its window). The primary answers its first token after 20 ms, except every 20th
# call, which waits 3 s; the backup is healthy (20 ms). Rows: the backup alone; timeout only
# (first_token_timeout_ms = 300); a fixed hedge at 100 ms; "auto" (the primary's own p95,
# floored at the default hedge_min_ms = 50, and at 20).
#
# Then the mid-stream scenario: N streams of 10 chunks 10 ms apart, 5 % of which stall after
# 3 chunks (stall_timeout_ms = 300), with an Anthropic-kind backup (prefill by default);
# `mid_stream = "error"` against `"continue"`: the share of calls the caller saw complete. Extra upstream calls are counted from the records (every
# attempt past the first of a request). The mock and the load generator share CPU 0; the
# gateway runs alone on CPU 1; all on 127.0.0.1, every process bounded by `timeout`.
# Output: target/bench-tail/<stamp>/ and a table on stdout.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
N="${N:-200}"
WARM_N="${WARM_N:-40}"
MOCK_PORT="${MOCK_PORT:-19500}"
GW_PORT="${GW_PORT:-19510}"
OUT="$ROOT/target/bench-tail/$(date -u +%Y-%m-%dT%H%M%SZ)"
mkdir -p "$OUT"
# shellcheck source=scripts/bench/common.sh
source "$ROOT/scripts/bench/common.sh"
bench_init bench-tail
need_release_bins

MOCK_ADDR="127.0.0.1:$MOCK_PORT" MOCK_THREADS=1 \
  taskset -c 0 timeout -k 5 900 target/release/mock-provider >"$OUT/mock.log" 2>&1 &
PIDS+=($!)

PRIMARY="ttft_ms=20&slow_every=20&slow_ms=3000&chunks=5&chunk_ms=5"
BACKUP="ttft_ms=20&chunks=5&chunk_ms=5"
MIDSTREAM="ttft_ms=20&chunks=10&chunk_ms=10&stall_after=3&stall_rate=0.05"
MIDSTREAM_BACKUP="ttft_ms=20&chunks=10&chunk_ms=10"
cat >"$OUT/switchboard.toml" <<TOML
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

[providers.claude]
kind = "anthropic"
base_url = "http://127.0.0.1:$MOCK_PORT"
api_key = "sk-ant-bench"

[defaults]
first_token_timeout_ms = 300
retries = 0

[models."backup-alone"]
targets = [{ provider = "backup", model = "b0?$BACKUP" }]

[models."timeout-only"]
targets = [{ provider = "primary", model = "p1?$PRIMARY" }, { provider = "backup", model = "b1?$BACKUP" }]

[models."hedge-100ms"]
targets = [{ provider = "primary", model = "p2?$PRIMARY" }, { provider = "backup", model = "b2?$BACKUP" }]
hedge_after_ms = 100

[models."hedge-auto"]
targets = [{ provider = "primary", model = "p3?$PRIMARY" }, { provider = "backup", model = "b3?$BACKUP" }]
hedge_after_ms = "auto"

[models."hedge-auto-min20"]
targets = [{ provider = "primary", model = "p4?$PRIMARY" }, { provider = "backup", model = "b4?$BACKUP" }]
hedge_after_ms = "auto"
hedge_min_ms = 20

[models."midstream-error"]
targets = [{ provider = "primary", model = "m1?$MIDSTREAM" }, { provider = "claude", model = "c1?$MIDSTREAM_BACKUP" }]
stall_timeout_ms = 300

[models."midstream-continue"]
targets = [{ provider = "primary", model = "m2?$MIDSTREAM" }, { provider = "claude", model = "c2?$MIDSTREAM_BACKUP" }]
stall_timeout_ms = 300
mid_stream = "continue"
TOML
taskset -c 1 timeout -k 5 900 env RUST_LOG=warn target/release/switchboard serve \
  --config "$OUT/switchboard.toml" >"$OUT/gateway.log" 2>&1 &
PIDS+=($!)
wait_healthy "http://127.0.0.1:$GW_PORT"

for model in backup-alone timeout-only hedge-100ms hedge-auto hedge-auto-min20; do
  log "$model: $WARM_N warm-up streams, then $N measured"
  taskset -c 0 timeout -k 5 300 target/release/loadgen --url "http://127.0.0.1:$GW_PORT/v1" \
    --model "$model" --stream -c 8 -n "$WARM_N" -d 300 --label "warm $model" \
    >>"$OUT/warmup.jsonl" 2>>"$OUT/loadgen.log"
  taskset -c 0 timeout -k 5 300 target/release/loadgen --url "http://127.0.0.1:$GW_PORT/v1" \
    --model "$model" --stream -c 8 -n "$N" -d 300 --label "$model" \
    >>"$OUT/results.jsonl" 2>>"$OUT/loadgen.log"
done
for model in midstream-error midstream-continue; do
  log "$model: $N streams"
  taskset -c 0 timeout -k 5 300 target/release/loadgen --url "http://127.0.0.1:$GW_PORT/v1" \
    --model "$model" --stream -c 8 -n "$N" -d 300 --label "$model" \
    >>"$OUT/results.jsonl" 2>>"$OUT/loadgen.log"
done
sleep 1
curl -s "http://127.0.0.1:$GW_PORT/api/export?format=jsonl" >"$OUT/records.jsonl"
curl -s "http://127.0.0.1:$GW_PORT/metrics" | grep -E '^switchboard_(hedges|continuations)_total' >"$OUT/hedges.txt"

python3 - "$OUT" "$WARM_N" <<'PY'
import json, sys
out, warm = sys.argv[1], int(sys.argv[2])
rows = {r["label"]: r for r in (json.loads(l) for l in open(f"{out}/results.jsonl") if l.strip())}
records = [json.loads(l) for l in open(f"{out}/records.jsonl") if l.strip()]
by_model = {}
for r in sorted(records, key=lambda r: r["start_time"]):
    by_model.setdefault(r["model"], []).append(r)
print("| policy | streams | errors | TTFT p50 ms | p95 ms | p99 ms | max ms | extra upstream calls | hedged |")
print("|---|---|---|---|---|---|---|---|---|")
for model in ["backup-alone", "timeout-only", "hedge-100ms", "hedge-auto", "hedge-auto-min20"]:
    r = rows[model]; t = r["ttft_ms"]
    measured = by_model.get(model, [])[warm:]
    extra = sum(len(x.get("attempts", [])) - 1 for x in measured)
    hedged = sum(1 for x in measured if any(a.get("hedge") for a in x.get("attempts", [])))
    share = f"{extra} ({100 * extra / max(1, len(measured)):.1f} %)"
    print(f"| {model} | {r['ok']} | {r['errors']} | {t['p50']:.1f} | {t['p95']:.1f} | {t['p99']:.1f} | {t['max']:.1f} | {share} | {hedged} |")
print()
print("| mid_stream | streams | complete for the caller | ended with an error event | continued (records) | stalled (records) | complete text in every continued record |")
print("|---|---|---|---|---|---|---|")
for model in ["midstream-error", "midstream-continue"]:
    r = rows[model]
    recs = by_model.get(model, [])
    continued = [x for x in recs if x.get("continued")]
    stalled = sum(1 for x in recs if any(a.get("error_kind") == "stall" for a in x.get("attempts", [])))
    # The text of a healthy stream of the same model: what a continued one must read as.
    healthy = next((x["output"]["content"] for x in recs if not x.get("continued")
                    and x.get("status") == "success" and x.get("output")), None)
    whole = all((x.get("output") or {}).get("content") == healthy for x in continued)
    share = 100 * r["ok"] / max(1, r["requests"])
    print(f"| {model.split('-')[1]} | {r['requests']} | {r['ok']} ({share:.1f} %) | {r['errors']} | {len(continued)} | {stalled} | {whole} |")
PY
cat "$OUT/hedges.txt"
log "results in $OUT"
