"""Helpers for the fleet and ping tests: one listener that answers on every 127.x.y.z
address, distinct loopback addresses by the thousand, a port that is up half of the time,
running tcpretry with stdin or a resource limit, and checks of ping-mode events and of the
Prometheus text format.

Nothing here sends traffic beyond 127.0.0.0/8: the fleet listener is bound to 0.0.0.0 (the
only way one socket answers on all of 127/8) but closes at once any connection whose peer
is not a loopback address, and the tests connect to 127.x.y.z addresses only.
"""

import ipaddress
import json
import math
import os
import re
import resource
import select
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import harness

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


# -- addresses ------------------------------------------------------------------------------

def loopback_addresses(n, second_octet=0):
    """n distinct addresses in 127/8, none ending in .0 or .255 and never 127.0.0.1:
    127.S.y.z for y, z counted up (S = second_octet, then the next ones as needed)."""
    out = []
    s, y, z = second_octet, 0, 2
    while len(out) < n:
        out.append(f"127.{s}.{y}.{z}")
        z += 1
        if z > 254:
            z, y = 1, y + 1
            if y > 255:
                y, s = 0, s + 1
    return out


def write_targets_file(path, lines, newline="\n"):
    with open(path, "wb") as f:
        f.write("".join(line + newline for line in lines).encode())
    return path


# -- servers ---------------------------------------------------------------------------------

class FleetListener:
    """One socket on 0.0.0.0:PORT that accepts and closes connections from loopback peers on
    a thread: every 127.x.y.z:PORT is an open port. by_address counts the accepted
    connections per local (destination) address, so a test can see which addresses were
    really reached."""

    def __init__(self, backlog=4096):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(backlog)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.by_address = {}
        self.foreign = 0  # connections from outside 127/8, closed unserved (expected: none)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fleet-listener", daemon=True)
        self._thread.start()

    def target(self, address):
        return f"{address}:{self.port}"

    @property
    def accepted(self):
        with self._lock:
            return sum(self.by_address.values())

    def addresses_reached(self):
        with self._lock:
            return set(self.by_address)

    def _serve(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            # Drain what is queued without going back to select for each connection.
            while True:
                try:
                    conn, peer = self.sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                try:
                    if ipaddress.ip_address(peer[0]) not in LOOPBACK:
                        self.foreign += 1
                        continue
                    local = conn.getsockname()[0]
                    with self._lock:
                        self.by_address[local] = self.by_address.get(local, 0) + 1
                except OSError:
                    pass
                finally:
                    conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class HalfTimePort:
    """A 127.0.0.1 port that is up for `period` seconds, then refuses for `period` seconds,
    and so on, starting up. The port is reserved all along by a bound, non-listening socket
    with SO_REUSEPORT; a second SO_REUSEPORT socket on the same port listens while the port
    is up and is closed while it is down (Linux cannot stop a socket listening without
    giving its port away). up_time() and down_time() say how long it was in each state."""

    def __init__(self, period=0.2, host="127.0.0.1"):
        self.host = host
        self.period = period
        self.holder = self._socket()
        self.holder.bind((host, 0))
        self.port = self.holder.getsockname()[1]
        self.listener = None
        self.accepted = 0
        self.switches = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="half-time-port", daemon=True)
        self._up()
        self._thread.start()

    @property
    def target(self):
        return harness.target(self.host, self.port)

    @staticmethod
    def _socket():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return s

    def _up(self):
        s = self._socket()
        s.bind((self.host, self.port))
        s.listen(64)
        s.setblocking(False)
        self.listener = s

    def _down(self):
        s, self.listener = self.listener, None
        self._drain(s)
        s.close()  # connections still queued are reset

    def _drain(self, s):
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def _run(self):
        next_switch = time.monotonic() + self.period
        while not self._stop.is_set():
            left = next_switch - time.monotonic()
            if left <= 0:
                if self.listener is not None:
                    self._down()
                else:
                    self._up()
                self.switches += 1
                next_switch += self.period
                continue
            if self.listener is not None:
                ready, _, _ = select.select([self.listener], [], [], min(left, 0.02))
                if ready:
                    self._drain(self.listener)
            else:
                self._stop.wait(min(left, 0.02))

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        if self.listener is not None:
            self.listener.close()
        self.holder.close()


