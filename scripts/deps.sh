#!/usr/bin/env bash
# Installs missing Debian packages: scripts/deps.sh build|demo|test|fuzz (run.sh, its demo,
# test.sh, fuzz.sh).
set -euo pipefail

# libssl-dev: OpenSSL for --tls / --starttls (its static archives serve the static build; a
# dynamic tcpretry loads libssl3's libssl.so.3 only when a run uses TLS). lld links tcpretry
# with the code and data a run touches packed together (app/link_order.txt): without it the
# build works, and one probe maps about 1 MiB more.
build_packages=(build-essential cmake pkg-config libcli11-dev libevent-dev doctest-dev
                nlohmann-json3-dev libssl-dev lld)
# What the tests use: python3 drives the integration tests; netbase gives /etc/services;
# iproute2 and iptables make the fault tests' network namespaces; redis-server is a real
# --send/--expect peer; promtool (prometheus) checks metrics; valgrind checks memory and fds;
# clang with its runtime builds the fuzzers; mandoc lints the man page. postgresql and nginx
# are real servers that tests/integration/real_servers.py starts on loopback ports of its own
# (the watch tests against servers that close idle clients, the HTTP and TLS checks); the
# packages' default instances are not used. stress-ng loads the CPU in timing tests;
# clang-format checks the look of the sources. openssl makes the TLS tests' certificates.
# zsh, fish and bash-completion check the shell completions (packaging/completions); lintian
# checks the .deb of scripts/package.sh and file tells a static binary from a dynamic one.
test_packages=(python3 netbase iproute2 iptables mandoc redis-server procps valgrind prometheus
               clang libclang-rt-14-dev postgresql nginx stress-ng clang-format openssl
               zsh fish bash-completion lintian file)

# The loopback demo of run.sh only needs python3 (its late-listening server).
demo_packages=(python3)

fuzz_packages=(clang libclang-rt-14-dev)

want=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  demo) want+=("${demo_packages[@]}") ;;
  test) want+=("${test_packages[@]}") ;;
  fuzz) want+=("${fuzz_packages[@]}") ;;
  *) echo "usage: scripts/deps.sh build|demo|test|fuzz" >&2; exit 2 ;;
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
# postgresql, nginx and redis-server start their default instances from their maintainer
# scripts. In a container without an init system that fails and would fail the install, and
# the tests never use those instances: while we install, policy-rc.d (see invoke-rc.d(8))
# tells the scripts not to start services. Only a policy-rc.d we made is removed again.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# tcpretry scripts/deps.sh: no services started during the install\nexit 101\n' |
    "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
