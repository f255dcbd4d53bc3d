"""Shared helpers for the integration tests: run the real tcpretry binary against loopback
servers that the tests start themselves. Nothing here sends traffic beyond 127.0.0.0/8 / ::1.

The binary is $TCPRETRY (ctest sets it) or ../../build/tcpretry next to this file.
"""

import ipaddress
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.environ.get("TCPRETRY") or os.path.normpath(
    os.path.join(HERE, "..", "..", "build", "tcpretry"))


def _built_with_asan():
    try:
        with open(BINARY, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# The ASan+UBSan build: memory figures mean little there (ASan keeps freed memory in
# quarantine), and some descriptor tricks trip its own checks.
SANITIZED = _built_with_asan()


# Generous: the suite also runs under ASan/UBSan and in parallel with other tests on 2 cores.
RUN_TIMEOUT = 30.0

# RFC 3339, UTC, milliseconds: 2026-11-27T03:08:14.123Z
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


# -- running the binary ------------------------------------------------------------------

class Result:
    """What one finished run produced. stdout/stderr are text (undecodable bytes replaced);
    stdout_bytes/stderr_bytes are the raw output."""

    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args = args
        self.returncode = returncode
        self.stdout_bytes = stdout
        self.stderr_bytes = stderr
        self.stdout = stdout.decode("utf-8", "replace")
        self.stderr = stderr.decode("utf-8", "replace")
        self.elapsed = elapsed

    def events(self, stream="stdout"):
        return parse_json_lines(getattr(self, stream))

    def __str__(self):
        return (f"tcpretry {' '.join(map(repr, self.args))}\n"
                f"  exit {self.returncode} after {self.elapsed:.2f} s\n"
                f"  stdout: {self.stdout!r}\n  stderr: {self.stderr!r}")


def _argv(args):
    return [BINARY] + [a if isinstance(a, (bytes, str)) else str(a) for a in args]


def run(*args, timeout=RUN_TIMEOUT, env=None, cwd=None):
    """Runs tcpretry with args (str or bytes), stdin closed, and waits for it to exit."""
    argv = _argv(args)
    start = time.monotonic()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=env, cwd=cwd)
    return Result(list(args), proc.returncode, proc.stdout, proc.stderr,
                  time.monotonic() - start)


class Process:
    """tcpretry running in the background; its stdout and stderr lines are collected by
    threads so a test can wait for a given line or event before acting (e.g. signalling)."""

    def __init__(self, *args, env=None):
        self.args = list(args)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(_argv(args), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        self._lines = {"stdout": [], "stderr": []}
        self._lock = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "stderr"), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, pipe, name):
        for line in iter(pipe.readline, b""):
            with self._lock:
                self._lines[name].append(line)
                self._lock.notify_all()
        pipe.close()

    def lines(self, stream="stdout"):
        """The lines read so far (text, undecodable bytes replaced)."""
        with self._lock:
            return [l.decode("utf-8", "replace") for l in self._lines[stream]]

    def wait_for_line(self, predicate, stream="stdout", timeout=RUN_TIMEOUT):
        """Waits until a line satisfying predicate(line) arrives; returns it (None on
        timeout or if the process ended without one)."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._lock:
            while True:
                lines = self._lines[stream]
                for raw in lines[seen:]:
                    line = raw.decode("utf-8", "replace")
                    if predicate(line):
                        return line
                seen = len(lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(t.is_alive() for t in self._readers)):
                    return None
                self._lock.wait(min(left, 0.05))

    def wait_for_event(self, event, stream="stdout", timeout=RUN_TIMEOUT, **fields):
        """With --json: waits for an event of that type whose fields match; returns it."""
        def match(line):
            try:
                obj = json.loads(line)
            except ValueError:
                return False
            return (isinstance(obj, dict) and obj.get("event") == event and
                    all(obj.get(k) == v for k, v in fields.items()))
        line = self.wait_for_line(match, stream, timeout)
        return json.loads(line) if line is not None else None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=RUN_TIMEOUT):
        """Waits for the exit (killing the process if it overstays) and returns a Result."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"tcpretry {self.args} did not exit within {timeout} s")
        finally:
            for t in self._readers:
                t.join(timeout=5)
        elapsed = time.monotonic() - self.started
        with self._lock:
            out = b"".join(self._lines["stdout"])
            err = b"".join(self._lines["stderr"])
        return Result(self.args, self.proc.returncode, out, err, elapsed)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def open_fds(self):
        """The descriptors the process holds now (numbers from /proc/PID/fd)."""
        return sorted(int(fd) for fd in os.listdir(f"/proc/{self.pid}/fd"))


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Polls predicate() until it is true (returns True) or timeout seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# -- output --------------------------------------------------------------------------------

