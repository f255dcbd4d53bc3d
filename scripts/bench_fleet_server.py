#!/usr/bin/env python3
"""Loopback endpoints for the fleet sections of scripts/bench.sh (not a test).

  bench_fleet_server.py PORTFILE [--backlog N]

Opens
  - a listener on 0.0.0.0:PORT (kernel-chosen) that accepts and closes connections, so
    every 127.x.y.z:PORT is an open port; connections from outside 127.0.0.0/8 are closed
    unserved and counted as "foreign" (expected: none; the benchmark connects to 127/8 only);
  - a closed port on 127.0.0.1: a bound socket that never listens (connections are refused,
    and nobody else can take the port while this runs);
writes "PORT CLOSEDPORT" to PORTFILE (atomically), then serves until SIGTERM/SIGINT, when it
writes "accepted N foreign M" to PORTFILE.stats.
"""

import argparse
import ipaddress
import os
import select
import signal
import socket
import sys

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("portfile")
    ap.add_argument("--backlog", type=int, default=65535)  # capped by net.core.somaxconn
    args = ap.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("0.0.0.0", 0))
    listener.listen(args.backlog)
    listener.setblocking(False)
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))

    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{listener.getsockname()[1]} {closed.getsockname()[1]}\n")
    os.rename(tmp, args.portfile)

    counts = {"accepted": 0, "foreign": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        try:
            ready, _, _ = select.select([listener], [], [], 0.2)
        except InterruptedError:
            continue
        if not ready:
            continue
        while True:  # drain the accept queue
            try:
                conn, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if ipaddress.ip_address(peer[0]) in LOOPBACK:
                counts["accepted"] += 1
            else:
                counts["foreign"] += 1
            conn.close()
    with open(args.portfile + ".stats", "w") as f:
        f.write(f"accepted {counts['accepted']} foreign {counts['foreign']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
