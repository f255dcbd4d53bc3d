#!/usr/bin/env bash
# tcpretry benchmark (NOT a pass/fail test): compares tcpretry with common
# "is the port up / wait for the port" tools, side by side, on loopback only.
#
#   1. one probe of an open port, whole process (hyperfine means + peak RSS):
#      tcpretry (dynamic build) and tcpretry (static build) vs nc -z, wait-for-it, nmap -sT
#   2. detection delay: the port opens at a random moment while the tool
#      waits; time from the open to the tool's exit.
#      tcpretry (defaults), tcpretry --max-delay 250ms, wait-for-it, wait-on
#   3. fleet: 1,000 loopback targets (127.x.y.z, one port), one probe each:
#      tcpretry -q --targets-file vs nmap -sT -Pn -n -T5 -iL vs wait-on with
#      1,000 tcp: resources (hyperfine means, ratios, peak RSS)
#   4. scale: 1,000 / 10,000 / 100,000 loopback targets, one probe each: wall time and
#      peak RSS of tcpretry side by side with nmap -sT -T5 -Pn -n and a minimal epoll
#      connector in C (compiled here with cc: non-blocking connect, epoll for
#      writability, SO_ERROR, close; the floor of what the kernel allows), with ratios
#   5. CPU while waiting: tcpretry --timeout 10s on a closed port (user+sys,
#      kernel rusage), with wait-on and wait-for-it on the same port for reference
#   tls, http, serve: scripts/bench_tls.sh (one TLS probe vs openssl s_client and curl,
#      dynamic and static tcpretry; ping-mode tls_ms), scripts/bench_http.sh and
#      scripts/bench_serve.sh (each left out while its script does not exist)
#
# Usage: scripts/bench.sh [--quick] [--sections=LIST] [--help]
#   --sections=LIST      comma-separated subset of wait (parts 1-2), fleet,
#                        scale, cpu, tls, http, serve (default: all)
# Environment:
#   BENCH_QUICK=1        fewer samples (same as --quick)
#   BENCH_SECTIONS=LIST  same as --sections
#   BENCH_FLEET_N=N      targets in part 3            (default 1000)
#   BENCH_FLEET_RUNS=N   hyperfine runs in part 3     (default 10, quick 3)
#   BENCH_SCALE_SIZES=L  target counts in part 4      (default "1000 10000 100000")
#   BENCH_SCALE_RUNS=N   runs per tool and size       (default 5,  quick 2)
#   BENCH_SCALE_PARALLEL=N  the epoll floor's connects in flight (default 1024, as
#                        tcpretry's --parallel)
#   BENCH_CPU_SECONDS=N  --timeout in part 5          (default 10, quick 5)
#   BENCH_RUNS=N         hyperfine runs per command   (default 50, quick 10)
#   BENCH_WARMUP=N       hyperfine warmup runs        (default 5,  quick 2)
#   BENCH_MOMENTS=N      detection-delay moments      (default 64, quick 4)
#   BENCH_SEED=N         seed for the moments         (default 42)
#   BENCH_CACHE=DIR      npm cache + last results     (default /tmp/tcpretry-bench)
#   TCPRETRY="CMD ..."   command to bench as tcpretry (default build/tcpretry,
#                        built in Release if missing)
#   TCPRETRY_STATIC=PATH the static tcpretry of part 1 (default build-static/tcpretry,
#                        made by scripts/build-static.sh if missing)
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
        --sections=*) BENCH_SECTIONS=${arg#--sections=} ;;
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    RUNS=${BENCH_RUNS:-10}; WARMUP=${BENCH_WARMUP:-2}; MOMENTS=${BENCH_MOMENTS:-4}
else
    RUNS=${BENCH_RUNS:-50}; WARMUP=${BENCH_WARMUP:-5}; MOMENTS=${BENCH_MOMENTS:-64}
fi
SEED=${BENCH_SEED:-42}
SECTIONS=${BENCH_SECTIONS:-wait,fleet,scale,cpu,tls,http,serve}
FLEET_N=${BENCH_FLEET_N:-1000}
SCALE_SIZES=${BENCH_SCALE_SIZES:-1000 10000 100000}
SCALE_PARALLEL=${BENCH_SCALE_PARALLEL:-1024}
for n in $SCALE_SIZES; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: bad BENCH_SCALE_SIZES: $SCALE_SIZES" >&2; exit 2; }
done
if [[ $QUICK == 1 ]]; then
    FLEET_RUNS=${BENCH_FLEET_RUNS:-3}; SCALE_RUNS=${BENCH_SCALE_RUNS:-2}
    CPU_SECONDS=${BENCH_CPU_SECONDS:-5}
else
    FLEET_RUNS=${BENCH_FLEET_RUNS:-10}; SCALE_RUNS=${BENCH_SCALE_RUNS:-5}
    CPU_SECONDS=${BENCH_CPU_SECONDS:-10}
fi
want() { [[ ,$SECTIONS, == *,$1,* ]]; }
for sec in ${SECTIONS//,/ }; do
    case $sec in
        wait|fleet|scale|cpu|tls|http|serve) ;;
        *) echo "bench.sh: unknown section: $sec (wait, fleet, scale, cpu, tls, http, serve)" >&2
           exit 2 ;;
    esac