def parse_json_lines(text):
    """Every non-empty line must be one JSON object; returns them in order."""
    events = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"line {n} is not JSON ({e}): {line!r}") from None
        if not isinstance(obj, dict):
            raise AssertionError(f"line {n} is not a JSON object: {line!r}")
        events.append(obj)
    return events


ERROR_CLASSES = {"refused", "timeout", "unreachable", "reset", "local", "fatal", "resolve",
                 "self_connect", "expect_mismatch", "expect_timeout", "tls_handshake",
                 "tls_verify", "tls_alpn", "cert_expiring", "starttls", "http_status", "http_protocol"}
ERROR_CLASSES |= {"missing", "denied", "still_open"}  # Unix sockets; --invert
# --invert's `closed` event: the classes that say nothing accepts.
CLOSED_CLASSES = {"refused", "timeout", "unreachable", "resolve", "missing"}
# errno: a symbolic errno or resolver code (ECONNREFUSED, EAI_NONAME), an OpenSSL reason
# (SSL_R_WRONG_VERSION_NUMBER) or library (ERR_LIB_X509), or a certificate verification
# result (X509_V_ERR_CERT_HAS_EXPIRED).
ERRNO_PATTERN = r"(E|SSL_R_|X509_V_ERR_|ERR_LIB_)[A-Z0-9_]+"
RESULTS = {"ok", "gave_up", "timeout", "interrupted"}
NUMBER = (int, float)

# The fields each event of schema 1 must have, with their types. Readers ignore fields and
# events they do not know, and so do these checks.
REQUIRED_FIELDS = {
    "start": {"version": str, "schema": int, "targets": list},
    # A Unix socket's events carry its path as the address and no port (nor a local end).
    "attempt": {"target": str, "attempt": int, "address": str, "family": str},
    "failed": {"target": str, "attempt": int, "error": str, "message": str,
               "duration_ms": NUMBER},
    "retry": {"target": str, "attempt": int, "delay_ms": NUMBER},
    "connected": {"target": str, "attempt": int, "address": str, "connect_ms": NUMBER,
                  "waited_ms": NUMBER},
    "closed": {"target": str, "attempt": int, "error": str, "message": str,
               "waited_ms": NUMBER},
    "gave_up": {"target": str, "attempts": int, "reason": str},
    "summary": {"result": str, "attempts": int, "failures": int, "elapsed_ms": NUMBER,
                "exit_code": int},
}


# Where a failed attempt failed (docs/json-events.md, "Phases"), and the phase times events carry.
PHASES = ("resolve", "connect", "starttls", "tls", "check", "http")
PHASE_TIMES = ("resolve_ms", "connect_ms", "tls_ms", "http_ms", "check_ms")


def is_unix_address(address):
    """An event's address that is a Unix socket's path (not an IP address)."""
    try:
        ipaddress.ip_address(address.split("%")[0])
        return False
    except ValueError:
        return True


