#!/usr/bin/env bash
# tcpretry benchmark (NOT a pass/fail test): compares tcpretry with common
# "is the port up / wait for the port" tools, side by side, on loopback only.
#
#   1. one probe of an open port, whole process (hyperfine means + peak RSS):
#      tcpretry vs nc -z, wait-for-it, nmap -sT
#   2. detection delay: the port opens at a random moment while the tool
#      waits; time from the open to the tool's exit.
#      tcpretry (defaults), tcpretry --max-delay 250ms, wait-for-it, wait-on
#
# Usage: scripts/bench.sh [--quick] [--help]
# Environment:
#   BENCH_QUICK=1        fewer samples (same as --quick)
#   BENCH_RUNS=N         hyperfine runs per command   (default 50, quick 10)
#   BENCH_WARMUP=N       hyperfine warmup runs        (default 5,  quick 2)
#   BENCH_MOMENTS=N      detection-delay moments      (default 24, quick 4)
#   BENCH_SEED=N         seed for the moments         (default 42)
#   BENCH_CACHE=DIR      npm cache + last results     (default /tmp/tcpretry-bench)
#   TCPRETRY="CMD ..."   command to bench as tcpretry (default build/tcpretry,
#                        built in Release if missing)
#   BENCH_NO_INSTALL=1   do not apt-get / npm install missing peers
# Results: Markdown on stdout (also saved to $BENCH_CACHE/last/results.md),
# progress on stderr, raw data and hyperfine logs in $BENCH_CACHE/last/.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

QUICK=${BENCH_QUICK:-0}
for arg in "$@"; do
    case $arg in
        --quick|-q) QUICK=1 ;;
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    RUNS=${BENCH_RUNS:-10}; WARMUP=${BENCH_WARMUP:-2}; MOMENTS=${BENCH_MOMENTS:-4}
else
    RUNS=${BENCH_RUNS:-50}; WARMUP=${BENCH_WARMUP:-5}; MOMENTS=${BENCH_MOMENTS:-24}
fi
SEED=${BENCH_SEED:-42}
RSS_RUNS=5
CACHE=${BENCH_CACHE:-/tmp/tcpretry-bench}
OUT=$CACHE/last

log() { printf '%s\n' "bench: $*" >&2; }
die() { printf '%s\n' "bench: error: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

have python3 || die "python3 is required"
mkdir -p "$CACHE"
rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/tcpretry-bench.XXXXXX)
LISTENER_PID=
cleanup() {
    if [[ -n $LISTENER_PID ]]; then
        kill "$LISTENER_PID" 2>/dev/null || true
        wait "$LISTENER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SKIPPED=()   # "skipped: X not installed" lines, printed with the results
skip() { SKIPPED+=("skipped: $*"); log "skipped: $*"; }

# ---------------------------------------------------------------- peers ----
install_debian_peers() {
    [[ ${BENCH_NO_INSTALL:-0} == 1 ]] && return 0
    [[ $(id -u) == 0 ]] || return 0
    have dpkg-query && have apt-get || return 0
    local pkg missing=()
    for pkg in hyperfine netcat-openbsd nmap wait-for-it time; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    log "installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >"$OUT/apt.log" 2>&1 || {
        apt-get update -q >>"$OUT/apt.log" 2>&1 || true
        apt-get install -y -q "${missing[@]}" >>"$OUT/apt.log" 2>&1 ||
            log "apt-get install failed (see $OUT/apt.log); continuing without"
    }
}

WAIT_ON=
find_wait_on() {
    local bin=$CACHE/node_modules/.bin/wait-on
    if [[ ! -x $bin && ${BENCH_NO_INSTALL:-0} != 1 ]] && have npm; then
        log "installing wait-on from npm into $CACHE"
        (cd "$CACHE" && npm install --no-audit --no-fund --prefix "$CACHE" wait-on) \
            >"$OUT/npm.log" 2>&1 || log "npm install wait-on failed (see $OUT/npm.log)"
    fi
    if [[ -x $bin ]] && have node; then WAIT_ON=$bin; fi
}

install_debian_peers
find_wait_on
HAVE_NC=0; HAVE_WFI=0; HAVE_NMAP=0; HAVE_HF=0; HAVE_TIME=0
# nc must be the OpenBSD one (-z semantics as benchmarked)
if have nc && nc -h 2>&1 | grep -qi openbsd; then HAVE_NC=1; fi
have wait-for-it && HAVE_WFI=1
have nmap && HAVE_NMAP=1
have hyperfine && HAVE_HF=1
[[ -x /usr/bin/time ]] && HAVE_TIME=1

# ------------------------------------------------------------- tcpretry ----
if [[ -n ${TCPRETRY:-} ]]; then
    read -r -a TCPRETRY_CMD <<<"$TCPRETRY"
    log "using TCPRETRY override: $TCPRETRY"
