"""Output contracts: JSON Lines (every line parses, times in UTC, flushed per event) and the
human format (one line per event, repeats summarised unless -v, -q, colour)."""

import os
import re
import select
import signal
import subprocess
import time
import unittest
from datetime import datetime, timezone

import harness
from harness import of_type, summary
from stub_dns import StubDns

ESC = "\x1b["


class JsonLines(harness.TestCase):
    def test_every_line_parses_in_each_outcome(self):
        server, closed, hole = self.server(), self.closed_port(), self.blackhole()
        dns = StubDns()
        self.addCleanup(dns.close)
        dns.nxdomain("missing.test")
        cases = [
            (0, ["--json", server.target]),
            (1, ["--json", "-n", "2", "--initial-delay", "10ms", closed.target]),
            (1, ["--json", "--once", "--resolver", dns.address, "missing.test:80"]),
            (1, ["--json", "--once", "-T", "200ms", hole.target]),
            (124, ["--json", "-t", "300ms", closed.target]),
            (1, ["--json", "--once", server.target, closed.target, hole.target, "-T", "200ms"]),
        ]
        for status, args in cases:
            with self.subTest(args=args):
                r = harness.run(*args)
                self.assertExit(r, status)
                self.assertValidJsonLines(r)
                self.assertEqual(r.stderr, "")

    def test_phase_times_and_failed_phases_without_tls(self):
        """What a pipeline reads to tell where a round spent its time and where it failed:
        resolve_ms only when a name was looked up, no tls_ms without --tls, and `phase` on
        every failure (connect refused, connect timeout, resolve, check)."""
        server, closed, hole = self.server(), self.closed_port(), self.blackhole()
        dns = StubDns()
        self.addCleanup(dns.close)
        dns.answer("svc.test", a=["127.0.0.1"])
        dns.nxdomain("missing.test")

        c = of_type(harness.run("--json", server.target).events(), "connected")[0]
        self.assertIn("connect_ms", c)
        for absent in ("resolve_ms", "tls_ms", "check_ms", "phase"):
            self.assertNotIn(absent, c)
        port = server.target.rsplit(":", 1)[1]
        r = harness.run("--json", "--resolver", dns.address, "-4", f"svc.test:{port}")
        self.assertExit(r, 0)
        c = of_type(r.events(), "connected")[0]
        self.assertGreater(c["resolve_ms"], 0)
        self.assertLessEqual(c["resolve_ms"] + c["connect_ms"], c["waited_ms"] + 0.01)
        self.assertNotIn("tls_ms", c)

        def failed(*args):
            r = harness.run("--json", "--once", *args)
            self.assertExit(r, 1)
            self.assertValidJsonLines(r)
            return of_type(r.events(), "failed")

        f = failed(closed.target)[0]
        self.assertEqual((f["error"], f["phase"]), ("refused", "connect"))
        self.assertNotIn("resolve_ms", f)
        f = failed("-T", "200ms", hole.target)[0]
        self.assertEqual((f["error"], f["phase"]), ("timeout", "connect"))
        f = failed("--resolver", dns.address, "missing.test:80")[0]
        self.assertEqual((f["error"], f["phase"]), ("resolve", "resolve"))
        f = failed("--expect", "^NEVER", "--expect-timeout", "200ms", server.target)[0]
        self.assertEqual(f["phase"], "check")

    def test_times_are_utc_whatever_the_local_zone(self):
        server = self.server()
        env = dict(os.environ, TZ="XYZ-9")  # a POSIX zone 9 hours east of UTC
        before = datetime.now(timezone.utc).timestamp()
        r = harness.run("--json", server.target, env=env)
        after = datetime.now(timezone.utc).timestamp()
        self.assertExit(r, 0)
        for e in self.assertValidJsonLines(r):
            t = datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            t = t.replace(tzinfo=timezone.utc).timestamp()
            self.assertGreaterEqual(t, before - 1.0, e)
            self.assertLessEqual(t, after + 1.0, e)

    def test_events_are_flushed_as_they_happen(self):
        port = self.closed_port()
        p = self.background("--json", port.target)
        self.assertIsNotNone(p.wait_for_event("retry", attempt=2), p.lines())
        self.assertIsNone(p.proc.poll(), "the events arrived only at exit")
        lines = p.lines()
        self.assertTrue(lines[0].startswith("{") and '"start"' in lines[0])
        self.assertTrue(any('"failed"' in l for l in lines))
        p.send_signal(signal.SIGINT)
        self.assertExit(p.wait(), 130)

    def test_target_as_given(self):
        # Targets are reported exactly as typed, including a name's letter case and a
        # service name for the port.
        server = self.server()
        r = harness.run("--json", f"LocalHost:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual(events[0]["targets"], [f"LocalHost:{server.port}"])
        self.assertEqual(of_type(events, "connected")[0]["target"], f"LocalHost:{server.port}")


class Human(harness.TestCase):
    def test_connected_line_and_summary(self):
        server = self.server()
        r = harness.run(server.target)
        self.assertExit(r, 0)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r)
        self.assertRegex(lines[0], rf"^{re.escape(server.target)} connected on attempt 1 in "
                                   r"[0-9.]+ m?s after [0-9.]+ s$")
        self.assertRegex(lines[1], r"^tcpretry: ok, 1 of 1 target connected, 1 attempt, "
                                   r"0 failed, ")

    def test_repeated_refusals_are_summarised(self):
        port = self.closed_port()
        r = harness.run("-n", "5", "--jitter", "0", "--initial-delay", "10ms", port.target)
        self.assertExit(r, 1)
        refused = [l for l in r.stdout.splitlines()
                   if "connection refused" in l and " attempt " in l]
        self.assertEqual(len(refused), 1, f"one line for five identical refusals\n{r}")
        self.assertRegex(r.stdout, rf"(?m)^{re.escape(port.target)} not connected: refused: "
                                   r"connection refused$")
        self.assertRegex(refused[0], rf"^{re.escape(port.target)} attempt 1: connection "
                                     r"refused \([0-9.]+ m?s\); retrying in 10 ms$")
        self.assertRegex(r.stdout, rf"(?m)^{re.escape(port.target)} gave up after 5 attempts")
        self.assertRegex(r.stdout, r"(?m)^tcpretry: gave up, 0 of 1 target connected, "
                                   r"5 attempts, 5 failed, ")

    def test_verbose_prints_every_attempt(self):
        port = self.closed_port()
        r = harness.run("-v", "-n", "5", "--jitter", "0", "--initial-delay", "10ms",
                        port.target)
        self.assertExit(r, 1)
        refused = [l for l in r.stdout.splitlines()
                   if "connection refused" in l and " attempt " in l]
        self.assertEqual([re.search(r"attempt (\d+):", l).group(1) for l in refused],
                         ["1", "2", "3", "4", "5"], r)

    def test_change_of_error_ends_the_summary_of_repeats(self):
        # Refused three times (the name points at a closed port), then timeouts (it points
        # at a blackhole): the repeated refusals are summarised, with their count, when the
        # error changes.
        dns = StubDns()
        self.addCleanup(dns.close)
        for _ in range(20):
            hole = harness.Blackhole("127.0.0.1")
            try:
                closed = harness.ClosedPort("127.0.0.2", hole.port)
                break
            except OSError:
                hole.close()
        else:
            self.fail("cannot bind the same port on 127.0.0.1 and 127.0.0.2")
        self.addCleanup(hole.close)
        self.addCleanup(closed.close)
        dns.answer("moving.test", a=[["127.0.0.2"]] * 3 + [["127.0.0.1"]])
        t = f"moving.test:{hole.port}"
        r = harness.run("--resolver", dns.address, "-4", "-T", "200ms", "-n", "5",
                        "--max-delay", "50ms", t)
        self.assertExit(r, 1)
        out = r.stdout
        first = re.search(rf"(?m)^{re.escape(t)} \[127.0.0.2\] attempt 1: connection refused", out)
        self.assertIsNotNone(first, r)
        timeout = re.search(rf"(?m)^{re.escape(t)} \[127.0.0.1\] attempt 4: timed out", out)
        self.assertIsNotNone(timeout, r)
        self.assertEqual(out.count("connection refused"), 1, r)
        still = re.search(rf"(?m)^{re.escape(t)} still refused after (\d+) attempts?, "
                          r"[0-9.]+ s$", out)
        self.assertIsNotNone(still, f"no 'still refused' line\n{r}")
        self.assertTrue(first.start() < still.start() < timeout.start(), r)
        self.assertEqual(int(still.group(1)), 3, f"attempts 1-3 were refused\n{r}")

    def test_a_failed_run_names_each_target_that_is_not_up_also_quiet(self):
        server = self.server()
        closed = self.closed_port()
        for quiet in (True, False):
            with self.subTest(quiet=quiet):
                args = ["-q"] if quiet else []
                r = harness.run(*args, "-t", "1s", server.target, closed.target)
                self.assertExit(r, 124)
                out = r.stderr if quiet else r.stdout
                prefix = "tcpretry: " if quiet else ""
                self.assertRegex(out, rf"(?m)^{prefix}{re.escape(closed.target)} not connected: "
                                      r"refused: connection refused$")
                self.assertNotRegex(out, rf"{re.escape(server.target)} not connected")
                self.assertRegex(out.splitlines()[-1], r"^tcpretry: timed out, 1 of 2 targets")

    def test_the_list_of_targets_not_up_stops_at_10(self):
        ports = [self.closed_port() for _ in range(12)]
        r = harness.run("-q", "--once", *[p.target for p in ports])
        self.assertExit(r, 1)
        lines = r.stderr.splitlines()
        self.assertEqual(len([l for l in lines if " not connected: refused" in l]), 10, r)
        self.assertIn("tcpretry: and 2 more not connected", lines, r)

    def test_quiet_prints_nothing_on_success_and_only_errors_on_failure(self):
        server, port = self.server(), self.closed_port()
        r = harness.run("-q", server.target)
        self.assertExit(r, 0)
        self.assertEqual((r.stdout, r.stderr), ("", ""))
        r = harness.run("-q", "--once", port.target)
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn(port.target, r.stderr)

    def test_no_colour_on_a_pipe_unless_asked(self):
        port = self.closed_port()
        r = harness.run("--once", port.target)
        self.assertNotIn(ESC, r.stdout)
        r = harness.run("--once", "--color", "always", port.target)
        self.assertIn(ESC, r.stdout)
        r = harness.run("--once", "--color", "never", port.target)
        self.assertNotIn(ESC, r.stdout)

    def run_on_terminal(self, *args, env=None):
        """Runs tcpretry with stdout on a pseudo-terminal; returns (status, output)."""
        master, slave = os.openpty()
        try:
            p = subprocess.Popen([harness.BINARY, *args], stdin=subprocess.DEVNULL,
                                 stdout=slave, stderr=subprocess.PIPE, env=env)
        finally:
            os.close(slave)
        chunks = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the other side closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                break
        os.close(master)
        p.wait(timeout=15)
        p.stderr.close()
        return p.returncode, b"".join(chunks).decode("utf-8", "replace")

    def test_colour_on_a_terminal_unless_no_color(self):
        port = self.closed_port()
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        status, out = self.run_on_terminal("--once", port.target, env=env)
        self.assertEqual(status, 1)
        self.assertIn(ESC, out)
        status, out = self.run_on_terminal("--once", port.target, env=dict(env, NO_COLOR="1"))
        self.assertEqual(status, 1)
        self.assertIn("connection refused", out)
        self.assertNotIn(ESC, out)


if __name__ == "__main__":
    unittest.main()
