#!/usr/bin/env bash
# Installs missing Debian packages: scripts/deps.sh build|test|fuzz (run.sh, test.sh, fuzz.sh).
set -euo pipefail

build_packages=(build-essential cmake pkg-config libcli11-dev libevent-dev doctest-dev
                nlohmann-json3-dev)
# What the tests use: python3 drives the integration tests; netbase gives /etc/services;
# iproute2 and iptables make the fault tests' network namespaces; redis-server is a real
# --send/--expect peer; promtool (prometheus) checks metrics; valgrind checks memory and fds;
# clang with its runtime builds the fuzzers; mandoc lints the man page.
test_packages=(python3 netbase iproute2 iptables mandoc redis-server procps valgrind prometheus
               clang libclang-rt-14-dev)

fuzz_packages=(clang libclang-rt-14-dev)

want=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_packages[@]}") ;;
  fuzz) want+=("${fuzz_packages[@]}") ;;
  *) echo "usage: scripts/deps.sh build|test|fuzz" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