else
    if [[ ! -x $ROOT/build/tcpretry ]]; then
        have cmake || die "build/tcpretry is missing and cmake is not installed"
        log "build/tcpretry missing: building (Release)"
        { cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release &&
          cmake --build "$ROOT/build" -j2; } >"$OUT/build.log" 2>&1 ||
            { tail -n 30 "$OUT/build.log" >&2; die "build failed (log: $OUT/build.log)"; }
        [[ -x $ROOT/build/tcpretry ]] || die "build finished but build/tcpretry is missing"
    fi
    TCPRETRY_CMD=("$ROOT/build/tcpretry")
fi
TCPRETRY_STR="${TCPRETRY_CMD[*]}"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)

# ------------------------------------------------------------- listener ----
# Accepts and closes connections in a loop on a free 127.0.0.1 port.
python3 -u - "$WORK/port" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(512)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    try:
        c, _ = s.accept()
        c.close()
    except OSError:
        pass
PY
LISTENER_PID=$!
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.05; done
[[ -s $WORK/port ]] || die "listener did not start"
PORT=$(cat "$WORK/port")
log "listener on 127.0.0.1:$PORT (pid $LISTENER_PID)"

# --------------------------------------------- part 1: one probe, whole process
# Rows: name <TAB> command (space-separated, no shell) <TAB> status
PROBES=()
PROBES+=("tcpretry	${TCPRETRY_STR} 127.0.0.1:$PORT")
if ((HAVE_NC)); then PROBES+=("nc -z	nc -z 127.0.0.1 $PORT")
else skip "nc (netcat-openbsd) not installed"; fi
if ((HAVE_WFI)); then PROBES+=("wait-for-it	wait-for-it -q -t 5 127.0.0.1:$PORT")
else skip "wait-for-it not installed"; fi
if ((HAVE_NMAP)); then PROBES+=("nmap -sT	nmap -sT -Pn -n -p $PORT 127.0.0.1")
else skip "nmap not installed"; fi
((HAVE_HF)) || skip "hyperfine not installed (no probe timings)"
((HAVE_TIME)) || skip "time (/usr/bin/time) not installed (no peak RSS)"

