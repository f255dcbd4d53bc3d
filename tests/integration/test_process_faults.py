"""Process-level faults: a descriptor limit far below the number of targets, a reader that
closes stdout in every mode, SIGINT / SIGTERM in every phase (resolving, connecting,
waiting to retry, watching, pinging) and a COMMAND that cannot be run.

No traffic leaves loopback. Descriptors left open at exit are checked under valgrind
--track-fds=yes in test_valgrind.py; here the counts of /proc/PID/fd are compared while the
process runs.
"""

import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
import servers_watch as sw
from harness import of_type, summary
from stub_dns import StubDns

CRASH_MARKERS = ("AddressSanitizer", "runtime error", "Segmentation fault", "Aborted",
                 "core dumped", "terminate called", "LeakSanitizer", "[err]", "[warn]")
# How long a process may take to stop after its reader left or a signal came. Generous for
# the ASan build on two busy cores; the product takes milliseconds.
PROMPT = 3.0


def _sanitized():
    try:
        with open(harness.BINARY, "rb") as f:
            return b"__ubsan_handle_dynamic_type_cache_miss" in f.read()
    except OSError:
        return False


# UBSan's vptr check, on the first check of a (type, call site), proves the object readable
# with a pipe() (sanitizer_common's IsAccessibleMemoryRange). With every descriptor in use
# that pipe fails with EMFILE and UBSan reports a false "object has invalid vptr", which
# aborts the run. Tests that hit EMFILE before every such check has been cached cannot run
# in the sanitized build.
SANITIZED = _sanitized()
VPTR_AT_EMFILE = ("skipped in the UBSan build: its vptr check needs a free descriptor "
                  "(it probes memory with pipe()), so at EMFILE it reports a false "
                  "'invalid vptr'")


def skip_if_sanitized(test):
    if SANITIZED:
        print(f"skipped: {VPTR_AT_EMFILE}", flush=True)
        test.skipTest(VPTR_AT_EMFILE)


def limit_fds(n):
    def preexec():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return preexec


class Listeners:
    """n listening sockets on 127.0.0.1, distinct ports, never accepting: the kernel
    completes each handshake into the accept queue, so the test can count afterwards how
    many connections each port got."""

    def __init__(self, n):
        self.socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            s.setblocking(False)
            self.socks.append(s)
        self.targets = [f"127.0.0.1:{s.getsockname()[1]}" for s in self.socks]

    def connections(self):
        """How many connections wait in each accept queue (drains them)."""
        counts = []
        for s in self.socks:
            n = 0
            while True:
                try:
                    c, _ = s.accept()
                except BlockingIOError:
                    break
                c.close()
                n += 1
            counts.append(n)
        return counts

    def close(self):
        for s in self.socks:
            s.close()


class ProcessCase(harness.TestCase):
    def listeners(self, n):
        ls = Listeners(n)
        self.addCleanup(ls.close)
        return ls

    def assertNoCrash(self, stderr):
        for marker in CRASH_MARKERS:
            self.assertNotIn(marker, stderr)


# -- descriptors -----------------------------------------------------------------------------

