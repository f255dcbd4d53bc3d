"""Watch mode on a dead path (root only): in a network namespace this test makes, an
iptables DROP is inserted on an established, idle connection; keepalive and
TCP_USER_TIMEOUT from --keepalive must end it with reason `timeout`, and tcpretry must
reconnect once the rule is removed. All traffic stays inside the namespace's loopback."""

import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

import harness
import servers_watch as sw

PORT = 5555  # any port: the namespace is new and empty


def _sh(*argv, timeout=10):
    return subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def _why_not():
    """None when the namespace test can run here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root (ip netns, iptables)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


class DeadPath(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        reason = _why_not()
        if reason:
            print(f"skipped: {reason}", flush=True)
            self.skipTest(reason)
        self.ns = f"tcpretry-test-{os.getpid()}"
        self.procs = []
        r = _sh("ip", "netns", "add", self.ns)
        if r.returncode != 0:
            print(f"skipped: ip netns add failed: {r.stderr.strip()}", flush=True)
            self.skipTest(f"ip netns add failed: {r.stderr.strip()}")
        self.addCleanup(self._delete_namespace)
        for argv in (["ip", "link", "set", "lo", "up"], ["iptables", "-S", "INPUT"]):
            r = self.netns(*argv)
            if r.returncode != 0:
                why = f"{' '.join(argv)} fails in a namespace: {r.stderr.strip()}"
                print(f"skipped: {why}", flush=True)
                self.skipTest(why)

    def _delete_namespace(self):
        for p in self.procs:
            p.kill()
        _sh("ip", "netns", "delete", self.ns)

    def netns(self, *argv):
        return _sh("ip", "netns", "exec", self.ns, *argv)

    def spawn(self, *argv):
        p = sw.LineProcess(["ip", "netns", "exec", self.ns, *argv])
        self.procs.append(p)
        return p

    RULES = (["INPUT", "-p", "tcp", "--dport", str(PORT), "-j", "DROP"],
             ["INPUT", "-p", "tcp", "--sport", str(PORT), "-j", "DROP"])

    def blackhole(self, on):
        for rule in self.RULES:
            r = self.netns("iptables", "-I" if on else "-D", *rule)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_dead_path_is_timeout_then_reconnects(self):
        server = self.spawn(sys.executable, os.path.join(harness.HERE, "servers_watch.py"),
                            "hold", PORT)
        self.assertTrue(harness.wait_until(lambda: "listening\n" in server.lines(), 5),
                        f"the server did not start: {server.lines('stderr')}")
        p = self.spawn(harness.BINARY, "--watch", "--keepalive", "2s", "--connect-timeout", "1s",
                       "--initial-delay", "200ms", "--max-delay", "1s", "--json",
                       f"127.0.0.1:{PORT}")
        e, _ = p.wait_for_event("connected", timeout=10)
        self.assertIsNotNone(e, f"{p.lines()} {p.lines('stderr')}")
        time.sleep(0.5)

        self.blackhole(True)
        dropped_at = time.monotonic()
        d, seen_at = p.wait_for_event("disconnected", timeout=15)
        self.assertIsNotNone(d, f"no disconnected within 15 s: {p.lines()}")
        detected = seen_at - dropped_at
        self.assertEqual(d["reason"], "timeout", d)
        self.assertEqual(d.get("errno"), "ETIMEDOUT", d)
        self.assertEqual(d["connection"], 1)
        self.assertLess(detected, 8, f"the dead path took {detected:.1f} s to notice")
        # While the rule is there, reconnecting fails (SYNs vanish: timeouts).
        f, _ = p.wait_for_event("failed", timeout=10)
        self.assertIsNotNone(f, p.lines())
        self.assertEqual(f["error"], "timeout", f)

        self.blackhole(False)
        c, _ = p.wait_for_event("connected", timeout=15, connection=2)
        self.assertIsNotNone(c, f"no reconnect after the rule was removed: {p.lines()}")
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.assertEqual(r.returncode, 0, r)
        events, per_target, overall = sw.check_watch_output(self, r, [f"127.0.0.1:{PORT}"])
        s = per_target[f"127.0.0.1:{PORT}"]
        self.assertEqual((s["result"], s["connections"], s["disconnects"]),
                         ("connected", 2, 1), s)
        self.assertEqual(overall["result"], "ok")
        print(f"\n  dead path noticed {detected:.2f} s after the DROP "
              f"(uptime_ms {d['uptime_ms']:.0f})", flush=True)


if __name__ == "__main__":
    unittest.main()
