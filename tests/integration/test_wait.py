"""Waiting for endpoints: open, closed-then-open, retries and backoff, attempts, timeouts,
blackholed endpoints, IPv6 and localhost."""

import re
import time
import unittest
from datetime import datetime

import harness
from harness import of_type, summary


def timestamp(event):
    return datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


class OpenPort(harness.TestCase):
    def test_open_port_connects_at_once(self):
        server = self.server()
        r = harness.run("--json", server.target)
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([e["event"] for e in events],
                         ["start", "attempt", "connected", "summary"], r)
        attempt, connected = events[1], events[2]
        self.assertEqual(attempt["target"], server.target)
        self.assertEqual(attempt["attempt"], 1)
        self.assertEqual(attempt["address"], "127.0.0.1")
        self.assertEqual(attempt["port"], server.port)
        self.assertEqual(attempt["family"], "ipv4")
        self.assertEqual(connected["attempt"], 1)
        self.assertEqual(connected["address"], "127.0.0.1")
        self.assertEqual(connected["port"], server.port)
        self.assertEqual(connected["local_address"], "127.0.0.1")
        self.assertIsInstance(connected["local_port"], int)
        self.assertNotEqual(connected["local_port"], server.port)
        self.assertGreaterEqual(connected["connect_ms"], 0)
        self.assertGreaterEqual(connected["waited_ms"], 0)
        s = summary(events)
        self.assertEqual(s["result"], "ok")
        self.assertEqual(s["attempts"], 1)
        self.assertEqual(s["failures"], 0)
        self.assertEqual(s["exit_code"], 0)
        # The connection really reached the server.
        self.assertTrue(harness.wait_until(lambda: server.accepted >= 1, 5))

    def test_open_port_human_output(self):
        server = self.server()
        r = harness.run(server.target)
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, rf"(?m)^{server.target} connected on attempt 1 in ")
        self.assertEqual(r.stderr, "")

    def test_several_open_ports(self):
        a, b = self.server(), self.server()
        r = harness.run("--json", a.target, b.target)
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual(events[0]["targets"], [a.target, b.target])
        self.assertEqual(sorted(e["target"] for e in of_type(events, "connected")),
                         sorted([a.target, b.target]))


class ClosedThenOpen(harness.TestCase):
    def test_port_that_opens_after_a_second(self):
        port = self.closed_port()
        port.open_later(1.0)
        r = harness.run("--json", port.target)
        exited = time.monotonic()
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        failed = of_type(events, "failed")
        retries = of_type(events, "retry")
        connected = of_type(events, "connected")
        self.assertGreaterEqual(len(failed), 2, r)
        for f in failed:
            self.assertEqual(f["error"], "refused", f)
            self.assertEqual(f["errno"], "ECONNREFUSED", f)
            self.assertEqual(f["address"], "127.0.0.1")
            self.assertEqual(f["port"], port.port)
        self.assertEqual(len(retries), len(failed))
        for n, retry in enumerate(retries, 2):
            self.assertEqual(retry["attempt"], n)
            self.assertGreater(retry["delay_ms"], 0)
        self.assertEqual(len(connected), 1)
        # Rounds are numbered 1, 2, ... and the connection came in the round after the last
        # failure.
        self.assertEqual([e["attempt"] for e in of_type(events, "attempt")],
                         list(range(1, len(failed) + 2)))
        self.assertEqual(connected[0]["attempt"], len(failed) + 1)
        # Target events come in a sensible order: failures and retries, then connected.
        names = [e["event"] for e in events]
        self.assertEqual(names[-2:], ["connected", "summary"])
        s = summary(events)
        self.assertEqual(s["result"], "ok")
        self.assertEqual(s["attempts"], len(failed) + 1)
        self.assertEqual(s["failures"], len(failed))
        # It kept trying until the port opened (about 1 s in), then stopped.
        self.assertIsNotNone(port.opened_at)
        self.assertGreater(exited, port.opened_at)

    def test_human_output_reports_refusal_then_connection(self):
        port = self.closed_port()
        port.open_later(1.0)
        r = harness.run(port.target)
        self.assertExit(r, 0)
        self.assertRegex(
            r.stdout,
            rf"(?m)^{port.target} attempt 1: connection refused \([0-9.]+ m?s\); "
            r"retrying in \d+ ms$")
        m = re.search(rf"(?m)^{re.escape(port.target)} connected on attempt (\d+) in ", r.stdout)
        self.assertIsNotNone(m, r)
        self.assertGreater(int(m.group(1)), 1)


