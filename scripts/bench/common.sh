# Shared by the measurement scripts (sourced, not run): a log line prefix, every process the
# script starts stopped on exit (add its PID to PIDS), the release binaries built when missing,
# and a wait for a gateway's /healthz.

# bench_init NAME: logs say [NAME]; PIDS are killed when the script exits.
bench_init() {
  BENCH_NAME="$1"
  PIDS=()
  trap bench_cleanup EXIT
}

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
}

# need_release_bins: target/release/{switchboard,mock-provider,loadgen}, built if one is missing.
need_release_bins() {
  if [[ ! -x target/release/switchboard || ! -x target/release/mock-provider || ! -x target/release/loadgen ]]; then
    log "building release binaries"
    cargo build --release -q -p switchboard-cli -p switchboard-loadtest --bins || exit 1
  fi
}

# wait_healthy URL [TRIES]: polls URL/healthz every 0.1 s (100 tries by default); exits the
# script when it never answers.
wait_healthy() {
  local url="$1" tries="${2:-100}"
  for _ in $(seq 1 "$tries"); do
    curl -sf --max-time 1 "$url/healthz" >/dev/null && return 0
    sleep 0.1
  done
  log "the gateway at $url did not start"
  exit 1
}