done
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
FLEET_PID=
cleanup() {
    if [[ -n $LISTENER_PID ]]; then
        kill "$LISTENER_PID" 2>/dev/null || true
        wait "$LISTENER_PID" 2>/dev/null || true
    fi
    if [[ -n $FLEET_PID ]]; then
        kill "$FLEET_PID" 2>/dev/null || true
        wait "$FLEET_PID" 2>/dev/null || true
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

# The static build, for part 1 (issue 10: a static binary starts faster than the dynamic one).
STATIC_BIN=
if want wait || want tls; then
    STATIC_BIN=${TCPRETRY_STATIC:-$ROOT/build-static/tcpretry}
    if [[ ! -x $STATIC_BIN && -z ${TCPRETRY_STATIC:-} ]]; then
        log "build-static/tcpretry missing: scripts/build-static.sh"
        "$ROOT/scripts/build-static.sh" >"$OUT/build-static.log" 2>&1 ||
            { tail -n 30 "$OUT/build-static.log" >&2; die "static build failed (log: $OUT/build-static.log)"; }
    fi
    [[ -x $STATIC_BIN ]] || die "no static tcpretry at $STATIC_BIN"
fi

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

if want wait; then
    # --------------------------------------------- part 1: one probe, whole process
    # Rows: name <TAB> command (space-separated, no shell) <TAB> status
    PROBES=()
    PROBES+=("tcpretry	${TCPRETRY_STR} 127.0.0.1:$PORT")
    PROBES+=("tcpretry (static)	${STATIC_BIN} 127.0.0.1:$PORT")
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
                # peak RSS (KiB) and minor page faults: the faults count the pages a run
                # maps (fault-around maps up to 16 per fault), and load does not move them
                if /usr/bin/time -f %M/%R -o "$WORK/rss" "${argv[@]}" >/dev/null 2>&1; then
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
fi

# --------------------------------------- parts 3-5: fleets (issue 4) ----
# One listener on 0.0.0.0 answers on every 127.x.y.z address (it closes connections from
# outside 127/8 unserved; every target below is in 127/8), and a bound, never-listening
# socket makes a closed port.
listen_overflows() {  # TcpExtListenOverflows of this network namespace
    awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "ListenOverflows") c = i; n = 1 }
                      else { print $c; exit } }' /proc/net/netstat 2>/dev/null || echo 0
}
if want fleet || want scale || want cpu; then
    python3 -u "$SCRIPT_DIR/bench_fleet_server.py" "$WORK/fleet.port" &
    FLEET_PID=$!
    for _ in $(seq 100); do [[ -s $WORK/fleet.port ]] && break; sleep 0.05; done
    [[ -s $WORK/fleet.port ]] || die "fleet listener did not start"
    read -r FLEET_PORT CLOSED_PORT <"$WORK/fleet.port"
    log "fleet listener on 0.0.0.0:$FLEET_PORT (loopback peers only);" \
        "closed port 127.0.0.1:$CLOSED_PORT"
    # Distinct addresses 127.S.Y.Z (never 127.0.0.1, no .0/.255): ADDR, ADDR:PORT and
    # tcp:ADDR:PORT lists for the fleet; ADDR:PORT and ADDR lists for each scale size.
    python3 - "$WORK" "$FLEET_PORT" "$FLEET_N" $SCALE_SIZES <<'PY'
import sys
work, port, fleet_n = sys.argv[1], sys.argv[2], int(sys.argv[3])
scale_sizes = [int(n) for n in sys.argv[4:]]
def addresses(n, first):
    out, s, y, z = [], first, 0, 2
    while len(out) < n:
        out.append(f"127.{s}.{y}.{z}")
        z += 1
        if z > 254:
            z, y = 1, y + 1
            if y > 255:
                y, s = 0, s + 1
    return out
