"""Many targets in one loop (issue 4): a thousand loopback addresses, --all / --any /
--quorum, --targets-file (comments, blanks, CRLF, stdin, bad lines), descriptor
back-pressure under `ulimit -n 64`, --parallel, and the human fleet view.

Every target is in 127.0.0.0/8; see servers_fleet.py for the listener that answers on all
of them.
"""

import os
import re
import select
import subprocess
import tempfile
import time
import unittest

import harness
from harness import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, of_type, summary
from servers_fleet import FleetListener, loopback_addresses, run_with, write_targets_file


class FleetTestCase(harness.TestCase):
    def fleet(self):
        f = FleetListener()
        self.addCleanup(f.close)
        return f

    def tmpdir(self):
        d = tempfile.TemporaryDirectory(prefix="tcpretry-fleet-")
        self.addCleanup(d.cleanup)
        return d.name

    def assertAllConnected(self, result, targets):
        """JSON run: exit 0, one connected event per target, to the target's own address."""
        self.assertExit(result, EXIT_OK)
        events = self.assertValidJsonLines(result)
        self.assertEqual(events[0]["targets"], targets)
        if "mode" in events[0]:
            self.assertEqual(events[0]["mode"], "wait")
        connected = of_type(events, "connected")
        self.assertEqual(len(connected), len(targets))
        self.assertEqual(sorted(e["target"] for e in connected), sorted(targets))
        for e in connected:
            self.assertEqual(f"{e['address']}:{e['port']}", e["target"])
        s = summary(events)
        self.assertEqual(s["result"], "ok")
        self.assertEqual(s["targets"], len(targets))
        self.assertEqual(s["connected"], len(targets))
        return events


class ManyTargets(FleetTestCase):
    def test_a_thousand_loopback_targets_all_connect(self):
        fleet = self.fleet()
        addresses = loopback_addresses(1000)
        self.assertEqual(len(set(addresses)), 1000)
        targets = [fleet.target(a) for a in addresses]
        r = harness.run("--json", "--all", *targets, timeout=60)
        events = self.assertAllConnected(r, targets)
        s = summary(events)
        self.assertEqual(s["attempts"], 1000)
        self.assertEqual(s["failures"], 0)
        # Each address was really reached, once, and nothing came from outside 127/8.
        self.assertTrue(harness.wait_until(lambda: fleet.accepted >= 1000, timeout=10),
                        f"the listener accepted only {fleet.accepted} connections")
        self.assertEqual(fleet.addresses_reached(), set(addresses))
        self.assertEqual(fleet.accepted, 1000)
        self.assertEqual(fleet.foreign, 0)
        self.assertLess(r.elapsed, 20, f"1,000 loopback targets took {r.elapsed:.1f} s")

    def test_a_thousand_targets_from_a_file(self):
        fleet = self.fleet()
        targets = [fleet.target(a) for a in loopback_addresses(1000, second_octet=1)]
        path = write_targets_file(os.path.join(self.tmpdir(), "fleet.txt"), targets)
        r = harness.run("--json", "--targets-file", path, timeout=60)
        self.assertAllConnected(r, targets)

    def test_parallel_caps_the_rounds_in_flight(self):
        # Two targets whose connects hang (SYNs dropped) and one open port given last.
        # With --parallel 2 the open port must wait for a slot, i.e. for a hanging round to
        # reach its connect timeout; with --parallel 3 it goes at once.
        hang1 = self.blackhole("127.0.0.1")
        hang2 = self.blackhole("127.0.0.2")
        fleet = self.fleet()
        up = fleet.target("127.0.0.3")
        r = harness.run("--json", "--any", "-T", "600ms", "--parallel", "3",
                        hang1.target, hang2.target, up)
        self.assertExit(r, EXIT_OK)
        waited = [e["waited_ms"] for e in of_type(r.events(), "connected")]
        self.assertEqual(len(waited), 1)
        self.assertLess(waited[0], 400, f"--parallel 3 did not let the third round in\n{r}")
        r = harness.run("--json", "--any", "-T", "600ms", "--parallel", "2",
                        hang1.target, hang2.target, up)
        self.assertExit(r, EXIT_OK)
        events = r.events()
        connected = of_type(events, "connected")
        self.assertEqual([e["target"] for e in connected], [up])
        # The open target's first attempt starts only after a hanging round timed out.
        first_up = next(i for i, e in enumerate(events)
                        if e["event"] == "attempt" and e["target"] == up)
        self.assertTrue(any(e["event"] == "failed" and e["error"] == "timeout"
                            for e in events[:first_up]),
                        f"the third round started before a slot was free\n{r}")
        self.assertGreaterEqual(r.elapsed, 0.55)

    def test_parallel_one_still_reaches_everyone(self):
        fleet = self.fleet()
        targets = [fleet.target(a) for a in loopback_addresses(50, second_octet=2)]
        r = harness.run("--json", "--parallel", "1", *targets)
        self.assertAllConnected(r, targets)


