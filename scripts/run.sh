#!/usr/bin/env bash
# Installs what the build needs, builds build/tcpretry (Release) and runs it with ARGS.
# With no ARGS: a demo on loopback, a listener that appears after about 1.5 s.
# Build messages go to stderr, so tcpretry's stdout can be piped as it is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

log=$(mktemp)
port_file=
server=
cleanup() {
  rm -f "$log" ${port_file:+"$port_file"}
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
}
trap cleanup EXIT

# The demo needs only the build and python3 (its server), not the test dependencies.
if [ $# -gt 0 ]; then "$root/scripts/deps.sh" build; else "$root/scripts/deps.sh" demo; fi

# Runs "$@" with its output kept in $log; shows that output only when it fails.
quietly() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "run.sh: failed: $*" >&2
    exit 1
  fi
}

# Turns cmake's "[ 45%] Building CXX object core/CMakeFiles/x.dir/connector.cpp.o" lines
# into one progress line (a terminal) or short lines (a pipe). Prints nothing when nothing
# is compiled, so a run after an unchanged build stays quiet.
progress() {
  local announced=$1 line pct obj tty=
  [ -t 2 ] && tty=1
  while IFS= read -r line; do
    [[ $line =~ ^\[\ *([0-9]+)%\]\ Building\ [A-Z]+\ object\ (.*)\.o$ ]] || continue
    if [ -z "$announced" ]; then
      echo "rebuilding build/tcpretry..." >&2
      announced=1
    fi
    pct=${BASH_REMATCH[1]}
    obj=${BASH_REMATCH[2]}
    obj="${obj%%/CMakeFiles/*}/${obj##*.dir/}"
    if [ -n "$tty" ]; then
      printf '\r\033[K  [%3s%%] %s' "$pct" "$obj" >&2
    else
      printf '  [%3s%%] %s\n' "$pct" "$obj" >&2
    fi
  done
  if [ -n "$tty" ] && [ -n "$announced" ]; then printf '\r\033[K' >&2; fi
  return 0
}

first=
if [ ! -x "$root/build/tcpretry" ]; then
  first=1
  echo "building build/tcpretry (first build takes about a minute)..." >&2
fi
quietly cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release
set +e
cmake --build "$root/build" --target tcpretry -j "$(nproc)" 2>&1 | tee "$log" | progress "$first"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  cat "$log" >&2
  echo "run.sh: the build failed (output above)" >&2
  exit 1
fi
[ -n "$first" ] && echo "built build/tcpretry" >&2

if [ $# -gt 0 ]; then
  cleanup
  trap - EXIT
  exec "$root/build/tcpretry" "$@"
fi

# Reserve a free port (bound, not listening: connections are refused), then listen on it
# after 1.5 s, accept for a while and exit.
port_file=$(mktemp)
python3 - "$port_file" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
with open(sys.argv[1], "w") as f:
    f.write(str(s.getsockname()[1]))
time.sleep(1.5)
s.listen(16)
s.settimeout(10)
try:
    while True:
        c, _ = s.accept()
        c.close()
except OSError:
    pass
PY
server=$!
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.02; done
port=$(cat "$port_file")
echo "demo: a server will listen on 127.0.0.1:$port in about 1.5 s; tcpretry waits for it"
echo "\$ tcpretry -v 127.0.0.1:$port"
"$root/build/tcpretry" -v "127.0.0.1:$port"
