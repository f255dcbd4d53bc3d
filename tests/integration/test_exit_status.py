"""Exit status scripts rely on: 0 ready, 1 gave up, 124 --timeout, 141 output closed, 125
internal failure; --all / --any with several targets."""

import os
import resource
import subprocess
import time
import unittest

import harness
from harness import of_type, summary


class Conditions(harness.TestCase):
    def test_all_waits_for_every_target(self):
        server, port = self.server(), self.closed_port()
        port.open_later(0.5)
        r = harness.run("--json", server.target, port.target)
        exited = time.monotonic()
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual(sorted(c["target"] for c in of_type(events, "connected")),
                         sorted([server.target, port.target]))
        self.assertEqual(summary(events)["result"], "ok")
        # It did not stop at the first connection: it ended after the late port opened.
        self.assertIsNotNone(port.opened_at)
        self.assertGreater(exited, port.opened_at)

    def test_all_fails_when_one_target_gives_up(self):
        server, port = self.server(), self.closed_port()
        r = harness.run("--json", "--once", server.target, port.target)
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual([g["target"] for g in of_type(events, "gave_up")], [port.target])
        s = summary(events)
        self.assertEqual((s["result"], s["exit_code"]), ("gave_up", 1))

    def test_any_succeeds_with_one_target_and_stops_the_others(self):
        server, port = self.server(), self.closed_port()
        r = harness.run("--json", "--any", port.target, server.target)
        self.assertExit(r, 0)
        self.assertLess(r.elapsed, 5.0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([c["target"] for c in of_type(events, "connected")], [server.target])
        self.assertEqual(of_type(events, "gave_up"), [])
        self.assertEqual(summary(events)["result"], "ok")

    def test_any_fails_only_when_every_target_gave_up(self):
        a, b = self.closed_port(), self.closed_port()
        r = harness.run("--json", "--any", "-n", "2", "--initial-delay", "10ms", a.target,
                        b.target)
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual(sorted(g["target"] for g in of_type(events, "gave_up")),
                         sorted([a.target, b.target]))
        s = summary(events)
        self.assertEqual((s["result"], s["attempts"], s["failures"]), ("gave_up", 4, 4))


class Statuses(harness.TestCase):
    def test_timeout_is_124_and_wins_over_unlimited_retries(self):
        port = self.closed_port()
        r = harness.run("-t", "500ms", port.target)
        self.assertExit(r, 124)
        self.assertLess(r.elapsed, 3.0)
        self.assertRegex(r.stdout, r"(?m)^tcpretry: timed out, ")

    def test_gave_up_before_the_timeout_is_1(self):
        port = self.closed_port()
        r = harness.run("-t", "10s", "--once", port.target)
        self.assertExit(r, 1)
        self.assertLess(r.elapsed, 5.0)

    def wait_141(self, p):
        try:
            _, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("tcpretry kept running with its stdout closed")
        self.assertEqual(p.returncode, 141, err)
        self.assertEqual(err, b"", "a closed output ends quietly")

    def popen(self, *args):
        return subprocess.Popen([harness.BINARY, *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def test_reader_leaving_mid_run_is_141(self):
        # `tcpretry ... | head -n 3`: the reader takes a few lines and goes away; the next
        # line tcpretry writes fails with EPIPE. (Default human output writes again only
        # when something changes, so -v here: it writes every attempt.)
        port = self.closed_port()
        for args in (["--json"], ["-v"]):
            with self.subTest(args=args):
                p = self.popen(*args, port.target)
                while True:
                    line = p.stdout.readline()
                    self.assertTrue(line, "output ended early")
                    if b"refused" in line:
                        break
                p.stdout.close()
                self.wait_141(p)

    def test_reader_gone_before_the_first_line_is_141(self):
        # `tcpretry ... | true`: nobody ever reads; the very first writes fail (for --json
        # and -v that is before the first connect even finished).
        port = self.closed_port()
        for args in (["--json"], ["-v"], []):
            with self.subTest(args=args):
                read_end, write_end = os.pipe()
                os.close(read_end)  # gone before tcpretry starts
                try:
                    p = subprocess.Popen([harness.BINARY, *args, port.target],
                                         stdin=subprocess.DEVNULL, stdout=write_end,
                                         stderr=subprocess.PIPE)
                finally:
                    os.close(write_end)
                self.wait_141(p)

    def test_internal_failure_is_125(self):
        # With almost no descriptors left tcpretry cannot build its event loop: that is its
        # own failure (125, one tcpretry: line), not "gave up" (1).
        server = self.server()

        def few_fds():
            resource.setrlimit(resource.RLIMIT_NOFILE, (5, 5))

        p = subprocess.run([harness.BINARY, server.target], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=15, preexec_fn=few_fds)
        err = p.stderr.decode("utf-8", "replace")
        if "error while loading shared libraries" in err or "Sanitizer" in err:
            self.skipTest(f"the process cannot start with 5 descriptors here: {err[:200]}")
        self.assertEqual(p.returncode, 125, err)
        self.assertEqual(len(err.splitlines()), 1, f"expected one line on stderr: {err!r}")
        self.assertTrue(err.startswith("tcpretry: "), err)


if __name__ == "__main__":
    unittest.main()
