"""Watch mode against real servers that recycle idle connections: redis with `timeout 1`
closes idle clients after a second, PostgreSQL with `authentication_timeout = 1s` closes
connections that never authenticate, nginx closes after answering an HTTP/1.0 request. None of
that is an outage; stopping the server for ~2 s is exactly one."""

import signal
import time
import unittest

import harness
import real_servers
import servers_watch as sw
from harness import of_type

# How long the steady watch runs (the figure: 10 s of recycling, no outage).
STEADY = "10s"
AWAY = 2.0


class RealServiceWatch(harness.TestCase):
    def watch(self, *args):
        p = sw.tcpretry(*args)
        self.addCleanup(p.kill)
        return p

    def steady(self, server, *extra, min_recycled=4):
        r = harness.run("--watch", "--json", "--timeout", STEADY, *extra, server.target,
                        timeout=60)
        events, per_target, overall = sw.check_watch_output(self, r, [server.target])
        s = per_target[server.target]
        self.assertExit(r, 0)
        self.assertEqual(overall["result"], "ok")
        self.assertEqual(s["outages"], 0, s)
        self.assertEqual(s["result"], "connected")
        # Only the first connect counts as down: a fraction of a millisecond on an idle
        # machine, tens of milliseconds on a loaded one (12 ms seen under stress-ng). Were a
        # recycle's reconnect counted as down, its pacing (up to 1 s) would show here.
        self.assertGreaterEqual(s["uptime_percent"], 99.0, s)
        self.assertLess(s["longest_down_ms"], 100, s)
        self.assertGreaterEqual(s["recycled"], min_recycled, s)
        self.assertEqual(s["recycled"], s["disconnects"], s)
        self.assertTrue(all(d["outage"] is False for d in of_type(events, "disconnected")))
        self.assertEqual(of_type(events, "retry"), [], "a recycled connection backed off")
        return s

    def one_outage(self, server, *extra):
        """Stops the server for AWAY seconds while a watch runs: exactly one outage, about
        that long."""
        p = self.watch("--watch", "--json", "--max-delay", "500ms", *extra, server.target)
        e, _ = p.wait_for_event("connected", timeout=20, connection=1)
        self.assertIsNotNone(e, p.lines())
        stopped = time.monotonic()
        server.stop()
        drop, _ = p.wait_for_event("disconnected", timeout=20, outage=True)
        self.assertIsNotNone(drop, p.lines())
        time.sleep(max(0.0, AWAY - (time.monotonic() - stopped)))
        server.start()
        back = time.monotonic()
        away = back - stopped
        count = len(of_type(p.events(), "connected"))
        e, _ = p.wait_for_event("connected", timeout=20, connection=count + 1)
        self.assertIsNotNone(e, p.lines())
        p.send_signal(signal.SIGINT)
        r = p.wait()
        events, per_target, _ = sw.check_watch_output(self, r, [server.target])
        s = per_target[server.target]
        self.assertEqual(s["outages"], 1, s)
        self.assertEqual(len([d for d in of_type(events, "disconnected") if d["outage"]]), 1)
        # Down from the drop (after the stop began) until the reconnect: the time away, at
        # most one retry delay (500 ms) more; the stop itself may take a moment.
        self.assertGreater(s["longest_down_ms"], (AWAY - 0.5) * 1000, (s, away))
        self.assertLess(s["longest_down_ms"], (away + 2.0) * 1000, (s, away))
        self.assertEqual(s["result"], "connected")
        self.assertExit(r, 0)
        return s


class Redis(RealServiceWatch):
    def test_idle_timeout_recycles_and_a_restart_is_one_outage(self):
        server = real_servers.RedisServer(timeout=1).start_for(self)
        self.steady(server)
        self.one_outage(server)

    def test_ping_check_over_recycled_connections(self):
        server = real_servers.RedisServer(timeout=1).start_for(self)
        self.steady(server, "--send", r"PING\r\n", "--expect", r"^\+PONG$")


class Postgres(RealServiceWatch):
    def test_authentication_timeout_recycles_and_a_restart_is_one_outage(self):
        server = real_servers.PostgresServer(
            settings={"authentication_timeout": "1s"}).start_for(self)
        self.steady(server)
        self.one_outage(server)


class Nginx(RealServiceWatch):
    def test_a_close_after_a_passed_http_check_is_recycled(self):
        server = real_servers.NginxServer(files={"index.html": "ok\n"}).start_for(self)
        r = harness.run("--watch", "--json", "--timeout", "3500ms", "--send",
                        r"GET / HTTP/1.0\r\n\r\n", "--expect", r"^HTTP/1\.[01] 200",
                        server.target, timeout=60)
        events, per_target, _ = sw.check_watch_output(self, r, [server.target])
        s = per_target[server.target]
        self.assertExit(r, 0)
        self.assertEqual(s["outages"], 0, s)
        self.assertGreaterEqual(s["recycled"], 2, s)
        self.assertEqual(of_type(events, "retry"), [])


if __name__ == "__main__":
    unittest.main()
