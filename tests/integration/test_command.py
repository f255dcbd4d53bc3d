"""`-- COMMAND`: run after success with its exit status passed through and stdout left to it;
not run after a failure; 127 when it does not exist, 126 when it cannot be executed."""

import os
import shutil
import sys
import tempfile
import unittest

import harness
from harness import of_type, summary


class CommandTestCase(harness.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tcpretry-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)


class AfterSuccess(CommandTestCase):
    def test_exit_status_is_passed_through(self):
        server = self.server()
        for status in (0, 7, 42):
            with self.subTest(status=status):
                r = harness.run(server.target, "--", "sh", "-c", f"exit {status}")
                self.assertExit(r, status)

    def test_stdout_belongs_to_the_command(self):
        server = self.server()
        r = harness.run(server.target, "--", "sh", "-c", "echo from-command; exit 7")
        self.assertExit(r, 7)
        self.assertEqual(r.stdout, "from-command\n")
        self.assertIn(f"{server.target} connected on attempt 1", r.stderr)

    def test_json_goes_to_stderr_with_a_command(self):
        server = self.server()
        r = harness.run("--json", server.target, "--", "sh", "-c", "echo from-command")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, "from-command\n")
        events = self.assertValidJsonLines(r, stream="stderr")
        self.assertEqual(summary(events)["result"], "ok")
        self.assertEqual(len(of_type(events, "connected")), 1)

    def test_arguments_are_passed_verbatim(self):
        # Everything after the first "--" belongs to COMMAND, options and "--" included.
        server = self.server()
        r = harness.run(server.target, "--", "printf", "%s|", "-n", "--json", "--", "a b",
                        "--timeout=x")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, "-n|--json|--|a b|--timeout=x|")

    def test_command_runs_after_a_late_connection(self):
        port = self.closed_port()
        port.open_later(0.5)
        marker = os.path.join(self.tmp, "ran")
        r = harness.run(port.target, "--", "touch", marker)
        self.assertExit(r, 0)
        self.assertTrue(os.path.exists(marker))

    def test_command_inherits_no_descriptors(self):
        # The run's sockets, the event loop's descriptors and the resolver's socket are all
        # closed (or close-on-exec) before COMMAND starts: it sees only 0, 1 and 2. The
        # Python child lists its own fds, which adds the one listdir opens.
        server = self.server()
        script = ("import os; fds = sorted(int(f) for f in os.listdir('/proc/self/fd'));"
                  "print(' '.join(map(str, fds)))")
        r = harness.run(server.target, "--", sys.executable, "-S", "-c", script)
        self.assertExit(r, 0)
        fds = [int(x) for x in r.stdout.split()]
        self.assertEqual(fds[:3], [0, 1, 2])
        self.assertLessEqual(len(fds), 4, f"COMMAND inherited descriptors: {fds}")

    def test_missing_command_is_127(self):
        server = self.server()
        for cmd in ("tcpretry-no-such-command", os.path.join(self.tmp, "missing")):
            with self.subTest(cmd=cmd):
                r = harness.run(server.target, "--", cmd)
                self.assertExit(r, 127)
                self.assertIn(os.path.basename(cmd), r.stderr)

    def test_not_executable_is_126(self):
        server = self.server()
        script = os.path.join(self.tmp, "script.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(script, 0o644)
        for cmd in (script, self.tmp):  # a file without x bits, a directory
            with self.subTest(cmd=cmd):
                r = harness.run(server.target, "--", cmd)
                self.assertExit(r, 126)
                self.assertIn(cmd, r.stderr)


class AfterFailure(CommandTestCase):
    def assertNotRun(self, marker):
        self.assertFalse(os.path.exists(marker), "COMMAND ran after a failure")

    def test_not_run_after_giving_up(self):
        port = self.closed_port()
        marker = os.path.join(self.tmp, "ran")
        r = harness.run("--once", port.target, "--", "touch", marker)
        self.assertExit(r, 1)
        self.assertNotRun(marker)

    def test_not_run_after_timeout(self):
        port = self.closed_port()
        marker = os.path.join(self.tmp, "ran")
        r = harness.run("--timeout", "300ms", port.target, "--", "touch", marker)
        self.assertExit(r, 124)
        self.assertNotRun(marker)

    def test_not_run_when_one_of_all_targets_fails(self):
        server, port = self.server(), self.closed_port()
        marker = os.path.join(self.tmp, "ran")
        r = harness.run("--once", server.target, port.target, "--", "touch", marker)
        self.assertExit(r, 1)
        self.assertNotRun(marker)

    def test_not_run_after_a_usage_error(self):
        marker = os.path.join(self.tmp, "ran")
        r = harness.run("--jitter", "2", "127.0.0.1:1", "--", "touch", marker)
        self.assertExit(r, 2)
        self.assertNotRun(marker)


if __name__ == "__main__":
    unittest.main()