# -- running tcpretry -------------------------------------------------------------------------

def run_with(*args, stdin=None, nofile=None, timeout=harness.RUN_TIMEOUT):
    """Runs tcpretry with `stdin` (bytes) on its standard input and, when nofile is given,
    RLIMIT_NOFILE set to (nofile, nofile) so it cannot raise it. Returns a harness.Result."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    argv = harness._argv(args)
    start = time.monotonic()
    proc = subprocess.run(argv, input=stdin if stdin is not None else b"",
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          preexec_fn=limit if nofile is not None else None)
    return harness.Result(list(args), proc.returncode, proc.stdout, proc.stderr,
                          time.monotonic() - start)


def free_port(host="127.0.0.1"):
    """A port nobody listens on right now (the kernel's pick for an ephemeral bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# -- ping-mode events --------------------------------------------------------------------------

PROBE_OK_FIELDS = {"target": str, "seq": int, "address": str, "port": int, "ok": bool,
                   "connect_ms": harness.NUMBER}
PROBE_FAILED_FIELDS = {"target": str, "seq": int, "ok": bool, "error": str, "message": str}
SUMMARY_FIELDS = {"result": str, "sent": int, "received": int, "loss_percent": harness.NUMBER,
                  "longest_failure_streak": int}
OVERALL_FIELDS = dict(SUMMARY_FIELDS, targets=int, elapsed_ms=harness.NUMBER, exit_code=int)
# A probe can also fail its --send/--expect check.
PROBE_ERRORS = harness.ERROR_CLASSES | {"expect_mismatch", "expect_timeout"}
LATENCY_KEYS = ("min", "avg", "max", "mdev", "p50", "p90", "p99")


def _typed(e, fields):
    problems = []
    for field, kind in fields.items():
        if field not in e:
            problems.append(f"{e.get('event')} lacks {field}")
        elif kind is bool:
            if not isinstance(e[field], bool):
                problems.append(f"{field} is not a boolean: {e[field]!r}")
        elif isinstance(e[field], bool) or not isinstance(e[field], kind):
            problems.append(f"{field} has the wrong type: {e[field]!r}")
    return problems


def ping_problems(e, overall=False):
    """What is wrong with one ping-mode probe or summary event (empty list: nothing)."""
    name = e.get("event")
    if name == "probe":
        problems = _typed(e, PROBE_OK_FIELDS if e.get("ok") is True else PROBE_FAILED_FIELDS)
        if problems:
            return problems
        if e["seq"] < 1:
            problems.append("seq < 1")
        if e["ok"]:
            if e["connect_ms"] < 0:
                problems.append("negative connect_ms")
            for f in ("error", "errno"):
                if f in e:
                    problems.append(f"a successful probe has {f}")
        else:
            if e["error"] not in PROBE_ERRORS:
                problems.append(f"error {e['error']!r}")
            if "connect_ms" in e:
                problems.append("a failed probe has connect_ms")
            if "errno" in e and not re.fullmatch(r"E[A-Z0-9_]+", str(e["errno"])):
                problems.append(f"errno {e['errno']!r}")
        return problems
    if name == "summary":
        problems = _typed(e, OVERALL_FIELDS if overall else SUMMARY_FIELDS)
        if problems:
            return problems
        if overall and "target" in e:
            problems.append("the overall summary has a target")
        if not overall and not isinstance(e.get("target"), str):
            problems.append("a per-target summary lacks its target")
        if e["result"] not in ("ok", "failed"):
            problems.append(f"result {e['result']!r}")
        if not 0 <= e["received"] <= e["sent"]:
            problems.append(f"received {e['received']} of sent {e['sent']}")
        if e["sent"]:
            want = 100.0 * (e["sent"] - e["received"]) / e["sent"]
            if abs(e["loss_percent"] - want) > 0.05:
                problems.append(f"loss_percent {e['loss_percent']} != {want:.3f}")
        # Per target: ok when a probe was answered. Overall: ok when every target answered,
        # which the caller checks against the per-target summaries.
        if not overall and (e["result"] == "ok") != (e["received"] > 0):
            problems.append(f"result {e['result']} with {e['received']} received")
        if e["longest_failure_streak"] > e["sent"] - e["received"]:
            problems.append("longest_failure_streak exceeds the failures")
        if e["received"] == 0:
            if "connect_ms" in e:
                problems.append("connect_ms present although nothing was received")
        else:
            c = e.get("connect_ms")
            if not isinstance(c, dict):
                return problems + ["connect_ms missing or not an object"]
            missing = [k for k in LATENCY_KEYS if not isinstance(c.get(k), harness.NUMBER)]
            if missing:
                return problems + [f"connect_ms lacks {missing}"]
            eps = 0.0015  # values are rounded to the microsecond
            chain = [c["min"], c["p50"], c["p90"], c["p99"], c["max"]]
            if not all(a <= b + eps for a, b in zip(chain, chain[1:])):
                problems.append(f"not min <= p50 <= p90 <= p99 <= max: {c}")
            if not c["min"] - eps <= c["avg"] <= c["max"] + eps:
                problems.append(f"avg outside [min, max]: {c}")
            if c["mdev"] < 0 or c["mdev"] > (c["max"] - c["min"]) + eps:
                problems.append(f"mdev out of range: {c}")
        return problems
    return []


def nearest_rank(sorted_values, percent):
    n = len(sorted_values)
    rank = min(max(math.ceil(percent / 100.0 * n), 1), n)
    return sorted_values[rank - 1]


def expected_latency(samples):
    """min/avg/max/mdev/p50/p90/p99 of connect times in ms, computed as the issue says."""
    s = sorted(samples)
    mean = sum(s) / len(s)
    var = max(0.0, sum(x * x for x in s) / len(s) - mean * mean)
    return {"min": s[0], "avg": mean, "max": s[-1], "mdev": math.sqrt(var),
            "p50": nearest_rank(s, 50), "p90": nearest_rank(s, 90), "p99": nearest_rank(s, 99)}


# -- Prometheus ------------------------------------------------------------------------------

PROMTOOL = shutil.which("promtool")

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def promtool_check(text):
    """(ok, output) of `promtool check metrics` on text; None when promtool is missing."""
    if PROMTOOL is None:
        return None
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return p.returncode == 0, p.stdout.decode("utf-8", "replace")


def parse_exposition(text):
    """A small parser of the text format: ({name: {"help", "type"}}, [(name, labels, value)]).
    Raises AssertionError on a line it cannot read."""
    families, samples = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) != 4:
                raise AssertionError(f"line {n}: bad {parts[1]} line {line!r}")
            families.setdefault(parts[2], {})[parts[1].lower()] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"line {n} is not a sample: {line!r}")
        labels = {}
        if m.group(3):
            rest = m.group(3)
            for lm in LABEL_RE.finditer(rest):
                labels[lm.group(1)] = lm.group(2)
            if ",".join(f'{k}="{v}"' for k, v in labels.items()) != rest:
                raise AssertionError(f"line {n}: cannot read the labels of {line!r}")
        samples.append((m.group(1), labels, float(m.group(4))))
    return families, samples


def sample(samples, name, **labels):
    """The value of the one sample with that name and exactly these labels (None if absent)."""
    found = [v for n, l, v in samples if n == name and l == labels]
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} appears {len(found)} times")
    return found[0] if found else None


def scrape(url, timeout=5.0):
    """(status, content type, body) of an HTTP GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")
