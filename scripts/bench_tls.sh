#!/usr/bin/env bash
# tcpretry TLS benchmark (NOT a pass/fail test), loopback only:
#
#   1. one TLS probe, whole process: `tcpretry --tls --once` (certificate verified against
#      the bench's CA) side by side with `openssl s_client -connect ... </dev/null` and
#      `curl -sk https://...`, against `openssl s_server` and (when installed) nginx.
#      Median and mean wall time per run and the process's CPU time (user + system; what a
#      loaded machine does not blur), timed here with the tools interleaved, and tcpretry's
#      ratio to the faster of the two. Goal: <= 0.5x.
#   2. ping mode over TLS: the tls_ms tcpretry reports (-c N) against handshake times
#      measured s_time-style on the same server by a small C client this script compiles
#      against the same OpenSSL: like `openssl s_time -new`, a new connection and a full
#      handshake each time, but timed per handshake (SSL_new + SSL_connect, with the same
#      CA and host-name verification); `openssl s_time -new` itself (connections per
#      second, whole connect/handshake/close cycle) is shown for reference.
#      Goal: tcpretry's tls_ms within 10 % of the handshake time the C client measures.
#
# Usage: scripts/bench_tls.sh [--quick] [--help]
# Environment:
#   BENCH_QUICK=1          fewer samples (same as --quick)
#   BENCH_TLS_RUNS=N       runs per command in part 1   (default 50, quick 10)
#   BENCH_TLS_PROBES=N     probes / handshakes, part 2  (default 200, quick 40)
#   BENCH_TLS_NGINX=0      leave nginx out of part 1
#   TCPRETRY="CMD ..."     command to bench as tcpretry (default build/tcpretry)
#   TCPRETRY_STATIC=PATH   also bench this static tcpretry (scripts/build-static.sh; the
#                          binary the .deb ships), in rows of its own; part 2 then uses it
# Results: Markdown on stdout; progress on stderr.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

QUICK=${BENCH_QUICK:-0}
for arg in "$@"; do
    case $arg in
        --quick|-q) QUICK=1 ;;
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_tls.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    RUNS=${BENCH_TLS_RUNS:-10}; PROBES=${BENCH_TLS_PROBES:-40}
else
    RUNS=${BENCH_TLS_RUNS:-50}; PROBES=${BENCH_TLS_PROBES:-200}
fi
if [[ -n ${TCPRETRY:-} ]]; then
    read -r -a TCPRETRY_CMD <<<"$TCPRETRY"
else
    TCPRETRY_CMD=("$ROOT/build/tcpretry")
fi
[[ -x ${TCPRETRY_CMD[0]} ]] || command -v "${TCPRETRY_CMD[0]}" >/dev/null ||
    { echo "bench_tls.sh: no tcpretry at ${TCPRETRY_CMD[0]} (build it, or set TCPRETRY)" >&2; exit 2; }
# The tcpretry commands of part 1, as "label<TAB>command": the dynamic and the static build.
TOOLS=$(printf 'tcpretry\t%s' "${TCPRETRY_CMD[*]}")
PING_CMD=("${TCPRETRY_CMD[@]}")
if [[ -n ${TCPRETRY_STATIC:-} ]]; then
    [[ -x $TCPRETRY_STATIC ]] ||
        { echo "bench_tls.sh: TCPRETRY_STATIC=$TCPRETRY_STATIC is not an executable" >&2; exit 2; }
    TOOLS=$(printf 'tcpretry (dynamic)\t%s\ntcpretry (static)\t%s' "${TCPRETRY_CMD[*]}" \
        "$TCPRETRY_STATIC")
    PING_CMD=("$TCPRETRY_STATIC")
fi
for tool in openssl curl python3 cc; do
    command -v "$tool" >/dev/null || { echo "bench_tls.sh: $tool is required" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/tcpretry-bench-tls.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "bench_tls: $*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listening() { # port
    for _ in $(seq 1 200); do
        python3 - "$1" <<'EOF' && return 0
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
except OSError:
    sys.exit(1)
EOF
        sleep 0.05
    done
    echo "bench_tls.sh: nothing listens on 127.0.0.1:$1" >&2
    exit 1
}

