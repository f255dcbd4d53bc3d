#!/usr/bin/env bash
# Installs what the build needs, builds build/tcpretry (Release) and runs it with ARGS.
# With no ARGS: a demo on loopback, a listener that appears after about 1.5 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

"$root/scripts/deps.sh" build
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" --target tcpretry -j "$(nproc)" >/dev/null

if [ $# -gt 0 ]; then
  exec "$root/build/tcpretry" "$@"
fi

command -v python3 >/dev/null || "$root/scripts/deps.sh" test
# Reserve a free port (bound, not listening: connections are refused), then listen on it
# after 1.5 s, accept for a while and exit.
port_file=$(mktemp)
trap 'rm -f "$port_file"; kill "$server" 2>/dev/null || true' EXIT
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
