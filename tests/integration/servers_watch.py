"""Helpers for the watch-mode and --send/--expect tests: loopback servers with a behaviour
per connection, a port that can go away and come back, a background runner for any argv
(e.g. under `ip netns exec`), and checks of the watch-mode JSON events.

Nothing here sends traffic beyond 127.0.0.0/8 / ::1. Run as a script
(`python3 servers_watch.py hold PORT`) it is a server that accepts and holds connections,
for use inside a network namespace.
"""

import json
import select
import socket
import struct
import subprocess
import sys
import threading
import time

import harness

# -- servers ---------------------------------------------------------------------------------


class Peer:
    """One accepted connection as the server saw it."""

    def __init__(self, sock, address):
        self.sock = sock
        self.address = address
        self.accepted_at = time.monotonic()
        self.received = bytearray()
        self.eof_at = None  # time.monotonic() when recv() returned b''
        self.closed = threading.Event()  # the handler is done with it

    def read_until_eof(self, timeout=None):
        """Reads (recording the bytes) until EOF, an error or timeout; True on EOF."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            try:
                ready, _, _ = select.select([self.sock], [], [], left)
            except (OSError, ValueError):
                return False
            if not ready:
                continue
            try:
                data = self.sock.recv(65536)
            except OSError:
                return False
            if not data:
                self.eof_at = time.monotonic()
                return True
            self.received += data


class BehaviourServer:
    """Listens on a loopback port and runs handler(peer) on a thread per connection. The
    handler may close peer.sock itself; otherwise it is closed when the handler returns.
    peers lists every accepted connection."""

    def __init__(self, handler, host="127.0.0.1", sock=None):
        if sock is None:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                 socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0))
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self.sock.listen(64)
        self.handler = handler
        self.peers = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="behaviour-server",
                                        daemon=True)
        self._thread.start()

    @property
    def target(self):
        return harness.target(self.host, self.port)

    @property
    def accepted(self):
        with self._lock:
            return len(self.peers)

    def _serve(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            peer = Peer(conn, addr)
            with self._lock:
                self.peers.append(peer)
            threading.Thread(target=self._run, args=(peer,), daemon=True).start()

    def _run(self, peer):
        try:
            self.handler(peer)
        except OSError:
            pass
        finally:
            try:
                peer.sock.close()
            except OSError:
                pass
            peer.closed.set()

    def stop_listening(self):
        """Stops accepting and closes the listening socket (open connections stay)."""
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def close(self):
        self.stop_listening()
        with self._lock:
            peers = list(self.peers)
        for p in peers:
            try:
                p.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def close_after(delay):
    """Handler: closes the connection (FIN) delay seconds after accepting it."""
    def handler(peer):
        time.sleep(delay)
        peer.sock.close()
    return handler


def reset_after(delay):
    """Handler: closes with SO_LINGER {1, 0} (RST) delay seconds after accepting."""
    def handler(peer):
        time.sleep(delay)
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.sock.close()
    return handler


def hold(close_on_eof=True, limit=60.0):
    """Handler: holds the connection, recording bytes, until the client's EOF; then closes
    (close_on_eof) or keeps the socket open until limit seconds have passed."""
    def handler(peer):
        peer.read_until_eof(limit)
        if not close_on_eof:
            time.sleep(max(0.0, limit - (time.monotonic() - peer.accepted_at)))
    return handler


def banner(data, then_close=False, limit=30.0):
    """Handler: sends data at once, then closes (then_close) or holds until the client's
    EOF."""
    def handler(peer):
        peer.sock.sendall(data)
        if not then_close:
            peer.read_until_eof(limit)
    return handler


def silent(limit=30.0):
    """Handler: accepts and says nothing until the client closes."""
    def handler(peer):
        peer.read_until_eof(limit)
    return handler


def stream(chunk=b"a" * 1024, limit=30.0):
    """Handler: sends chunk after chunk until the client goes away."""
    def handler(peer):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            peer.sock.sendall(chunk)
            time.sleep(0.001)
    return handler


class FlappingPort:
    """A port whose server can go away and come back. While away, the port is held by a
    socket that is bound but not listening, so connections to it are refused and nobody
    else can take it. Servers close their connections when going away."""

    def __init__(self, handler, host="127.0.0.1"):
        self.host = host
        self.handler = handler
        self.server = BehaviourServer(handler, host)
        self.port = self.server.port
        self.away_sock = None
        self.went_away_at = None
        self.came_back_at = None

    @property
    def target(self):
        return harness.target(self.host, self.port)

    def go_away(self, keep_connections=False):
        """keep_connections: only the listener goes (as when sshd's listener dies while
        its sessions live on in child processes)."""
        old = self.server
        self.server = None
        if keep_connections:
            old.stop_listening()
            self.kept = old
        else:
            old.close()  # listener closed, its connections shut down (the client sees EOF)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR: the connections the old server closed sit in TIME_WAIT on this port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        self.away_sock = s
        self.went_away_at = time.monotonic()
        return old

    def come_back(self):
        s, self.away_sock = self.away_sock, None
        self.server = BehaviourServer(self.handler, self.host, sock=s)
        self.came_back_at = time.monotonic()
        return self.server

    def close(self):
        if self.server is not None:
            self.server.close()
        if getattr(self, "kept", None) is not None:
            self.kept.close()
        if self.away_sock is not None:
            self.away_sock.close()


# -- running ---------------------------------------------------------------------------------


class LineProcess:
    """Any argv in the background (stdin closed); stdout/stderr lines collected by threads,
    so a test can wait for an event before acting. Like harness.Process, for commands that
    are not tcpretry itself (e.g. `ip netns exec NS tcpretry ...`)."""

    def __init__(self, argv):
        self.argv = [a if isinstance(a, (str, bytes)) else str(a) for a in argv]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self._lines = {"stdout": [], "stderr": []}
        self._times = {"stdout": [], "stderr": []}
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, "stdout"),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, "stderr"),
                                          daemon=True)]
        for t in self._readers:
            t.start()

    def _read(self, pipe, name):
        for line in iter(pipe.readline, b""):
            with self._cond:
                self._lines[name].append(line.decode("utf-8", "replace"))
                self._times[name].append(time.monotonic())
                self._cond.notify_all()
        pipe.close()

    def lines(self, stream="stdout"):
        with self._cond:
            return list(self._lines[stream])

    def events(self):
        """The stdout lines so far that parse as JSON objects."""
        out = []
        for line in self.lines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def wait_for_event(self, event, timeout=harness.RUN_TIMEOUT, after=0, **fields):
        """Waits for an event (stdout JSON line number >= after) whose fields match;
        returns (event, arrival time) or (None, None)."""
        deadline = time.monotonic() + timeout
        seen = after
        with self._cond:
            while True:
                lines = self._lines["stdout"]
                for i in range(seen, len(lines)):
                    try:
                        obj = json.loads(lines[i])
                    except ValueError:
                        continue
                    if (isinstance(obj, dict) and obj.get("event") == event and
                            all(obj.get(k) == v for k, v in fields.items())):
                        return obj, self._times["stdout"][i]
                seen = max(seen, len(lines))
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(t.is_alive() for t in self._readers)):
                    return None, None
                self._cond.wait(min(left, 0.05))

    def line_count(self):
        with self._cond:
            return len(self._lines["stdout"])

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=harness.RUN_TIMEOUT):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.argv} did not exit within {timeout} s")
        finally:
            for t in self._readers:
                t.join(timeout=5)
        with self._cond:
            out = "".join(self._lines["stdout"]).encode()
            err = "".join(self._lines["stderr"]).encode()
        return harness.Result(self.argv[1:], self.proc.returncode, out, err,
                              time.monotonic() - self.started)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def tcpretry(*args):
    return LineProcess([harness.BINARY, *args])


# -- checking the events ---------------------------------------------------------------------

NUMBER = (int, float)
WATCH_FAILURES = harness.ERROR_CLASSES | {"expect_mismatch", "expect_timeout"}
DISCONNECT_REASONS = {"closed", "reset", "timeout", "error", "recheck"}

WATCH_FIELDS = {
    "connected": {"target": str, "attempt": int, "address": str, "port": int,
                  "local_address": str, "local_port": int, "connect_ms": NUMBER,
                  "waited_ms": NUMBER, "connection": int},
    "disconnected": {"target": str, "address": str, "port": int, "reason": str,
                     "uptime_ms": NUMBER, "bytes_received": int, "connection": int,
                     "outage": bool},
    "failed": {"target": str, "attempt": int, "error": str, "message": str,
               "duration_ms": NUMBER},
    "retry": {"target": str, "attempt": int, "delay_ms": NUMBER},
    "attempt": {"target": str, "attempt": int, "address": str, "port": int, "family": str},
}
TARGET_SUMMARY_FIELDS = {"target": str, "result": str, "connections": int, "disconnects": int,
                         "recycled": int, "outages": int, "uptime_percent": NUMBER, "longest_up_ms": NUMBER,
                         "longest_down_ms": NUMBER}
OVERALL_SUMMARY_FIELDS = {"result": str, "attempts": int, "failures": int,
                          "elapsed_ms": NUMBER, "exit_code": int}


def _type_problems(e, fields):
    problems = []
    for name, kind in fields.items():
        if name not in e:
            problems.append(f"{e.get('event')} lacks {name}")
        elif kind is bool and not isinstance(e[name], bool):
            problems.append(f"{e.get('event')}.{name} is not a boolean: {e[name]!r}")
        elif kind is not bool and (isinstance(e[name], bool) or not isinstance(e[name], kind)):
            problems.append(f"{e.get('event')}.{name} has the wrong type: {e[name]!r}")
    return problems


def watch_problems(e):
    """What is wrong with one watch-mode event (empty list: nothing)."""
    name = e.get("event")
    if name == "summary":
        fields = TARGET_SUMMARY_FIELDS if "target" in e else OVERALL_SUMMARY_FIELDS
    else:
        fields = WATCH_FIELDS.get(name, {})
    problems = _type_problems(e, fields)
    if problems:
        return problems
    if name == "connected" and e["connection"] < 1:
        problems.append("connection < 1")
    if name == "disconnected":
        if e["reason"] not in DISCONNECT_REASONS:
            problems.append(f"reason {e['reason']!r}")
        if e["uptime_ms"] < 0 or e["bytes_received"] < 0 or e["connection"] < 1:
            problems.append("negative uptime_ms/bytes_received or connection < 1")
        if "errno" in e and not (isinstance(e["errno"], str) and e["errno"].startswith("E")):
            problems.append(f"errno {e['errno']!r}")
        if e["reason"] in ("timeout", "error", "recheck") and not e["outage"]:
            problems.append(f"a {e['reason']} drop is always an outage")
    if name == "failed" and e["error"] not in WATCH_FAILURES:
        problems.append(f"error {e['error']!r}")
    if name == "retry" and e["delay_ms"] < 1:
        problems.append(f"retry delay_ms {e['delay_ms']} < 1")
    if name == "summary" and "target" in e:
        if e["result"] not in ("connected", "disconnected"):
            problems.append(f"target summary result {e['result']!r}")
        if not 0 <= e["uptime_percent"] <= 100:
            problems.append(f"uptime_percent {e['uptime_percent']}")
        if e["disconnects"] > e["connections"]:
            problems.append("more disconnects than connections")
        if e["recycled"] + e["outages"] != e["disconnects"]:
            problems.append("recycled + outages != disconnects")
        if e["longest_up_ms"] < 0 or e["longest_down_ms"] < 0:
            problems.append("negative longest_up_ms/longest_down_ms")
    if name == "summary" and "target" not in e:
        if e["result"] not in ("ok", "disconnected", "gave_up"):
            problems.append(f"overall result {e['result']!r}")
    return problems


def check_watch_output(tc, result, targets):
    """Every stdout line is a JSON object with event and time; start first; then, at the
    end, one summary per target (in order) and the overall summary last; every event valid
    per watch_problems; times never go backwards; the overall summary's exit_code is the
    exit status. Returns (events, {target: summary}, overall summary)."""
    events = result.events()
    for e in events:
        tc.assertIsInstance(e.get("event"), str, f"no event name in {e}")
        tc.assertRegex(e.get("time", ""), harness.TIME_RE)
        tc.assertEqual(watch_problems(e), [], f"in {e}\n{result}")
    tc.assertGreaterEqual(len(events), 2 + len(targets), f"too few events\n{result}")
    tc.assertEqual(events[0]["event"], "start", result)
    tc.assertEqual(events[0].get("targets"), list(targets), result)
    if "mode" in events[0]:
        tc.assertEqual(events[0]["mode"], "watch", result)
    summaries = [e for e in events if e["event"] == "summary"]
    tc.assertEqual(len(summaries), len(targets) + 1, f"summaries: {summaries}\n{result}")
    tail = events[-(len(targets) + 1):]
    tc.assertEqual(tail, summaries, f"the summaries are not the last events\n{result}")
    per_target = {s["target"]: s for s in tail[:-1] if "target" in s}
    tc.assertEqual(list(per_target), list(targets), f"per-target summaries\n{result}")
    overall = tail[-1]
    tc.assertNotIn("target", overall, result)
    for e in events[1:-1]:
        if e["event"] != "summary" and "target" in e:
            tc.assertIn(e["target"], targets, f"unknown target in {e}")
    times = [e["time"] for e in events]
    tc.assertEqual(times, sorted(times), "event times go backwards")
    tc.assertEqual(overall["exit_code"], result.returncode, result)
    # The connection numbers count up by one per target.
    for t in targets:
        numbers = [e["connection"] for e in events
                   if e["event"] == "connected" and e.get("target") == t]
        tc.assertEqual(numbers, list(range(1, len(numbers) + 1)), f"{t}\n{result}")
        tc.assertEqual(per_target[t]["connections"], len(numbers), result)
        drops = [e for e in events if e["event"] == "disconnected" and e.get("target") == t]
        tc.assertEqual(per_target[t]["disconnects"], len(drops), result)
        tc.assertEqual(per_target[t]["outages"], sum(1 for d in drops if d["outage"]), result)
        tc.assertEqual(per_target[t]["recycled"], sum(1 for d in drops if not d["outage"]),
                       result)
    return events, per_target, overall


# -- entry point for running in a namespace ---------------------------------------------------

def _main(argv):
    if len(argv) != 3 or argv[1] != "hold":
        print("usage: servers_watch.py hold PORT", file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(argv[2])))
    s.listen(16)
    print("listening", flush=True)
    held = []
    while True:
        conn, _ = s.accept()
        held.append(conn)  # held open, never read: a watched peer that says nothing


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
