#!/usr/bin/env bash
# tcpretry --serve beside blackbox_exporter (Debian's prometheus-blackbox-exporter, a
# tcp_connect module), both on loopback, probing an accepting loopback listener (a bench,
# not a test). For each: RSS when idle, RSS after 10,000 probes, and probes answered per
# second for 64 concurrent keep-alive clients (ab -k -c 64; ab is one C process, far from
# being the bottleneck). Goals (issue 13): tcpretry at most 0.25x blackbox's RSS, at least
# 2x its probes per second.
#   scripts/bench_serve.sh [BINARY] [REQUESTS]   (defaults: build/tcpretry, 50000)
# Needs: prometheus-blackbox-exporter, apache2-utils (ab), python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/tcpretry}
requests=${2:-50000}
for tool in prometheus-blackbox-exporter ab python3; do
  command -v "$tool" >/dev/null || {
    echo "bench_serve: $tool is missing (apt-get install prometheus-blackbox-exporter apache2-utils)" >&2
    exit 2
  }
done
[[ -x $bin ]] || { echo "bench_serve: no executable $bin" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The probed target: accepts and closes, in two processes sharing the port (SO_REUSEPORT).
target_port=$(free_port)
for _ in 1 2; do
  python3 - "$target_port" <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4096)
while True:
    c, _ = s.accept()
    c.close()
EOF
  pids+=($!)
done

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# user + system CPU time of a process, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_http() { # URL: until it answers
  for _ in $(seq 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench_serve: $1 never answered" >&2
  exit 1
}

# ab's "Requests per second" and its failed/non-2xx counts for N requests at 64 at once.
load() { # URL N
  ab -k -q -c 64 -n "$2" "$1" >"$work/ab.txt" 2>&1 || { cat "$work/ab.txt" >&2; exit 1; }
  local rate failed non2xx
  rate=$(awk '/^Requests per second/ {print $4}' "$work/ab.txt")
  # ab counts answers whose length differs from the first as failed: not a failure here
  # (probe_duration_seconds has more or fewer digits). Connect, receive and exceptions are.
  failed=$(sed -n 's/.*(Connect: \([0-9]*\), Receive: \([0-9]*\), Length: [0-9]*, Exceptions: \([0-9]*\)).*/\1 \2 \3/p' \
    "$work/ab.txt" | awk '{print $1 + $2 + $3}')
  non2xx=$(awk '/^Non-2xx responses/ {print $3}' "$work/ab.txt")
  echo "$rate ${failed:-0} ${non2xx:-0}"
}

measure() { # NAME PID URL
  local name=$1 pid=$2 url=$3
  wait_http "$url"
  local idle after out rate failed non2xx success
  sleep 1
  idle=$(rss_kib "$pid")
  load "$url" 10000 >/dev/null
  after=$(rss_kib "$pid")
  local t0 t1 per_cpu
  t0=$(cpu_ticks "$pid")
  out=$(load "$url" "$requests")
  t1=$(cpu_ticks "$pid")
  read -r rate failed non2xx <<<"$out"
  # probes per CPU second of the exporter: fair on a machine others are loading
  per_cpu=$(awk -v n="$requests" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.0f", (t > 0 ? n / (t / hz) : 0) }')
  success=$(curl -fsS "$url" | awk '$1 == "probe_success" {print $2}')
  printf '%-22s %10s %14s %12s %14s %8s %8s %8s\n' "$name" "$idle" "$after" "$rate" "$per_cpu" \
    "$failed" "$non2xx" "$success"
  echo "$name $idle $after $rate $per_cpu" >>"$work/rows"
}

cat >"$work/blackbox.yml" <<'EOF'
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
EOF
bb_port=$(free_port)
prometheus-blackbox-exporter --config.file="$work/blackbox.yml" \
  --web.listen-address="127.0.0.1:$bb_port" >"$work/blackbox.log" 2>&1 &
pids+=($!)
bb_pid=$!
tr_port=$(free_port)
"$bin" --serve "127.0.0.1:$tr_port" -q &
pids+=($!)
tr_pid=$!

echo "target 127.0.0.1:$target_port; $requests requests at 64 at once after 10,000 (ab -k -c 64)"
printf '%-22s %10s %14s %12s %14s %8s %8s %8s\n' exporter "idle KiB" "after 10k KiB" "probes/s" \
  "probes/CPU-s" failed non-2xx success
measure blackbox_exporter "$bb_pid" \
  "http://127.0.0.1:$bb_port/probe?module=tcp_connect&target=127.0.0.1:$target_port"
measure "tcpretry --serve" "$tr_pid" "http://127.0.0.1:$tr_port/probe?target=127.0.0.1:$target_port"
awk 'NR == 1 {bi = $2; ba = $3; br = $4; bc = $5} NR == 2 {
  printf "tcpretry / blackbox: idle RSS %.3fx, RSS after 10k %.3fx (goal for both: <= 0.25x), probes/s %.2fx (goal >= 2x), probes per CPU second %.2fx\n",
    $2 / bi, $3 / ba, $4 / br, $5 / bc }' <(sed 's/^tcpretry --serve/tcpretry/; s/^blackbox_exporter/blackbox/' "$work/rows")
