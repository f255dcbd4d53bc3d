#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in build-fuzz, runs
# each for SECONDS (default 30) from a scratch copy of its seed corpus, and prints the
# executions per target. Exits 1 if any target found a crash, leak, timeout or sanitizer
# report; the input that did it is kept in build-fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS]            every target
#   FUZZ_TARGETS="json target" scripts/fuzz.sh 60
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
build=$root/build-fuzz

# The project's build dependencies, then clang and its runtime (libFuzzer, ASan, UBSan).
"$root/scripts/deps.sh" fuzz

echo "== build-fuzz: configure and build"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DTCPRETRY_FUZZ=ON -DTCPRETRY_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz -j "$(nproc)"

all_targets=$(cd "$root/tests/fuzz" && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')
targets=${FUZZ_TARGETS:-$all_targets}
mkdir -p "$build/artifacts" "$build/logs"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
rows=()
for name in $targets; do
  # A scratch copy: what the run adds stays out of the repository's seed corpus.
  scratch=$build/corpus/$name
  rm -rf "$scratch"
  mkdir -p "$scratch"
  cp "$root/tests/fuzz/corpus/$name/"* "$scratch/"
  log=$build/logs/$name.log
  echo "== fuzz_$name: ${seconds}s (log: ${log#$root/})"
  status=0
  "$build/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name-" "$scratch" >"$log" 2>&1 || status=$?
  get_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs=$(get_stat number_of_executed_units)
  rate=$(get_stat average_exec_per_sec)
  result=ok
  if [ "$status" -ne 0 ] ||
     grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz property violated' "$log"; then
    result="FAILED (exit $status)"
    failed+=("$name")
    grep -E 'ERROR:|runtime error:|fuzz property violated|Test unit written to' "$log" | head -5 >&2 || true
  fi
  rows+=("$(printf '%-14s %14s %10s %8s  %s' "$name" "${execs:-?}" "${rate:-?}" \
                   "$(ls "$scratch" | wc -l)" "$result")")
done

echo
printf '%-14s %14s %10s %8s  %s\n' target executions exec/s corpus result
printf '%s\n' "${rows[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in ${build#$root/}/artifacts, logs in ${build#$root/}/logs)" >&2
  exit 1
fi
echo "no crash, leak, timeout or sanitizer report"
