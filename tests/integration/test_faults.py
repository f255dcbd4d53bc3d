"""Network faults injected in network namespaces (root only; each test makes its own
namespace with netns.Netns and deletes it afterwards, even on failure): a socket forced to
connect to itself, firewall DROP and every REJECT flavour, missing and prohibited routes,
and a loopback interface that is down. Every packet stays inside the namespace.

A DROP inserted on an established --watch connection (keepalive / TCP_USER_TIMEOUT ->
`disconnected` reason `timeout`, then a reconnect) is proven by test_watch_faults.py.
"""

import socket
import unittest

import harness
import netns
from harness import of_type, summary

PORT = 5555  # any port: each namespace is new and empty


def setUpModule():
    netns.require_root()


class NamespaceCase(harness.TestCase):
    """Each test runs in a network namespace of its own, with lo up."""

    def setUp(self):
        self.ns = netns.Netns().__enter__()
        self.addCleanup(self.ns.delete)

    def listener(self, host="127.0.0.1", port=PORT):
        """A live server inside the namespace (it accepts and closes): whatever the test's
        firewall rule does, it must win over a port that is really open."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = self.ns.socket(family)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        server = harness.Server(sock=sock)
        self.addCleanup(server.close)
        return server

    def tcpretry(self, *args, timeout=30):
        return self.ns.tcpretry("--json", *args, timeout=timeout)

    def assertNoCrash(self, r):
        """Nothing on stderr: no sanitizer report, no libevent warning, no abort message."""
        self.assertEqual(r.stderr, "", f"unexpected stderr\n{r}")
        self.assertGreaterEqual(r.returncode, 0, f"killed by a signal\n{r}")

    def failures(self, events):
        return [(f["error"], f.get("errno")) for f in of_type(events, "failed")]


class SelfConnect(NamespaceCase):
    """The ephemeral port range is pinned to the target port, so a connect to 127.0.0.1:P
    with nothing listening ends in a TCP simultaneous open with itself."""

    def setUp(self):
        super().setUp()
        self.ns.sysctl("net.ipv4.ip_local_port_range", f"{PORT} {PORT}")
        self.target = f"127.0.0.1:{PORT}"

    def test_only_self_connect_failures_never_connected(self):
        r = self.tcpretry("--attempts", "3", "--jitter", "0", "--initial-delay", "20ms",
                          self.target)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "connected"), [], r)
        failed = of_type(events, "failed")
        self.assertEqual([(f["attempt"], f["error"]) for f in failed],
                         [(1, "self_connect"), (2, "self_connect"), (3, "self_connect")], r)
        for f in failed:
            self.assertNotIn("errno", f)
            self.assertEqual((f["address"], f["port"]), ("127.0.0.1", PORT))
        # Each attempt really was made (and not refused with EADDRNOTAVAIL because the one
        # ephemeral port sat in TIME_WAIT): the RST close leaves the port free.
        self.assertEqual(len(of_type(events, "attempt")), 3)
        self.assertEqual([g["reason"] for g in of_type(events, "gave_up")], ["self_connect"])
        s = summary(events)
        self.assertEqual((s["result"], s["connected"], s["attempts"], s["failures"]),
                         ("gave_up", 0, 3, 3))

    def test_never_connected_in_watch_and_ping_modes(self):
        r = self.tcpretry("--watch", "--timeout", "1s", "--initial-delay", "50ms",
                          self.target)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = r.events()
        self.assertEqual(of_type(events, "connected"), [], r)
        errors = {f["error"] for f in of_type(events, "failed")}
        self.assertEqual(errors, {"self_connect"}, r)
        self.assertEqual(events[-1]["result"], "disconnected", r)

        r = self.tcpretry("--count", "3", "--interval", "50ms", self.target)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        probes = of_type(r.events(), "probe")
        self.assertEqual([(p["ok"], p.get("error")) for p in probes],
                         [(False, "self_connect")] * 3, r)
        self.assertEqual(r.events()[-1]["received"], 0, r)


class Firewall(NamespaceCase):
    """iptables rules in front of a port where a server really listens."""

    def setUp(self):
        super().setUp()
        netns.require_tool("iptables")
        self.server = self.listener()
        self.target = f"127.0.0.1:{PORT}"

    def reject(self, *how):
        self.ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(PORT), "-j", *how)

    def assertOneRoundFailed(self, r, error, errno):
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "connected"), [], r)
        self.assertEqual(self.failures(events), [(error, errno)], r)
        self.assertEqual([g["reason"] for g in of_type(events, "gave_up")], [error])
        self.assertEqual(self.server.accepted, 0, "the firewall let a connection through")
        return events

    def test_without_a_rule_the_server_is_reached(self):
        # The control: the same server and target, no rule -> connected.
        r = self.tcpretry("--once", self.target)
        self.assertExit(r, 0)
        self.assertEqual(len(of_type(self.assertValidJsonLines(r), "connected")), 1)

    def test_drop_is_timeout_after_the_connect_timeout(self):
        self.reject("DROP")
        r = self.tcpretry("-T", "500ms", "--once", self.target)
        events = self.assertOneRoundFailed(r, "timeout", "ETIMEDOUT")
        f = of_type(events, "failed")[0]
        self.assertGreaterEqual(f["duration_ms"], 480, f)
        self.assertLess(f["duration_ms"], 1500, f)
        self.assertIn("0.5 s", f["message"])
        self.assertLess(r.elapsed, 5, r)

    def test_reject_with_tcp_reset_is_refused(self):
        self.reject("REJECT", "--reject-with", "tcp-reset")
        r = self.tcpretry("-T", "2s", "--once", self.target)
        self.assertOneRoundFailed(r, "refused", "ECONNREFUSED")
        self.assertLess(r.elapsed, 1.5, "a RST must fail the attempt at once")

    def test_reject_with_icmp_host_unreachable_is_unreachable(self):
        self.reject("REJECT", "--reject-with", "icmp-host-unreachable")
        r = self.tcpretry("-T", "2s", "--once", self.target)
        self.assertOneRoundFailed(r, "unreachable", "EHOSTUNREACH")
        self.assertLess(r.elapsed, 1.5, "an ICMP error must fail the attempt at once")

    def test_reject_with_icmp_net_unreachable_is_unreachable(self):
        self.reject("REJECT", "--reject-with", "icmp-net-unreachable")
        r = self.tcpretry("-T", "2s", "--once", self.target)
        self.assertOneRoundFailed(r, "unreachable", "ENETUNREACH")
        self.assertLess(r.elapsed, 1.5)

    def test_reject_with_icmp_admin_prohibited_is_unreachable_and_retried(self):
        # Linux maps ICMP "communication administratively prohibited" (type 3 code 13) to
        # EHOSTUNREACH, so the class is `unreachable`, which is retried (unlike EACCES).
        self.reject("REJECT", "--reject-with", "icmp-admin-prohibited")
        r = self.tcpretry("-T", "2s", "-n", "2", "--jitter", "0", "--initial-delay", "20ms",
                          self.target)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(self.failures(events), [("unreachable", "EHOSTUNREACH")] * 2, r)
        self.assertEqual(len(of_type(events, "retry")), 1)

    def test_other_reject_flavours(self):
        # What each remaining iptables REJECT type becomes (errno as Linux reports it).
        cases = [("icmp-port-unreachable", "refused", "ECONNREFUSED"),
                 ("icmp-host-prohibited", "unreachable", "EHOSTUNREACH"),
                 ("icmp-net-prohibited", "unreachable", "ENETUNREACH"),
                 # Not in any errno list of the classes, so `fatal`, but still retried.
                 ("icmp-proto-unreachable", "fatal", "ENOPROTOOPT")]
        for how, error, errno in cases:
            with self.subTest(reject_with=how):
                self.ns.iptables("-F", "INPUT")
                self.reject("REJECT", "--reject-with", how)
                r = self.tcpretry("-T", "2s", "-n", "2", "--jitter", "0",
                                  "--initial-delay", "20ms", self.target)
                self.assertExit(r, 1)
                self.assertNoCrash(r)
                events = self.assertValidJsonLines(r)
                self.assertEqual(self.failures(events), [(error, errno)] * 2, r)
        self.assertEqual(self.server.accepted, 0)

    def test_human_output_names_the_reason(self):
        self.reject("REJECT", "--reject-with", "icmp-host-unreachable")
        r = self.ns.tcpretry("--once", self.target)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        self.assertIn(f"{self.target} attempt 1: no route to host", r.stdout)
        self.assertIn("gave up after 1 attempt (last error: unreachable)", r.stdout)

    def test_ipv6_admin_prohibited_is_fatal_and_not_retried(self):
        # ICMPv6 "administratively prohibited" is EACCES on Linux: class `fatal`, and the
        # address is not retried, so the target gives up after one round although -n allows
        # three. On loopback the ICMPv6 error to the first SYN arrives while connect()
        # still holds the socket and is dropped (TcpExtLockDroppedIcmps); the SYN
        # retransmitted after ~1 s draws the error that ends the attempt.
        netns.require_tool("ip6tables", "iptables")
        if "::1" not in self.ns.check("ip", "-6", "addr", "show", "dev", "lo"):
            self.skipTest("no ::1 in the namespace (IPv6 disabled)")
        self.listener("::1")
        self.ns.ip6tables("-A", "INPUT", "-p", "tcp", "--dport", str(PORT), "-j", "REJECT",
                          "--reject-with", "icmp6-adm-prohibited")
        r = self.tcpretry("-T", "4s", "-n", "3", f"[::1]:{PORT}")
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(self.failures(events), [("fatal", "EACCES")], r)
        self.assertEqual(of_type(events, "retry"), [])
        self.assertEqual([(g["attempts"], g["reason"]) for g in of_type(events, "gave_up")],
                         [(1, "fatal")])


class Routes(NamespaceCase):
    """Routing faults. The namespace has no interface but lo, so 198.51.100.0/24 (TEST-NET-2)
    can never be reached: each connect fails inside the kernel and sends nothing."""

    TARGET = "198.51.100.1:80"

    def route(self, kind):
        self.ns.ip("route", "add", kind, "198.51.100.0/24")

    def test_no_route_is_unreachable_at_once(self):
        r = self.tcpretry("-n", "2", "--jitter", "0", "--initial-delay", "20ms", self.TARGET)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(self.failures(events), [("unreachable", "ENETUNREACH")] * 2, r)
        self.assertLess(r.elapsed, 2)

    def test_unreachable_route_is_unreachable(self):
        self.route("unreachable")
        r = self.tcpretry("-n", "2", "--jitter", "0", "--initial-delay", "20ms", self.TARGET)
        self.assertExit(r, 1)
        self.assertEqual(self.failures(self.assertValidJsonLines(r)),
                         [("unreachable", "EHOSTUNREACH")] * 2, r)

    def test_prohibit_route_is_fatal_and_ends_an_unlimited_wait(self):
        # EACCES marks the address fatal: no retry even with unlimited attempts (-n 0).
        self.route("prohibit")
        r = self.tcpretry("-t", "10s", self.TARGET)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(self.failures(events), [("fatal", "EACCES")], r)
        self.assertEqual(of_type(events, "retry"), [])
        self.assertEqual(summary(events)["result"], "gave_up")
        self.assertLess(r.elapsed, 2)

    def test_blackhole_route_is_fatal_but_retried(self):
        # A blackhole route makes connect() fail with EINVAL: not a listed errno, so the
        # class is `fatal` but the address is retried.
        self.route("blackhole")
        r = self.tcpretry("-n", "2", "--jitter", "0", "--initial-delay", "20ms", self.TARGET)
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        self.assertEqual(self.failures(self.assertValidJsonLines(r)),
                         [("fatal", "EINVAL")] * 2, r)


class LoopbackDown(NamespaceCase):
    """`ip link set lo down`. Linux keeps the local routes of 127.0.0.0/8, so an IPv4 connect
    starts (EINPROGRESS) and its SYN is silently lost: the attempt ends at the connect
    timeout as `timeout`. IPv6 loses its usable source address: EADDRNOTAVAIL at once, class
    `local`. Neither is `unreachable`: tcpretry reports what the kernel says."""

    def setUp(self):
        super().setUp()
        self.ns.ip("link", "set", "lo", "down")

    def test_ipv4_is_timeout_no_crash(self):
        r = self.tcpretry("-T", "300ms", "-n", "2", "--jitter", "0", "--initial-delay", "20ms",
                          f"127.0.0.1:{PORT}")
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(self.failures(events), [("timeout", "ETIMEDOUT")] * 2, r)
        self.assertEqual(summary(events)["result"], "gave_up")

    def test_localhost_name_is_timeout(self):
        r = self.tcpretry("-T", "300ms", "--once", f"localhost:{PORT}")
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        # localhost is ::1 and 127.0.0.1 (RFC 6761): ::1 is gone with lo, 127.0.0.1 times out.
        self.assertEqual(self.failures(self.assertValidJsonLines(r)),
                         [("local", "EADDRNOTAVAIL"), ("timeout", "ETIMEDOUT")])

    def test_ipv6_is_local_eaddrnotavail(self):
        r = self.tcpretry("-T", "300ms", "-n", "2", "--jitter", "0", "--initial-delay", "20ms",
                          f"[::1]:{PORT}")
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(self.failures(events), [("local", "EADDRNOTAVAIL")] * 2, r)

    def test_human_output_and_watch_mode_do_not_crash(self):
        r = self.ns.tcpretry("-T", "300ms", "--once", f"127.0.0.1:{PORT}")
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        self.assertIn("timed out after 0.3 s", r.stdout)
        r = self.ns.tcpretry("--watch", "-T", "200ms", "--timeout", "1s", "--json",
                             f"127.0.0.1:{PORT}")
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = r.events()
        self.assertEqual(of_type(events, "connected"), [])
        self.assertEqual({f["error"] for f in of_type(events, "failed")}, {"timeout"})


if __name__ == "__main__":
    unittest.main()
