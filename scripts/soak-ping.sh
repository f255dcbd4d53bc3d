#!/usr/bin/env bash
# Soak test for ping mode (NOT a CI test): does memory stay flat while tcpretry probes for
# long? tcpretry --count 0 --interval 1ms --json probes TARGETS loopback ports (default 50;
# a Python server accepts and closes every connection) until PROBES probe events (default
# 1,000,000) have streamed out, then is stopped with SIGINT. Prints VmRSS of the tcpretry
# process after the warm-up (WARMUP probes, default 100,000) and at the end, and VmHWM;
# exits 1 if RSS grew by more than SOAK_RSS_SLACK_KB (default 1024) from warm-up to end.
# ProbeStats keeps its percentiles in core/sketch's bounded LatencySketch (since 18dd35c):
# RSS stays flat (1,000,000 probes, 50 targets, load 14 on 2 cores: 4,648 kB after the
# warm-up, 4,644 kB at the end, 3,317 probes/s). Before, every connect time was kept and RSS
# grew by about 10 bytes a probe (7,024 -> 16,212 kB). tests/integration/test_soak.py runs a
# short version.
#
# Usage: scripts/soak-ping.sh [--help]
# Environment:
#   TCPRETRY=PATH         binary (default build/tcpretry, built in Release if missing)
#   SOAK_PROBES=N         probes to make (default 1000000)
#   SOAK_WARMUP=N         probes before the first RSS reading (default 100000)
#   SOAK_TARGETS=N        loopback targets, one listening port each (default 50)
#   SOAK_RSS_SLACK_KB=N   allowed RSS growth from warm-up to the end (default 1024)
#   SOAK_TIME_LIMIT=S     give up after S seconds (default 900)
# Traffic stays on 127.0.0.1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

for arg in "$@"; do
    case $arg in
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak-ping.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

BIN=${TCPRETRY:-$ROOT/build/tcpretry}
if [[ ! -x $BIN ]]; then
    echo "building $BIN ..." >&2
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build" -j2 --target tcpretry >/dev/null
fi

export BIN
export PROBES=${SOAK_PROBES:-1000000} WARMUP=${SOAK_WARMUP:-100000}
export TARGETS=${SOAK_TARGETS:-50} SLACK_KB=${SOAK_RSS_SLACK_KB:-1024}
export TIME_LIMIT=${SOAK_TIME_LIMIT:-900}
if (( WARMUP >= PROBES )); then
    echo "soak-ping.sh: SOAK_WARMUP must be below SOAK_PROBES" >&2
    exit 2
fi

exec python3 -u - <<'EOF'
import os, selectors, signal, socket, subprocess, sys, threading, time

env = os.environ
probes, warmup = int(env["PROBES"]), int(env["WARMUP"])
targets, slack_kb, time_limit = int(env["TARGETS"]), int(env["SLACK_KB"]), float(env["TIME_LIMIT"])

# The server: TARGETS listening ports on 127.0.0.1, every connection accepted and closed.
sel = selectors.DefaultSelector()
ports = []
for _ in range(targets):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    ports.append(s.getsockname()[1])

def serve():
    while True:
        for key, _ in sel.select():
            try:
                while True:
                    c, _ = key.fileobj.accept()
                    c.close()
            except BlockingIOError:
                pass
threading.Thread(target=serve, daemon=True).start()

def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0

args = [env["BIN"], "--json", "--count", "0", "--interval", "1ms"] + \
       [f"127.0.0.1:{p}" for p in ports]
proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
started = time.monotonic()
seen = 0
rss_warm = None
for line in proc.stdout:
    if b'"event":"probe"' not in line:
        continue
    seen += 1
    if seen == warmup:
        rss_warm = status_kb(proc.pid, "VmRSS")
        warm_at = time.monotonic()
        print(f"after {warmup:,} probes ({warm_at - started:.1f} s): VmRSS {rss_warm} kB", flush=True)
    if seen >= probes or time.monotonic() - started > time_limit:
        break
rss_end, hwm = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "VmHWM")
took = time.monotonic() - started
proc.send_signal(signal.SIGINT)
proc.stdout.close()
proc.wait(timeout=30)
print(f"after {seen:,} probes ({took:.1f} s, {seen / took:,.0f} probes/s, {targets} targets): "
      f"VmRSS {rss_end} kB, VmHWM {hwm} kB", flush=True)
if seen < probes:
    print(f"soak-ping.sh: only {seen:,} probes in {time_limit:.0f} s", file=sys.stderr)
    sys.exit(1)
growth = rss_end - rss_warm
per_probe = growth * 1024 / max(1, seen - warmup)
print(f"RSS growth after warm-up: {growth} kB ({per_probe:.2f} bytes a probe; allowed {slack_kb} kB)")
sys.exit(0 if growth <= slack_kb else 1)
EOF