: >"$OUT/probe.tsv"
i=0
for row in "${PROBES[@]}"; do
    i=$((i + 1))
    name=${row%%	*}; cmd=${row#*	}
    read -r -a argv <<<"$cmd"
    status=ok rc=0
    "${argv[@]}" >"$OUT/probe$i.check.log" 2>&1 || rc=$?
    if ((rc != 0)); then
        status="failed (exit $rc)"
        log "$name: sanity probe failed; see $OUT/probe$i.check.log"
    fi
    json=
    if [[ $status == ok ]] && ((HAVE_HF)); then
        log "hyperfine: $name ($WARMUP warmup + $RUNS runs)"
        if hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" \
               --export-json "$OUT/probe$i.json" -n "$name" "$cmd" \
               >"$OUT/probe$i.hyperfine.log" 2>&1; then
            json=$OUT/probe$i.json
        else
            status="failed (hyperfine; see $OUT/probe$i.hyperfine.log)"
        fi
    fi
    rss=
    if [[ $status == ok ]] && ((HAVE_TIME)); then
        for _ in $(seq "$RSS_RUNS"); do
            if /usr/bin/time -f %M -o "$WORK/rss" "${argv[@]}" >/dev/null 2>&1; then
                rss+="$(tail -n 1 "$WORK/rss") "
            fi
        done
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cmd" "$status" "$json" "$rss" >>"$OUT/probe.tsv"
done

# ------------------------------------------------ part 2: detection delay ----
DETECT_TOOLS=(
    --tool "tcpretry (defaults)=${TCPRETRY_STR} 127.0.0.1:{port}"
    --tool "tcpretry --max-delay 250ms=${TCPRETRY_STR} --max-delay 250ms 127.0.0.1:{port}"
)
if ((HAVE_WFI)); then DETECT_TOOLS+=(--tool "wait-for-it=wait-for-it -t 10 127.0.0.1:{port}")
fi  # (its "not installed" line was printed above)
if [[ -n $WAIT_ON ]]; then DETECT_TOOLS+=(--tool "wait-on=$WAIT_ON tcp:127.0.0.1:{port}")
else skip "wait-on not installed (npm/node missing or install failed)"; fi

log "detection delay: $MOMENTS moments (seed $SEED) x $(( ${#DETECT_TOOLS[@]} / 2 )) tools"
python3 "$SCRIPT_DIR/bench_detect.py" --out "$OUT/detect.json" \
    --moments "$MOMENTS" --seed "$SEED" --lo 0.9 --hi 2.7 "${DETECT_TOOLS[@]}"

# --------------------------------------------------------------- report ----
{
printf '# tcpretry benchmark%s\n\n' "$( ((QUICK)) && echo ' (quick mode)' || true)"
printf 'Host: %s, %s cores, %s, load average at start %s / at end %s. tcpretry: `%s`.\n\n' \
    "$(uname -sr)" "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)" "$LOAD_START" \
    "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)" "$TCPRETRY_STR"
for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do printf -- '- %s\n' "$s"; done
((${#SKIPPED[@]})) && echo
python3 - "$OUT/probe.tsv" "$OUT/detect.json" "$RUNS" "$WARMUP" "$RSS_RUNS" <<'PY'
import json, statistics, sys
probe_tsv, detect_json, runs, warmup, rss_runs = sys.argv[1:6]

def f(x, nd=1):
    return "n/a" if x is None else f"{x:.{nd}f}"

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

# ---- part 1
rows = []
for line in open(probe_tsv):
    name, cmd, status, js, rss = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
    mean = sd = mn = None
    if js:
        r = json.load(open(js))["results"][0]
        mean, sd, mn = r["mean"] * 1e3, r["stddev"] * 1e3, r["min"] * 1e3
    rssv = [int(x) for x in rss.split()]
    rows.append(dict(name=name, cmd=cmd, status=status, mean=mean, sd=sd, mn=mn,
                     rss=max(rssv) / 1024 if rssv else None))
base = next((r["mean"] for r in rows if r["name"] == "nc -z"), None)
print(f"## 1. One probe of an open port (whole process)\n")
print(f"hyperfine -N, {warmup} warmup + {runs} runs each; peak RSS = max of "
      f"{rss_runs} runs of `/usr/bin/time -f %M` (largest process of the tree).\n")
print("| tool | command | mean ms | ± σ ms | min ms | ratio vs nc -z | peak RSS MiB |")
print("|---|---|--:|--:|--:|--:|--:|")
for r in rows:
    if r["status"] != "ok":
        print(f"| {r['name']} | `{r['cmd']}` | {r['status']} | | | | |")
        continue
    rt = ratio(r["mean"], base)
    print(f"| {r['name']} | `{r['cmd']}` | {f(r['mean'],2)} | {f(r['sd'],2)} | "
          f"{f(r['mn'],2)} | {f(rt,2) + '×' if rt is not None else 'n/a'} | {f(r['rss'],2)} |")
print()

# ---- part 2
d = json.load(open(detect_json))
tools = d["tools"]
print("## 2. Detection delay (port opens while the tool waits)\n")
print(f"{len(d['moments_s'])} moments uniform in [{d['lo_s']}, {d['hi_s']}] s after "
      f"the tool starts (random.Random({d['seed']})), the same for every tool: "
      + ", ".join(f"{m:.3f}" for m in d["moments_s"]) + " s.")
print("Delay = listener open → tool exit (same process, monotonic clock).\n")
def mean_of(name):
    t = tools.get(name)
    return t["summary"]["mean_ms"] if t and t["summary"] else None
wfi = mean_of("wait-for-it")
won = mean_of("wait-on")
def x(v):
    return f(v, 2) + "×" if v is not None else "n/a"
print("| tool | command | ok/n | mean ms | median ms | min ms | max ms | ratio vs wait-for-it | ratio vs wait-on |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
for name in d["order"]:
    t = tools[name]
    s = t["summary"]
    n = len(t["trials"])
    ok = n - t["failures"]
    cmd = t["command"].replace("{port}", "PORT")
    if s is None:
        print(f"| {name} | `{cmd}` | {ok}/{n} | all failed | | | | | |")
        continue
    print(f"| {name} | `{cmd}` | {ok}/{n} | {f(s['mean_ms'])} | {f(s['median_ms'])} | "
          f"{f(s['min_ms'])} | {f(s['max_ms'])} | {x(ratio(s['mean_ms'], wfi))} | "
          f"{x(ratio(s['mean_ms'], won))} |")
print()

# ---- goals (informational only; this is a benchmark, not a test)
print("## Goals (informational)\n")
print("| goal | measured | target | met? |")
print("|---|--:|--:|:-:|")
def goal(label, val, target, unit, le=True):
    if target is None:
        print(f"| {label} | {'n/a' if val is None else f'{val:.2f}{unit}'} | (reference) | – |")
    elif val is None:
        print(f"| {label} | n/a | {target}{unit} | n/a |")
    else:
        met = val <= target if le else val < target
        print(f"| {label} | {val:.2f}{unit} | {'≤' if le else '<'} {target}{unit} | {'yes' if met else 'NO'} |")
goal("detection: tcpretry (defaults) / wait-for-it, mean",
     ratio(mean_of("tcpretry (defaults)"), wfi), 0.6, "×")
goal("detection: tcpretry --max-delay 250ms / wait-on, mean",
     ratio(mean_of("tcpretry --max-delay 250ms"), mean_of("wait-on")), 1.0, "×")
tr = next((r for r in rows if r["name"] == "tcpretry"), None)
goal("peak RSS of one tcpretry probe", tr["rss"] if tr else None, 8, " MiB", le=False)
goal("one probe: tcpretry / nc -z, mean", ratio(tr["mean"] if tr else None, base),
     None, "×")
PY
} >"$OUT/results.md"
cat "$OUT/results.md"
log "raw data: $OUT"