def schema_problems(e):
    """What is wrong with one event against schema 1 (empty list: nothing)."""
    problems = []
    name = e.get("event")
    for field, kind in REQUIRED_FIELDS.get(name, {}).items():
        if field not in e:
            problems.append(f"{name} lacks {field}")
        elif isinstance(e[field], bool) or not isinstance(e[field], kind):
            problems.append(f"{name}.{field} has the wrong type: {e[field]!r}")
    if problems:
        return problems
    if name == "start":
        if e["schema"] != 1:
            problems.append(f"schema {e['schema']}")
        if not all(isinstance(t, str) for t in e["targets"]):
            problems.append("targets are not all strings")
    if name in ("attempt", "failed", "retry", "connected") and e["attempt"] < 1:
        problems.append(f"{name}.attempt < 1")
    if name == "attempt" and e["family"] not in ("ipv4", "ipv6", "unix"):
        problems.append(f"family {e['family']!r}")
    if name == "attempt" and (e["family"] == "unix") != is_unix_address(e["address"]):
        problems.append(f"family {e['family']!r} for address {e['address']!r}")
    if isinstance(e.get("address"), str) and is_unix_address(e["address"]):
        for field in ("port", "local_address", "local_port"):
            if field in e:
                problems.append(f"a Unix socket's {name} has {field}")
    elif name in ("attempt", "connected"):
        if not isinstance(e.get("port"), int) or not 1 <= e["port"] <= 65535:
            problems.append(f"port {e.get('port')!r}")
        if name == "connected" and not (isinstance(e.get("local_address"), str) and
                                        isinstance(e.get("local_port"), int)):
            problems.append("connected lacks local_address/local_port")
    if name == "closed" and e["error"] not in CLOSED_CLASSES:
        problems.append(f"closed with error {e['error']!r}")
    if name == "failed":
        if e["error"] not in ERROR_CLASSES:
            problems.append(f"error {e['error']!r}")
        if e["error"] == "resolve":
            if "address" in e or "port" in e:
                problems.append("a resolve failure has an address or port")
        elif not isinstance(e.get("address"), str) or not (
                isinstance(e.get("port"), int) or is_unix_address(e["address"])):
            problems.append("failed lacks address/port")
        if "errno" in e and not (isinstance(e["errno"], str) and
                                 re.fullmatch(ERRNO_PATTERN, e["errno"])):
            problems.append(f"errno {e['errno']!r}")
        if e["error"] == "self_connect" and "errno" in e:
            problems.append("self_connect has an errno")
        if e["duration_ms"] < 0:
            problems.append("negative duration_ms")
        if e.get("phase") not in PHASES:
            problems.append(f"phase {e.get('phase')!r}")
    if name == "retry" and e["delay_ms"] < 1:
        problems.append(f"retry delay_ms {e['delay_ms']} < 1")
    if name == "connected" and (e["connect_ms"] < 0 or e["waited_ms"] < 0):
        problems.append("negative connect_ms/waited_ms")
    if name in ("connected", "probe"):
        for field in PHASE_TIMES:
            if field in e and not (isinstance(e[field], (int, float)) and e[field] >= 0):
                problems.append(f"{name}.{field} {e[field]!r}")
    if name == "gave_up" and e["reason"] not in ERROR_CLASSES:
        problems.append(f"reason {e['reason']!r}")
    if name == "summary":
        if e["result"] not in RESULTS:
            problems.append(f"result {e['result']!r}")
        if e["failures"] > e["attempts"]:
            problems.append("more failures than attempts")
        if e["elapsed_ms"] < 0:
            problems.append("negative elapsed_ms")
    return problems


def of_type(events, name):
    return [e for e in events if e.get("event") == name]


def summary(events):
    s = of_type(events, "summary")
    if len(s) != 1:
        raise AssertionError(f"expected exactly one summary, got {len(s)}: {events}")
    return s[0]


# -- loopback endpoints ----------------------------------------------------------------------

