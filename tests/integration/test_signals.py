"""SIGINT / SIGTERM: tcpretry stops cleanly, prints the summary and exits 130 / 143, whatever
it was doing (waiting for a retry, connecting, resolving)."""

import os
import shutil
import signal
import tempfile
import unittest

import harness
from harness import of_type, summary
from stub_dns import StubDns


class Signals(harness.TestCase):
    def interrupt(self, sig, *args, ready=("retry", {})):
        """Starts tcpretry --json ARGS, waits for the ready event, sends sig; returns the
        Result and the parsed events."""
        p = self.background("--json", *args)
        event, fields = ready
        self.assertIsNotNone(p.wait_for_event(event, **fields),
                             f"no {event} event before the signal: {p.lines()}")
        p.send_signal(sig)
        r = p.wait(timeout=15)
        return r, self.assertValidJsonLines(r)

    def test_sigint_while_waiting_exits_130_with_interrupted_summary(self):
        port = self.closed_port()
        r, events = self.interrupt(signal.SIGINT, port.target)
        self.assertExit(r, 130)
        s = summary(events)
        self.assertEqual(s["result"], "interrupted")
        self.assertEqual(s["exit_code"], 130)
        self.assertGreaterEqual(s["attempts"], 1)
        self.assertEqual(of_type(events, "gave_up"), [])
        self.assertEqual(r.stderr, "")

    def test_sigterm_exits_143(self):
        port = self.closed_port()
        r, events = self.interrupt(signal.SIGTERM, port.target)
        self.assertExit(r, 143)
        s = summary(events)
        self.assertEqual(s["result"], "interrupted")
        self.assertEqual(s["exit_code"], 143)

    def test_sigint_during_a_hanging_connect(self):
        hole = self.blackhole()
        r, events = self.interrupt(signal.SIGINT, "-T", "20s", hole.target,
                                   ready=("attempt", {}))
        self.assertExit(r, 130)
        self.assertLess(r.elapsed, 10.0, "did not wait for the connect timeout")
        self.assertEqual(summary(events)["result"], "interrupted")

    def test_sigint_during_a_pending_resolution(self):
        dns = StubDns()
        self.addCleanup(dns.close)
        dns.drop("silent.test")
        p = self.background("--json", "--resolver", dns.address, "-T", "20s", "silent.test:80")
        self.assertIsNotNone(p.wait_for_event("start"))
        # Wait until the query reached the server, so the resolution really is pending.
        self.assertTrue(harness.wait_until(lambda: dns.queries("silent.test")), "no DNS query")
        p.send_signal(signal.SIGINT)
        r = p.wait(timeout=15)
        self.assertExit(r, 130)
        self.assertLess(r.elapsed, 10.0)
        self.assertEqual(summary(self.assertValidJsonLines(r))["result"], "interrupted")

    def test_sigint_human_output_prints_the_summary(self):
        port = self.closed_port()
        p = self.background(port.target)
        self.assertIsNotNone(p.wait_for_line(lambda l: "connection refused" in l))
        p.send_signal(signal.SIGINT)
        r = p.wait(timeout=15)
        self.assertExit(r, 130)
        self.assertRegex(r.stdout, r"(?m)^tcpretry: interrupted, 0 of 1 target connected")

    def test_command_not_run_after_sigint(self):
        tmp = tempfile.mkdtemp(prefix="tcpretry-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        marker = os.path.join(tmp, "ran")
        port = self.closed_port()
        p = self.background("--json", port.target, "--", "touch", marker)
        self.assertIsNotNone(p.wait_for_event("retry", stream="stderr"))
        p.send_signal(signal.SIGINT)
        r = p.wait(timeout=15)
        self.assertExit(r, 130)
        self.assertFalse(os.path.exists(marker))


if __name__ == "__main__":
    unittest.main()
