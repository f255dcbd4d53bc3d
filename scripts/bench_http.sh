#!/usr/bin/env bash
# tcpretry HTTP benchmark (NOT a pass/fail test), loopback only:
#
#   1. one HTTP readiness check of a loopback nginx (Debian's, a static file), whole process:
#      `tcpretry --once http://...` beside `curl -fsS -o /dev/null URL` and
#      `wget -q -O /dev/null URL`, interleaved; median and mean wall time and the children's
#      CPU time (user + system), and tcpretry's ratio to curl. Goal: <= 0.7x curl.
#   2. detection of an endpoint turning from 503 to 200 while waiting: tcpretry
#      (--max-delay 250ms) and `wait-on http://...` (npm; its default 250 ms interval) started
#      at the same moment against the same Python server, which turns at a random moment
#      1-3 s later; the delay from the turn to each process's exit. Goal: tcpretry's mean
#      <= 1.0x wait-on's. Skipped with a message when npm (or wait-on) is missing.
#
# Usage: scripts/bench_http.sh [--quick] [--help]
# Environment:
#   BENCH_QUICK=1          fewer samples (same as --quick)
#   BENCH_HTTP_RUNS=N      runs per command in part 1 (default 50, quick 10)
#   BENCH_HTTP_FLIPS=N     flips in part 2 (default 10, quick 4)
#   TCPRETRY="CMD ..."     command to bench as tcpretry (default build/tcpretry)
# Results: Markdown on stdout; progress on stderr.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
QUICK=${BENCH_QUICK:-0}
for arg in "$@"; do
    case $arg in
        --quick|-q) QUICK=1 ;;
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_http.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    RUNS=${BENCH_HTTP_RUNS:-10}; FLIPS=${BENCH_HTTP_FLIPS:-4}
else
    RUNS=${BENCH_HTTP_RUNS:-50}; FLIPS=${BENCH_HTTP_FLIPS:-10}
fi
BENCH_HTTP_CMD=${TCPRETRY:-$ROOT/build/tcpretry}
WAIT_ON=$(command -v wait-on || true)
if [[ -z $WAIT_ON ]] && command -v npm >/dev/null; then
    echo "bench_http.sh: installing wait-on (npm install -g wait-on)" >&2
    npm install -g wait-on >/dev/null 2>&1 || true
    WAIT_ON=$(command -v wait-on || true)
fi
export RUNS FLIPS BENCH_HTTP_CMD WAIT_ON
export PYTHONPATH="$ROOT/tests/integration${PYTHONPATH:+:$PYTHONPATH}"

exec python3 - <<'PY'
import os, random, resource, shlex, statistics, subprocess, sys, time
import servers_http as sh

runs, flips = int(os.environ["RUNS"]), int(os.environ["FLIPS"])
tcpretry = shlex.split(os.environ["BENCH_HTTP_CMD"])
wait_on = os.environ.get("WAIT_ON") or None


def timed(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if rc != 0:
        sys.exit(f"bench_http.sh: {argv} exited {rc}")
    return wall * 1000, cpu * 1000


def part1():
    nginx = sh.nginx_http()
    nginx.start()
    try:
        url = nginx.url + "health.txt"
        tools = {"tcpretry": tcpretry + ["--once", "-q", url],
                 "curl": ["curl", "-fsS", "-o", "/dev/null", url],
                 "wget": ["wget", "-q", "-O", "/dev/null", url]}
        samples = {k: [] for k in tools}
        for _ in range(3):  # warm-up: page cache, nginx's first request
            for argv in tools.values():
                timed(argv)
        for i in range(runs):
            print(f"part 1: run {i + 1}/{runs}", file=sys.stderr, end="\r")
            for name, argv in tools.items():
                samples[name].append(timed(argv))
        print(file=sys.stderr)
    finally:
        nginx.close()
    print(f"## One HTTP readiness check of loopback nginx ({runs} runs each, interleaved)\n")
    print("| tool | median ms | mean ms | CPU ms (mean) | median vs curl |")
    print("|---|---:|---:|---:|---:|")
    curl_median = statistics.median(w for w, _ in samples["curl"])
    for name, s in samples.items():
        walls = [w for w, _ in s]
        med = statistics.median(walls)
        print(f"| {name} | {med:.2f} | {statistics.mean(walls):.2f} | "
              f"{statistics.mean(c for _, c in s):.2f} | {med / curl_median:.2f}x |")
    print()


def part2_precise():
    if wait_on is None:
        print("## 503 -> 200 detection\n\nskipped: wait-on is not installed (npm absent or "
              "`npm install -g wait-on` failed)\n")
        return
    import threading
    delays = {"tcpretry": [], "wait-on": []}
    for i in range(flips):
        print(f"part 2: flip {i + 1}/{flips}", file=sys.stderr, end="\r")
        server = sh.flipping_server(after_seconds=random.uniform(1.0, 3.0))
        try:
            url = server.url("/")
            argvs = {"tcpretry": tcpretry + ["-q", "--max-delay", "250ms", "-t", "30s", url],
                     "wait-on": [wait_on, "-t", "30000", url]}
            ended = {}

            def run(name):
                p = subprocess.Popen(argvs[name], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                p.wait(timeout=60)
                ended[name] = (time.monotonic(), p.returncode)
            threads = [threading.Thread(target=run, args=(n,)) for n in argvs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for name, (at, rc) in ended.items():
                if rc != 0:
                    sys.exit(f"bench_http.sh: {name} exited {rc}")
                delays[name].append((at - server.flip.turned_at) * 1000)
        finally:
            server.close()
    print(file=sys.stderr)
    print(f"## 503 -> 200 detection delay ({flips} flips at random moments 1-3 s in)\n")
    print("| tool | mean ms | median ms | max ms | mean vs wait-on |")
    print("|---|---:|---:|---:|---:|")
    base = statistics.mean(delays["wait-on"])
    for name, d in delays.items():
        print(f"| {name} | {statistics.mean(d):.0f} | {statistics.median(d):.0f} | "
              f"{max(d):.0f} | {statistics.mean(d) / base:.2f}x |")
    print()


part1()
part2_precise()
PY