# A CA and a leaf for localhost / 127.0.0.1 (P-256: the handshake's cost is the protocol's,
# not a slow RSA signature).
make_certs() {
    local d=$WORK
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=bench CA" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$d/leaf.key" -out "$d/leaf.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext.cnf" -out "$d/leaf.crt" 2>/dev/null
}

start_s_server() { # port
    openssl s_server -accept "127.0.0.1:$1" -cert "$WORK/leaf.crt" -key "$WORK/leaf.key" \
        -www -quiet </dev/null >/dev/null 2>&1 &
    PIDS+=($!)
    wait_listening "$1"
}

start_nginx() { # port; returns 1 when nginx is missing
    local nginx
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    [[ -x $nginx ]] || return 1
    mkdir -p "$WORK/nginx/tmp"
    chmod 755 "$WORK" "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $WORK/leaf.crt;
        ssl_certificate_key $WORK/leaf.key;
        location / { return 200 "ok\n"; }
    }
}
EOF
    "$nginx" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
    PIDS+=($!)
    wait_listening "$1"
}

# Part 1: mean and median seconds of each command, interleaved; prints Markdown rows.
time_commands() { # label port
    local label=$1 port=$2
    python3 - "$RUNS" "$label" "$port" "$WORK/ca.crt" "$TOOLS" <<'EOF'
import resource, statistics, subprocess, sys, time
runs, label, port, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
commands = {}
for line in sys.argv[5].splitlines():
    name, command = line.split("\t")
    commands[f"{name} --tls --once"] = command.split() + [
        "--tls", "--once", "-q", "--ca-file", ca, f"localhost:{port}"]
commands.update({
    "openssl s_client </dev/null": ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                                    "-servername", "localhost"],
    "curl -sk https://": ["curl", "-sk", "-o", "/dev/null", f"https://127.0.0.1:{port}/"],
})
times = {k: [] for k in commands}
cpu = {k: [] for k in commands}  # user + system seconds of the process (not the machine's load)
def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for i in range(runs + 2):  # two warm-up rounds, not counted
    for name, argv in commands.items():
        c = children_cpu()
        t = time.perf_counter()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        took = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"{name} failed ({p.returncode}): {' '.join(argv)}")
        if i >= 2:
            times[name].append(took)
            cpu[name].append(children_cpu() - c)
med = {k: statistics.median(v) for k, v in times.items()}
mean = {k: statistics.fmean(v) for k, v in times.items()}
cpu_mean = {k: statistics.fmean(v) for k, v in cpu.items()}
peers = [k for k in commands if not k.startswith("tcpretry")]
fastest_med = min(med[k] for k in peers)
fastest_mean = min(mean[k] for k in peers)
fastest_cpu = min(cpu_mean[k] for k in peers)
for name in commands:
    ratio = ""
    if name.startswith("tcpretry"):
        ratio = (f"{med[name] / fastest_med:.2f}x median, {mean[name] / fastest_mean:.2f}x mean, "
                 f"{cpu_mean[name] / fastest_cpu:.2f}x CPU")
    print(f"| {label} | {name} | {med[name] * 1000:.2f} | {mean[name] * 1000:.2f} | "
          f"{cpu_mean[name] * 1000:.2f} | {ratio} |")
EOF
}

# The s_time-style reference of part 2: COUNT connections to 127.0.0.1:PORT, INTERVAL ms
# apart; for each, a blocking connect, then SSL_new + SSL_connect timed with CLOCK_MONOTONIC
# (verified as tcpretry verifies: the bench's CA, the name localhost, SNI localhost). It
# prints "connect_ms handshake_ms" per connection; one SSL_CTX serves all of them, as in
# s_time and in tcpretry's ping mode.
build_stime() {
    cat >"$WORK/stime.c" <<'EOF'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: stime PORT CA-FILE COUNT INTERVAL-MS\n");
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[3]), interval = atoi(argv[4]);
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1)
        return 1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < count; i++) {
        double t0 = now_ms();
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
            perror("connect");
            return 1;
        }
        double t1 = now_ms();
        SSL* ssl = SSL_new(ctx);
        SSL_set_tlsext_host_name(ssl, "localhost");
        SSL_set1_host(ssl, "localhost");
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) != 1 || SSL_get_verify_result(ssl) != X509_V_OK) {
            ERR_print_errors_fp(stderr);
            return 1;
        }
        double t2 = now_ms();
        printf("%.4f %.4f\n", t1 - t0, t2 - t1);
        SSL_shutdown(ssl);
        SSL_free(ssl);
        close(fd);
        struct timespec gap = {interval / 1000, (interval % 1000) * 1000000L};
        nanosleep(&gap, NULL);
    }
    SSL_CTX_free(ctx);
    return 0;
}
EOF
    cc -O2 -o "$WORK/stime" "$WORK/stime.c" -lssl -lcrypto
}

