#!/usr/bin/env python3
"""Detection-delay driver for scripts/bench.sh (a benchmark, not a test).

For every (moment, tool) pair:
  1. reserve a free loopback port: bind a socket to 127.0.0.1:0 WITHOUT
     listening (connections to it are refused, and no other process can take
     the port);
  2. start the tool waiting on 127.0.0.1:PORT (t_start, monotonic clock);
  3. sleep until t_start + moment, then listen() on that same socket and
     record t_open;
  4. wait for the tool to exit and record t_exit (same process, same clock).
The detection delay is t_exit - t_open: the time a tool needs to notice the
port and get out of the way of whatever the caller wants to do next.

All tools get the SAME moments (random.Random(seed), uniform in [lo, hi]).

Usage:
  bench_detect.py --out results.json [--moments N] [--seed 42] [--lo 0.9]
                  [--hi 2.7] [--timeout 15] --tool NAME=COMMAND ...
COMMAND is split with shlex; every literal "{port}" is replaced with the port,
e.g. --tool 'wait-for-it=wait-for-it -t 10 127.0.0.1:{port}'.
"""

import argparse
import json
import os
import random
import select
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time


def reserve_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))  # bound, not listening: connects are refused
    return s, s.getsockname()[1]


def acceptor(sock, stop):
    """Accept and close connections until told to stop (listener stays cheap)."""
    while not stop.is_set():
        try:
            r, _, _ = select.select([sock], [], [], 0.05)
        except (OSError, ValueError):
            return
        if r:
            try:
                c, _ = sock.accept()
                c.close()
            except OSError:
                pass


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def trial(argv_tmpl, moment, timeout):
    sock, port = reserve_port()
    argv = [a.replace("{port}", str(port)) for a in argv_tmpl]
    stop = threading.Event()
    th = None
    try:
        # Sanity: the reserved port must refuse connections before the moment.
        probe = socket.socket()
        probe.settimeout(1)
        refused = probe.connect_ex(("127.0.0.1", port)) != 0
        probe.close()
        if not refused:
            return {"port": port, "ok": False, "error": "port not closed before start"}

        t_start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Sleep until the moment (coarse sleep, then a short spin for precision).
        deadline = t_start + moment
        while True:
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                break
            if left > 0.002:
                time.sleep(left - 0.001)
        early = proc.poll()
        sock.listen(128)
        t_open = time.monotonic()
        th = threading.Thread(target=acceptor, args=(sock, stop), daemon=True)
        th.start()
        if early is not None:
            proc.wait()
            return {"port": port, "ok": False,
                    "error": "tool exited (rc=%d) before the port opened" % early}
        # Blocking wait (waitpid), NOT proc.wait(timeout=...): with a timeout
        # CPython polls with sleeps of up to 50 ms, which quantizes t_exit.
        # A timer thread is the watchdog instead.
        fired = threading.Event()

        def watchdog():
            fired.set()
            kill_group(proc)

        timer = threading.Timer(timeout, watchdog)
        timer.daemon = True
        timer.start()
        rc = proc.wait()
        t_exit = time.monotonic()
        timer.cancel()
        if fired.is_set():
            return {"port": port, "ok": False, "error": "no exit within %gs of open" % timeout}
        res = {
            "port": port,
            "ok": rc == 0,
            "rc": rc,
            "open_late_ms": (t_open - deadline) * 1000.0,
            "delay_ms": (t_exit - t_open) * 1000.0,
        }
        if rc != 0:
            res["error"] = "exit status %d" % rc
        return res
    finally:
        stop.set()
        if th is not None:
            th.join(1)
        sock.close()


def summarize(delays):
    if not delays:
        return None
    s = sorted(delays)
    return {
        "n": len(s),
        "mean_ms": statistics.fmean(s),
        "median_ms": statistics.median(s),
        "min_ms": s[0],
        "max_ms": s[-1],
        "stdev_ms": statistics.stdev(s) if len(s) > 1 else 0.0,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--moments", type=int, default=16)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--lo", type=float, default=0.9)
    ap.add_argument("--hi", type=float, default=2.7)
    ap.add_argument("--timeout", type=float, default=15.0,
                    help="seconds after the open before a tool counts as failed")
    ap.add_argument("--tool", action="append", default=[], metavar="NAME=COMMAND")
    a = ap.parse_args()
    if not a.tool:
        ap.error("no --tool given")

    tools = []
    for spec in a.tool:
        name, sep, cmd = spec.partition("=")
        if not sep or not cmd.strip():
            ap.error("bad --tool %r (want NAME=COMMAND)" % spec)
        tools.append((name, cmd, shlex.split(cmd)))

    rng = random.Random(a.seed)
    moments = [round(rng.uniform(a.lo, a.hi), 3) for _ in range(a.moments)]

    results = {name: {"command": cmd, "trials": []} for name, cmd, _ in tools}
    total = len(moments) * len(tools)
    done = 0
    for i, m in enumerate(moments):
        # Rotate the tool order per moment so no tool always runs first.
        order = tools[i % len(tools):] + tools[:i % len(tools)]
        for name, _cmd, argv in order:
            r = trial(argv, m, a.timeout)
            r["moment_s"] = m
            results[name]["trials"].append(r)
            done += 1
            if r["ok"]:
                msg = "delay %7.1f ms" % r["delay_ms"]
            else:
                msg = "FAILED: %s" % r.get("error")
            print("  [%3d/%d] moment %.3fs %-26s %s" % (done, total, m, name, msg),
                  file=sys.stderr, flush=True)
            time.sleep(0.05)

    for name in results:
        tr = results[name]["trials"]
        results[name]["summary"] = summarize([t["delay_ms"] for t in tr if t["ok"]])
        results[name]["failures"] = sum(1 for t in tr if not t["ok"])

    out = {
        "seed": a.seed,
        "lo_s": a.lo,
        "hi_s": a.hi,
        "moments_s": moments,
        "order": [name for name, _, _ in tools],
        "tools": results,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
