# Shared by scripts/callgrind.sh and scripts/instructions-guard.sh: the gateway config they
# count under, and one measured setting. Expects OUT, GW_PORT, MOCK_PORT, REDIS_PORT, BIN (the
# directory of loadgen), N, WARM_N, and CG_PID (the valgrind process; empty: every callgrind run).

# write_callgrind_config: $OUT/switchboard.toml, logging to the private Redis, three models.
write_callgrind_config() {
  cat >"$OUT/switchboard.toml" <<TOML
[server]
listen = "127.0.0.1:$GW_PORT"

[logging]
redis_url = "redis://127.0.0.1:$REDIS_PORT"
spool_dir = "$OUT/spool"
store = "sqlite://$OUT/unused.db"

[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"

[models."ns"]
targets = [{ provider = "mock", model = "gpt-4o-mini" }]

[models."st20"]
targets = [{ provider = "mock", model = "gpt-4o-mini?chunks=20" }]

[models."st100"]
targets = [{ provider = "mock", model = "gpt-4o-mini?chunks=100" }]
TOML
}

# callgrind_total: the instructions of the newest dump (callgrind.out.<pid>.<part>).
callgrind_total() {
  local file
  file=$(ls "$OUT"/callgrind.out.*.* 2>/dev/null | sort -t. -k3 -n | tail -1)
  awk '/^totals:/ {print $2; exit}' "$file"
}

# callgrind_measure MODEL [--stream]: WARM_N requests uncounted, then N counted; prints the total.
# PROMPT_BYTES (optional): the user message is that many bytes of prose instead of loadgen's
# short default (a voice agent's prompt is kilobytes).
callgrind_measure() {
  local model=$1 stream=${2:-}
  local prompt=()
  if [ -n "${PROMPT_BYTES:-}" ]; then
    prompt=(--prompt "$(python3 -c 'import sys; n = int(sys.argv[1]); print(("You are a careful phone agent. " * (n // 30 + 1))[:n])' "$PROMPT_BYTES")")
  fi
  "$BIN/loadgen" --url "http://127.0.0.1:$GW_PORT/v1" --model "$model" $stream "${prompt[@]}" -c 1 -n "$WARM_N" \
    -d 600 --timeout 120 >/dev/null 2>>"$OUT/loadgen.log"
  callgrind_control -z $CG_PID >/dev/null 2>&1
  callgrind_control -i on $CG_PID >/dev/null 2>&1
  "$BIN/loadgen" --url "http://127.0.0.1:$GW_PORT/v1" --model "$model" $stream "${prompt[@]}" -c 1 -n "$N" \
    -d 600 --timeout 120 >>"$OUT/results.jsonl" 2>>"$OUT/loadgen.log"
  sleep 1 # the log writer ships the last records (and the exporter the last spans) while counted
  callgrind_control -i off $CG_PID >/dev/null 2>&1
  callgrind_control --dump $CG_PID >/dev/null 2>&1
  # The dump is written by the gateway's next scheduled basic block: give it a moment.
  sleep 1
  callgrind_total
}