# Part 2: tcpretry's reported tls_ms against handshakes timed here and openssl s_time. The two
# alternate in blocks, so a change of load on the machine weighs on both alike.
ping_vs_handshake() { # port
    python3 - "$1" "$PROBES" "$WORK/ca.crt" "$WORK/stime" "${PING_CMD[@]}" <<'EOF'
import json, re, statistics, subprocess, sys, time
port, n, ca, stime = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
tcpretry = sys.argv[5:]
block = 10
tls, conn, hs, total = [], [], [], []
for _ in range(max(1, n // block)):
    out = subprocess.run(tcpretry + ["--json", "--tls", "--ca-file", ca, "-c", str(block),
                                     "-i", "10ms", f"localhost:{port}"],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    probes = [json.loads(l) for l in out.splitlines() if '"probe"' in l]
    if not all(p["ok"] for p in probes):
        sys.exit("a tcpretry probe failed")
    tls += [p["tls_ms"] for p in probes]
    conn += [p["connect_ms"] for p in probes]
    # s_time-style: a new connection and a full handshake each time, 10 ms apart like the
    # probes, timed in C around SSL_new + SSL_connect (and around connect + handshake).
    ref = subprocess.run([stime, str(port), ca, str(block), "10"], stdout=subprocess.PIPE,
                         check=True, text=True).stdout
    for line in ref.splitlines():
        c, h = map(float, line.split())
        hs.append(h)
        total.append(c + h)
# openssl s_time -new: back-to-back cycles (connect, handshake, close; no verification) for
# 3 s; its "real seconds" are whole seconds, so the wall time is taken here.
t = time.perf_counter()
st = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", "3"],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
wall = time.perf_counter() - t
m = re.search(r"(\d+) connections in [\d.]+ real seconds", st)


def row(name, xs):
    return (f"| {name} | {statistics.median(xs):.3f} | {statistics.fmean(xs):.3f} | "
            f"{min(xs):.3f} |")


print("| measure | median ms | mean ms | min ms |")
print("|---|---|---|---|")
print(row("tcpretry -c N: reported tls_ms", tls))
print(row("s_time-style C client: SSL_new + SSL_connect", hs))
print(row("tcpretry: connect_ms + tls_ms", [a + b for a, b in zip(conn, tls)]))
print(row("s_time-style C client: connect + handshake", total))
if m:
    per = wall / int(m.group(1)) * 1000
    print(f"| openssl s_time -new: wall time / connections (connect, handshake, close) "
          f"| | {per:.3f} | |")
print()
d_med = statistics.median(tls) / statistics.median(hs) - 1
d_mean = statistics.fmean(tls) / statistics.fmean(hs) - 1
print(f"tcpretry's tls_ms against the C client's handshake: {d_med * 100:+.1f} % (median), "
      f"{d_mean * 100:+.1f} % (mean); goal: within 10 %.")
EOF
}

log "making certificates"
make_certs
build_stime
S_PORT=$(free_port)
start_s_server "$S_PORT"
echo "## TLS: one probe, whole process (runs: $RUNS each; ms)"
echo
echo "| server | command | median | mean | CPU (user+sys) mean | tcpretry / faster peer |"
echo "|---|---|---|---|---|---|"
log "part 1: openssl s_server on $S_PORT"
time_commands "openssl s_server" "$S_PORT"
if [[ ${BENCH_TLS_NGINX:-1} != 0 ]]; then
    N_PORT=$(free_port)
    if start_nginx "$N_PORT"; then
        log "part 1: nginx on $N_PORT"
        time_commands "nginx" "$N_PORT"
    else
        log "nginx is not installed: its rows are left out"
    fi
fi
echo
# s_server -www answers one client at a time; fine for sequential probes.
echo "## TLS: ping mode, reported handshake time (probes: $PROBES; openssl s_server)"
echo
log "part 2: ping mode"
ping_vs_handshake "$S_PORT"
