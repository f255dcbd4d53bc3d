"""Ping mode and Prometheus output (issue 4): --count/--interval probes, per-target and
overall statistics, exit status, SIGINT/SIGTERM/SIGQUIT, a closed stdout, --format
prometheus (checked with promtool when installed) and --metrics-listen scraped over
loopback.
"""

import datetime
import json
import os
import select
import signal
import subprocess
import time
import unittest
import urllib.error

import harness
from harness import EXIT_FAILED, EXIT_OK, EXIT_USAGE, TIME_RE, of_type
from servers_fleet import (LATENCY_KEYS, PROMTOOL, FleetListener, HalfTimePort,
                           expected_latency, free_port, loopback_addresses, parse_exposition,
                           ping_problems, promtool_check, sample, scrape)
from servers_watch import BehaviourServer, banner, hold

EXIT_SIGPIPE = 141


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


class PingTestCase(harness.TestCase):
    def fleet(self):
        f = FleetListener()
        self.addCleanup(f.close)
        return f

    def half_time_port(self, period):
        p = HalfTimePort(period)
        self.addCleanup(p.close)
        return p

    def hold_server(self):
        s = BehaviourServer(hold())
        self.addCleanup(s.close)
        return s

    def assertValidPing(self, result, targets, interim=False):
        """Ping-mode JSON: start first; probe events per target numbered 1, 2, ...; one
        final summary per target after its last probe (more before only with interim, from
        SIGQUIT); the overall summary last. Returns (probes by target, final per-target
        summary by target, overall summary)."""
        events = result.events()
        self.assertGreaterEqual(len(events), 3, f"too few events\n{result}")
        for e in events:
            self.assertRegex(e.get("time", ""), TIME_RE, f"bad time in {e}")
        self.assertEqual(events[0]["event"], "start")
        self.assertEqual(events[0]["targets"], targets)
        if "mode" in events[0]:
            self.assertEqual(events[0]["mode"], "ping")
        overall = events[-1]
        self.assertEqual(overall["event"], "summary")
        self.assertEqual(ping_problems(overall, overall=True), [], f"in {overall}")
        times = [e["time"] for e in events]
        self.assertEqual(times, sorted(times), "event times go backwards")
        probes = {t: [] for t in targets}
        summaries = {t: [] for t in targets}
        for i, e in enumerate(events[1:-1], 1):
            if e["event"] == "probe":
                self.assertEqual(ping_problems(e), [], f"in {e}")
                self.assertIn(e["target"], probes)
                probes[e["target"]].append((i, e))
            elif e["event"] == "summary":
                self.assertEqual(ping_problems(e), [], f"in {e}")
                self.assertIn(e.get("target"), summaries, f"a second overall summary: {e}")
                summaries[e["target"]].append((i, e))
            elif e["event"] in ("attempt", "connected", "failed", "retry", "gave_up"):
                self.fail(f"wait-mode event in ping mode: {e}")
        finals = {}
        for t in targets:
            self.assertTrue(summaries[t], f"no summary for {t}\n{result}")
            if not interim:
                self.assertEqual(len(summaries[t]), 1, f"{t}: {len(summaries[t])} summaries")
            last, finals[t] = summaries[t][-1]
            self.assertTrue(all(i < last for i, _ in probes[t]),
                            f"{t}: a probe after its final summary")
            # An interim summary covers the probes before it.
            for at, s in summaries[t][:-1]:
                self.assertLatencyMatches(s, [e for i, e in probes[t] if i < at])
            probes[t] = [e for _, e in probes[t]]
        self.assertEqual(set(finals), set(targets), f"missing per-target summaries\n{result}")
        for t in targets:
            self.assertEqual([p["seq"] for p in probes[t]], list(range(1, len(probes[t]) + 1)),
                             f"{t}: probes not numbered 1, 2, ...")
            self.assertLatencyMatches(finals[t], probes[t])
        # The overall summary pools every probe of every target.
        everything = [p for t in targets for p in probes[t]]
        self.assertEqual(overall["targets"], len(targets))
        self.assertLatencyMatches(overall, everything)
        self.assertEqual(overall["longest_failure_streak"],
                         max(finals[t]["longest_failure_streak"] for t in targets))
        self.assertEqual(overall["exit_code"], result.returncode)
        want_exit = EXIT_OK if all(finals[t]["received"] > 0 for t in targets) else EXIT_FAILED
        self.assertExit(result, want_exit)
        self.assertEqual(overall["result"], "ok" if want_exit == EXIT_OK else "failed")
        return probes, finals, overall

    def assertLatencyMatches(self, s, probes):
        """A summary's counts and connect_ms agree with the probe events it covers."""
        ok = [p["connect_ms"] for p in probes if p["ok"]]
        self.assertEqual(s["sent"], len(probes))
        self.assertEqual(s["received"], len(ok))
        streak = longest = 0
        for p in probes:
            streak = 0 if p["ok"] else streak + 1
            longest = max(longest, streak)
        if "target" in s:
            self.assertEqual(s["longest_failure_streak"], longest)
        if not ok:
            self.assertNotIn("connect_ms", s)
            return
        want = expected_latency(ok)
        for k in LATENCY_KEYS:
            # Probe times are printed rounded to the microsecond; the summary is computed
            # from the exact ones.
            self.assertAlmostEqual(s["connect_ms"][k], want[k], delta=0.003,
                                   msg=f"{k}: {s['connect_ms']} vs {want} from {ok}")