class AnyAndQuorum(FleetTestCase):
    def test_any_succeeds_at_once_and_stops_the_others(self):
        fleet = self.fleet()
        closed = [self.closed_port() for _ in range(4)]
        others = [c.target for c in closed]
        try:
            # A round that would hang until the 3 s connect timeout if it were waited for.
            others.append(self.blackhole("127.0.0.4").target)
        except unittest.SkipTest:
            print("note: no blackholed endpoint on this kernel; closed ports only", flush=True)
        up = fleet.target("127.0.0.5")
        r = harness.run("--json", "--any", *others[:2], up, *others[2:])
        self.assertExit(r, EXIT_OK)
        self.assertLess(r.elapsed, 1.5, f"--any waited for the other targets\n{r}")
        events = self.assertValidJsonLines(r)
        connected = of_type(events, "connected")
        self.assertEqual([e["target"] for e in connected], [up])
        s = summary(events)
        self.assertEqual((s["result"], s["connected"], s["targets"]), ("ok", 1, len(others) + 1))
        # The summary is the last word: nothing for the stopped targets after it, and none of
        # them gave up (they were stopped, not exhausted).
        self.assertEqual(events[-1]["event"], "summary")
        self.assertTrue(r.stdout.endswith("\n"))
        self.assertEqual(of_type(events, "gave_up"), [])
        # Stopped means no more attempts: opening the closed ports now draws no connection.
        servers = [c.open() for c in closed]
        time.sleep(0.5)
        self.assertEqual([s.accepted for s in servers], [0] * len(servers))

    def test_quorum_reached_by_two_of_three(self):
        fleet = self.fleet()
        closed = self.closed_port()
        targets = [fleet.target("127.0.0.6"), closed.target, fleet.target("127.0.0.7")]
        r = harness.run("--json", "--quorum", "2", *targets)
        self.assertExit(r, EXIT_OK)
        events = self.assertValidJsonLines(r)
        self.assertEqual(sorted(e["target"] for e in of_type(events, "connected")),
                         sorted([targets[0], targets[2]]))
        s = summary(events)
        self.assertEqual((s["result"], s["connected"], s["targets"]), ("ok", 2, 3))

    def test_quorum_of_three_fails_when_one_gives_up(self):
        fleet = self.fleet()
        closed = self.closed_port()
        targets = [fleet.target("127.0.0.8"), fleet.target("127.0.0.9"), closed.target]
        r = harness.run("--json", "--quorum", "3", "-n", "2", *targets)
        self.assertExit(r, EXIT_FAILED)
        events = self.assertValidJsonLines(r)
        self.assertEqual(len(of_type(events, "connected")), 2)
        gave_up = of_type(events, "gave_up")
        self.assertEqual([(e["target"], e["attempts"], e["reason"]) for e in gave_up],
                         [(closed.target, 2, "refused")])
        s = summary(events)
        self.assertEqual((s["result"], s["connected"]), ("gave_up", 2))

    def test_quorum_out_of_range_is_a_usage_error(self):
        fleet = self.fleet()
        targets = [fleet.target(a) for a in ("127.0.0.10", "127.0.0.11", "127.0.0.12")]
        for bad in ("0", "5", "4", "-1", "x", "1.5", ""):
            with self.subTest(quorum=bad):
                r = harness.run("--quorum", bad, *targets)
                self.assertExit(r, EXIT_USAGE)
                self.assertEqual(r.stdout, "")
                self.assertIn("--quorum", r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        time.sleep(0.2)
        self.assertEqual(fleet.accepted, 0, "a usage error must not connect anywhere")
        r = harness.run("--quorum", "3", *targets)
        self.assertExit(r, EXIT_OK)

    def test_any_all_and_quorum_exclude_each_other(self):
        t = self.closed_port().target
        for args in (["--any", "--quorum", "1"], ["--all", "--quorum", "1"],
                     ["--all", "--any"]):
            with self.subTest(args=args):
                r = harness.run(*args, t)
                self.assertExit(r, EXIT_USAGE)
                self.assertIn("exclude", r.stderr)


class TargetsFile(FleetTestCase):
    def test_comments_blank_lines_spaces_and_crlf(self):
        fleet = self.fleet()
        a, b, c = (fleet.target(x) for x in ("127.0.0.20", "127.0.0.21", "127.0.0.22"))
        text = (b"# fleet of three\r\n"
                b"\r\n"
                b"   " + a.encode() + b"   \r\n"
                b"\t" + b.encode() + b"\t# trailing comment\r\n"
                b"    \r\n"
                b"# " + fleet.target("127.0.0.99").encode() + b" commented out\n"
                b"\n" + c.encode())  # no newline at the end
        path = os.path.join(self.tmpdir(), "targets.txt")
        with open(path, "wb") as f:
            f.write(text)
        r = harness.run("--json", "--targets-file", path)
        self.assertAllConnected(r, [a, b, c])
        self.assertNotIn("127.0.0.99", fleet.addresses_reached())

    def test_file_and_arguments_together(self):
        fleet = self.fleet()
        from_args = [fleet.target("127.0.0.23")]
        from_file = [fleet.target("127.0.0.24"), fleet.target("127.0.0.25")]
        path = write_targets_file(os.path.join(self.tmpdir(), "t.txt"), from_file)
        r = harness.run("--json", "--targets-file", path, *from_args)
        self.assertExit(r, EXIT_OK)
        events = self.assertValidJsonLines(r)
        self.assertEqual(sorted(events[0]["targets"]), sorted(from_args + from_file))
        self.assertEqual(len(of_type(events, "connected")), 3)

    def test_targets_from_stdin(self):
        fleet = self.fleet()
        targets = [fleet.target(a) for a in loopback_addresses(20, second_octet=3)]
        data = ("# from a pipe\n" + "\r\n".join(targets) + "\r\n\n").encode()
        r = run_with("--json", "--targets-file", "-", stdin=data)
        self.assertAllConnected(r, targets)

    def test_a_bad_line_names_file_and_line(self):
        fleet = self.fleet()
        good = fleet.target("127.0.0.30")
        cases = [
            # (lines, bad line number, text that must be quoted)
            (["# header", "", good, "not a target"], 4, "not a target"),
            ([good, "127.0.0.1:99999"], 2, "99999"),
            (["", "", "", "127.0.0.1:"], 4, "127.0.0.1:"),
            ([good, "  [::1  # broken literal"], 2, "[::1"),
        ]
        d = self.tmpdir()
        for i, (lines, line_no, quoted) in enumerate(cases):
            for newline in ("\n", "\r\n"):
                with self.subTest(lines=lines, newline=repr(newline)):
                    path = write_targets_file(os.path.join(d, f"bad{i}.txt"), lines, newline)
                    r = harness.run("--targets-file", path)
                    self.assertExit(r, EXIT_USAGE)
                    self.assertEqual(r.stdout, "")
                    self.assertIn(f"{path}:{line_no}:", r.stderr)
                    self.assertIn(quoted, r.stderr)
                    self.assertNotIn("\r", r.stderr)
                    self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        # Not even the good lines before the bad one were tried.
        time.sleep(0.2)
        self.assertEqual(fleet.accepted, 0)

    def test_a_bad_line_on_stdin(self):
        r = run_with("--targets-file", "-", stdin=b"# ok\n127.0.0.1:1\nbogus\n")
        self.assertExit(r, EXIT_USAGE)
        self.assertRegex(r.stderr, r"(stdin|-|<stdin>):3:")
        self.assertIn("bogus", r.stderr)

    def test_missing_and_empty_files(self):
        d = self.tmpdir()
        missing = os.path.join(d, "nope.txt")
        r = harness.run("--targets-file", missing)
        self.assertExit(r, EXIT_USAGE)
        self.assertIn(missing, r.stderr)
        empty = write_targets_file(os.path.join(d, "empty.txt"), ["# nothing", ""])
        r = harness.run("--targets-file", empty)
        self.assertExit(r, EXIT_USAGE)
        self.assertIn(empty, r.stderr)
        r = run_with("--targets-file", "-", stdin=b"")
        self.assertExit(r, EXIT_USAGE)


class DescriptorBackPressure(FleetTestCase):
    def test_300_targets_under_ulimit_64(self):
        fleet = self.fleet()
        targets = [fleet.target(a) for a in loopback_addresses(300, second_octet=4)]
        path = write_targets_file(os.path.join(self.tmpdir(), "t.txt"), targets)
        r = run_with("--json", "--targets-file", path, nofile=64, timeout=60)
        events = self.assertAllConnected(r, targets)
        warnings = of_type(events, "warning")
        self.assertEqual(len(warnings), 1, f"expected one warning\n{r}")
        w = warnings[0]
        self.assertNotIn("target", w)
        self.assertIsInstance(w.get("message"), str)
        self.assertTrue(w["message"])
        if "errno" in w:
            self.assertIn(w["errno"], ("EMFILE", "ENFILE"))
        s = summary(events)
        self.assertEqual((s["attempts"], s["failures"]), (300, 0))
        self.assertEqual(of_type(events, "failed"), [], "EMFILE must not count as a failure")
        self.assertEqual(r.stderr, "")

    def test_300_targets_under_ulimit_64_human(self):
        fleet = self.fleet()
        targets = [fleet.target(a) for a in loopback_addresses(300, second_octet=5)]
        path = write_targets_file(os.path.join(self.tmpdir(), "t.txt"), targets)
        r = run_with("--targets-file", path, nofile=64, timeout=60)
        self.assertExit(r, EXIT_OK)
        warning_lines = [l for l in r.stderr.splitlines() if "warning" in l]
        self.assertEqual(len(warning_lines), 1, r.stderr)
        self.assertEqual(sum("connected" in l for l in r.stdout.splitlines()[:-1]), 300)


class HumanFleetView(FleetTestCase):
    def run_mixed(self, n_up, n_down, *extra):
        fleet = self.fleet()
        up = [fleet.target(a) for a in loopback_addresses(n_up, second_octet=6)]
        down = [self.closed_port().target for _ in range(n_down)]
        return up, down, harness.run(*extra, *up, *down)

    def test_more_than_ten_targets_one_line_per_outcome(self):
        up, down, r = self.run_mixed(12, 2, "--timeout", "1s")
        self.assertExit(r, EXIT_TIMEOUT)
        lines = r.stdout.splitlines()
        # No per-attempt lines: nothing about retries or individual refusals.
        for line in lines:
            self.assertNotRegex(line, r"attempt \d+:|retrying|connecting", r.stdout)
        for t in up:
            mine = [l for l in lines if t + " " in l + " "]
            self.assertEqual(len(mine), 1, f"{t}: {mine}\n{r}")
            self.assertIn("connected", mine[0])
        # Then a compact list of the targets that did not connect, after every outcome line.
        last_outcome = max(i for i, l in enumerate(lines) if any(t in l for t in up))
        table = lines[last_outcome + 1:]
        for t in down:
            mine = [l for l in lines if t in l]
            self.assertEqual(len(mine), 1, f"{t}: {mine}\n{r}")
            self.assertIn(mine[0], table)
            self.assertIn("refused", mine[0])
        self.assertRegex(lines[-1], r"12 of 14 targets connected")
        self.assertNotIn("\r", r.stdout)
        self.assertNotIn("\x1b", r.stdout)

    def test_targets_that_give_up_get_one_outcome_line_and_a_table_row(self):
        up, down, r = self.run_mixed(11, 2, "-n", "3")
        self.assertExit(r, EXIT_FAILED)
        lines = r.stdout.splitlines()
        for line in lines:
            self.assertNotRegex(line, r"attempt \d+:|retrying", r.stdout)
        self.assertEqual(sum(any(t in l for t in up) for l in lines), len(up))
        self.assertTrue(any(down[0] in l for l in lines[-4:-1]) or
                        any(down[1] in l for l in lines[-4:-1]),
                        f"no final list of the targets that did not connect\n{r}")
        for t in down:
            self.assertLessEqual(len([l for l in lines if t in l]), 2, r.stdout)

    def test_all_connected_prints_no_table(self):
        up, _, r = self.run_mixed(15, 0)
        self.assertExit(r, EXIT_OK)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 16, r.stdout)  # 15 outcomes + the summary
        self.assertTrue(lines[-1].startswith("tcpretry:"), lines[-1])

    def test_ten_targets_are_shown_as_in_wait_mode(self):
        _, _, r = self.run_mixed(9, 1, "-n", "2")
        self.assertExit(r, EXIT_FAILED)
        self.assertRegex(r.stdout, r"attempt 1: connection refused")

    def test_verbose_prints_every_event(self):
        up, down, r = self.run_mixed(11, 1, "-n", "2", "-v")
        self.assertExit(r, EXIT_FAILED)
        self.assertRegex(r.stdout, r"attempt 1: connection refused")
        self.assertGreaterEqual(sum("connecting" in l or "attempt 1" in l
                                    for l in r.stdout.splitlines()), len(up))

    def test_json_is_unchanged_for_a_fleet(self):
        up, down, r = self.run_mixed(12, 1, "--json", "-n", "2")
        self.assertExit(r, EXIT_FAILED)
        events = self.assertValidJsonLines(r)
        self.assertEqual(len(of_type(events, "connected")), 12)
        self.assertEqual(len(of_type(events, "attempt")), 14)
        self.assertEqual(len(of_type(events, "failed")), 2)

    def test_live_status_line_on_a_terminal(self):
        fleet = self.fleet()
        up = [fleet.target(a) for a in loopback_addresses(12, second_octet=7)]
        down = [self.closed_port().target for _ in range(2)]
        master, slave = os.openpty()
        try:
            p = subprocess.Popen([harness.BINARY, "--timeout", "1s", *up, *down],
                                 stdin=subprocess.DEVNULL, stdout=slave,
                                 stderr=subprocess.PIPE)
        finally:
            os.close(slave)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        chunks = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                break
        os.close(master)
        p.wait(timeout=15)
        p.stderr.close()
        out = b"".join(chunks).decode("utf-8", "replace")
        plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
        self.assertEqual(p.returncode, EXIT_TIMEOUT, out)
        # A status line rewritten in place (carriage returns), with the counts ...
        self.assertIn("\r", plain)
        # The two closed ports are counted as failing while they are retried.
        self.assertRegex(plain, r"12 connected · 2 failing · 0 waiting · 0 gave up · ")
        # ... instead of a line per connected target, then the table of the others.
        for t in up:
            self.assertNotIn(t, plain)
        for t in down:
            self.assertIn(t, plain)


if __name__ == "__main__":
    unittest.main()
