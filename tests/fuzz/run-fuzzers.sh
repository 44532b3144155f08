#!/usr/bin/env bash
# Runs each fuzz target for SECONDS seconds (one job, one worker: the machine is shared), each
# from its kept corpus (BUILD/fuzz-corpus/<target>, grown run after run) plus the seeds that
# make-seeds.sh wrote (BUILD/seeds/<target>). Crashes, leaks, timeouts and failed properties are
# saved under BUILD/fuzz-artifacts/<target>/; the exit status is 1 when any target found one.
# Usage: tests/fuzz/run-fuzzers.sh BUILD SECONDS [TARGET...]  (quantity policy review http)
# FUZZ_SEED=N fixes libFuzzer's seed: with the same binary and an empty kept corpus the run
# explores the same inputs each time (CI uses it, so a red CI is a bug that can be reproduced).
set -uo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:?build directory}" && pwd)"
seconds="${2:-60}"
shift 2 || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(quantity policy review reader http)

# The longest input each target is given: a quantity is short, a policy a page, a review or an
# HTTP body (3 selector bytes and a review) an object.
declare -A max_len=([quantity]=1024 [policy]=8192 [review]=32768 [reader]=32768 [http]=32768)
# fuzz_reader reads reviews too: the same dictionary and seeds.
declare -A input=([quantity]=quantity [policy]=policy [review]=review [reader]=review [http]=http)

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  corpus="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  work="$build/fuzz-work/$t"
  mkdir -p "$corpus" "$artifacts" "$work"
  echo "== fuzz_$t: ${seconds}s, -max_len=${max_len[$t]}"
  (cd "$work" && rm -f fuzz-*.log &&
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$bin" -jobs=1 -workers=1 -max_total_time="$seconds" -max_len="${max_len[$t]}" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_SEED:+-seed=$FUZZ_SEED} \
      -dict="$src/tests/fuzz/dict/${input[$t]}.dict" -artifact_prefix="$artifacts/" \
      "$corpus" "$build/seeds/${input[$t]}" >driver.log 2>&1)  # the job's own log: fuzz-0.log
  status=$?
  log="$work/fuzz-0.log"
  grep -E '^#[0-9]+ +(INITED|DONE)|^stat::(number_of_executed_units|peak_rss_mb)' "$log" | tail -4
  if [ $status -ne 0 ] || grep -qE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error|property failed' "$log"; then
    echo "!! fuzz_$t found a problem (log: $log):"
    grep -E -m1 -A12 'property failed|ERROR: |runtime error' "$log" | cut -c1-400
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]} (artifacts under $build/fuzz-artifacts/)"
  exit 1
fi
echo "fuzz: no findings (${targets[*]}, ${seconds}s each)"