class Probes(PingTestCase):
    def test_count_five_gives_five_probes_and_statistics(self):
        server = self.server()
        r = harness.run("--count", "5", "--interval", "100ms", "-j", server.target)
        probes, finals, overall = self.assertValidPing(r, [server.target])
        mine = probes[server.target]
        self.assertEqual([p["seq"] for p in mine], [1, 2, 3, 4, 5])
        for p in mine:
            self.assertIs(p["ok"], True)
            self.assertEqual((p["address"], p["port"]), ("127.0.0.1", server.port))
        s = finals[server.target]
        self.assertEqual((s["result"], s["sent"], s["received"]), ("ok", 5, 5))
        self.assertEqual(s["loss_percent"], 0)
        self.assertEqual(s["longest_failure_streak"], 0)
        c = s["connect_ms"]
        self.assertLessEqual(c["min"], c["p50"])
        self.assertLessEqual(c["p50"], c["p90"])
        self.assertLessEqual(c["p90"], c["p99"])
        self.assertLessEqual(c["p99"], c["max"])
        self.assertTrue(c["min"] <= c["avg"] <= c["max"], c)
        self.assertGreaterEqual(c["mdev"], 0)
        self.assertEqual((overall["sent"], overall["received"], overall["targets"]), (5, 5, 1))
        self.assertEqual(overall["connect_ms"], c)
        # A fixed interval: four gaps of 100 ms between the first and the last probe.
        span = (parse_time(mine[-1]["time"]) - parse_time(mine[0]["time"])).total_seconds()
        self.assertGreaterEqual(span, 0.38)
        self.assertLess(span, 2.0)
        self.assertGreaterEqual(overall["elapsed_ms"], 380)
        # Each probe is a fresh connection, closed right after.
        self.assertTrue(harness.wait_until(lambda: server.accepted >= 5, timeout=5))
        self.assertEqual(server.accepted, 5)

    def test_several_targets_and_the_pooled_summary(self):
        fleet = self.fleet()
        targets = [fleet.target(a) for a in loopback_addresses(3, second_octet=8)]
        r = harness.run("-c", "4", "-i", "50ms", "--json", *targets)
        probes, finals, overall = self.assertValidPing(r, targets)
        for t in targets:
            self.assertEqual(len(probes[t]), 4)
        self.assertEqual((overall["sent"], overall["received"]), (12, 12))

    def test_a_target_down_half_the_time(self):
        port = self.half_time_port(0.2)
        r = harness.run("--count", "20", "--interval", "50ms", "-j", port.target)
        probes, finals, overall = self.assertValidPing(r, [port.target])
        s = finals[port.target]
        self.assertEqual(s["sent"], 20)
        self.assertTrue(20 <= s["loss_percent"] <= 80,
                        f"loss {s['loss_percent']} % for a port up half the time\n{r}")
        self.assertEqual(s["result"], "ok")
        self.assertGreaterEqual(s["longest_failure_streak"], 1)
        self.assertLess(s["longest_failure_streak"], 12)
        self.assertIn("connect_ms", s)
        errors = {p["error"] for p in probes[port.target] if not p["ok"]}
        self.assertEqual(errors, {"refused"})
        self.assertGreaterEqual(port.switches, 3, "the port did not flap during the run")

    def test_an_always_closed_target_fails(self):
        closed = self.closed_port()
        r = harness.run("-c", "3", "-i", "50ms", "-j", closed.target)
        probes, finals, overall = self.assertValidPing(r, [closed.target])
        self.assertExit(r, EXIT_FAILED)
        for p in probes[closed.target]:
            self.assertIs(p["ok"], False)
            self.assertEqual(p["error"], "refused")
            self.assertEqual(p.get("errno"), "ECONNREFUSED")
            self.assertTrue(p["message"])
            self.assertNotIn("connect_ms", p)
        s = finals[closed.target]
        self.assertEqual((s["result"], s["sent"], s["received"]), ("failed", 3, 0))
        self.assertEqual(s["loss_percent"], 100)
        self.assertEqual(s["longest_failure_streak"], 3)
        self.assertNotIn("connect_ms", s)
        self.assertNotIn("connect_ms", overall)
        self.assertEqual(overall["result"], "failed")

    def test_one_target_that_never_answers_fails_the_run(self):
        server = self.server()
        closed = self.closed_port()
        r = harness.run("-c", "3", "-i", "50ms", "-j", server.target, closed.target)
        probes, finals, overall = self.assertValidPing(r, [server.target, closed.target])
        self.assertExit(r, EXIT_FAILED)
        self.assertEqual(finals[server.target]["result"], "ok")
        self.assertEqual(finals[closed.target]["result"], "failed")
        self.assertEqual((overall["sent"], overall["received"]), (6, 3))
        self.assertAlmostEqual(overall["loss_percent"], 50.0, delta=0.01)
        self.assertIn("connect_ms", overall)

    def test_human_output_is_ping_like(self):
        server = self.server()
        closed = self.closed_port()
        r = harness.run("-c", "2", "-i", "50ms", server.target, closed.target)
        self.assertExit(r, EXIT_FAILED)
        # "0.12 ms", "3.4 ms", or "19 ms" when a loaded machine is slow to schedule us.
        self.assertRegex(r.stdout, rf"{server.target} seq=1 connected in \d+(\.\d+)? ms")
        self.assertRegex(r.stdout, rf"{server.target} seq=2 connected in")
        self.assertRegex(r.stdout, rf"{closed.target} seq=2 connection refused")
        self.assertRegex(r.stdout, r"min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms")
        self.assertIn("100.0% loss", r.stdout)
        self.assertNotIn("\x1b", r.stdout)

    def test_failures_do_not_back_off(self):
        closed = self.closed_port()
        r = harness.run("-c", "5", "-i", "100ms", "-j", closed.target)
        probes, _, _ = self.assertValidPing(r, [closed.target])
        mine = probes[closed.target]
        span = (parse_time(mine[-1]["time"]) - parse_time(mine[0]["time"])).total_seconds()
        self.assertGreaterEqual(span, 0.38)
        self.assertLess(span, 0.8, "probes of a failing target are not at a fixed interval")

    def test_a_hanging_probe_does_not_delay_the_next(self):
        hole = self.blackhole()
        r = harness.run("-c", "3", "-i", "100ms", "-T", "300ms", "-j", hole.target)
        probes, finals, _ = self.assertValidPing(r, [hole.target])
        self.assertEqual([p["error"] for p in probes[hole.target]], ["timeout"] * 3)
        self.assertEqual(finals[hole.target]["result"], "failed")
        # One after the other would take 3 x 300 ms; at a fixed interval about 200 + 300 ms.
        self.assertLess(r.elapsed, 0.85, f"probes waited for each other\n{r}")

    def test_timeout_ends_ping_mode_with_the_ping_exit_status(self):
        server = self.server()
        closed = self.closed_port()
        r = harness.run("-c", "0", "-i", "100ms", "--timeout", "500ms", "-j", server.target)
        probes, _, overall = self.assertValidPing(r, [server.target])
        self.assertExit(r, EXIT_OK)  # not 124: every target answered
        self.assertTrue(4 <= overall["sent"] <= 7, overall)
        r = harness.run("-c", "0", "-i", "100ms", "--timeout", "500ms", "-j", closed.target)
        self.assertValidPing(r, [closed.target])
        self.assertExit(r, EXIT_FAILED)

    def test_expect_check_in_ping_mode(self):
        s = BehaviourServer(banner(b"hello world\n"))
        self.addCleanup(s.close)
        r = harness.run("-c", "2", "-i", "50ms", "--expect", "hello", "-j", s.target)
        probes, finals, _ = self.assertValidPing(r, [s.target])
        self.assertExit(r, EXIT_OK)
        self.assertEqual(finals[s.target]["received"], 2)
        r = harness.run("-c", "2", "-i", "50ms", "--expect", "nope", "--expect-timeout",
                        "200ms", "-j", s.target)
        probes, finals, _ = self.assertValidPing(r, [s.target])
        self.assertExit(r, EXIT_FAILED)
        self.assertEqual({p["error"] for p in probes[s.target]}, {"expect_mismatch"})

    def test_sparkline_on_a_terminal_only(self):
        server = self.server()
        sparks = set("▁▂▃▄▅▆▇█")
        r = harness.run("-c", "6", "-i", "50ms", server.target)
        self.assertExit(r, EXIT_OK)
        self.assertFalse(sparks & set(r.stdout), "a sparkline on a pipe")
        master, slave = os.openpty()
        try:
            p = subprocess.Popen([harness.BINARY, "-c", "6", "-i", "50ms", server.target],
                                 stdin=subprocess.DEVNULL, stdout=slave,
                                 stderr=subprocess.DEVNULL)
        finally:
            os.close(slave)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        chunks = []
        while True:
            ready, _, _ = select.select([master], [], [], 10)
            if not ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        self.assertEqual(p.wait(timeout=10), EXIT_OK)
        out = b"".join(chunks).decode("utf-8", "replace")
        spark_lines = [l for l in out.splitlines() if set(l.strip()) and set(l.strip()) <= sparks]
        self.assertEqual(len(spark_lines), 1, out)
        self.assertEqual(len(spark_lines[0].strip()), 6, out)

    def test_usage_errors(self):
        t = self.closed_port().target
        for args in (["-c", "-1"], ["-c", "x"], ["-c", "1", "-i", "0"], ["-c", "1", "-i", "x"],
                     ["-c", "1", "--watch"]):
            with self.subTest(args=args):
                r = harness.run(*args, t)
                self.assertExit(r, EXIT_USAGE)
                self.assertEqual(r.stdout, "")


