#!/usr/bin/env bash
# Reproduces BENCHMARKS.md: the gateway's cost on one core, measured against the mock provider.
#
#   scripts/bench.sh                    # everything, ~12 min (+3 min the first time peers install)
#   PEERS=0 PROFILE=0 scripts/bench.sh  # our settings only, ~7 min
#   SETTINGS="ns_c1 st_c64" DUR=5 WRITE=0 scripts/bench.sh
#
# Layout (2 cores): mock-provider, loadgen and the private redis-server share CPU 0; the gateway
# (`switchboard serve`, and `switchboard consume` for the consumer figure) runs alone on CPU 1.
# Every setting runs first straight at the mock (calibration, "direct"), then through a fresh
# gateway process; the gateway's figures are reported as gateway minus direct per percentile.
# All traffic stays on 127.0.0.1; every process and every load loop is bounded by `timeout`
# and by count or duration; every process started here is stopped by its PID.
#
# Output: target/bench/<stamp>/ (results.jsonl, logs, profiles, report.md); with WRITE=1 the
# generated part of BENCHMARKS.md (between the bench:begin/bench:end markers) is replaced.
#
# Knobs: DUR (8 s measured per run), WARM (2 s warm-up run before each), SETTINGS, PEERS (1),
# PROFILE (1), WRITE (1), MOCK_CPU (0), GW_CPU (1), MOCK_PORT (19000), GW_PORT (19100),
# REDIS_PORT (19200), LONG_CHUNK_MS (500), CONSUME_N (100000), SWITCHBOARD_BIN (default:
# target/release/switchboard, built here; SWITCHBOARD_COMMIT / SWITCHBOARD_DIRTY then label it),
# PEER_DUR (6), PEER_WARM (2), PEER_GATEWAYS, OTEL (0; 1: every gateway run exports its spans
# with [otel] to the mock provider's OTLP endpoint, the export thread on the gateway's CPU).
set -uo pipefail
# The whole script is one brace group, parsed before it runs: editing this file while a run is
# going does not change what that run does.
{

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
HELPERS="$ROOT/scripts/bench"

DUR="${DUR:-8}"
WARM="${WARM:-2}"
MOCK_CPU="${MOCK_CPU:-0}"
GW_CPU="${GW_CPU:-1}"
MOCK_PORT="${MOCK_PORT:-19000}"
GW_PORT="${GW_PORT:-19100}"
REDIS_PORT="${REDIS_PORT:-19200}"
LONG_CHUNK_MS="${LONG_CHUNK_MS:-500}"
CONSUME_N="${CONSUME_N:-100000}"
PEERS="${PEERS:-1}"
PEER_DUR="${PEER_DUR:-6}"
PEER_WARM="${PEER_WARM:-2}"
PEER_GATEWAYS="${PEER_GATEWAYS:-direct litellm portkey ours ours@redis}"
PROFILE="${PROFILE:-1}"
OTEL="${OTEL:-0}"
WRITE="${WRITE:-1}"
ALL_SETTINGS="ns_c1 ns_c64 ns_c256 open_5k st_c1 st_c64 rss_1k rss_5k fault_ns fault_st pipeline"
SETTINGS="${SETTINGS:-$ALL_SETTINGS}"
STAMP="$(date -u +%Y-%m-%dT%H%M%SZ)"
OUT="${OUT:-$ROOT/target/bench/$STAMP}"
RESULTS="$OUT/results.jsonl"
CLK_TCK=$(getconf CLK_TCK)
T_START=$(date +%s)

# The fault mix: 3 % answered 503, 2 % stalled before the first token (held 60 s by the mock).
FAULTY_PRIMARY="gpt-4o-mini?fail=503&fail_rate=0.03&stall_after=0&stall_rate=0.02&chunk_ms=5"

mkdir -p "$OUT"
: >"$RESULTS"
log() { printf '[%4ss] %s\n' "$(($(date +%s) - T_START))" "$*" >&2; }
want() { [[ " $SETTINGS " == *" $1 "* ]]; }

# Up to the hard limit: 5,000 streams need ~10,000 descriptors in the gateway.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ------------------------------------------------------------------ build
if [[ -z ${SWITCHBOARD_BIN:-} ]]; then
  log "building release binaries (switchboard, mock-provider, loadgen)"
  cargo build --release -q --bin switchboard -p switchboard-cli || { log "gateway build failed"; exit 1; }
  SWITCHBOARD_BIN="$ROOT/target/release/switchboard"
else
  log "gateway binary: $SWITCHBOARD_BIN"
fi
cargo build --release -q -p switchboard-loadtest --bins || { log "loadtest build failed"; exit 1; }
MOCK_BIN="$ROOT/target/release/mock-provider"
LOADGEN="$ROOT/target/release/loadgen"

# ---------------------------------------------------------------- helpers
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$MOCK_PORT" "$GW_PORT" "$REDIS_PORT"; do
  if port_busy "$p"; then log "port $p is in use; set MOCK_PORT/GW_PORT/REDIS_PORT"; exit 1; fi
done

child_of() { # the process `timeout` runs
  local i c
  for i in $(seq 1 50); do
    c=$(ps -o pid= --ppid "$1" 2>/dev/null | head -1 | tr -d ' ')
    [[ -n $c ]] && { echo "$c"; return 0; }
    sleep 0.02
  done
  echo "$1"
}
cpu_ticks() { # utime+stime of every thread of $1, in clock ticks
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo $((${12} + ${13}))
}
thread_ticks() { # utime+stime of the threads of $1 named $2 (e.g. the log writer)
  local t=0 d s
  for d in /proc/"$1"/task/*; do
    [[ $(cat "$d/comm" 2>/dev/null) == "$2" ]] || continue
    s=$(cat "$d/stat" 2>/dev/null) || continue
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    t=$((t + ${12} + ${13}))
  done
  echo "$t"
}
cpu_busy() { # busy ticks of CPU $1 (user nice system irq softirq steal), from /proc/stat
  awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
stop_pid() { # TERM, then KILL after 10 s
  local pid=$1 i
  [[ -n $pid && -d /proc/$pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 100); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
metric() { # sum of a Prometheus counter/gauge of the running gateway
  curl -s --max-time 2 "http://127.0.0.1:$GW_PORT/metrics" |
    awk -v m="$1" 'index($0, m) == 1 && ($0 ~ "^" m "[{ ]") {s += $NF} END {printf "%d\n", s}'
}
rcli() { timeout 10 redis-cli -p "$REDIS_PORT" "$@"; }

MOCK_PID=""; REDIS_PID=""; GW_PID=""; GW_REAL=""; CONSUMER_PID=""
cleanup() {
  stop_pid "$CONSUMER_PID"; stop_pid "$GW_PID"; stop_pid "$MOCK_PID"; stop_pid "$REDIS_PID"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ------------------------------------------------------------ machine info
{
  jq -cn --arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
    --arg nproc "$(nproc)" --arg kernel "$(uname -r)" \
    --arg mem "$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
    --arg rustc "$(rustc --version)" --arg commit "${SWITCHBOARD_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null)}" \
    --arg dirty "${SWITCHBOARD_DIRTY:-$(git status --porcelain 2>/dev/null | grep -qv '^??' && echo yes || echo no)}" \
    --arg gw "$("$SWITCHBOARD_BIN" --version 2>/dev/null | head -1)" --arg bin "$SWITCHBOARD_BIN" \
    --arg redis "$(redis-server --version 2>/dev/null | awk '{print $3}')" \
    --arg stamp "$STAMP" --argjson dur "$DUR" --argjson warm "$WARM" \
    '{kind:"machine", cpu:$cpu, nproc:($nproc|tonumber), kernel:$kernel, mem:$mem, rustc:$rustc,
      commit:$commit, worktree_dirty:$dirty, gateway:$gw, gateway_bin:$bin, redis:$redis,
      stamp:$stamp, dur_s:$dur, warm_s:$warm}'
} >>"$RESULTS"

# ---------------------------------------------------------- mock and redis
command -v redis-server >/dev/null || { log "redis-server missing: apt-get install -y redis-server"; exit 1; }
taskset -c "$MOCK_CPU" timeout -k 5 3600 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save '' --appendonly no --dir "$OUT" >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
MOCK_ADDR="127.0.0.1:$MOCK_PORT" MOCK_CHUNKS=20 MOCK_CHUNK_MS=0 MOCK_TTFT_MS=0 MOCK_THREADS=1 \
  taskset -c "$MOCK_CPU" timeout -k 5 3600 "$MOCK_BIN" >"$OUT/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 100); do port_busy "$MOCK_PORT" && port_busy "$REDIS_PORT" && break; sleep 0.05; done
port_busy "$MOCK_PORT" || { log "mock-provider did not start"; exit 1; }
port_busy "$REDIS_PORT" || { log "redis-server did not start"; exit 1; }
MOCK_REAL=$(child_of "$MOCK_PID"); REDIS_REAL=$(child_of "$REDIS_PID")
log "mock pid $MOCK_PID on :$MOCK_PORT, redis pid $REDIS_PID on :$REDIS_PORT (CPU $MOCK_CPU); out: $OUT"

# -------------------------------------------------------------- gateway
# $1 = redis | embedded; $2 = run name. Writes the config, starts the gateway on $GW_CPU.
start_gw() {
  local sink=$1 name=$2 redis_line=""
  GW_DIR="$OUT/gw/$name"
  mkdir -p "$GW_DIR"
  if [[ $sink == redis ]]; then
    redis_line="redis_url = \"redis://127.0.0.1:$REDIS_PORT\""
    rcli FLUSHALL >/dev/null
  fi
  cat >"$GW_DIR/switchboard.toml" <<EOF
[server]
listen = "127.0.0.1:$GW_PORT"
# The default (4,096) would shed the memory run's 5,000 streams with 503s.
max_concurrent_requests = 10000

[logging]
$redis_line
store = "sqlite://$GW_DIR/switchboard.db"
spool_dir = "$GW_DIR/spool"
max_stream_len = 2000000

[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
api_key = "sk-bench"

[models."gpt-4o-mini"]
targets = [{ provider = "mock", model = "gpt-4o-mini" }]

[models.st5]
targets = [{ provider = "mock", model = "gpt-4o-mini?chunk_ms=5" }]

[models.long]
targets = [{ provider = "mock", model = "gpt-4o-mini?chunk_ms=$LONG_CHUNK_MS" }]

[models.faulty]
targets = [
  { provider = "mock", model = "$FAULTY_PRIMARY" },
  { provider = "mock", model = "gpt-4o-mini?chunk_ms=5" },
]
retries = 0
first_token_timeout_ms = 200
timeout_ms = 300
EOF
  if [[ $OTEL == 1 ]]; then
    printf '\n[otel]\nendpoint = "http://127.0.0.1:%s"\n' "$MOCK_PORT" >>"$GW_DIR/switchboard.toml"
  fi
  taskset -c "$GW_CPU" timeout -k 5 900 env RUST_LOG=warn "$SWITCHBOARD_BIN" serve \
    --config "$GW_DIR/switchboard.toml" >"$GW_DIR/gateway.log" 2>&1 &
  GW_PID=$!
  GW_REAL=$(child_of "$GW_PID")
  local i
  for i in $(seq 1 100); do
    curl -sf --max-time 1 "http://127.0.0.1:$GW_PORT/healthz" >/dev/null && break
    [[ -d /proc/$GW_PID ]] || break
    sleep 0.1
  done
  if ! curl -sf --max-time 1 "http://127.0.0.1:$GW_PORT/healthz" >/dev/null; then
    log "gateway did not start; see $GW_DIR/gateway.log"; tail -5 "$GW_DIR/gateway.log" >&2
    stop_pid "$GW_PID"; GW_PID=""; return 1
  fi
  GW_IDLE_KB=$(status_kb "$GW_REAL" VmRSS)
}
stop_gw() { stop_pid "$GW_PID"; GW_PID=""; GW_REAL=""; }

# loadgen on the mock's CPU. $1 = url, rest = loadgen args.
lg() {
  local url=$1; shift
  taskset -c "$MOCK_CPU" timeout -k 5 300 "$LOADGEN" --url "$url" "$@"
}
DIRECT="http://127.0.0.1:$MOCK_PORT/v1"
GATEWAY="http://127.0.0.1:$GW_PORT/v1"

# One measured run: warm-up run, then the measured run with the gateway's CPU and memory.
# Also records how busy each CPU was with processes that are not part of the bench
# ("foreign" load, e.g. another build on the machine), which would skew the figures.
# $1 setting, $2 target label (direct | gateway | gateway@embedded), $3 url, rest = loadgen args.
measure() {
  local setting=$1 target=$2 url=$3; shift 3
  lg "$url" "$@" -d "$WARM" >/dev/null 2>&1
  local c0=0 c1=0 w0=0 w1=0 t0 t1 out b0m b0g b1m b1g k0 k1 lgt
  local lw0=0 lw1=0
  if [[ -n $GW_REAL ]]; then
    c0=$(cpu_ticks "$GW_REAL"); lw0=$(thread_ticks "$GW_REAL" switchboard-log)
    w0=$(metric switchboard_logs_written_total)
  fi
  b0m=$(cpu_busy "$MOCK_CPU"); b0g=$(cpu_busy "$GW_CPU")
  k0=$(($(cpu_ticks "$MOCK_REAL") + $(cpu_ticks "$REDIS_REAL")))
  t0=$(date +%s.%N)
  local TIMEFORMAT='%U %S'
  { time lg "$url" "$@" -d "$DUR" --label "$target" --setting "$setting" >"$OUT/last.json" 2>/dev/null; } 2>"$OUT/last.time"
  t1=$(date +%s.%N)
  out=$(cat "$OUT/last.json")
  if [[ -z $out ]]; then log "$setting/$target: no output from loadgen"; return 1; fi
  [[ -n $GW_REAL ]] && { c1=$(cpu_ticks "$GW_REAL"); lw1=$(thread_ticks "$GW_REAL" switchboard-log); }
  b1m=$(cpu_busy "$MOCK_CPU"); b1g=$(cpu_busy "$GW_CPU")
  k1=$(($(cpu_ticks "$MOCK_REAL") + $(cpu_ticks "$REDIS_REAL")))
  lgt=$(awk -v t="$CLK_TCK" '{printf "%d", ($1 + $2) * t}' "$OUT/last.time")
  local wall_ticks foreign
  wall_ticks=$(echo "($t1 - $t0) * $CLK_TCK" | bc)
  foreign=$(jq -n --argjson w "$wall_ticks" \
    --argjson fm "$(((b1m - b0m) - (k1 - k0) - lgt))" --argjson fg "$(((b1g - b0g) - (c1 - c0)))" \
    '{foreign_cpu_pct_mock_core: ([($fm / $w * 100), 0] | max | . * 10 | round / 10),
      foreign_cpu_pct_gw_core: ([($fg / $w * 100), 0] | max | . * 10 | round / 10)}')
  out=$(jq -c --argjson f "$foreign" '. + $f' <<<"$out")
  local gw='{}'
  if [[ -n $GW_REAL ]]; then
    w1=$(metric switchboard_logs_written_total)
    gw=$(jq -n --argjson cpu_ms "$(((c1 - c0) * 1000 / CLK_TCK))" \
      --argjson writer_ms "$(((lw1 - lw0) * 1000 / CLK_TCK))" \
      --argjson hwm "$(status_kb "$GW_REAL" VmHWM)" --argjson rss "$(status_kb "$GW_REAL" VmRSS)" \
      --argjson idle "${GW_IDLE_KB:-0}" --argjson written "$((w1 - w0))" \
      --argjson spooled "$(metric switchboard_logs_spooled_total)" \
      --argjson dropped "$(metric switchboard_logs_dropped_total)" \
      --argjson wall "$(echo "$t1 - $t0" | bc)" \
      '{gw_cpu_ms:$cpu_ms, gw_log_writer_cpu_ms:$writer_ms, gw_hwm_mb:($hwm/1024), gw_rss_mb:($rss/1024), gw_idle_rss_mb:($idle/1024),
        logs_written:$written, logs_written_per_s:($written/$wall), logs_spooled:$spooled,
        logs_dropped:$dropped}')
  fi
  echo "$out" | jq -c --argjson gw "$gw" '. + $gw + {kind:"run"}
      | if .gw_cpu_ms != null and .ok > 0 then . + {gw_cpu_ms_per_req: (.gw_cpu_ms / .ok),
          gw_log_writer_cpu_ms_per_req: (.gw_log_writer_cpu_ms / .ok)} else . end' \
    >>"$RESULTS"
  log "$setting/$target: $(echo "$out" | jq -c '{rps, ok, errors, p50: .lat_ms.p50, p99: .lat_ms.p99, ttft50: .ttft_ms.p50, foreign: [.foreign_cpu_pct_mock_core, .foreign_cpu_pct_gw_core]}') $(echo "$gw" | jq -c '{gw_cpu_ms, gw_hwm_mb}')"
}

# A setting: direct first (calibration), then each gateway variant on a fresh process.
# $1 setting, $2 direct model, $3 gateway model, $4 variants, rest = loadgen args.
setting() {
  local name=$1 dmodel=$2 gmodel=$3 variants=$4; shift 4
  want "$name" || return 0
  measure "$name" direct "$DIRECT" --model "$dmodel" "$@"
  local v
  for v in $variants; do
    local sink=redis label=gateway
    [[ $v == embedded ]] && { sink=embedded; label=gateway@embedded; }
    start_gw "$sink" "$name-$v" || continue
    measure "$name" "$label" "$GATEWAY" --model "$gmodel" "$@"
    stop_gw
  done
}

# ---------------------------------------------------------------- settings
setting ns_c1   gpt-4o-mini gpt-4o-mini "redis embedded" -c 1
setting ns_c64  gpt-4o-mini gpt-4o-mini "redis embedded" -c 64
setting ns_c256 gpt-4o-mini gpt-4o-mini "redis" -c 256
setting open_5k gpt-4o-mini gpt-4o-mini "redis" --rate 5000 -c 128
setting st_c1   "gpt-4o-mini?chunk_ms=5" st5 "redis" -c 1 --stream
setting st_c64  "gpt-4o-mini?chunk_ms=5" st5 "redis embedded" -c 64 --stream
setting fault_ns "$FAULTY_PRIMARY" faulty "redis" -c 64 --timeout 2
setting fault_st "$FAULTY_PRIMARY" faulty "redis" -c 64 --stream --timeout 2

# Memory under many concurrent streams: each stream lasts ~20 x LONG_CHUNK_MS (10 s); the
# connections open over 3 s (--ramp) and each runs exactly one stream (-d 4), so all of them
# overlap. Fresh gateway, no warm-up.
rss_run() { # $1 setting, $2 streams
  want "$1" || return 0
  # Calibration: the same streams straight at the mock.
  lg "$DIRECT" --model "gpt-4o-mini?chunk_ms=$LONG_CHUNK_MS" --stream -c "$2" --ramp 3 -d 4 --timeout 120 \
    --label direct --setting "$1" | jq -c --argjson streams "$2" '. + {kind:"rss", streams:$streams}' >>"$RESULTS"
  start_gw redis "$1" || return 0
  local peak_kb=0 peak_inflight=0 kb inflight out
  lg "$GATEWAY" --model long --stream -c "$2" --ramp 3 -d 4 --timeout 120 --label gateway --setting "$1" \
    >"$OUT/$1.json" &
  local lg_pid=$!
  while [[ -d /proc/$lg_pid ]]; do
    kb=$(status_kb "$GW_REAL" VmRSS); ((kb > peak_kb)) && peak_kb=$kb
    inflight=$(metric switchboard_inflight_requests); ((inflight > peak_inflight)) && peak_inflight=$inflight
    sleep 0.5
  done
  wait "$lg_pid"
  out=$(cat "$OUT/$1.json")
  jq -c --argjson hwm "$(status_kb "$GW_REAL" VmHWM)" --argjson peak "$peak_kb" \
    --argjson idle "${GW_IDLE_KB:-0}" --argjson inflight "$peak_inflight" --argjson streams "$2" \
    '. + {kind:"rss", streams:$streams, gw_hwm_mb:($hwm/1024), gw_peak_rss_mb:($peak/1024),
          gw_idle_rss_mb:($idle/1024), peak_inflight:$inflight}' <<<"$out" >>"$RESULTS"
  log "$1: $(tail -1 "$RESULTS" | jq -c '{ok, errors, streams, peak_inflight, gw_idle_rss_mb, gw_hwm_mb}')"
  stop_gw
}
rss_run rss_1k 1000
rss_run rss_5k 5000

# ------------------------------------------------------------ log pipeline
# Writer: records/s into Redis during a saturating load (from ns_c64/ns_c256 above, where
# logs_written_per_s is recorded). Consumer: pre-fill the stream through the gateway, then time
# one `switchboard consume` (on the gateway's CPU) until every entry is stored.
if want pipeline; then
  if start_gw redis pipeline; then
    lg "$GATEWAY" --model gpt-4o-mini -c 64 -n "$CONSUME_N" -d 120 --timeout 10 >"$OUT/pipeline-fill.json"
    sleep 1
    stop_gw   # SIGTERM flushes the queue into Redis
    xlen=$(rcli XLEN switchboard:logs)
    log "pipeline: stream holds $xlen records; starting one consumer"
    GW_DIR="$OUT/gw/pipeline"
    t0=$(date +%s.%N)
    taskset -c "$GW_CPU" timeout -k 5 300 env RUST_LOG=warn "$SWITCHBOARD_BIN" consume \
      --config "$GW_DIR/switchboard.toml" --consumer bench-1 >"$GW_DIR/consume.log" 2>&1 &
    CONSUMER_PID=$!
    done_at=""
    for _ in $(seq 1 1200); do # 0.1 s polls, 120 s at most
      read -r pending read_n < <(rcli XINFO GROUPS switchboard:logs 2>/dev/null |
        awk 'prev == "pending" {p = $1} prev == "entries-read" {r = $1} {prev = $1} END {print p+0, r+0}')
      if [[ -n ${read_n:-} ]] && ((read_n >= xlen && pending == 0)); then done_at=$(date +%s.%N); break; fi
      [[ -d /proc/$CONSUMER_PID ]] || break
      sleep 0.1
    done
    consumer_cpu=$(cpu_ticks "$(child_of "$CONSUMER_PID")")
    stop_pid "$CONSUMER_PID"; CONSUMER_PID=""
    stored=$(sqlite3 "$GW_DIR/switchboard.db" 'SELECT count(*) FROM logs' 2>/dev/null)
    [[ $stored =~ ^[0-9]+$ ]] || stored=null
    if [[ -n $done_at ]]; then
      secs=$(echo "$done_at - $t0" | bc)
      jq -cn --argjson n "$xlen" --argjson secs "$secs" --argjson stored "${stored:-null}" \
        --argjson cpu_ms "$((consumer_cpu * 1000 / CLK_TCK))" \
        --argjson fill "$(cat "$OUT/pipeline-fill.json")" \
        '{kind:"consumer", records:$n, seconds:$secs, records_per_s:($n/$secs), stored:$stored,
          consumer_cpu_ms:$cpu_ms, fill:$fill}' >>"$RESULTS"
      log "pipeline: consumer stored $xlen records in ${secs}s (sqlite count: $stored)"
    else
      log "pipeline: consumer did not finish in 120 s; see $GW_DIR/consume.log"
    fi
  fi
fi

# ----------------------------------------------------------------- profile
if [[ $PROFILE == 1 ]] && command -v perf >/dev/null && perf stat -e instructions true >/dev/null 2>&1; then
  mkdir -p "$OUT/profile"
  prof() { # $1 name, $2 model, rest = loadgen args
    local name=$1 model=$2; shift 2
    start_gw redis "profile-$name" || return 0
    lg "$GATEWAY" --model "$model" "$@" -d 2 >/dev/null 2>&1
    # perf stat over 4 s of its own 5 s run, so the per-request figures use that run's rate.
    lg "$GATEWAY" --model "$model" "$@" -d 5 --label gateway --setting "stat_$name" \
      >"$OUT/profile/$name-load.json" &
    local lg_pid=$!
    sleep 0.5
    timeout 30 perf stat -e task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions -p "$GW_REAL" -o "$OUT/profile/$name-stat.txt" -- sleep 4
    wait "$lg_pid"
    # Then syscalls (strace slows the gateway while it runs) and the sampled profile.
    lg "$GATEWAY" --model "$model" "$@" -d 9 >/dev/null 2>&1 &
    lg_pid=$!
    sleep 0.5
    if command -v strace >/dev/null; then
      timeout -s INT 3 strace -c -f -p "$GW_REAL" -o "$OUT/profile/$name-strace.txt" >/dev/null 2>&1
    fi
    timeout 60 perf record -F 1999 -g --call-graph dwarf,32768 -p "$GW_REAL" \
      -o "$OUT/profile/$name.data" -- sleep 4 2>"$OUT/profile/$name-record.log"
    wait "$lg_pid"
    stop_gw
    # Self time by symbol, and inclusive time of the gateway's own functions and the libraries
    # on its path (async plumbing frames filtered out).
    timeout 300 perf report -i "$OUT/profile/$name.data" --no-children --percent-limit 0.5 \
      --stdio -g none --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9]' | cut -c1-200 >"$OUT/profile/$name-self.txt"
    timeout 300 perf report -i "$OUT/profile/$name.data" --children --percent-limit 0.3 \
      --stdio -g none --sort symbol 2>/dev/null | grep -E '^ +[0-9]' |
      grep -E 'switchboard|serde_json::(de|ser)::(from|to)|metrics|reqwest::|uuid|time::format|hyper::proto::h1::(role|io|dispatch)|sqlite3_step|redis::|writev|recvfrom|epoll_wait|futex|sched_yield|malloc|free' |
      grep -vE '\{closure#|\{async_fn#|\{async_block|^ +[0-9.]+% +[0-9.]+% +\[.\] (poll|call_once|catch_unwind|do_call|with_mut)<|0xffff' |
      cut -c1-200 >"$OUT/profile/$name-children.txt"
    rm -f "$OUT/profile/$name.data"
    log "profile $name: $(grep -E 'instructions|task-clock' "$OUT/profile/$name-stat.txt" | awk '{print $1, $2}' | tr '\n' ' ')"
  }
  prof ns1 gpt-4o-mini -c 1
  prof ns gpt-4o-mini -c 64
  prof st st5 -c 64 --stream
  # Per request: instructions and cycles over the perf-stat window / requests served in it.
  for name in ns1 ns st; do
    [[ -f $OUT/profile/$name-stat.txt ]] || continue
    # Counters a VM does not expose read "<not supported>": null then.
    counter() { awk -v e="$1" '$0 ~ e {gsub(",", "", $1); if ($1 ~ /^[0-9.]+$/) {print $1; exit}} END {}' "$2"; }
    ins=$(counter instructions "$OUT/profile/$name-stat.txt"); cyc=$(counter cycles "$OUT/profile/$name-stat.txt")
    clk=$(counter task-clock "$OUT/profile/$name-stat.txt")
    csw=$(counter context-switches "$OUT/profile/$name-stat.txt")
    jq -cn --arg name "$name" --argjson ins "${ins:-null}" --argjson cyc "${cyc:-null}" \
      --argjson clk "${clk:-null}" --argjson csw "${csw:-null}" \
      --argjson load "$(cat "$OUT/profile/$name-load.json")" \
      '{kind:"perf", name:$name, rps:$load.rps, concurrency:$load.concurrency,
        context_switches_per_req:(if $csw then $csw / ($load.rps * 4) else null end),
        instructions_per_req:(if $ins then $ins / ($load.rps * 4) else null end),
        cycles_per_req:(if $cyc then $cyc / ($load.rps * 4) else null end),
        task_clock_ms_per_req:(if $clk then $clk / ($load.rps * 4) else null end)}' >>"$RESULTS" 2>/dev/null
  done
else
  [[ $PROFILE == 1 ]] && log "perf unavailable (apt-get install -y linux-perf); profile skipped"
fi

stop_pid "$MOCK_PID"; MOCK_PID=""
stop_pid "$REDIS_PID"; REDIS_PID=""
log "our settings done"

# ------------------------------------------------------------------- peers
if [[ $PEERS == 1 ]]; then
  PEER_RESULTS="$OUT/peers.jsonl"
  if [[ -d /work/shared/bench || -d $ROOT/../shared/bench ]]; then
    src=/work/shared/bench; [[ -d $src ]] || src="$ROOT/../shared/bench"
    # Refresh the copy but keep its target/ (a rebuild takes minutes).
    mkdir -p /tmp/bench && cp -r "$src"/. /tmp/bench/ && chmod -R u+w /tmp/bench
    if [[ ! -x /tmp/peers/litellm/venv/bin/litellm || ! -f /tmp/peers/portkey/node_modules/@portkey-ai/gateway/build/start-server.js ]]; then
      log "installing peers (LiteLLM, Portkey) under /tmp/peers, ~3 min"
      timeout 1500 /tmp/bench/peers/install.sh >"$OUT/peers-install.log" 2>&1 || log "peer install failed; see $OUT/peers-install.log"
    fi
    (cd /tmp/bench && timeout 900 cargo build --release -q) >"$OUT/peers-build.log" 2>&1 || log "peer bench build failed"
    log "peer bench: $PEER_GATEWAYS (DUR=$PEER_DUR WARM=$PEER_WARM)"
    GATEWAYS="$PEER_GATEWAYS" DUR="$PEER_DUR" WARM="$PEER_WARM" SWITCHBOARD_BIN="$SWITCHBOARD_BIN" \
      RESULTS="$PEER_RESULTS" timeout -k 10 1200 /tmp/bench/run.sh 2>"$OUT/peers-run.log" >/dev/null ||
      log "peer bench failed; see $OUT/peers-run.log"
  else
    log "shared/bench not found; peers skipped"
  fi
fi

# ------------------------------------------------------------------ report
python3 "$HELPERS/report.py" "$OUT" >"$OUT/report.md" || { log "report failed"; exit 1; }
if [[ $WRITE == 1 ]]; then
  python3 "$HELPERS/report.py" "$OUT" --splice "$ROOT/BENCHMARKS.md" && log "BENCHMARKS.md updated"
fi
log "done in $(($(date +%s) - T_START))s; report: $OUT/report.md"
exit 0
}
