#!/usr/bin/env bash
# Soak test for watch mode (NOT a CI test): tcpretry --watch reconnects CYCLES times
# (default 10,000) to a loopback server that accepts and closes every connection at once,
# with a 1 ms retry delay. Memory and descriptors must not grow with the cycles:
#   - VmHWM (peak RSS) and VmRSS of the tcpretry process at 1,000 and at CYCLES connections
#   - open fds (ls /proc/PID/fd) at the first connection, at 1,000 and at CYCLES
# The connection count comes from the `connected` events of its JSON stdout as they
# stream. Then it is stopped with SIGINT. Prints a small table; exits 1 if RSS grew by more
# than SOAK_RSS_SLACK_KB between 1,000 and CYCLES, or if fds grew.
#
# Usage: scripts/soak-watch.sh [--help]
# Environment:
#   TCPRETRY=PATH         binary (default build/tcpretry, built in Release if missing)
#   SOAK_CYCLES=N         connections to make (default 10000; the 1,000 sample needs >= 1000)
#   SOAK_RSS_SLACK_KB=N   allowed RSS growth from 1,000 to CYCLES (default 256)
#   SOAK_TIME_LIMIT=S     give up after S seconds (default 600)
# Traffic stays on 127.0.0.1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

for arg in "$@"; do
    case $arg in
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak-watch.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

CYCLES=${SOAK_CYCLES:-10000}
SLACK_KB=${SOAK_RSS_SLACK_KB:-256}
TIME_LIMIT=${SOAK_TIME_LIMIT:-600}
if (( CYCLES < 1000 )); then
    echo "soak-watch.sh: SOAK_CYCLES must be at least 1000" >&2
    exit 2
fi

BIN=${TCPRETRY:-$ROOT/build/tcpretry}
if [[ ! -x $BIN ]]; then
    echo "building $BIN ..." >&2
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build" -j2 --target tcpretry >/dev/null
fi

WORK=$(mktemp -d /tmp/tcpretry-soak.XXXXXX)
SERVER_PID=
TCPRETRY_PID=
cleanup() {
    [[ -n $TCPRETRY_PID ]] && kill -KILL "$TCPRETRY_PID" 2>/dev/null || true
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The server: accept, close at once. It prints its port when listening.
python3 -u - >"$WORK/server.out" 2>"$WORK/server.err" <<'EOF' &
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(256)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.close()
EOF
SERVER_PID=$!
for _ in $(seq 100); do
    [[ -s $WORK/server.out ]] && break
    sleep 0.05
done
PORT=$(head -n1 "$WORK/server.out")
[[ -n $PORT ]] || { echo "soak-watch.sh: the server did not start: $(cat "$WORK/server.err")" >&2; exit 1; }

status_kb() { # FIELD -> kB from /proc/PID/status
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$TCPRETRY_PID/status"
}
fds() { # the fewest open fds over a few quick looks (a connection may be open or not)
    local min=999999 n
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        n=$(ls "/proc/$TCPRETRY_PID/fd" | wc -l)
        (( n < min )) && min=$n
    done
    echo "$min"
}

mkfifo "$WORK/events"
"$BIN" --watch --initial-delay 1ms --max-delay 1ms --jitter 0 -j "127.0.0.1:$PORT" \
    >"$WORK/events" 2>"$WORK/stderr" &
TCPRETRY_PID=$!
# Keep every event; pass on only the connection numbers of `connected` events.
exec 3< <(tee "$WORK/events.jsonl" <"$WORK/events" |
          sed -u -n 's/^{"event":"connected".*"connection":\([0-9]*\).*$/\1/p')

START=$(date +%s.%N)
declare -A HWM RSS FDS SECS
sample() { # LABEL
    HWM[$1]=$(status_kb VmHWM)
    RSS[$1]=$(status_kb VmRSS)
    FDS[$1]=$(fds)
    SECS[$1]=$(awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
}

echo "soak: $CYCLES reconnect cycles against 127.0.0.1:$PORT (tcpretry pid $TCPRETRY_PID)" >&2
n=0
while read -r -t "$TIME_LIMIT" -u 3 n; do
    case $n in
        1) sample start ;;
        1000) sample 1000; echo "soak: 1000 connections after ${SECS[1000]} s" >&2 ;;
    esac
    if (( n >= CYCLES )); then
        sample end
        break
    fi
    if ! kill -0 "$TCPRETRY_PID" 2>/dev/null; then
        break
    fi
done
if (( n < CYCLES )); then
    echo "soak-watch.sh: only $n connections (tcpretry stderr: $(cat "$WORK/stderr"))" >&2
    exit 1
fi

kill -INT "$TCPRETRY_PID"
set +e
wait "$TCPRETRY_PID"
EXIT=$?
set -e
TCPRETRY_PID=
cat <&3 >/dev/null # drain what is left
exec 3<&-

DISCONNECTS=$(grep -c '^{"event":"disconnected"' "$WORK/events.jsonl" || true)
FAILED=$(grep -c '^{"event":"failed"' "$WORK/events.jsonl" || true)
REASONS=$(grep -o '^{"event":"disconnected".*"reason":"[a-z]*"' "$WORK/events.jsonl" |
          sed 's/.*"reason":"\([a-z]*\)"/\1/' | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}')
TARGET_SUMMARY=$(grep '^{"event":"summary".*"target"' "$WORK/events.jsonl" || true)

printf '\n%-12s %10s %10s %8s %8s\n' "connections" "VmHWM kB" "VmRSS kB" "fds" "seconds"
printf '%-12s %10s %10s %8s %8s\n' "1" "${HWM[start]}" "${RSS[start]}" "${FDS[start]}" "${SECS[start]}"
printf '%-12s %10s %10s %8s %8s\n' "1000" "${HWM[1000]}" "${RSS[1000]}" "${FDS[1000]}" "${SECS[1000]}"
printf '%-12s %10s %10s %8s %8s\n' "$CYCLES" "${HWM[end]}" "${RSS[end]}" "${FDS[end]}" "${SECS[end]}"
echo
echo "disconnected events: $DISCONNECTS (${REASONS%, }); failed attempts: $FAILED"
echo "exit status after SIGINT: $EXIT"
echo "per-target summary: $TARGET_SUMMARY"

ok=1
if (( HWM[end] > HWM[1000] + SLACK_KB )); then
    echo "FAIL: peak RSS grew by $(( HWM[end] - HWM[1000] )) kB from 1000 to $CYCLES connections" >&2
    ok=0
fi
if (( RSS[end] > RSS[1000] + SLACK_KB )); then
    echo "FAIL: RSS grew by $(( RSS[end] - RSS[1000] )) kB from 1000 to $CYCLES connections" >&2
    ok=0
fi
if (( FDS[end] > FDS[start] || FDS[1000] > FDS[start] )); then
    echo "FAIL: open fds grew: ${FDS[start]} -> ${FDS[1000]} -> ${FDS[end]}" >&2
    ok=0
fi
if (( EXIT != 0 && EXIT != 1 )); then
    echo "FAIL: exit status $EXIT after SIGINT (watch mode: 0 or 1)" >&2
    ok=0
fi
if (( ok )); then
    echo "PASS: no growth in memory or descriptors over $CYCLES reconnects"
else
    exit 1
fi