class DescriptorLimit(ProcessCase):
    """`ulimit -n 16` (soft and hard, so tcpretry cannot raise it) and 100 targets: the
    attempts wait for free descriptors (back-pressure) and every target is still tried."""

    def run_limited(self, *args, fds=16):
        start = time.monotonic()
        p = subprocess.run([harness.BINARY, *args], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60, preexec_fn=limit_fds(fds))
        return harness.Result(list(args), p.returncode, p.stdout, p.stderr,
                              time.monotonic() - start)

    def test_100_open_targets_all_connect(self):
        ls = self.listeners(100)
        r = self.run_limited("--json", "-t", "30s", *ls.targets)
        self.assertExit(r, 0)
        self.assertNoCrash(r.stderr)
        events = self.assertValidJsonLines(r)
        connected = [e["target"] for e in of_type(events, "connected")]
        self.assertEqual(sorted(connected), sorted(ls.targets), "a target was lost or doubled")
        self.assertEqual(of_type(events, "failed"), [], "fd pressure must not fail attempts")
        s = summary(events)
        self.assertEqual((s["result"], s["targets"], s["connected"], s["attempts"]),
                         ("ok", 100, 100, 100))
        # The limit really bit: tcpretry said it waits for descriptors (once).
        warnings = of_type(events, "warning")
        self.assertEqual([w.get("errno") for w in warnings], ["EMFILE"], r)
        # Every port saw exactly one connection.
        self.assertEqual(ls.connections(), [1] * 100)

    def test_100_closed_targets_all_give_up(self):
        # --any --once: the run ends only when every target has given up, so each one must
        # get its failed and gave_up, none lost while waiting for a descriptor.
        ports = [self.closed_port() for _ in range(100)]
        targets = [p.target for p in ports]
        r = self.run_limited("--json", "--any", "--once", *targets)
        self.assertExit(r, 1)
        self.assertNoCrash(r.stderr)
        events = self.assertValidJsonLines(r)
        self.assertEqual(sorted(f["target"] for f in of_type(events, "failed")), sorted(targets))
        self.assertEqual({f["errno"] for f in of_type(events, "failed")}, {"ECONNREFUSED"})
        self.assertEqual(sorted(g["target"] for g in of_type(events, "gave_up")), sorted(targets))
        self.assertEqual(summary(events)["result"], "gave_up")

    def test_100_targets_human_output(self):
        ls = self.listeners(100)
        r = self.run_limited("-t", "30s", *ls.targets)
        self.assertExit(r, 0)
        self.assertNoCrash(r.stderr)
        self.assertRegex(r.stdout, r"(?m)^tcpretry: ok, 100 of 100 targets connected")
        self.assertEqual(ls.connections(), [1] * 100)

    def test_100_targets_in_ping_mode(self):
        # Ping mode's first vptr check of its sink comes with the EMFILE warning itself.
        skip_if_sanitized(self)
        ls = self.listeners(100)
        r = self.run_limited("--json", "--count", "2", "--interval", "50ms", *ls.targets)
        self.assertExit(r, 0)
        self.assertNoCrash(r.stderr)
        probes = of_type(r.events(), "probe")
        self.assertEqual(len(probes), 200, r.stdout[-500:])
        self.assertTrue(all(p["ok"] for p in probes))
        self.assertEqual(ls.connections(), [2] * 100)

    def test_no_descriptor_for_any_socket_does_not_hang(self):
        # With the limit at what tcpretry holds for itself (event loop, signal pipe...),
        # no socket can ever be made and nothing in flight will ever free one. Expected:
        # the round fails (`local`, EMFILE) or tcpretry exits 125; never an endless wait.
        skip_if_sanitized(self)
        port = self.closed_port()
        own = self.own_descriptors(port.target)
        try:
            r = self.run_limited_briefly("--json", "--once", "-T", "500ms", port.target,
                                         fds=own)
        except subprocess.TimeoutExpired:
            self.fail(f"--once -T 500ms with {own} descriptors: still running after 5 s")
        self.assertIn(r.returncode, (1, 125), r)

    def own_descriptors(self, target):
        """How many descriptors tcpretry holds while nothing is in flight."""
        p = self.background("--json", "--initial-delay", "5s", target)
        self.assertIsNotNone(p.wait_for_event("retry"))
        n = max(p.open_fds()) + 1
        p.kill()
        return n

    def run_limited_briefly(self, *args, fds):
        p = subprocess.Popen([harness.BINARY, *args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=limit_fds(fds))
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
        return harness.Result(list(args), p.returncode, out, err, 0)


# -- stdout closed by its reader ---------------------------------------------------------------

class ReaderGoes(ProcessCase):
    """`tcpretry ... | head -1`: the reader takes some lines and closes the pipe. tcpretry
    must notice, stop within PROMPT seconds with status 141 (SIGPIPE is ignored, so it is
    an exit status, not a signal) and print nothing on stderr."""

    def start(self, *args):
        p = subprocess.Popen([harness.BINARY, *args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(self._reap, p)
        return p

    @staticmethod
    def _reap(p):
        if p.poll() is None:
            p.kill()
        p.wait()
        for f in (p.stdout, p.stderr):
            if f and not f.closed:
                f.close()

    def read_then_leave(self, p, predicate, timeout=15):
        """Reads lines until predicate(line); then closes the read end. Returns the lines."""
        lines = []
        deadline = time.monotonic() + timeout
        fd = p.stdout.fileno()
        buf = b""
        while True:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, f"no matching line within {timeout} s: {lines}")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            self.assertTrue(chunk, f"output ended before the line came: {lines}")
            buf += chunk
            *complete, buf = buf.split(b"\n")
            for line in complete:
                lines.append(line.decode("utf-8", "replace"))
                if predicate(lines[-1]):
                    p.stdout.close()
                    return lines

    def assertStopsWith141(self, p, what):
        left_at = time.monotonic()
        try:
            p.wait(timeout=PROMPT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail(f"{what}: still running {PROMPT} s after its reader left")
        took = time.monotonic() - left_at
        err = p.stderr.read().decode("utf-8", "replace")
        self.assertEqual(p.returncode, 141, f"{what}: exit {p.returncode}, stderr {err!r}")
        self.assertEqual(err, "", f"{what}: stderr")
        return took

    def check(self, what, args, predicate):
        p = self.start(*args)
        self.read_then_leave(p, predicate)
        return self.assertStopsWith141(p, what)

    def test_modes_that_write_again_soon(self):
        closed = self.closed_port()
        server = self.server()  # accepts and closes at once
        held = sw.BehaviourServer(sw.hold())
        self.addCleanup(held.close)
        is_json_failed = lambda l: '"event":"failed"' in l  # noqa: E731
        anything = lambda l: True  # noqa: E731
        cases = [
            ("wait, retrying, json", ["--json", closed.target], is_json_failed),
            ("wait, retrying, verbose", ["-v", closed.target], anything),
            ("watch, reconnecting, json", ["--watch", "--json", "--initial-delay", "50ms",
                                           server.target], anything),
            ("watch, reconnecting, human", ["--watch", "--initial-delay", "50ms",
                                            server.target], anything),
            ("watch, closed port, json", ["--watch", "--json", closed.target],
             is_json_failed),
            ("ping --count 0, json", ["--count", "0", "--json", held.target],
             lambda l: '"event":"probe"' in l),
            ("ping --count 0, human", ["--count", "0", held.target], anything),
            ("ping --count 0, closed port, human", ["--count", "0", closed.target], anything),
        ]
        for what, args, predicate in cases:
            with self.subTest(what):
                took = self.check(what, args, predicate)
                self.assertLess(took, PROMPT)

    def test_wait_human_output_while_failures_repeat(self):
        # The default human output prints a repeated failure once, then only every 10 s:
        # the closed pipe must be noticed without waiting for the next write.
        closed = self.closed_port()
        self.check("wait, retrying, human", [closed.target], lambda l: True)

    def test_watch_json_with_a_stable_connection(self):
        # A healthy watch writes nothing: the closed pipe must be noticed all the same.
        held = sw.BehaviourServer(sw.hold())
        self.addCleanup(held.close)
        self.check("watch, connected, json", ["--watch", "--json", held.target],
                   lambda l: '"event":"connected"' in l)

    def test_watch_human_with_a_stable_connection(self):
        held = sw.BehaviourServer(sw.hold())
        self.addCleanup(held.close)
        self.check("watch, connected, human", ["--watch", held.target],
                   lambda l: "connected" in l)

    def test_watch_human_on_a_closed_port(self):
        # Repeats summarised and a watch backoff growing to 30 s: few writes to fail on.
        closed = self.closed_port()
        self.check("watch, closed port, human", ["--watch", closed.target], lambda l: True)


# -- signals ---------------------------------------------------------------------------------

class Signals(ProcessCase):
    """SIGINT / SIGTERM in each phase: the process stops within PROMPT seconds, prints its
    summary (last line in JSON), exits with the documented status, and its descriptor count
    does not grow while it sits in the phase."""

    SETTLE = 0.5  # time between the two descriptor counts

    @staticmethod
    def fd_floor(p, window):
        """The fewest descriptors seen over `window` seconds. Sockets that come and go (a
        probe in flight, the resolver's 1 s nameserver probe) are not a leak: a leak raises
        the floor, a passing socket does not, however slow the machine."""
        fewest = None
        end = time.monotonic() + window
        while True:
            fds = p.open_fds()
            if fewest is None or len(fds) < len(fewest):
                fewest = fds
            if time.monotonic() >= end:
                return fewest
            time.sleep(0.02)

    def stop(self, p, sig, expected_exit, result):
        """Counts fds, waits SETTLE, counts again, signals; checks the exit. Returns the
        Result and its JSON events."""
        first = self.fd_floor(p, 0.25)
        time.sleep(self.SETTLE)
        before = self.fd_floor(p, 1.2)  # longer than any passing socket lives
        self.assertLessEqual(len(before), len(first), f"descriptors grew: {first} -> {before}")
        signalled = time.monotonic()
        p.send_signal(sig)
        r = p.wait(timeout=15)
        self.assertLess(time.monotonic() - signalled, PROMPT, f"slow to stop\n{r}")
        self.assertExit(r, expected_exit)
        self.assertEqual(r.stderr, "", r)
        events = r.events()
        self.assertEqual(events[0]["event"], "start")
        self.assertEqual(events[-1]["event"], "summary", r)
        self.assertNotIn("target", events[-1])
        self.assertEqual(events[-1]["result"], result, r)
        self.assertEqual(events[-1]["exit_code"], expected_exit, r)
        return r, events

    def both(self):
        return ((signal.SIGINT, harness.EXIT_SIGINT), (signal.SIGTERM, harness.EXIT_SIGTERM))

    def test_while_resolving(self):
        dns = StubDns()
        self.addCleanup(dns.close)
        dns.drop("silent.test")
        for sig, code in self.both():
            with self.subTest(signal=sig.name):
                asked = len(dns.queries("silent.test"))
                p = self.background("--json", "--resolver", dns.address, "-T", "10s",
                                    "silent.test:80")
                self.assertTrue(harness.wait_until(
                    lambda: len(dns.queries("silent.test")) > asked, 10), "no query came")
                r, events = self.stop(p, sig, code, "interrupted")
                self.assertEqual(of_type(events, "failed"), [], "the pending round reports nothing")
                self.assertEqual(events[-1]["attempts"], 1)

    def test_while_connecting(self):
        hole = self.blackhole()
        for sig, code in self.both():
            with self.subTest(signal=sig.name):
                p = self.background("--json", "-T", "10s", hole.target)
                self.assertIsNotNone(p.wait_for_event("attempt"), p.lines())
                r, events = self.stop(p, sig, code, "interrupted")
                self.assertEqual(of_type(events, "failed"), [], r)

    def test_while_waiting_to_retry(self):
        port = self.closed_port()
        for sig, code in self.both():
            with self.subTest(signal=sig.name):
                p = self.background("--json", "--initial-delay", "5s", "--jitter", "0",
                                    port.target)
                self.assertIsNotNone(p.wait_for_event("retry"), p.lines())
                r, events = self.stop(p, sig, code, "interrupted")
                self.assertLess(r.elapsed, 4.5, "waited for the retry delay")
                self.assertEqual(events[-1]["attempts"], 1)

    def test_human_output_prints_the_summary_last(self):
        hole = self.blackhole()
        p = self.background("-T", "10s", hole.target)
        self.assertTrue(harness.wait_until(lambda: p.open_fds() and len(p.open_fds()) > 3, 5))
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        r = p.wait(timeout=15)
        self.assertExit(r, harness.EXIT_SIGTERM)
        self.assertRegex(r.stdout.splitlines()[-1],
                         r"^tcpretry: interrupted, 0 of 1 target connected")

    def test_in_watch_mode_connected_is_0_and_the_connection_is_closed(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                server = sw.BehaviourServer(sw.hold(close_on_eof=True))
                self.addCleanup(server.close)
                p = self.background("--watch", "--json", server.target)
                self.assertIsNotNone(p.wait_for_event("connected"), p.lines())
                self.assertTrue(harness.wait_until(lambda: server.accepted >= 1, 5))
                peer = server.peers[0]
                r, events = self.stop(p, sig, 0, "ok")
                # The held connection was closed by tcpretry: the server read EOF (a FIN,
                # not a reset).
                self.assertTrue(peer.closed.wait(5), "the server never saw the close")
                self.assertIsNotNone(peer.eof_at, "the connection ended without a FIN")
                targets = [e for e in events if e["event"] == "summary" and "target" in e]
                self.assertEqual([t["result"] for t in targets], ["connected"])

    def test_in_watch_mode_disconnected_is_1(self):
        port = self.closed_port()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                p = self.background("--watch", "--json", port.target)
                self.assertIsNotNone(p.wait_for_event("retry"), p.lines())
                self.stop(p, sig, 1, "disconnected")

    def test_in_ping_mode_status_follows_the_answers(self):
        # Ping mode, stopped: 0 when every target answered at least one probe, else 1.
        held = sw.BehaviourServer(sw.hold())
        self.addCleanup(held.close)
        port = self.closed_port()
        for sig in (signal.SIGINT, signal.SIGTERM):
            for target, code, result in ((held.target, 0, "ok"),
                                         (port.target, 1, "failed")):
                with self.subTest(signal=sig.name, target=target):
                    p = self.background("--json", "--count", "0", "--interval", "100ms",
                                        target)
                    self.assertIsNotNone(p.wait_for_event("probe", seq=2), p.lines())
                    self.stop(p, sig, code, result)


# -- COMMAND ---------------------------------------------------------------------------------

class Command(ProcessCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tcpretry-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.up = self.server()

    def assertOneLineMessage(self, r, command, reason):
        lines = [l for l in r.stderr.splitlines() if "cannot run" in l]
        self.assertEqual(lines, [f"tcpretry: cannot run '{command}': {reason}"], r)
        self.assertTrue(r.stderr.endswith(lines[0] + "\n"), "the message is not the last line")
        self.assertNoCrash(r.stderr)

    def test_missing_command_is_127(self):
        for command in ("tcpretry-no-such-command", os.path.join(self.tmp, "missing"),
                        os.path.join(self.tmp, "no-dir", "x")):
            with self.subTest(command=command):
                r = harness.run("-q", self.up.target, "--", command, "arg")
                self.assertExit(r, harness.EXIT_NOT_FOUND)
                self.assertOneLineMessage(r, command, "command not found")

    def test_not_executable_is_126(self):
        script = os.path.join(self.tmp, "script.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(script, 0o644)
        r = harness.run("-q", self.up.target, "--", script)
        self.assertExit(r, harness.EXIT_NOT_EXECUTABLE)
        self.assertOneLineMessage(r, script, "Permission denied")

    def test_json_stream_ends_with_the_message(self):
        # With --json and a COMMAND the events go to stderr; the failure to run COMMAND is
        # the one line after them that is not JSON.
        r = harness.run("--json", self.up.target, "--", "tcpretry-no-such-command")
        self.assertExit(r, harness.EXIT_NOT_FOUND)
        lines = r.stderr.splitlines()
        self.assertEqual(lines[-1], "tcpretry: cannot run 'tcpretry-no-such-command': "
                                    "command not found")
        events = [json.loads(l) for l in lines[:-1]]
        self.assertEqual(events[-1]["event"], "summary")
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    unittest.main()