class Signals(PingTestCase):
    def interrupt_after(self, sig, target, probes=3, *extra):
        p = self.background("--count", "0", "--interval", "100ms", "-j", *extra, target)
        self.assertIsNotNone(p.wait_for_event("probe", seq=probes), "no probes")
        p.send_signal(sig)
        return p.wait()

    def test_sigint_prints_the_summaries_exit_0_when_answered(self):
        server = self.server()
        r = self.interrupt_after(signal.SIGINT, server.target)
        probes, finals, overall = self.assertValidPing(r, [server.target])
        self.assertExit(r, EXIT_OK)
        self.assertGreaterEqual(overall["sent"], 3)
        self.assertEqual(finals[server.target]["result"], "ok")

    def test_sigint_exit_1_when_nothing_answered(self):
        closed = self.closed_port()
        r = self.interrupt_after(signal.SIGINT, closed.target)
        probes, finals, overall = self.assertValidPing(r, [closed.target])
        self.assertExit(r, EXIT_FAILED)
        self.assertEqual(finals[closed.target]["result"], "failed")

    def test_sigterm_ends_like_sigint(self):
        server = self.server()
        r = self.interrupt_after(signal.SIGTERM, server.target)
        self.assertValidPing(r, [server.target])
        self.assertExit(r, EXIT_OK)

    def test_sigint_human_summary(self):
        server = self.server()
        p = self.background("-c", "0", "-i", "100ms", server.target)
        self.assertIsNotNone(p.wait_for_line(lambda l: "seq=2" in l))
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.assertExit(r, EXIT_OK)
        self.assertIn("statistics", r.stdout)
        self.assertRegex(r.stdout, r"min/avg/max/mdev")
        self.assertRegex(r.stdout.splitlines()[-1], r"^tcpretry: ok")

    def test_sigquit_prints_interim_statistics_and_goes_on(self):
        server = self.server()
        p = self.background("-c", "0", "-i", "100ms", "-j", server.target)
        self.assertIsNotNone(p.wait_for_event("probe", seq=2))
        p.send_signal(signal.SIGQUIT)
        interim = p.wait_for_event("summary", target=server.target, timeout=5)
        self.assertIsNotNone(interim, "no interim summary after SIGQUIT")
        self.assertEqual(ping_problems(interim), [])
        self.assertGreaterEqual(interim["sent"], 2)
        # It goes on: two more probes after the interim statistics.
        later = p.wait_for_event("probe", seq=interim["sent"] + 2, timeout=5)
        self.assertIsNotNone(later, "probing stopped after SIGQUIT")
        self.assertIsNone(p.proc.poll())
        p.send_signal(signal.SIGINT)
        r = p.wait()
        probes, finals, overall = self.assertValidPing(r, [server.target], interim=True)
        self.assertExit(r, EXIT_OK)
        self.assertGreater(finals[server.target]["sent"], interim["sent"])
        self.assertEqual(len(of_type(r.events(), "summary")), 3)  # interim, final, overall

    def test_sigquit_human_then_the_count_completes(self):
        server = self.server()
        p = self.background("-c", "8", "-i", "100ms", server.target)
        self.assertIsNotNone(p.wait_for_line(lambda l: "seq=2 " in l))
        p.send_signal(signal.SIGQUIT)
        line = p.wait_for_line(lambda l: "statistics" in l, timeout=5) or \
            p.wait_for_line(lambda l: "statistics" in l, stream="stderr", timeout=1)
        self.assertIsNotNone(line, "no interim statistics after SIGQUIT")
        r = p.wait()
        self.assertExit(r, EXIT_OK)
        self.assertRegex(r.stdout, r"seq=8 connected")
        everything = r.stdout + r.stderr
        self.assertGreaterEqual(everything.count("statistics ---"), 2, everything)
        self.assertRegex(r.stdout.splitlines()[-1], r"^tcpretry: ok, 1 target, 8 probes")

    def run_into_closed_pipe(self, *args, read_first=True):
        p = subprocess.Popen([harness.BINARY, *args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        if read_first:
            first = p.stdout.readline()
            self.assertTrue(first, "no first line")
        p.stdout.close()  # as `| head -1` does after its line
        closed_at = time.monotonic()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail(f"tcpretry {args} kept running with its stdout closed")
        took = time.monotonic() - closed_at
        err = p.stderr.read().decode("utf-8", "replace")
        p.stderr.close()
        return p.returncode, took, err

    def test_stdout_closed_ends_promptly_and_quietly(self):
        server = self.server()
        closed = self.closed_port()
        cases = [
            ("-c", "0", "-i", "100ms", server.target),
            ("-c", "0", "-i", "100ms", "-j", server.target),
            ("-c", "0", "-i", "50ms", server.target, closed.target),
            ("-c", "0", "-i", "100ms", "-v", closed.target),
        ]
        for args in cases:
            with self.subTest(args=args):
                status, took, err = self.run_into_closed_pipe(*args)
                self.assertEqual(status, EXIT_SIGPIPE,
                                 f"exit {status} (negative: killed by a signal)\n{err}")
                self.assertLess(took, 3.0)
                self.assertEqual(err, "")

    def test_stdout_closed_before_anything_was_read(self):
        server = self.server()
        status, took, err = self.run_into_closed_pipe("-c", "0", "-i", "100ms", server.target,
                                                      read_first=False)
        self.assertEqual(status, EXIT_SIGPIPE, err)
        self.assertLess(took, 3.0)
        self.assertEqual(err, "")

    def test_stdout_closed_shell_pipe_into_head(self):
        server = self.server()
        cmd = f"'{harness.BINARY}' -c 0 -i 100ms {server.target} | head -1; " \
              "echo \"status=${PIPESTATUS[0]}\""
        start = time.monotonic()
        p = subprocess.run(["bash", "-c", cmd], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        out = p.stdout.decode()
        self.assertLess(time.monotonic() - start, 3.0)
        self.assertRegex(out, rf"^{server.target} seq=1 connected")
        self.assertIn("status=141", out)
        self.assertEqual(p.stderr, b"")


class Prometheus(PingTestCase):
    FAMILIES = {
        "tcpretry_up": "gauge",
        "tcpretry_probe_success": "gauge",
        "tcpretry_attempts_total": "counter",
        "tcpretry_failures_total": "counter",
        "tcpretry_connect_duration_seconds": "histogram",
    }

    def require_promtool(self):
        if PROMTOOL is None:
            print("skipped: promtool not installed (Debian package prometheus)", flush=True)
            self.skipTest("promtool not installed (Debian package prometheus)")

    def assertExposition(self, text):
        """The text is a valid exposition: promtool accepts it (when installed), the
        families have HELP and TYPE, histograms are cumulative with +Inf == _count.
        Returns the samples."""
        checked = promtool_check(text)
        if checked is not None:
            ok, output = checked
            self.assertTrue(ok, f"promtool check metrics failed:\n{output}\n{text}")
        families, samples = parse_exposition(text)
        for name, kind in self.FAMILIES.items():
            self.assertIn(name, families, f"no HELP/TYPE for {name}\n{text}")
            self.assertEqual(families[name].get("type"), kind, name)
            self.assertTrue(families[name].get("help"), f"no HELP for {name}")
        # Every sample belongs to a declared family.
        for name, labels, value in samples:
            base = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[:-len(suffix)] in families:
                    base = name[:-len(suffix)]
            self.assertIn(base, families, f"sample {name} has no TYPE")
            self.assertIn("target", labels)
        # Histograms: per target, buckets non-decreasing in le, +Inf equals _count.
        hist = "tcpretry_connect_duration_seconds"
        targets = {l["target"] for n, l, v in samples if n == hist + "_count"}
        self.assertTrue(targets)
        for t in targets:
            buckets = sorted(((float(l["le"]), v) for n, l, v in samples
                              if n == hist + "_bucket" and l["target"] == t))
            self.assertEqual(buckets[-1][0], float("inf"))
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), f"{t}: buckets not cumulative")
            count = sample(samples, hist + "_count", target=t)
            self.assertEqual(buckets[-1][1], count)
            total = sample(samples, hist + "_sum", target=t)
            self.assertGreaterEqual(total, 0)
            if count == 0:
                self.assertEqual(total, 0)
        return samples

    def test_wait_mode(self):
        self.require_promtool()
        fleet = self.fleet()
        targets = [fleet.target(a) for a in loopback_addresses(3, second_octet=9)]
        r = harness.run("--format", "prometheus", *targets)
        self.assertExit(r, EXIT_OK)
        samples = self.assertExposition(r.stdout)
        for t in targets:
            self.assertEqual(sample(samples, "tcpretry_up", target=t), 1)
            self.assertEqual(sample(samples, "tcpretry_probe_success", target=t), 1)
            self.assertEqual(sample(samples, "tcpretry_attempts_total", target=t), 1)
            self.assertEqual(sample(samples, "tcpretry_connect_duration_seconds_count",
                                    target=t), 1)

    def test_wait_mode_with_failures(self):
        self.require_promtool()
        server = self.server()
        closed = self.closed_port()
        r = harness.run("--format", "prometheus", "-n", "3", "--initial-delay", "10ms",
                        server.target, closed.target)
        self.assertExit(r, EXIT_FAILED)
        samples = self.assertExposition(r.stdout)
        self.assertEqual(sample(samples, "tcpretry_up", target=closed.target), 0)
        self.assertEqual(sample(samples, "tcpretry_attempts_total", target=closed.target), 3)
        self.assertEqual(sample(samples, "tcpretry_failures_total", target=closed.target,
                                error="refused"), 3)
        self.assertEqual(sample(samples, "tcpretry_connect_duration_seconds_count",
                                target=closed.target), 0)

    def test_watch_mode(self):
        self.require_promtool()
        server = self.hold_server()
        closed = self.closed_port()
        r = harness.run("--format", "prometheus", "--watch", "--timeout", "1s",
                        server.target, closed.target)
        self.assertIn(r.returncode, (EXIT_OK, EXIT_FAILED, harness.EXIT_TIMEOUT), str(r))
        samples = self.assertExposition(r.stdout)
        self.assertEqual(sample(samples, "tcpretry_up", target=server.target), 1)
        self.assertEqual(sample(samples, "tcpretry_up", target=closed.target), 0)
        self.assertGreaterEqual(sample(samples, "tcpretry_failures_total",
                                       target=closed.target, error="refused"), 1)

    def test_ping_mode(self):
        self.require_promtool()
        server = self.server()
        closed = self.closed_port()
        r = harness.run("--format", "prometheus", "-c", "4", "-i", "50ms",
                        server.target, closed.target)
        self.assertExit(r, EXIT_FAILED)
        samples = self.assertExposition(r.stdout)
        self.assertEqual(sample(samples, "tcpretry_up", target=server.target), 1)
        self.assertEqual(sample(samples, "tcpretry_probe_success", target=server.target), 1)
        self.assertEqual(sample(samples, "tcpretry_probe_success", target=closed.target), 0)
        self.assertEqual(sample(samples, "tcpretry_attempts_total", target=server.target), 4)
        self.assertEqual(sample(samples, "tcpretry_attempts_total", target=closed.target), 4)
        self.assertEqual(sample(samples, "tcpretry_failures_total", target=closed.target,
                                error="refused"), 4)
        self.assertEqual(sample(samples, "tcpretry_connect_duration_seconds_count",
                                target=server.target), 4)
        # Loopback connects land in the sub-second buckets.
        self.assertEqual(sample(samples, "tcpretry_connect_duration_seconds_bucket",
                                target=server.target, le="1"), 4)

    def test_prometheus_output_is_only_the_exposition(self):
        server = self.server()
        r = harness.run("--format", "prometheus", "-c", "1", server.target)
        self.assertExit(r, EXIT_OK)
        for line in r.stdout.splitlines():
            self.assertRegex(line, r"^(# (HELP|TYPE) |tcpretry_)", line)
        self.assertTrue(r.stdout.endswith("\n"))
        self.assertEqual(r.stderr, "")

    def test_prometheus_warnings_go_to_stderr(self):
        # A cron job's textfile stays pure metrics; what the user should know reaches them
        # (cron mails stderr).
        server = self.server()
        r = harness.run("--format", "prometheus", "-c", "1", server.target, server.target,
                        env=dict(os.environ, TCPRETRY_TIMOUT="5s"))
        self.assertExit(r, EXIT_OK)
        for line in r.stdout.splitlines():
            self.assertRegex(line, r"^(# (HELP|TYPE) |tcpretry_)", line)
        self.assertIn(f"tcpretry: warning: target {server.target} is given 2 times", r.stderr)
        self.assertIn("tcpretry: warning: TCPRETRY_TIMOUT is not a tcpretry variable", r.stderr)


class MetricsListen(PingTestCase):
    def start_with_metrics(self, *args):
        for _ in range(5):
            port = free_port()
            p = self.background("--metrics-listen", f"127.0.0.1:{port}", *args)
            url = f"http://127.0.0.1:{port}"

            def answering():
                try:
                    return scrape(url + "/metrics", timeout=1)[0] == 200
                except (urllib.error.URLError, OSError):
                    return p.proc.poll() is not None
            harness.wait_until(answering, timeout=10)
            if p.proc.poll() is None:
                return p, url
            r = p.wait()
            if "listen" not in r.stderr:  # not a lost race for the port
                self.fail(f"tcpretry with --metrics-listen ended early\n{r}")
        self.fail("could not find a free port for --metrics-listen")

    def test_scrape_ping_mode_live(self):
        server = self.server()
        closed = self.closed_port()
        p, url = self.start_with_metrics("--count", "0", "--interval", "100ms", "-j",
                                         server.target, closed.target)
        self.assertIsNotNone(p.wait_for_event("probe", seq=2, target=server.target))
        status, ctype, body = scrape(url + "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertIn("version=0.0.4", ctype)
        self.assertIn("# HELP tcpretry_up ", body)
        self.assertIn("# TYPE tcpretry_up gauge", body)
        self.assertIn("# TYPE tcpretry_connect_duration_seconds histogram", body)
        self.assertIn(f'tcpretry_up{{target="{server.target}"}} 1\n', body)
        self.assertIn(f'tcpretry_up{{target="{closed.target}"}} 0\n', body)
        _, samples = parse_exposition(body)
        count = "tcpretry_connect_duration_seconds_count"
        first = sample(samples, count, target=server.target)
        self.assertGreaterEqual(first, 2)
        self.assertGreaterEqual(sample(samples, "tcpretry_failures_total",
                                       target=closed.target, error="refused"), 1)
        checked = promtool_check(body)
        if checked is None:
            print("note: promtool not installed; the scraped body was not checked with it",
                  flush=True)
        else:
            self.assertTrue(checked[0], checked[1])
        # Live: the histogram's count grows between two scrapes.
        time.sleep(0.35)
        _, _, body2 = scrape(url + "/metrics")
        second = sample(parse_exposition(body2)[1], count, target=server.target)
        self.assertGreater(second, first)
        # A query string is not part of the path; HEAD works; other paths are 404.
        self.assertEqual(scrape(url + "/metrics?x=1")[0], 200)
        for path in ("/metric", "/metrics/", "/foo", "/metricsx"):  # "/" is a page
            with self.subTest(path=path):
                self.assertEqual(scrape(url + path)[0], 404)
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.assertExit(r, EXIT_FAILED)  # the closed target never answered
        self.assertValidPing(r, [server.target, closed.target])
        # The listener went away with the process.
        with self.assertRaises((urllib.error.URLError, OSError)):
            scrape(url + "/metrics", timeout=1)

    def test_scrape_watch_mode_live(self):
        server = self.hold_server()
        p, url = self.start_with_metrics("--watch", "-j", server.target)
        self.assertIsNotNone(p.wait_for_event("connected", target=server.target))
        status, _, body = scrape(url + "/metrics")
        self.assertEqual(status, 200)
        _, samples = parse_exposition(body)
        self.assertEqual(sample(samples, "tcpretry_up", target=server.target), 1)
        self.assertEqual(sample(samples, "tcpretry_connections_total", target=server.target), 1)
        checked = promtool_check(body)
        if checked is not None:
            self.assertTrue(checked[0], checked[1])
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.assertIn(r.returncode, (EXIT_OK, harness.EXIT_SIGINT), str(r))

    def test_port_in_use_is_an_error_before_probing(self):
        server = self.server()
        busy = self.server()
        r = harness.run("--metrics-listen", f"127.0.0.1:{busy.port}", "-c", "1", "-j",
                        server.target)
        self.assertExit(r, 125)  # tcpretry(1): it could not listen, before connecting anywhere
        self.assertIn(str(busy.port), r.stderr)
        self.assertEqual(of_type(r.events(), "probe") if r.stdout else [], [])
        time.sleep(0.2)
        self.assertEqual(server.accepted, 0)

    def test_bad_listen_addresses(self):
        t = self.closed_port().target
        for bad in ("127.0.0.1", "localhost:9464", "127.0.0.1:0", "127.0.0.1:70000", ":0",
                    "tcp://127.0.0.1:9464"):
            with self.subTest(value=bad):
                r = harness.run("--metrics-listen", bad, "-c", "1", t)
                self.assertExit(r, EXIT_USAGE)
                self.assertIn("--metrics-listen", r.stderr)


if __name__ == "__main__":
    unittest.main()
