#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation and
# runs each for FUZZ_SECONDS (default 60), then prints executions and
# crashes per target. Works on the stable toolchain: the flags below are
# what cargo-fuzz passes minus AddressSanitizer (a nightly-only flag that
# safe parsing code does not need), so neither nightly nor cargo-fuzz is
# required. See docs/fuzzing.md.
#   FUZZ_SECONDS=300 FUZZ_TARGETS="key s3_xml" fuzz/run.sh
set -uo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-parse_line key bids_name s3_xml dataverse_json tree_path}
max_len=${FUZZ_MAX_LEN:-4096}
triple=$(rustc -vV | sed -n 's/^host: //p')
# Where cargo puts this workspace's builds (honours CARGO_TARGET_DIR).
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-target}

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
bins=()
for t in $targets; do bins+=(--bin "$t"); done
# --target keeps the instrumentation away from build scripts and proc-macros.
cargo build --release --locked --target "$triple" "${bins[@]}" || exit 1

failed=0
summary=""
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  inputs=("corpus/$t")
  [ -d "seeds/$t" ] && inputs+=("seeds/$t")
  before=$(find "artifacts/$t" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' | wc -l)
  echo "=== $t: ${seconds} s"
  "$target_dir/$triple/release/$t" "${inputs[@]}" -max_total_time="$seconds" \
    -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" >"$log" 2>&1
  status=$?
  after=$(find "artifacts/$t" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crashes=$((after - before))
  if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -5
  fi
  summary+=$(printf '%-16s %12s executions %6s edges %3s crashes (exit %s)' \
    "$t" "${execs:-?}" "${edges:-?}" "$crashes" "$status")$'\n'
done
echo
printf '%s' "$summary"
[ "$failed" = 0 ] || echo "crash inputs are under fuzz/artifacts/<target>/; logs in fuzz/artifacts/<target>/last-run.log"
exit $failed
