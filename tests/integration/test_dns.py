"""Names resolved through a stub DNS server on loopback (--resolver): NXDOMAIN, Happy Eyeballs
over A + AAAA answers, -4, and answers that change between rounds."""

import unittest
from datetime import datetime

import harness
from harness import of_type, summary
from stub_dns import TYPE_A, TYPE_AAAA, StubDns


def timestamp(event):
    return datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


class DnsTestCase(harness.TestCase):
    def setUp(self):
        self.dns = StubDns()
        self.addCleanup(self.dns.close)

    def run_tcpretry(self, *args):
        return harness.run("--json", "--resolver", self.dns.address, *args)

    def bind_same_port(self, first, make_second, tries=20):
        """Binds first() on a random port P, then make_second(P) on the same port number
        (another address); retries with a new port if P is taken there."""
        for _ in range(tries):
            a = first()
            try:
                return a, make_second(a.port)
            except OSError:
                a.close()
        self.fail("could not bind the same port number on two loopback addresses")


class Resolution(DnsTestCase):
    def test_nxdomain_is_a_resolve_failure(self):
        self.dns.nxdomain("missing.test")
        r = self.run_tcpretry("--once", "missing.test:80")
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "attempt"), [], "no address, so no attempt")
        failed = of_type(events, "failed")
        self.assertEqual(len(failed), 1, r)
        f = failed[0]
        self.assertEqual(f["target"], "missing.test:80")
        self.assertEqual(f["attempt"], 1)
        self.assertEqual(f["error"], "resolve")
        self.assertEqual(f["errno"], "EAI_NONAME")
        self.assertNotIn("address", f)
        self.assertNotIn("port", f)
        self.assertIsInstance(f["message"], str)
        gave_up = of_type(events, "gave_up")
        self.assertEqual(len(gave_up), 1)
        self.assertEqual(gave_up[0]["reason"], "resolve")
        self.assertEqual(summary(events)["result"], "gave_up")
        self.assertTrue(self.dns.queries("missing.test"), "the stub was never asked")

    def test_nxdomain_human_output(self):
        self.dns.nxdomain("missing.test")
        r = harness.run("--resolver", self.dns.address, "--once", "missing.test:80")
        self.assertExit(r, 1)
        self.assertIn("missing.test:80 attempt 1: cannot resolve missing.test", r.stdout)

    def test_name_resolved_again_every_round(self):
        self.dns.nxdomain("missing.test")
        r = self.run_tcpretry("-n", "3", "--jitter", "0", "--initial-delay", "10ms",
                              "missing.test:80")
        self.assertExit(r, 1)
        self.assertEqual([f["attempt"] for f in of_type(r.events(), "failed")], [1, 2, 3])
        self.assertGreaterEqual(len(self.dns.queries("missing.test", TYPE_A)), 3)

    def test_dual_stack_name_happy_eyeballs_falls_back_to_ipv4(self):
        self.require_ipv6()
        # The server listens on 127.0.0.1 only; ::1 on the same port refuses.
        server, closed6 = self.bind_same_port(
            lambda: harness.Server("127.0.0.1"), lambda p: harness.ClosedPort("::1", p))
        self.addCleanup(server.close)
        self.addCleanup(closed6.close)
        self.dns.answer("dual.test", a=["127.0.0.1"], aaaa=["::1"])
        r = self.run_tcpretry(f"dual.test:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        attempts = of_type(events, "attempt")
        self.assertEqual({a["address"] for a in attempts}, {"::1", "127.0.0.1"}, r)
        self.assertTrue(all(a["attempt"] == 1 for a in attempts), "both in round 1")
        failed = of_type(events, "failed")
        self.assertEqual([(f["address"], f["error"]) for f in failed], [("::1", "refused")])
        connected = of_type(events, "connected")
        self.assertEqual(len(connected), 1)
        self.assertEqual(connected[0]["address"], "127.0.0.1")
        self.assertEqual(connected[0]["attempt"], 1)
        self.assertEqual(of_type(events, "retry"), [], "one round was enough")
        s = summary(events)
        self.assertEqual((s["result"], s["attempts"], s["failures"]), ("ok", 1, 0))
        asked = {q.qtype for q in self.dns.queries("dual.test")}
        self.assertEqual(asked, {TYPE_A, TYPE_AAAA}, "A and AAAA are asked separately")

    def test_happy_eyeballs_starts_the_next_address_while_the_first_hangs(self):
        self.require_ipv6()
        # ::1 drops SYNs (never answers), 127.0.0.1 accepts: after the stagger delay the
        # IPv4 attempt starts and wins long before the connect timeout.
        hole, server = self.bind_same_port(
            lambda: harness.Blackhole("::1"), lambda p: harness.Server("127.0.0.1", p))
        self.addCleanup(hole.close)
        self.addCleanup(server.close)
        self.dns.answer("slow6.test", a=["127.0.0.1"], aaaa=["::1"])
        r = self.run_tcpretry("-T", "10s", f"slow6.test:{server.port}")
        self.assertExit(r, 0)
        self.assertLess(r.elapsed, 5.0, "did not wait for the hanging ::1 attempt")
        events = self.assertValidJsonLines(r)
        attempts = of_type(events, "attempt")
        self.assertEqual([a["address"] for a in attempts], ["::1", "127.0.0.1"], r)
        # The next address waits a while for the first (250 ms in RFC 8305 terms; the lower
        # bound is loose, timestamps have ms resolution).
        self.assertGreaterEqual(timestamp(attempts[1]) - timestamp(attempts[0]), 0.1)
        # The cancelled ::1 attempt reports nothing more.
        self.assertEqual(of_type(events, "failed"), [])
        connected = of_type(events, "connected")
        self.assertEqual([c["address"] for c in connected], ["127.0.0.1"])

    def test_only_a_records_with_dash_4(self):
        server = self.server("127.0.0.1")
        self.dns.answer("v4only.test", a=["127.0.0.1"])
        r = self.run_tcpretry("-4", f"v4only.test:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([a["family"] for a in of_type(events, "attempt")], ["ipv4"])
        self.assertEqual(of_type(events, "connected")[0]["address"], "127.0.0.1")
        self.assertEqual(self.dns.queries("v4only.test", TYPE_AAAA), [], "-4 asks no AAAA")

    def test_only_a_records_without_family_option(self):
        server = self.server("127.0.0.1")
        self.dns.answer("v4only.test", a=["127.0.0.1"])
        r = self.run_tcpretry(f"v4only.test:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "failed"), [], "no AAAA is not a failed attempt")
        self.assertEqual(of_type(events, "connected")[0]["address"], "127.0.0.1")

    def test_dash_6_with_only_a_records_fails_to_resolve(self):
        self.dns.answer("v4only.test", a=["127.0.0.1"])
        r = self.run_tcpretry("-6", "--once", "v4only.test:80")
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "attempt"), [])
        self.assertEqual([f["error"] for f in of_type(events, "failed")], ["resolve"])
        self.assertEqual(self.dns.queries("v4only.test", TYPE_A), [], "-6 asks no A")

    def test_dns_change_between_rounds_is_followed(self):
        # The first answer points at 127.0.0.2 (nothing listens on that port there), later
        # ones at 127.0.0.1 where the server is.
        server, closed = self.bind_same_port(
            lambda: harness.Server("127.0.0.1"), lambda p: harness.ClosedPort("127.0.0.2", p))
        self.addCleanup(server.close)
        self.addCleanup(closed.close)
        self.dns.answer("moving.test", a=[["127.0.0.2"], ["127.0.0.1"]])
        r = self.run_tcpretry("-4", f"moving.test:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        failed = of_type(events, "failed")
        self.assertEqual([(f["attempt"], f["address"], f["error"]) for f in failed],
                         [(1, "127.0.0.2", "refused")])
        connected = of_type(events, "connected")
        self.assertEqual([(c["attempt"], c["address"]) for c in connected],
                         [(2, "127.0.0.1")])
        self.assertGreaterEqual(len(self.dns.queries("moving.test", TYPE_A)), 2)

    def test_silent_dns_server_fails_the_round_at_the_connect_timeout(self):
        # The connect timeout covers resolution: an unanswered query fails the round with
        # error resolve when it expires.
        self.dns.drop("silent.test")
        r = self.run_tcpretry("-T", "500ms", "--once", "silent.test:80")
        self.assertExit(r, 1)
        self.assertLess(r.elapsed, 5.0)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "attempt"), [])
        failed = of_type(events, "failed")
        self.assertEqual([f["error"] for f in failed], ["resolve"], r)
        self.assertGreaterEqual(failed[0]["duration_ms"], 450)

    def test_unicode_name_is_reported_as_given(self):
        # A non-ASCII name is not a usage error; its failure names the target as given.
        r = self.run_tcpretry("--once", "café.test:80")
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual(events[0]["targets"], ["café.test:80"])
        failed = of_type(events, "failed")
        self.assertEqual([(f["target"], f["error"]) for f in failed],
                         [("café.test:80", "resolve")])


