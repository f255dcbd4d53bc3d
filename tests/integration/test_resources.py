"""Descriptors: a long wait with many failing rounds (refused, timed out, not resolving) must
not accumulate open fds; it still stops cleanly on SIGINT."""

import signal
import time
import unittest

import harness
from harness import of_type
from stub_dns import StubDns


class FdLeak(harness.TestCase):
    def sample_fds(self, p, seconds):
        """Counts the process's open fds repeatedly for about that long; returns the counts."""
        counts = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            counts.append(len(p.open_fds()))
            time.sleep(0.01)
        return counts

    def test_failing_rounds_do_not_leak_descriptors(self):
        dns = StubDns()
        self.addCleanup(dns.close)
        closed = [self.closed_port() for _ in range(3)]
        hole = self.blackhole()
        targets = [c.target for c in closed] + [hole.target, "missing.test:80"]
        # Quick rounds, so that a leak of one fd per round would show as dozens.
        p = self.background("--json", "--resolver", dns.address, "-T", "100ms",
                            "--initial-delay", "10ms", "--max-delay", "20ms", *targets)
        self.assertIsNotNone(p.wait_for_event("retry"), p.lines("stderr"))
        time.sleep(0.3)  # past start-up: the loop, the resolver and signals are set up
        early = self.sample_fds(p, 0.2)
        rounds_before = len([l for l in p.lines() if '"event":"failed"' in l])
        time.sleep(1.0)
        late = self.sample_fds(p, 0.2)
        rounds_after = len([l for l in p.lines() if '"event":"failed"' in l])
        self.assertGreaterEqual(rounds_after - rounds_before, 20,
                                "too few rounds between the samples to tell")
        # At most one connect in flight per target can come and go between samples.
        self.assertLessEqual(max(late), min(early) + len(targets),
                             f"open fds grew from {early} to {late}")
        p.send_signal(signal.SIGINT)
        r = p.wait(timeout=15)
        self.assertExit(r, 130)
        events = self.assertValidJsonLines(r)
        self.assertEqual(events[-1]["result"], "interrupted")
        self.assertEqual({f["error"] for f in of_type(events, "failed")},
                         {"refused", "timeout", "resolve"})

    def test_fd_count_returns_to_baseline_between_rounds(self):
        # While waiting for a retry nothing is in flight: the count then is the same after
        # one round and after several. (The least of a few samples, so that a connect in
        # flight at one sampling moment does not count.)
        port = self.closed_port()
        p = self.background("--json", "--jitter", "0", "--initial-delay", "300ms",
                            "--max-delay", "300ms", port.target)
        self.assertIsNotNone(p.wait_for_event("retry", attempt=2))
        first = min(self.sample_fds(p, 0.1))
        self.assertIsNotNone(p.wait_for_event("retry", attempt=6))
        later = min(self.sample_fds(p, 0.1))
        self.assertEqual(later, first)
        p.send_signal(signal.SIGINT)
        self.assertExit(p.wait(timeout=15), 130)

if __name__ == "__main__":
    unittest.main()