class AttemptsAndBackoff(harness.TestCase):
    def test_attempts_3_gives_up_with_doubling_delays(self):
        port = self.closed_port()
        r = harness.run("--json", "--attempts", "3", "--jitter", "0", port.target)
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual([e["attempt"] for e in of_type(events, "attempt")], [1, 2, 3])
        failed = of_type(events, "failed")
        self.assertEqual([f["attempt"] for f in failed], [1, 2, 3])
        self.assertTrue(all(f["error"] == "refused" for f in failed), failed)
        retries = of_type(events, "retry")
        self.assertEqual([x["attempt"] for x in retries], [2, 3])
        self.assertAlmostEqual(retries[0]["delay_ms"], 100, delta=1)
        self.assertAlmostEqual(retries[1]["delay_ms"], 200, delta=1)
        gave_up = of_type(events, "gave_up")
        self.assertEqual(len(gave_up), 1)
        self.assertEqual(gave_up[0]["attempts"], 3)
        self.assertEqual(gave_up[0]["reason"], "refused")
        self.assertEqual(gave_up[0]["target"], port.target)
        s = summary(events)
        self.assertEqual(s["result"], "gave_up")
        self.assertEqual(s["attempts"], 3)
        self.assertEqual(s["failures"], 3)
        self.assertEqual(s["exit_code"], 1)
        # The delays were really waited (timestamps have ms resolution: allow a little).
        attempts = of_type(events, "attempt")
        self.assertGreaterEqual(timestamp(attempts[1]) - timestamp(failed[0]), 0.095)
        self.assertGreaterEqual(timestamp(attempts[2]) - timestamp(failed[1]), 0.195)
        self.assertGreaterEqual(r.elapsed, 0.29)

    def test_once_makes_one_attempt_and_no_retry(self):
        port = self.closed_port()
        r = harness.run("--json", "--once", port.target)
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual([e["event"] for e in events],
                         ["start", "attempt", "failed", "gave_up", "summary"], r)
        self.assertEqual(summary(events)["result"], "gave_up")

    def test_delay_is_capped_by_max_delay(self):
        port = self.closed_port()
        r = harness.run("--json", "-n", "6", "--jitter", "0", "--initial-delay", "20ms",
                        "--multiplier", "3", "--max-delay", "100ms", port.target)
        self.assertExit(r, 1)
        delays = [x["delay_ms"] for x in of_type(r.events(), "retry")]
        self.assertEqual(len(delays), 5)
        for got, want in zip(delays, [20, 60, 100, 100, 100]):
            self.assertAlmostEqual(got, want, delta=1, msg=delays)

    def test_max_delay_alone_lowers_the_initial_delay(self):
        port = self.closed_port()
        r = harness.run("--json", "-n", "3", "--jitter", "0", "--max-delay", "50ms",
                        port.target)
        self.assertExit(r, 1)
        delays = [x["delay_ms"] for x in of_type(r.events(), "retry")]
        self.assertEqual(len(delays), 2)
        for d in delays:
            self.assertAlmostEqual(d, 50, delta=1, msg=delays)

    def test_jitter_stays_in_bounds_and_seed_reproduces(self):
        port = self.closed_port()
        args = ["--json", "-n", "6", "--jitter", "0.5", "--seed", "42",
                "--initial-delay", "20ms", "--max-delay", "80ms", port.target]
        first = harness.run(*args)
        second = harness.run(*args)
        self.assertExit(first, 1)
        self.assertExit(second, 1)
        d1 = [x["delay_ms"] for x in of_type(first.events(), "retry")]
        d2 = [x["delay_ms"] for x in of_type(second.events(), "retry")]
        self.assertEqual(len(d1), 5)
        self.assertEqual(d1, d2, "the same --seed must give the same delays")
        for got, base in zip(d1, [20, 40, 80, 80, 80]):
            self.assertGreaterEqual(got, base * 0.5 - 1, d1)
            self.assertLessEqual(got, base * 1.5 + 1, d1)
        self.assertGreater(len(set(d1)), 1, f"jitter 0.5 left every delay equal: {d1}")


