#!/usr/bin/env bash
# Writes app/link_order.txt: the symbols (functions and data) that short runs of tcpretry touch,
# one per line. ld.lld links tcpretry with it as --symbol-ordering-file (app/CMakeLists.txt),
# which places the sections holding them first in .text, .rodata, .data.rel.ro, .data and
# .bss. A run then touches a few packed 64 KiB windows of the binary instead of pages
# scattered over all of it (the kernel maps file pages 64 KiB around each fault): peak RSS
# and start time fall (scripts/bench.sh parts 1 and 4).
#
#   scripts/link-order.sh    builds the static tcpretry as scripts/build-static.sh does and
#                            the dynamic one as scripts/run.sh does, unstripped, in
#                            build-order-static/ and build-order-dynamic/ (or
#                            $TCPRETRY_BUILD_ORDER_STATIC / $TCPRETRY_BUILD_ORDER_DYNAMIC),
#                            traces both with valgrind's lackey, rewrites app/link_order.txt
#
# Rerun it when the start-up path changes much (new libraries, a new option parser...): names
# not in the file still link, only further away. The runs traced: one probe of an open port
# (human, --json, -q through /etc/hosts' localhost) and one refused probe (--once); then a
# --serve exporter answering one /probe and one /metrics request. The short runs' symbols
# come first in the file, the exporter's others after them, so a short run's windows stay
# as few as they were and an idle exporter touches few more.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
static_build=${TCPRETRY_BUILD_ORDER_STATIC:-$root/build-order-static}
dynamic_build=${TCPRETRY_BUILD_ORDER_DYNAMIC:-$root/build-order-dynamic}
out=$root/app/link_order.txt
command -v valgrind >/dev/null || { echo "link-order.sh: needs valgrind" >&2; exit 1; }

# The compiler flags of build-static.sh and run.sh: symbol names depend on them.
cmake -S "$root" -B "$static_build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS_RELEASE="-Os -DNDEBUG" -DTCPRETRY_STATIC=ON -DTCPRETRY_BUILD_TESTS=OFF >&2
cmake --build "$static_build" --target tcpretry -j "$(nproc)" >&2
cmake -S "$root" -B "$dynamic_build" -DCMAKE_BUILD_TYPE=Release -DTCPRETRY_BUILD_TESTS=OFF >&2
cmake --build "$dynamic_build" --target tcpretry -j "$(nproc)" >&2

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# A loopback server that accepts and closes, and a port nothing listens on.
python3 - "$work/ports" <<'PY' &
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
closed = socket.socket()
closed.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{s.getsockname()[1]} {closed.getsockname()[1]}\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    c.close()
PY
server_pid=$!
for _ in $(seq 100); do [ -f "$work/ports" ] && break; sleep 0.1; done
read -r open closed <"$work/ports"

for kind in static dynamic; do
  [ $kind = static ] && bin=$static_build/tcpretry || bin=$dynamic_build/tcpretry
  n=0
  for args in "127.0.0.1:$open" "--json 127.0.0.1:$open" "-q localhost:$open" \
              "--once 127.0.0.1:$closed"; do
    n=$((n + 1))
    # shellcheck disable=SC2086 # the arguments are words
    valgrind --tool=lackey --trace-mem=yes --log-file="$work/trace.$kind.$n" "$bin" $args \
      >/dev/null 2>&1 || true # the refused probe exits 1
  done
  # The exporter: started under lackey (slow: wait up to 120 s for it to answer), one probe
  # and one metrics request, then SIGTERM, on which it exits cleanly (and lackey writes).
  serve_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  valgrind --tool=lackey --trace-mem=yes --log-file="$work/serve.$kind" "$bin" \
    --serve "127.0.0.1:$serve_port" -q >/dev/null 2>&1 &
  serve_pid=$!
  for _ in $(seq 1200); do
    curl -fsS -o /dev/null "http://127.0.0.1:$serve_port/probe?target=127.0.0.1:$open" && break
    sleep 0.1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$serve_port/metrics" ||
    echo "link-order.sh: the $kind exporter did not answer" >&2
  kill -TERM "$serve_pid"
  wait "$serve_pid" || true
done

# Every instruction and data address of the traces, mapped to the symbol that holds it.
python3 - "$out" "$static_build/tcpretry" "$dynamic_build/tcpretry" "$work" <<'PY'
import bisect, glob, subprocess, sys
out, static_bin, dynamic_bin, work = sys.argv[1:5]
# valgrind loads a position-independent main program at this address
k_valgrind_pie_base = 0x108000

def symbols_of(binary):
    elf = subprocess.run(["readelf", "-h", binary], check=True, capture_output=True, text=True)
    base = k_valgrind_pie_base if "DYN (" in elf.stdout else 0
    symbols = []
    nm = subprocess.run(["nm", "-S", "--defined-only", binary], check=True,
                        capture_output=True, text=True).stdout
    for line in nm.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwWrRdDbBvV" and not f[3].startswith("."):
            symbols.append((int(f[0], 16) + base, int(f[1], 16), f[3]))
    return sorted(symbols)

def touched_by(paths, symbols):
    starts = [s[0] for s in symbols]
    mine = set()
    for path in paths:
        with open(path) as f:
            for line in f:
                what, _, rest = line.lstrip().partition(" ")
                if what not in ("I", "L", "S", "M"):
                    continue
                address = int(rest.split(",")[0], 16)
                i = bisect.bisect_right(starts, address) - 1
                if i >= 0 and address < symbols[i][0] + max(symbols[i][1], 1):
                    mine.add(symbols[i][2])
    return mine

short, serve = set(), set()
for kind, binary in (("static", static_bin), ("dynamic", dynamic_bin)):
    symbols = symbols_of(binary)
    mine = touched_by(glob.glob(f"{work}/trace.{kind}.*"), symbols)
    if "main" not in mine:
        sys.exit(f"link-order.sh: the {kind} traces never ran main: addresses not understood")
    short |= mine
    serve |= touched_by(glob.glob(f"{work}/serve.{kind}"), symbols)
serve -= short
with open(out, "w") as f:
    f.write("".join(name + "\n" for name in sorted(short) + sorted(serve)))
print(f"link-order.sh: {len(short)} + {len(serve)} (--serve) symbols -> {out}", file=sys.stderr)
PY