def hosts_names_with_ipv4_only(path="/etc/hosts"):
    """Names /etc/hosts lists with IPv4 addresses only (not localhost names)."""
    families = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) < 2:
                    continue
                family = "ipv6" if ":" in fields[0] else "ipv4"
                for name in fields[1:]:
                    families.setdefault(name.lower(), set()).add(family)
    except OSError:
        return []
    return sorted(n for n, fams in families.items()
                  if fams == {"ipv4"} and n != "localhost" and not n.endswith(".localhost"))


class LocalhostNames(DnsTestCase):
    """RFC 6761: localhost and names under .localhost are loopback and never go to DNS, for
    -4, -6 and both families, whatever /etc/hosts lists (here: 127.0.0.1 only)."""

    def assertNoDnsQuery(self):
        self.assertEqual(self.dns.queries(), [], "a localhost name was sent to DNS")

    def test_dash_6_localhost_is_the_ipv6_loopback(self):
        self.require_ipv6()
        server = self.server("::1")
        r = self.run_tcpretry("-6", f"localhost:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([a["address"] for a in of_type(events, "attempt")], ["::1"])
        self.assertEqual(of_type(events, "connected")[0]["address"], "::1")
        self.assertNoDnsQuery()

    def test_dash_6_localhost_refused_is_refused_not_resolve(self):
        self.require_ipv6()
        port = self.closed_port("::1")
        r = self.run_tcpretry("-6", "--once", f"localhost:{port.port}")
        self.assertExit(r, 1)
        failed = of_type(self.assertValidJsonLines(r), "failed")
        self.assertEqual([(f["address"], f["error"]) for f in failed], [("::1", "refused")])
        self.assertNoDnsQuery()

    def test_dash_4_localhost_is_the_ipv4_loopback(self):
        server = self.server("127.0.0.1")
        r = self.run_tcpretry("-4", f"localhost:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([a["address"] for a in of_type(events, "attempt")], ["127.0.0.1"])
        self.assertNoDnsQuery()

    def test_both_families_try_ipv6_loopback_then_ipv4(self):
        self.require_ipv6()
        server, closed6 = self.bind_same_port(
            lambda: harness.Server("127.0.0.1"), lambda p: harness.ClosedPort("::1", p))
        self.addCleanup(server.close)
        self.addCleanup(closed6.close)
        r = self.run_tcpretry(f"localhost:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([a["address"] for a in of_type(events, "attempt")], ["::1", "127.0.0.1"])
        self.assertEqual(of_type(events, "connected")[0]["address"], "127.0.0.1")
        self.assertNoDnsQuery()

    def test_both_families_reach_a_server_on_ipv6_loopback_only(self):
        self.require_ipv6()
        server = self.server("::1")
        r = self.run_tcpretry(f"localhost:{server.port}")
        self.assertExit(r, 0)
        self.assertEqual(of_type(r.events(), "connected")[0]["address"], "::1")
        self.assertNoDnsQuery()

    def test_names_under_localhost_are_loopback_in_any_case(self):
        # The stub would answer these with another address: it must never be asked.
        server = self.server("127.0.0.1")
        for name in ("app.localhost", "App.LocalHost.", "a.b.LOCALHOST", "LOCALHOST."):
            with self.subTest(name=name):
                self.dns.answer(name, a=["127.0.0.2"], aaaa=["::2"])
                r = self.run_tcpretry("-4", f"{name}:{server.port}")
                self.assertExit(r, 0)
                connected = of_type(self.assertValidJsonLines(r), "connected")
                self.assertEqual([c["address"] for c in connected], ["127.0.0.1"])
        self.assertNoDnsQuery()

    def test_dash_6_name_under_localhost(self):
        self.require_ipv6()
        server = self.server("::1")
        r = self.run_tcpretry("-6", f"web.app.localhost:{server.port}")
        self.assertExit(r, 0)
        self.assertEqual(of_type(r.events(), "connected")[0]["address"], "::1")
        self.assertNoDnsQuery()

    def test_lookalikes_of_localhost_go_to_dns(self):
        for name in ("mylocalhost", "localhost.test", "localhost-1"):
            with self.subTest(name=name):
                self.dns.nxdomain(name)
                r = self.run_tcpretry("--once", f"{name}:80")
                self.assertExit(r, 1)
                failed = of_type(self.assertValidJsonLines(r), "failed")
                self.assertEqual([(f["error"], f["errno"]) for f in failed],
                                 [("resolve", "EAI_NONAME")])
                self.assertTrue(self.dns.queries(name), f"{name} was not asked of DNS")


class EtcHostsDecides(DnsTestCase):
    def test_a_name_listed_for_ipv4_only_is_not_asked_of_dns_with_dash_6(self):
        # /etc/hosts answers for a name it lists, in every family: -6 finds no IPv6 address
        # there and fails without asking DNS (which here would answer ::1).
        names = hosts_names_with_ipv4_only()
        if not names:
            self.skipTest("/etc/hosts lists no name with IPv4 addresses only")
        name = names[0]
        self.dns.answer(name, a=["127.0.0.1"], aaaa=["::1"])
        r = self.run_tcpretry("-6", "--once", f"{name}:80")
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "attempt"), [])
        failed = of_type(events, "failed")
        self.assertEqual([(f["error"], f["errno"]) for f in failed], [("resolve", "EAI_NODATA")])
        self.assertIn("/etc/hosts", failed[0]["message"])
        self.assertEqual(self.dns.queries(), [], f"{name} was asked of DNS")


if __name__ == "__main__":
    unittest.main()
