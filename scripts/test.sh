#!/usr/bin/env bash
# Installs dependencies, builds with warnings as errors (a normal build and an
# AddressSanitizer+UndefinedBehaviorSanitizer build) and runs the whole suite with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$root/scripts/deps.sh" test

# The look and the layering need no reviewer: unformatted code fails here (clang-format 14,
# pinned in the script), before anything is built.
echo "== format"
"$root/scripts/check-format.sh"

passed=0
build_and_test() {
  local dir=$1; shift
  echo "== $dir: configure and build"
  cmake -S "$root" -B "$root/$dir" -DTCPRETRY_WERROR=ON "$@" >/dev/null
  cmake --build "$root/$dir" -j "$jobs"
  echo "== $dir: ctest"
  (cd "$root/$dir" && ctest --output-on-failure -j "$jobs") | tee "$root/$dir/ctest.log"
  local total
  total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$root/$dir/ctest.log")
  passed=$((passed + ${total:-0}))
}

build_and_test build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug -DTCPRETRY_SANITIZE=ON

echo "== man page lint"
mandoc -T lint -W warning "$root/man/tcpretry.1"

# Each fuzz target for a while (30 s in CI; FUZZ_SECONDS=0 skips).
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  "$root/scripts/fuzz.sh" "${FUZZ_SECONDS:-30}"
fi
echo "== all tests passed"
echo "$passed passed, 0 failed"
