#!/usr/bin/env bash
# Builds the fully static tcpretry: build-static/tcpretry, a Release build linked with
# -DTCPRETRY_STATIC=ON (glibc, libstdc++, libevent, OpenSSL: Debian's archives), stripped in
# place. It runs anywhere Linux x86-64 runs: in scratch, distroless or Alpine images, with no
# /etc at all (see docs/recipes.md).
#
#   scripts/build-static.sh          prints the binary's path on stdout, the rest on stderr
#
# Environment: TCPRETRY_STATIC_BUILD_DIR (default build-static/) is the CMake build directory.
# Fails when the result is not static, or when the link warned that the C library would load
# NSS modules or shared objects at run time (getaddrinfo, getservbyname, dlopen...).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TCPRETRY_STATIC_BUILD_DIR:-$root/build-static}

"$root/scripts/deps.sh" build >&2

# The link packs what a run touches (ld.lld with app/link_order.txt; lld comes from deps.sh):
# one probe's peak RSS 2.7 -> 1.3 MiB (2026-12, OpenSSL linked in).
# Release at -Os rather than CMake's -O3: a run of tcpretry is mostly its start (exec, page
# faults, option setup), and smaller code is fewer pages to touch. Measured on one probe of an
# open port (scripts/bench.sh part 1): text 2.30 MB at -Os, 2.61 at -O2 (more at -O3); peak RSS
# 2.0 MiB at -Os, 2.1-2.2 at -O2; median time 0.86 ms at -Os, 1.26 at -O2 (nc -z: 1.12).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-Os -DNDEBUG" \
      -DTCPRETRY_STATIC=ON -DTCPRETRY_BUILD_TESTS=OFF >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Linked afresh each time, so the link's warnings are seen (a stripped binary is not what the
# build made, and make would otherwise keep it).
# tcpretry_gnu_ld_check is the same link with GNU ld (the static tcpretry is linked with ld.lld
# when installed, which does not print glibc's warnings; app/CMakeLists.txt).
rm -f "$build/tcpretry" "$build/app/tcpretry_gnu_ld_check"
cmake --build "$build" --target tcpretry -j "$(nproc)" 2>&1 | tee "$log" >&2
cmake --build "$build" --target tcpretry_gnu_ld_check -j "$(nproc)" 2>&1 | tee -a "$log" >&2
bin=$build/tcpretry
if grep -E "in statically linked applications requires at runtime" "$log" >&2; then
  echo "build-static.sh: the static link would need the C library's shared parts at run time" >&2
  exit 1
fi
strip --strip-all --remove-section=.comment "$bin"
if command -v file >/dev/null; then
  file "$bin" | grep -q 'statically linked' ||
    { echo "build-static.sh: $bin is not static: $(file "$bin")" >&2; exit 1; }
fi
if ldd "$bin" >/dev/null 2>&1; then
  echo "build-static.sh: ldd sees shared libraries in $bin" >&2
  exit 1
fi
echo "build-static.sh: $bin, $(stat -c %s "$bin") bytes, stripped" >&2
echo "$bin"
