#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser (fuzz/src/lib.rs) with cargo fuzz (libFuzzer), on the
# stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo fuzz pass its -Z flags). Not part of CI: CI
# runs fuzz/tests/smoke.rs on the seeds instead.
#
#   scripts/fuzz.sh                 # every target, 600 s each
#   SECONDS_PER_TARGET=60 scripts/fuzz.sh openai_sse config
#
# Each run grows fuzz/corpus-run/<target>/ (not committed) from the seeds in fuzz/corpus/<target>/.
# A crash is saved under fuzz/artifacts/<target>/: add it to fuzz/corpus/<target>/ as a
# regression seed (the smoke test then replays it), and fix the parser.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (crates.io)" >&2
  cargo install cargo-fuzz --locked
fi
seconds=${SECONDS_PER_TARGET:-600}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(chat_request identity openai_sse anthropic_sse anthropic_translate config ingest logs_query)
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/fuzz}
# The workspace's release profile links with fat LTO for the benchmarks; a fuzz binary only
# needs to be fast, not smallest, and is linked once per target.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus-run/$target"
  echo "== $target: ${seconds}s" >&2
  cargo fuzz run --fuzz-dir fuzz --features libfuzzer --sanitizer none "$target" \
    "fuzz/corpus-run/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    2>&1 | tee "fuzz/corpus-run/$target.log" | grep -E '^(#[0-9]+ *DONE|stat::|==|SUMMARY|INFO: seed)' || true
done
