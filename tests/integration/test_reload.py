"""Live target reload (issue 13): in watch and ping modes with --targets-file FILE, SIGHUP
re-reads FILE. New targets start, removed ones stop (a `removed` event and their final
summary), unchanged ones go on with the same connection and statistics; a file that does not
parse changes nothing and a warning names the line. Without a file to re-read (or in wait
mode) SIGHUP keeps its default: it ends tcpretry, with no summary."""

import json
import os
import signal
import tempfile
import unittest

import harness
from harness import of_type
from servers_watch import BehaviourServer, hold


class Reload(harness.TestCase):
    def write_targets(self, *targets):
        with open(self.path, "w") as f:
            f.write("# the fleet\n" + "".join(t + "\n" for t in targets))

    def setUp(self):
        fd, self.path = tempfile.mkstemp(prefix="tcpretry-targets-")
        os.close(fd)
        self.addCleanup(os.unlink, self.path)

    def held_server(self):
        s = BehaviourServer(hold())
        self.addCleanup(s.close)
        return s

    def stop(self, p):
        p.send_signal(signal.SIGINT)
        r = p.wait()
        return r, r.events()

    def test_watch_add_remove_and_unchanged_keeps_its_connection(self):
        a, b, c = self.held_server(), self.held_server(), self.held_server()
        self.write_targets(a.target, b.target)
        p = self.background("--json", "--watch", "--targets-file", self.path)
        self.assertIsNotNone(p.wait_for_event("connected", target=a.target), p.lines("stderr"))
        self.assertIsNotNone(p.wait_for_event("connected", target=b.target), p.lines("stderr"))
        self.write_targets(a.target, c.target)  # b leaves, c arrives, a stays
        p.send_signal(signal.SIGHUP)
        self.assertIsNotNone(p.wait_for_event("removed", target=b.target), p.lines("stderr"))
        self.assertIsNotNone(p.wait_for_event("connected", target=c.target), p.lines("stderr"))
        # b's final summary came with its removal.
        self.assertIsNotNone(p.wait_for_event("summary", target=b.target))
        r, events = self.stop(p)
        self.assertEqual(r.returncode, 0, r)  # watch: connected when stopped
        self.assertEqual(a.accepted, 1, "the unchanged target kept its one connection")
        self.assertEqual(len([e for e in of_type(events, "connected") if e["target"] == a.target]),
                         1)
        per_target = {e["target"]: e for e in of_type(events, "summary") if "target" in e}
        self.assertEqual(per_target[a.target]["connections"], 1)
        self.assertEqual(per_target[c.target]["connections"], 1)
        # b's summary is the one given at its removal, once.
        self.assertEqual(len([e for e in of_type(events, "summary")
                              if e.get("target") == b.target]), 1)
        overall = [e for e in of_type(events, "summary") if "target" not in e][-1]
        self.assertEqual(overall["targets"], 2)

    def test_ping_statistics_continue_for_unchanged_targets(self):
        a, b = self.server(), self.server()
        self.write_targets(a.target)
        p = self.background("--json", "--count", "0", "--interval", "20ms",
                            "--targets-file", self.path)
        self.assertIsNotNone(p.wait_for_event("probe", target=a.target, seq=3), p.lines("stderr"))
        self.write_targets(a.target, b.target)
        p.send_signal(signal.SIGHUP)
        self.assertIsNotNone(p.wait_for_event("probe", target=b.target, seq=2), p.lines("stderr"))
        # a's sequence goes on (no restart at 1).
        probes_a = [e["seq"] for e in map(json.loads, p.lines())
                    if e["event"] == "probe" and e["target"] == a.target]
        self.assertEqual(probes_a, list(range(1, len(probes_a) + 1)))
        self.write_targets(b.target)
        p.send_signal(signal.SIGHUP)
        removed = p.wait_for_event("removed", target=a.target)
        self.assertIsNotNone(removed, p.lines("stderr"))
        summary_a = p.wait_for_event("summary", target=a.target)
        self.assertIsNotNone(summary_a)
        self.assertGreaterEqual(summary_a["sent"], len(probes_a))
        r, events = self.stop(p)
        # Nothing about a after its removal.
        after = events[[i for i, e in enumerate(events) if e.get("event") == "removed"][0] + 1:]
        self.assertFalse([e for e in after if e.get("event") == "probe" and
                          e["target"] == a.target])
        per_target = [e for e in of_type(events, "summary") if "target" in e]
        self.assertEqual([e["target"] for e in per_target], [a.target, b.target])

    def test_metrics_stop_exporting_a_removed_target(self):
        a, b = self.server(), self.server()
        self.write_targets(a.target)
        p = self.background("--format", "prometheus", "--count", "0", "--interval", "20ms",
                            "--targets-file", self.path)
        self.assertTrue(harness.wait_until(lambda: a.accepted >= 2, timeout=30))
        self.write_targets(b.target)
        p.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_until(lambda: b.accepted >= 2, timeout=30))
        p.send_signal(signal.SIGINT)
        out = p.wait().stdout
        self.assertIn(f'tcpretry_up{{target="{b.target}"}} 1', out)
        self.assertNotIn(a.target, out)

    def test_a_bad_file_keeps_the_old_list_and_names_the_line(self):
        a = self.server()
        self.write_targets(a.target)
        p = self.background("--json", "--count", "0", "--interval", "20ms",
                            "--targets-file", self.path)
        self.assertIsNotNone(p.wait_for_event("probe", target=a.target), p.lines("stderr"))
        with open(self.path, "w") as f:
            f.write(a.target + "\nnot a target:99999\n")
        p.send_signal(signal.SIGHUP)
        w = p.wait_for_event("warning")
        self.assertIsNotNone(w, p.lines("stderr"))
        self.assertIn(self.path + ":2:", w["message"])  # the file and the line
        self.assertIn("stay as they were", w["message"])
        n = len([l for l in p.lines() if '"probe"' in l])
        self.assertIsNotNone(p.wait_for_line(
            lambda l: '"probe"' in l and f'"seq":{n + 2}' in l), "probing goes on")
        r, events = self.stop(p)
        self.assertFalse(of_type(events, "removed"))

    def test_sighup_without_a_targets_file_ends_tcpretry(self):
        a = self.server()
        p = self.background("--json", "--count", "0", "--interval", "20ms", a.target)
        self.assertIsNotNone(p.wait_for_event("probe", target=a.target), p.lines("stderr"))
        p.send_signal(signal.SIGHUP)
        r = p.wait()
        self.assertEqual(r.returncode, -signal.SIGHUP, r)


if __name__ == "__main__":
    unittest.main()
