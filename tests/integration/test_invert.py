"""--invert: wait until the targets refuse or do not answer. Against loopback listeners the
tests start: one that closes after about a second (success, a `closed` event with class
refused), one that never closes (--timeout: 124), a blackholed port (closed once the connect
timeout expires, never a hang), --any/--quorum, -- COMMAND after success, Unix sockets, and
the usage errors. The iptables DROP case runs in a network namespace the test makes (root
only; skipped with a printed reason otherwise)."""

import os
import shutil
import socket
import tempfile
import threading
import unittest

import harness
import netns
from harness import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, of_type


def outcomes(events, name):
    return [(e["target"], e["error"]) for e in of_type(events, name)]


class Invert(harness.TestCase):
    def test_a_listener_that_closes_later(self):
        server = self.server()
        p = self.background("--json", "--invert", "--max-delay", "200ms", server.target)
        still = p.wait_for_event("failed", error="still_open")
        self.assertIsNotNone(still, p.lines())
        self.assertEqual(still["port"], server.port)
        self.assertNotIn("errno", still)
        closer = threading.Timer(1.0, server.close)  # the old server lets go of the port
        closer.start()
        self.addCleanup(closer.cancel)
        r = p.wait()
        self.assertExit(r, EXIT_OK)
        events = self.assertValidJsonLines(r)
        [closed] = of_type(events, "closed")
        self.assertEqual((closed["error"], closed["errno"]), ("refused", "ECONNREFUSED"))
        self.assertEqual((closed["address"], closed["port"]), ("127.0.0.1", server.port))
        self.assertGreaterEqual(closed["waited_ms"], 900)
        self.assertGreaterEqual(closed["attempt"], 2)
        self.assertEqual(of_type(events, "connected"), [])
        # Every round before the last was still open; each connection was closed at once.
        failed = [f["error"] for f in of_type(events, "failed")]
        self.assertEqual(failed, ["still_open"] * (closed["attempt"] - 1) + ["refused"])
        self.assertEqual(server.accepted, closed["attempt"] - 1)
        s = harness.summary(events)
        self.assertEqual((s["result"], s["connected"]), ("ok", 1))
        self.assertEqual(s["failures"], closed["attempt"] - 1)

    def test_a_listener_that_never_closes_times_out(self):
        server = self.server()
        r = harness.run("--invert", "--timeout", "1s", "--max-delay", "200ms", server.target)
        self.assertExit(r, EXIT_TIMEOUT)
        self.assertIn(f"{server.target} attempt 1: still accepting connections", r.stdout)
        self.assertIn(f"{server.target} still open: still_open", r.stdout)
        self.assertIn("timed out, 0 of 1 target closed", r.stdout)
        self.assertGreater(server.accepted, 1)

    def test_out_of_attempts_while_open(self):
        server = self.server()
        r = harness.run("--json", "--invert", "--attempts", "2", "--initial-delay", "10ms",
                        server.target)
        self.assertExit(r, EXIT_FAILED)
        events = self.assertValidJsonLines(r)
        self.assertEqual([g["reason"] for g in of_type(events, "gave_up")], ["still_open"])

    def test_a_closed_port_at_once(self):
        port = self.closed_port()
        r = harness.run("--invert", port.target)
        self.assertExit(r, EXIT_OK)
        self.assertIn(f"{port.target} closed (connection refused) on attempt 1", r.stdout)
        self.assertIn("ok, 1 of 1 target closed", r.stdout)

    def test_a_blackholed_port_is_closed_at_the_connect_timeout(self):
        hole = self.blackhole()
        r = harness.run("--json", "--invert", "-T", "500ms", "--timeout", "20s", hole.target)
        self.assertExit(r, EXIT_OK)
        events = self.assertValidJsonLines(r)
        [closed] = of_type(events, "closed")
        self.assertEqual((closed["error"], closed["errno"]), ("timeout", "ETIMEDOUT"))
        self.assertGreaterEqual(closed["waited_ms"], 480)
        self.assertLess(r.elapsed, 10, r)

    def test_any_and_quorum_count_closed_targets(self):
        up = self.server()
        down = self.closed_port()
        down2 = self.closed_port()
        r = harness.run("--json", "--invert", "--any", up.target, down.target)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(outcomes(self.assertValidJsonLines(r), "closed"),
                         [(down.target, "refused")])
        r = harness.run("--json", "--invert", "--quorum", "2", up.target, down.target,
                        down2.target)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(sorted(outcomes(self.assertValidJsonLines(r), "closed")),
                         sorted([(down.target, "refused"), (down2.target, "refused")]))
        # --all (the default): the open one keeps the run going until --timeout.
        r = harness.run("--invert", "--timeout", "1s", up.target, down.target)
        self.assertExit(r, EXIT_TIMEOUT)
        self.assertIn(f"{up.target} still open", r.stdout)

    def test_command_runs_after_success(self):
        port = self.closed_port()
        r = harness.run("--invert", port.target, "--", "sh", "-c", "echo drained; exit 7")
        self.assertEqual(r.returncode, 7, r)
        self.assertEqual(r.stdout, "drained\n")
        self.assertIn("closed", r.stderr)  # our output goes to stderr with a COMMAND
        server = self.server()
        r = harness.run("--invert", "--timeout", "500ms", server.target, "--", "sh", "-c",
                        "echo must-not-run")
        self.assertExit(r, EXIT_TIMEOUT)
        self.assertNotIn("must-not-run", r.stdout)

    def test_unix_sockets(self):
        d = tempfile.mkdtemp(prefix="tcpretry-invert-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "app.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(path)
        s.listen(8)
        p = self.background("--json", "--invert", "--max-delay", "200ms", "unix:" + path)
        self.assertIsNotNone(p.wait_for_event("failed", error="still_open"), p.lines())
        s.close()
        os.unlink(path)  # the socket file goes with its server
        r = p.wait()
        self.assertExit(r, EXIT_OK)
        [closed] = of_type(self.assertValidJsonLines(r), "closed")
        self.assertEqual((closed["error"], closed["errno"], closed["address"]),
                         ("missing", "ENOENT", path))
        self.assertNotIn("port", closed)

    def test_usage_errors(self):
        for args, words in [(["--watch"], "--invert waits for the targets to close: it cannot "
                                          "be used with --watch"),
                            (["--count", "3"], "cannot be used with --count"),
                            (["--send", "x"], "--invert cannot be used with --send, --expect"),
                            (["--expect", "x"], "--invert cannot be used with --send, --expect"),
                            (["--tls"], "--invert cannot be used with --send, --expect")]:
            with self.subTest(args=args):
                r = harness.run("--invert", *args, "127.0.0.1:1")
                self.assertExit(r, EXIT_USAGE)
                self.assertIn(words, r.stderr)

    def test_help_names_it(self):
        r = harness.run("--help")
        self.assertExit(r, EXIT_OK)
        self.assertIn("--invert", r.stdout)


class InvertDrop(harness.TestCase):
    """An iptables DROP rule in a namespace of the test's own: SYNs vanish, the round is
    unanswered, and it counts as closed once the connect timeout expires."""

    def setUp(self):
        netns.require_root()
        netns.require_tool("iptables")
        self.ns = netns.Netns().__enter__()
        self.addCleanup(self.ns.delete)

    def test_drop_is_closed_after_the_connect_timeout(self):
        port = 5556
        sock = self.ns.socket(socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        server = harness.Server(sock=sock)
        self.addCleanup(server.close)
        target = f"127.0.0.1:{port}"
        # The control: without the rule the port is open.
        r = self.ns.tcpretry("--json", "--invert", "--attempts", "1", target)
        self.assertExit(r, EXIT_FAILED)
        self.ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP")
        r = self.ns.tcpretry("--json", "--invert", "-T", "500ms", "--timeout", "20s", target)
        self.assertExit(r, EXIT_OK)
        [closed] = of_type(self.assertValidJsonLines(r), "closed")
        self.assertEqual((closed["error"], closed["errno"]), ("timeout", "ETIMEDOUT"))
        self.assertLess(r.elapsed, 10, r)


if __name__ == "__main__":
    unittest.main()