fleet = addresses(fleet_n, 10)
open(f"{work}/fleet.addrs", "w").write("".join(a + "\n" for a in fleet))
open(f"{work}/fleet.targets", "w").write("".join(f"{a}:{port}\n" for a in fleet))
open(f"{work}/fleet.waiton", "w").write(" ".join(f"tcp:{a}:{port}" for a in fleet))
for n in scale_sizes:
    scale = addresses(n, 100)
    open(f"{work}/scale.{n}.targets", "w").write("".join(f"{a}:{port}\n" for a in scale))
    open(f"{work}/scale.{n}.addrs", "w").write("".join(a + "\n" for a in scale))
PY
fi

# ------------------------------------ part 3: 1,000 targets, one probe each
if want fleet; then
    # wait-on takes its resources as arguments: a wrapper keeps the hyperfine command short.
    FLEET=("tcpretry	${TCPRETRY_STR} -q --targets-file $WORK/fleet.targets")
    if ((HAVE_NMAP)); then
        FLEET+=("nmap -sT -T5	nmap -sT -Pn -n -T5 -p $FLEET_PORT -iL $WORK/fleet.addrs -oG -")
    else skip "nmap not installed (no nmap row in the fleet table)"; fi
    if [[ -n $WAIT_ON ]]; then
        printf '#!/bin/sh\nexec %s %s\n' "$WAIT_ON" "$(cat "$WORK/fleet.waiton")" \
            >"$WORK/waiton-fleet.sh"
        chmod +x "$WORK/waiton-fleet.sh"
        FLEET+=("wait-on	$WORK/waiton-fleet.sh")
    else skip "wait-on not installed (no wait-on row in the fleet table)"; fi

    : >"$OUT/fleet.tsv"
    OVERFLOWS_BEFORE=$(listen_overflows)
    i=0
    for row in "${FLEET[@]}"; do
        i=$((i + 1))
        name=${row%%	*}; cmd=${row#*	}
        read -r -a argv <<<"$cmd"
        status=ok rc=0
        # Sanity: every target reached once (tcpretry: JSON connected events; nmap: open
        # ports in its grepable output; wait-on: exit 0).
        case $name in
            tcpretry)
                "${TCPRETRY_CMD[@]}" --json --targets-file "$WORK/fleet.targets" \
                    >"$OUT/fleet$i.check.log" 2>&1 || rc=$?
                n=$(grep -c '"event":"connected"' "$OUT/fleet$i.check.log" || true)
                ((rc == 0 && n == FLEET_N)) || status="failed (exit $rc, $n of $FLEET_N connected)" ;;
            nmap*)
                "${argv[@]}" >"$OUT/fleet$i.check.log" 2>&1 || rc=$?
                n=$(grep -o "$FLEET_PORT/open/" "$OUT/fleet$i.check.log" | wc -l)
                ((rc == 0 && n == FLEET_N)) || status="failed (exit $rc, $n of $FLEET_N open)" ;;
            *)
                "${argv[@]}" >"$OUT/fleet$i.check.log" 2>&1 || rc=$?
                ((rc == 0)) || status="failed (exit $rc)" ;;
        esac
        [[ $status == ok ]] || log "$name: fleet sanity run: $status; see $OUT/fleet$i.check.log"
        json=
        if [[ $status == ok ]] && ((HAVE_HF)); then
            log "hyperfine: $name, $FLEET_N targets (1 warmup + $FLEET_RUNS runs)"
            if hyperfine -N --style basic --warmup 1 --runs "$FLEET_RUNS" \
                   --export-json "$OUT/fleet$i.json" -n "$name" "$cmd" \
                   >"$OUT/fleet$i.hyperfine.log" 2>&1; then
                json=$OUT/fleet$i.json
            else
                status="failed (hyperfine; see $OUT/fleet$i.hyperfine.log)"
            fi
        fi
        rss=
        if [[ $status == ok ]] && ((HAVE_TIME)); then
            for _ in 1 2 3; do
                if /usr/bin/time -f %M -o "$WORK/rss" "${argv[@]}" >/dev/null 2>&1; then
                    rss+="$(tail -n 1 "$WORK/rss") "
                fi
            done
        fi
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cmd" "$status" "$json" "$rss" >>"$OUT/fleet.tsv"
    done
    echo "$(( $(listen_overflows) - OVERFLOWS_BEFORE ))" >"$OUT/fleet.overflows"
fi