def ipv6_available():
    """True if a TCP socket can listen on ::1."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
            s.listen(1)
        return True
    except OSError:
        return False


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def target(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ClosedPort:
    """A port that refuses connections: a TCP socket bound to it but not listening. The
    socket is kept for the test's duration, so no other process can take the port meanwhile.
    open() starts listening on that very socket (no window for anyone else)."""

    def __init__(self, host="127.0.0.1", port=0):
        self.host = host
        self.sock = socket.socket(_family(host), socket.SOCK_STREAM)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        self.server = None
        self.opened_at = None  # time.monotonic() when it started listening
        self._timer = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def target(self):
        return target(self.host, self.port)

    def open(self):
        """Turns the port into an accepting server; returns that Server."""
        with self._lock:
            if self._closed or self.server is not None:
                return self.server
            self.server = Server(sock=self.sock)
            self.opened_at = time.monotonic()
            return self.server

    def open_later(self, delay):
        """Opens the port after delay seconds, from a timer thread."""
        self._timer = threading.Timer(delay, self.open)
        self._timer.daemon = True
        self._timer.start()

    def close(self):
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._closed = True
        if self.server is not None:
            self.server.close()
        else:
            self.sock.close()


class Server:
    """A listening TCP socket that accepts connections on a thread and closes them (a port
    that is up). accepted counts the connections taken."""

    def __init__(self, host="127.0.0.1", port=0, sock=None):
        if sock is None:
            sock = socket.socket(_family(host), socket.SOCK_STREAM)
            try:
                sock.bind((host, port))
            except OSError:
                sock.close()
                raise
        self.sock = sock
        self.host = sock.getsockname()[0]
        self.port = sock.getsockname()[1]
        self.sock.listen(64)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="server", daemon=True)
        self._thread.start()

    @property
    def target(self):
        return target(self.host, self.port)

    def _serve(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class Blackhole:
    """An endpoint whose SYNs are dropped: a listener with backlog 0 that never accepts, its
    accept queue filled by our own connections first. A connect to it neither succeeds nor
    fails until the client's own timer gives up."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.sock = socket.socket(_family(host), socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        # Keep connecting until one hangs: that proves the queue is full.
        for _ in range(16):
            c = socket.socket(_family(host), socket.SOCK_STREAM)
            c.setblocking(False)
            self.fillers.append(c)
            try:
                c.connect((host, self.port))
            except BlockingIOError:
                pass
            _, writable, _ = select.select([], [c], [], 0.3)
            if not writable:
                return
        self.close()
        raise unittest.SkipTest("cannot make a blackholed endpoint: the listener's backlog "
                                "never filled (SYNs are not dropped on this kernel)")

    @property
    def target(self):
        return target(self.host, self.port)

    def close(self):
        for c in self.fillers:
            c.close()
        self.sock.close()


class TestCase(unittest.TestCase):
    """unittest.TestCase plus helpers that clean up after the test."""

    maxDiff = None

    def closed_port(self, host="127.0.0.1", port=0):
        p = ClosedPort(host, port)
        self.addCleanup(p.close)
        return p

    def server(self, host="127.0.0.1", port=0):
        s = Server(host, port)
        self.addCleanup(s.close)
        return s

    def blackhole(self, host="127.0.0.1"):
        b = Blackhole(host)
        self.addCleanup(b.close)
        return b

    def background(self, *args, env=None):
        p = Process(*args, env=env)
        self.addCleanup(p.kill)
        return p

    def require_ipv6(self):
        if not ipv6_available():
            print("skipped: cannot listen on ::1 (no IPv6 loopback here)", flush=True)
            self.skipTest("IPv6 loopback ::1 is not available")

    def assertExit(self, result, code):
        self.assertEqual(result.returncode, code, f"unexpected exit status\n{result}")

    def assertValidJsonLines(self, result, stream="stdout"):
        """Every line parses; each has event and time (RFC 3339 UTC with ms); start first,
        summary last and only once; target events name a target given on the command line.
        Returns the events."""
        events = result.events(stream)
        self.assertGreaterEqual(len(events), 2, f"too few events\n{result}")
        for e in events:
            self.assertIsInstance(e.get("event"), str, f"no event name in {e}")
            self.assertIsInstance(e.get("time"), str, f"no time in {e}")
            self.assertRegex(e["time"], TIME_RE)
            self.assertEqual(schema_problems(e), [], f"in {e}")
        self.assertEqual(events[0]["event"], "start", f"start is not first\n{result}")
        self.assertEqual(events[-1]["event"], "summary", f"summary is not last\n{result}")
        self.assertEqual(len(of_type(events, "start")), 1)
        self.assertEqual(len(of_type(events, "summary")), 1)
        self.assertNotIn("target", events[0])
        self.assertNotIn("target", events[-1])
        targets = events[0].get("targets")
        self.assertIsInstance(targets, list)
        for e in events[1:-1]:
            if e["event"] in ("attempt", "failed", "retry", "connected", "gave_up", "closed"):
                self.assertIn(e.get("target"), targets, f"bad or missing target in {e}")
        times = [e["time"] for e in events]
        self.assertEqual(times, sorted(times), "event times go backwards")
        if result.returncode >= 0 and stream == "stdout":
            # Without a COMMAND the summary states the exit status.
            self.assertEqual(events[-1]["exit_code"], result.returncode)
        return events