class Timeouts(harness.TestCase):
    def test_overall_timeout_exits_124(self):
        port = self.closed_port()
        r = harness.run("--json", "--timeout", "1s", port.target)
        self.assertExit(r, 124)
        self.assertGreaterEqual(r.elapsed, 0.9)
        self.assertLess(r.elapsed, 3.0)
        events = self.assertValidJsonLines(r)
        s = summary(events)
        self.assertEqual(s["result"], "timeout")
        self.assertEqual(s["exit_code"], 124)
        self.assertGreaterEqual(s["elapsed_ms"], 900)
        self.assertEqual(of_type(events, "gave_up"), [])
        self.assertGreaterEqual(len(of_type(events, "failed")), 2)

    def test_overall_timeout_cuts_a_hanging_connect(self):
        hole = self.blackhole()
        r = harness.run("--json", "-t", "1s", "-T", "10s", hole.target)
        self.assertExit(r, 124)
        self.assertLess(r.elapsed, 3.0)
        self.assertEqual(summary(r.events())["result"], "timeout")

    def test_blackholed_endpoint_times_out(self):
        hole = self.blackhole()
        r = harness.run("--json", "-T", "500ms", "--once", hole.target)
        self.assertExit(r, 1)
        self.assertLess(r.elapsed, 5.0)
        events = self.assertValidJsonLines(r)
        failed = of_type(events, "failed")
        self.assertEqual(len(failed), 1, r)
        self.assertEqual(failed[0]["error"], "timeout")
        self.assertEqual(failed[0]["errno"], "ETIMEDOUT")
        self.assertEqual(failed[0]["address"], "127.0.0.1")
        self.assertGreaterEqual(failed[0]["duration_ms"], 450)
        gave_up = of_type(events, "gave_up")
        self.assertEqual(len(gave_up), 1)
        self.assertEqual(gave_up[0]["reason"], "timeout")

    def test_blackhole_is_retried_after_each_connect_timeout(self):
        hole = self.blackhole()
        r = harness.run("--json", "-T", "200ms", "-n", "3", "--jitter", "0",
                        "--initial-delay", "10ms", hole.target)
        self.assertExit(r, 1)
        failed = of_type(r.events(), "failed")
        self.assertEqual([f["attempt"] for f in failed], [1, 2, 3])
        self.assertTrue(all(f["error"] == "timeout" for f in failed), failed)
        self.assertGreaterEqual(r.elapsed, 0.6)


class Addresses(harness.TestCase):
    def test_ipv6_literal(self):
        self.require_ipv6()
        server = self.server("::1")
        r = harness.run("--json", f"[::1]:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        connected = of_type(events, "connected")
        self.assertEqual(len(connected), 1)
        self.assertEqual(connected[0]["address"], "::1")
        self.assertEqual(connected[0]["local_address"], "::1")
        self.assertEqual(of_type(events, "attempt")[0]["family"], "ipv6")

    def test_ipv6_literal_closed_port_is_refused(self):
        self.require_ipv6()
        port = self.closed_port("::1")
        r = harness.run("--json", "--once", port.target)
        self.assertExit(r, 1)
        failed = of_type(r.events(), "failed")
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["error"], "refused")
        self.assertEqual(failed[0]["address"], "::1")

    def test_localhost_from_etc_hosts(self):
        server = self.server("127.0.0.1")
        r = harness.run("--json", "-T", "2s", f"localhost:{server.port}")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        connected = of_type(events, "connected")
        self.assertEqual(len(connected), 1)
        self.assertEqual(connected[0]["address"], "127.0.0.1")
        self.assertEqual(connected[0]["target"], f"localhost:{server.port}")


if __name__ == "__main__":
    unittest.main()