# ----------------------------- part 4: 1,000 / 10,000 / 100,000 targets ----
# The floor: what any connector must pay the kernel per target, nothing more.
write_epoll_floor() {
    cat >"$1" <<'C'
/* epoll_floor FILE [PARALLEL]: non-blocking connect to every ADDR:PORT line of FILE (IPv4),
 * at most PARALLEL in flight, epoll for writability, SO_ERROR, close. Prints how many
 * connected; exits 0 when all did. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [PARALLEL]\n", argv[0]);
        return 2;
    }
    size_t parallel = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    size_t n = 0, cap = 1024;
    struct sockaddr_in *addrs = malloc(cap * sizeof *addrs);
    char line[128];
    while (addrs && fgets(line, sizeof line, f)) {
        char *colon = strrchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        if (n == cap)
            addrs = realloc(addrs, (cap *= 2) * sizeof *addrs);
        if (!addrs)
            break;
        memset(&addrs[n], 0, sizeof addrs[n]);
        addrs[n].sin_family = AF_INET;
        addrs[n].sin_port = htons((unsigned short)atoi(colon + 1));
        if (inet_pton(AF_INET, line, &addrs[n].sin_addr) == 1)
            n++;
    }
    fclose(f);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!addrs || ep < 0) {
        perror("epoll_floor");
        return 2;
    }
    size_t next = 0, inflight = 0, ok = 0, failed = 0;
    struct epoll_event evs[256];
    while (next < n || inflight) {
        while (inflight < parallel && next < n) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                if (inflight)
                    break; /* out of descriptors: wait for one */
                perror("socket");
                return 1;
            }
            int r = connect(fd, (struct sockaddr *)&addrs[next++], sizeof addrs[0]);
            if (r != 0 && errno == EINPROGRESS) {
                struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                inflight++;
                continue;
            }
            r == 0 ? ok++ : failed++;
            close(fd);
        }
        int k = epoll_wait(ep, evs, 256, 3000);
        if (k <= 0)
            break; /* 3 s of silence: the rest are unanswered */
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd, err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            err == 0 ? ok++ : failed++;
            close(fd); /* also leaves the epoll set */
            inflight--;
        }
    }
    printf("%zu connected, %zu failed, %zu unanswered\n", ok, failed, n - ok - failed);
    return ok == n ? 0 : 1;
}
C
}

# How many of the targets a tool's output says are up: tcpretry -q says it by its exit
# status (wait mode: 0 = every target connected), nmap by open ports, the floor in words.
scale_ok() {  # NAME RC OUTFILE N
    case $1 in
        tcpretry) (($2 == 0)) && echo "$4" || echo "?" ;;
        nmap*) grep -c "$FLEET_PORT/open/" "$3" || true ;;
        *) sed -n 's/^\([0-9]*\) connected.*/\1/p' "$3" ;;
    esac
}

if want scale; then
    ((HAVE_TIME)) || skip "time (/usr/bin/time) not installed (no scale measurements)"
    : >"$OUT/scale.tsv"
    FLOOR=
    if have cc; then
        write_epoll_floor "$WORK/epoll_floor.c"
        if cc -O2 -o "$WORK/epoll_floor" "$WORK/epoll_floor.c" >"$OUT/epoll_floor.log" 2>&1; then
            FLOOR=$WORK/epoll_floor
        else
            skip "the epoll floor did not compile (see $OUT/epoll_floor.log)"
        fi
    else
        skip "cc not installed (no epoll floor in the scale table)"
    fi
    ((HAVE_NMAP)) || skip "nmap not installed (no nmap row in the scale table)"
    # Each probe in flight holds a descriptor: the soft limit up to the hard one (tcpretry
    # does this itself; nmap and the floor do not). --parallel keeps tcpretry below it.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    echo "$(ulimit -Sn) $(ulimit -Hn)" >"$OUT/scale.nofile"
    if ((HAVE_TIME)); then
        OVERFLOWS_BEFORE=$(listen_overflows)
        # Baseline: one target.
        rc=0
        /usr/bin/time -f '%e %M %U %S' -o "$WORK/t1" "${TCPRETRY_CMD[@]}" -q \
            "127.0.0.2:$FLEET_PORT" >/dev/null 2>&1 || rc=$?
        printf '1\tbaseline\t%s\t%s\t1\t%s\n' "${TCPRETRY_STR} -q 127.0.0.2:PORT" "$rc" \
            "$(tail -n 1 "$WORK/t1")" >>"$OUT/scale.tsv"
        for n in $SCALE_SIZES; do
            # Rows: name <TAB> command (space-separated, no shell)
            TOOLS=("tcpretry	${TCPRETRY_STR} -q --targets-file $WORK/scale.$n.targets")
            ((HAVE_NMAP)) && TOOLS+=("nmap -sT -T5	nmap -sT -T5 -Pn -n -p $FLEET_PORT -iL $WORK/scale.$n.addrs -oG -")
            [[ -n $FLOOR ]] && TOOLS+=("epoll floor	$FLOOR $WORK/scale.$n.targets $SCALE_PARALLEL")
            log "scale: $n targets, ${#TOOLS[@]} tools x $SCALE_RUNS runs (interleaved)"
            # Interleaved runs: a load that comes and goes falls on every tool alike.
            for r in $(seq "$SCALE_RUNS"); do
                for row in "${TOOLS[@]}"; do
                    name=${row%%	*}; cmd=${row#*	}
                    read -r -a argv <<<"$cmd"
                    rc=0
                    /usr/bin/time -f '%e %M %U %S' -o "$WORK/tN" "${argv[@]}" \
                        >"$WORK/scale.out" 2>"$OUT/scale.$n.err" || rc=$?
                    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$name" "$cmd" "$rc" \
                        "$(scale_ok "$name" "$rc" "$WORK/scale.out" "$n")" \
                        "$(tail -n 1 "$WORK/tN")" >>"$OUT/scale.tsv"
                done
            done
        done
        # One JSON run at the middle size: were all connected, in one attempt each, and how
        # long did the slowest wait (SYN retransmits would show as ~1 s)?
        read -r -a sizes <<<"$SCALE_SIZES"
        mid=${sizes[$(( ${#sizes[@]} / 2 ))]}
        "${TCPRETRY_CMD[@]}" --json --targets-file "$WORK/scale.$mid.targets" \
            >"$OUT/scale.json" 2>&1 || true
        echo "$mid" >"$OUT/scale.json.n"
        echo "$(( $(listen_overflows) - OVERFLOWS_BEFORE ))" >"$OUT/scale.overflows"
    fi
fi

# ---------------------------------------------- part 5: CPU while waiting ----
if want cpu; then
    CPU_TOOLS=(--tool "tcpretry=${TCPRETRY_STR} --timeout ${CPU_SECONDS}s 127.0.0.1:$CLOSED_PORT")
    if [[ -n $WAIT_ON ]]; then
        CPU_TOOLS+=(--tool "wait-on=$WAIT_ON -t ${CPU_SECONDS}s tcp:127.0.0.1:$CLOSED_PORT")
    fi
    if ((HAVE_WFI)); then
        CPU_TOOLS+=(--tool "wait-for-it=wait-for-it -q -t $CPU_SECONDS 127.0.0.1:$CLOSED_PORT")
    fi
    log "CPU while waiting: $(( ${#CPU_TOOLS[@]} / 2 )) tools side by side for ${CPU_SECONDS} s"
    # All at once (each has its own clock and rusage); user+sys from wait4 (microseconds),
    # children included (wait-for-it forks).
    python3 - "$OUT/cpu.json" "${CPU_TOOLS[@]}" <<'PY'
import json, shlex, subprocess, sys
out, args = sys.argv[1], sys.argv[2:]
tools = [args[i + 1].split("=", 1) for i in range(0, len(args), 2)]
procs = []
for name, cmd in tools:
    # A wrapper process per tool, so that rusage of grandchildren (RUSAGE_CHILDREN of the
    # wrapper) is counted too.
    wrapper = ("import json, resource, subprocess, sys, time\n"
               "t = time.monotonic()\n"
               "p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL,"
               " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
               "wall = time.monotonic() - t\n"
               "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(json.dumps({'exit': p.returncode, 'wall': wall, 'user': r.ru_utime,"
               " 'sys': r.ru_stime, 'maxrss_kib': r.ru_maxrss}))\n")
    p = subprocess.Popen([sys.executable, "-c", wrapper, *shlex.split(cmd)],
                         stdout=subprocess.PIPE)
    procs.append((name, cmd, p))
results = {"order": [], "tools": {}}
for name, cmd, p in procs:
    data = json.loads(p.communicate()[0].decode() or '{"wall": 0}')
    data["command"] = cmd
    results["order"].append(name)
    results["tools"][name] = data
json.dump(results, open(out, "w"), indent=1)
PY
fi
# Sections in scripts of their own: Markdown into $OUT/<section>.md.
for sec in tls http serve; do
    want "$sec" || continue
    script=$SCRIPT_DIR/bench_$sec.sh
    if [[ ! -f $script ]]; then
        log "section $sec: $script does not exist yet; left out"
        continue
    fi
    log "section $sec: $script"
    TCPRETRY="$TCPRETRY_STR" TCPRETRY_STATIC="$STATIC_BIN" BENCH_QUICK=$QUICK \
        bash "$script" >"$OUT/$sec.md" 2>"$OUT/$sec.log" ||
        { tail -n 20 "$OUT/$sec.log" >&2; log "section $sec failed (log: $OUT/$sec.log)"; }
done
# --------------------------------------------------------------- report ----
{
printf '# tcpretry benchmark%s\n\n' "$( ((QUICK)) && echo ' (quick mode)' || true)"
printf 'Host: %s, %s cores, %s, load average at start %s / at end %s. tcpretry: `%s`.\n\n' \
    "$(uname -sr)" "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)" "$LOAD_START" \
    "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)" "$TCPRETRY_STR"
for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do printf -- '- %s\n' "$s"; done
((${#SKIPPED[@]})) && echo
if want wait; then
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
    mean = sd = mn = med = None
    if js:
        r = json.load(open(js))["results"][0]
        mean, sd, mn = r["mean"] * 1e3, r["stddev"] * 1e3, r["min"] * 1e3
        med = r["median"] * 1e3
    rssv = [int(x.split("/")[0]) for x in rss.split()]
    faults = [int(x.split("/")[1]) for x in rss.split() if "/" in x]
    rows.append(dict(name=name, cmd=cmd, status=status, mean=mean, sd=sd, mn=mn, med=med,
                     rss=max(rssv) / 1024 if rssv else None,
                     faults=statistics.median(faults) if faults else None))
base = next((r["mean"] for r in rows if r["name"] == "nc -z"), None)
print(f"## 1. One probe of an open port (whole process)\n")
print(f"hyperfine -N, {warmup} warmup + {runs} runs each; peak RSS = max of "
      f"{rss_runs} runs of `/usr/bin/time -f %M` (largest process of the tree); page "
      f"faults = their median count of minor faults (`%R`).\n")
base_med = next((r["med"] for r in rows if r["name"] == "nc -z"), None)
# The median too: on a loaded machine a few slow runs move the mean by more than the
# difference between the tools.
print("| tool | command | mean ms | ± σ ms | median ms | min ms | ratio vs nc -z | "
      "median ratio | peak RSS MiB | page faults |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
for r in rows:
    if r["status"] != "ok":
        print(f"| {r['name']} | `{r['cmd']}` | {r['status']} | | | | | | | |")
        continue
    rt = ratio(r["mean"], base)
    rm = ratio(r["med"], base_med)
    print(f"| {r['name']} | `{r['cmd']}` | {f(r['mean'],2)} | {f(r['sd'],2)} | "
          f"{f(r['med'],2)} | {f(r['mn'],2)} | {f(rt,2) + '×' if rt is not None else 'n/a'} | "
          f"{f(rm,2) + '×' if rm is not None else 'n/a'} | {f(r['rss'],2)} | "
          f"{f(r['faults'],0)} |")
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
st = next((r for r in rows if r["name"] == "tcpretry (static)"), None)
goal("peak RSS of one tcpretry probe", tr["rss"] if tr else None, 8, " MiB", le=False)
goal("one probe: tcpretry / nc -z, mean", ratio(tr["mean"] if tr else None, base),
     None, "×")
goal("one probe: tcpretry (static) / nc -z, mean",
     ratio(st["mean"] if st else None, base), 0.8, "×")
goal("one probe: tcpretry (static) / nc -z, median",
     ratio(st["med"] if st else None, base_med), 0.8, "×")
goal("peak RSS of one static tcpretry probe", st["rss"] if st else None, 2, " MiB")
PY
echo
fi
if want fleet || want scale || want cpu; then
python3 - "$OUT" "$FLEET_N" "$FLEET_RUNS" "$SCALE_RUNS" "$CPU_SECONDS" "${FLEET_PORT:-}" \
    "$WORK" <<'PY'
import json, os, statistics, sys
out, fleet_n, fleet_runs, scale_runs, cpu_s, port, work = sys.argv[1:8]
fleet_n, cpu_s = int(fleet_n), float(cpu_s)

def f(x, nd=1):
    return "n/a" if x is None else f"{x:.{nd}f}"

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

def overflows(name):
    p = f"{out}/{name}.overflows"
    return open(p).read().strip() if os.path.exists(p) else "n/a"

goals = []

# ---- part 3
if os.path.exists(f"{out}/fleet.tsv"):
    rows = []
    for line in open(f"{out}/fleet.tsv"):
        name, cmd, status, js, rss = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
        mean = sd = mn = None
        if js:
            r = json.load(open(js))["results"][0]
            mean, sd, mn = r["mean"] * 1e3, r["stddev"] * 1e3, r["min"] * 1e3
        rssv = [int(x) for x in rss.split()]
        rows.append(dict(name=name, cmd=cmd, status=status, mean=mean, sd=sd, mn=mn,
                         rss=max(rssv) / 1024 if rssv else None))
    tr = next((r["mean"] for r in rows if r["name"] == "tcpretry"), None)
    print(f"## 3. {fleet_n:,} loopback targets, one probe each\n")
    print(f"{fleet_n:,} distinct addresses 127.10.y.z, one port, a listener on 0.0.0.0 that "
          f"accepts and closes (loopback peers only). hyperfine -N, 1 warmup + {fleet_runs} "
          f"runs; peak RSS = max of 3 runs. Each tool's sanity run had to reach all "
          f"{fleet_n:,} (tcpretry: `connected` events; nmap: open ports). wait-on gets its "
          f"{fleet_n:,} `tcp:` resources as arguments through a `#!/bin/sh exec` wrapper. "
          f"listen-queue overflows in the network namespace during this part (TcpExtListenOverflows; other processes count too): {overflows('fleet')}.\n")
    print("| tool | command | mean ms | ± σ ms | min ms | ratio vs tcpretry | peak RSS MiB |")
    print("|---|---|--:|--:|--:|--:|--:|")
    for r in rows:
        cmd = r["cmd"].replace(work, "$WORK")
        if "waiton-fleet.sh" in cmd:
            cmd = f"wait-on tcp:127.10.0.2:PORT … ({fleet_n:,} resources)"
        cmd = cmd.replace(f":{port}", ":PORT").replace(f"-p {port}", "-p PORT")
        if r["status"] != "ok":
            print(f"| {r['name']} | `{cmd}` | {r['status']} | | | | |")
            continue
        rt = ratio(r["mean"], tr)
        print(f"| {r['name']} | `{cmd}` | {f(r['mean'])} | {f(r['sd'])} | {f(r['mn'])} | "
              f"{f(rt, 2) + '×' if rt is not None else 'n/a'} | {f(r['rss'], 2)} |")
    print()
    nm = next((r["mean"] for r in rows if r["name"].startswith("nmap")), None)
    wo = next((r["mean"] for r in rows if r["name"] == "wait-on"), None)
    goals.append((f"{fleet_n:,} targets: nmap / tcpretry (tcpretry faster than nmap)",
                  ratio(nm, tr), 1.0, "×", "gt"))
    goals.append((f"{fleet_n:,} targets: wait-on / tcpretry (≥ 5× faster than wait-on)",
                  ratio(wo, tr), 5.0, "×", "ge"))

# ---- part 4
if os.path.exists(f"{out}/scale.tsv") and os.path.getsize(f"{out}/scale.tsv"):
    base = None
    rows = {}   # (n, name) -> {"cmd", "runs": [...]}
    sizes = []
    for line in open(f"{out}/scale.tsv"):
        n, name, cmd, rc, ok, vals = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
        v = vals.split()
        if len(v) < 4:
            continue
        run = dict(rc=int(rc), ok=ok, wall=float(v[0]), rss=int(v[1]) / 1024,
                   user=float(v[2]), sys=float(v[3]))
        if name == "baseline":
            base = run
            continue
        n = int(n)
        if n not in sizes:
            sizes.append(n)
        rows.setdefault((n, name), {"cmd": cmd, "runs": []})["runs"].append(run)
    nofile = open(f"{out}/scale.nofile").read().split() if os.path.exists(
        f"{out}/scale.nofile") else ["n/a", "n/a"]
    print("## 4. 1,000 / 10,000 / 100,000 loopback targets, one probe each\n")
    print(f"Distinct addresses 127.100.y.z and up, one port, the fleet listener (accepts and "
          f"closes). Each tool {scale_runs} runs per size under `/usr/bin/time`, the tools "
          f"interleaved; wall = median, peak RSS = max of the runs, CPU = median user+sys. "
          f"tcpretry: `-q --targets-file` (wait mode, default --parallel 1024); nmap: "
          f"`-sT -T5 -Pn -n -iL`; epoll floor: a minimal C connector compiled by this script "
          f"(non-blocking connect, epoll for writability, SO_ERROR, close; 1024 in flight "
          f"like --parallel): the floor of what the kernel allows. Descriptors: soft limit "
          f"{nofile[0]}, hard limit {nofile[1]}. Listen-queue overflows during this part "
          f"(TcpExtListenOverflows; other processes count too): {overflows('scale')}.\n")
    if base:
        print(f"One target (baseline): wall {base['wall']:.2f} s, peak RSS "
              f"{base['rss']:.1f} MiB.\n")
    print("| targets | tool | up (last run) | exit | wall s | CPU s | peak RSS MiB | wall ÷ floor "
          "| RSS ÷ floor | RSS ÷ nmap | RSS KiB per target |")
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    def summary(n, name):
        r = rows.get((n, name))
        if not r:
            return None
        runs = r["runs"]
        return dict(wall=statistics.median(x["wall"] for x in runs),
                    cpu=statistics.median(x["user"] + x["sys"] for x in runs),
                    rss=max(x["rss"] for x in runs), rc=runs[-1]["rc"], ok=runs[-1]["ok"])
    for n in sizes:
        fl = summary(n, "epoll floor")
        nm = summary(n, "nmap -sT -T5")
        for name in ("tcpretry", "nmap -sT -T5", "epoll floor"):
            t = summary(n, name)
            if not t:
                continue
            per = ((t["rss"] - base["rss"]) * 1024 / n) if base and name == "tcpretry" else None
            def x(a, b):
                r = ratio(a, b)
                return f"{r:.2f}×" if r is not None else "n/a"
            print(f"| {n:,} | {name} | {t['ok']} | {t['rc']} | {t['wall']:.2f} | "
                  f"{t['cpu']:.2f} | {t['rss']:.1f} | "
                  f"{x(t['wall'], fl['wall'] if fl else None)} | "
                  f"{x(t['rss'], fl['rss'] if fl else None)} | "
                  f"{x(t['rss'], nm['rss'] if nm else None)} | "
                  f"{f(per, 2) if per is not None else ''} |")
        tr = summary(n, "tcpretry")
        if tr and n == 10000:
            goals.append(("10,000 targets: tcpretry peak RSS", tr["rss"], 12, " MiB", "le"))
            goals.append(("10,000 targets: tcpretry wall ÷ epoll floor",
                          ratio(tr["wall"], fl["wall"] if fl else None), 1.2, "×", "le"))
        if tr and n == 100000:
            goals.append(("100,000 targets: tcpretry peak RSS", tr["rss"], 100, " MiB", "le"))
    print("\nCommands: " + "; ".join(
        f"{name}: `{rows[(sizes[0], name)]['cmd'].replace(work, '$WORK').replace(f'-p {port}', '-p PORT')}`"
        for name in ("tcpretry", "nmap -sT -T5", "epoll floor") if (sizes and (sizes[0], name) in rows)))
    js = f"{out}/scale.json"
    if os.path.exists(js):
        ev = []
        for line in open(js):
            try:
                ev.append(json.loads(line))
            except ValueError:
                pass
        con = [e for e in ev if e.get("event") == "connected"]
        attempts = sum(1 for e in ev if e.get("event") == "attempt")
        slowest = max((e["waited_ms"] for e in con), default=None)
        jn = open(f"{out}/scale.json.n").read().strip()
        print(f"\nOne `--json` run of {int(jn):,} targets: {len(con):,} connected, "
              f"{attempts:,} attempts, slowest target waited {f(slowest)} ms.")
    print()

# ---- part 5
if os.path.exists(f"{out}/cpu.json"):
    d = json.load(open(f"{out}/cpu.json"))
    print(f"## 5. CPU while waiting on a closed port ({cpu_s:g} s)\n")
    print("Side by side, all against the same refused port; wall time and user+sys "
          "(the kernel's rusage, children included) measured around each tool.\n")
    print("| tool | command | exit | wall s | user ms | sys ms | CPU ms | % of a core |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for name in d["order"]:
        t = d["tools"][name]
        first, _, rest = t["command"].partition(" ")
        cmd = (os.path.basename(first) if name == "wait-on" else first) + " " + rest
        cpu = (t.get("user", 0) + t.get("sys", 0)) * 1e3
        print(f"| {name} | `{cmd}` | {t.get('exit')} | {t['wall']:.2f} | "
              f"{t.get('user', 0) * 1e3:.1f} | {t.get('sys', 0) * 1e3:.1f} | {cpu:.1f} | "
              f"{100 * cpu / 1e3 / t['wall']:.3f} % |")
        if name == "tcpretry":
            goals.append((f"CPU of tcpretry --timeout {cpu_s:g}s on a closed port "
                          f"(< 1 % of a core = {10 * cpu_s:g} ms)", cpu, 10 * cpu_s, " ms",
                          "lt"))
    print()

if goals:
    print("## Goals, fleet and CPU (informational)\n")
    print("| goal | measured | target | met? |")
    print("|---|--:|--:|:-:|")
    for label, val, target, unit, how in goals:
        if target is None:
            print(f"| {label} | {'n/a' if val is None else f'{val:.2f}{unit}'} | (reference) | – |")
        elif val is None:
            print(f"| {label} | n/a | {target}{unit} | n/a |")
        else:
            sym, met = {"gt": (">", val > target), "ge": ("≥", val >= target),
                        "lt": ("<", val < target), "le": ("≤", val <= target)}[how]
            print(f"| {label} | {val:.2f}{unit} | {sym} {target}{unit} | "
                  f"{'yes' if met else 'NO'} |")
PY
fi
for sec in tls http serve; do
    if [[ -s $OUT/$sec.md ]]; then
        cat "$OUT/$sec.md"
        echo
    fi
done
} >"$OUT/results.md"
cat "$OUT/results.md"
log "raw data: $OUT"
