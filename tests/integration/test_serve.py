"""--serve (issue 13): tcpretry as a blackbox-style exporter. /probe?target= runs one round and
answers in Prometheus text format under blackbox_exporter's names; who may be probed
(--serve-allow, the TARGETs given); the scrape timeout header; 64 requests at once; promtool
on every page; and a real Prometheus (Debian's prometheus) scraping it through the standard
blackbox relabelling, with the README's alert rule checked by promtool.
"""

import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import harness
from servers_fleet import free_port

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def metrics(body):
    """{'name{labels}': value} of a text exposition."""
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def get(url, headers=None, timeout=30.0):
    """(status, body) of a GET with optional headers; HTTP errors are returned."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class Exporter:
    """tcpretry --serve on a loopback port the kernel picks (read from its first line)."""

    def __init__(self, test, *args):
        self.proc = harness.Process("--serve", "127.0.0.1:0", *args)
        test.addCleanup(self.stop)
        line = self.proc.wait_for_line(lambda l: "serving http://" in l, stream="stderr",
                                       timeout=30)
        if line is None:
            self.proc.kill()
            raise AssertionError(f"no 'serving' line: {self.proc.lines('stderr')}")
        self.port = int(re.search(r":(\d+)/probe", line).group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def probe(self, target, headers=None, **params):
        query = urllib.parse.urlencode({"target": target, **params})
        return get(f"{self.base}/probe?{query}", headers)

    def stop(self):
        if self.proc.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            result = self.proc.wait(timeout=30)
            assert result.returncode == 0, str(result)


class ProbeTest(harness.TestCase):
    def test_open_port_succeeds_with_timings(self):
        server = self.server()
        ex = Exporter(self)
        status, body = ex.probe(server.target)
        self.assertEqual(status, 200, body)
        m = metrics(body)
        self.assertEqual(m["probe_success"], 1)
        self.assertEqual(m["probe_ip_protocol"], 4)
        self.assertGreater(m["probe_duration_seconds"], 0)
        self.assertLess(m["probe_duration_seconds"], 5)
        self.assertGreaterEqual(m['tcpretry_probe_phase_seconds{phase="connect"}'], 0)
        self.assertEqual(m["probe_failed_due_to_regex"], 0)
        self.assertNotIn("probe_dns_lookup_time_seconds", m)  # an IP literal
        self.assertTrue(harness.wait_until(lambda: server.accepted >= 1))

    def test_name_has_a_dns_time(self):
        server = self.server()
        ex = Exporter(self)
        status, body = ex.probe(f"localhost:{server.port}")
        m = metrics(body)
        self.assertEqual((status, m["probe_success"]), (200, 1), body)
        self.assertIn("probe_dns_lookup_time_seconds", m)

    def test_closed_port_fails_as_refused(self):
        closed = self.closed_port()
        ex = Exporter(self)
        status, body = ex.probe(closed.target)
        self.assertEqual(status, 200, body)
        m = metrics(body)
        self.assertEqual(m["probe_success"], 0)
        self.assertEqual(m['tcpretry_probe_error_info{class="refused"}'], 1)

    def test_expect_mismatch_is_failed_due_to_regex(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            port = s.getsockname()[1]
            ex = Exporter(self, "--expect", "^SSH-")
            pool = concurrent.futures.ThreadPoolExecutor(1)
            fut = pool.submit(ex.probe, f"127.0.0.1:{port}")
            conn, _ = s.accept()
            conn.sendall(b"220 smtp ready\r\n")
            status, body = fut.result(timeout=30)
            conn.close()
            pool.shutdown()
        m = metrics(body)
        self.assertEqual((status, m["probe_success"], m["probe_failed_due_to_regex"]),
                         (200, 0, 1), body)

    def test_bad_target_is_400(self):
        ex = Exporter(self)
        for query in ("", "target=", "target=nocolon", "target=a:99999",
                      "target=a:1&target=b:2"):
            status, body = get(f"{ex.base}/probe?{query}")
            self.assertEqual(status, 400, (query, body))
            self.assertEqual(body.count("\n"), 1, body)
        status, _ = get(f"{ex.base}/probe?target=127.0.0.1:1",
                        {"X-Prometheus-Scrape-Timeout-Seconds": "soon"})
        self.assertEqual(status, 400)

    def test_module_is_ignored_with_a_metric(self):
        server = self.server()
        ex = Exporter(self)
        status, body = ex.probe(server.target, module="http_2xx")
        m = metrics(body)
        self.assertEqual((status, m["probe_success"]), (200, 1), body)
        self.assertEqual(m["tcpretry_probe_module_ignored"], 1)
        _, own = get(f"{ex.base}/metrics")
        self.assertEqual(metrics(own)["tcpretry_serve_module_ignored_total"], 1)


class AllowTest(harness.TestCase):
    def test_serve_allow_networks_and_names(self):
        server = self.server()
        ex = Exporter(self, "--serve-allow", "10.0.0.0/8,db.example", "--serve-allow",
                      "127.0.0.0/24")
        status, body = ex.probe(server.target)
        self.assertEqual((status, metrics(body)["probe_success"]), (200, 1), body)
        # localhost is allowed only through its address, checked before connecting.
        status, body = ex.probe(f"localhost:{server.port}")
        self.assertEqual(status, 200, body)
        for target in ("127.0.1.1:22", "192.0.2.1:80", "[::1]:22"):
            status, body = ex.probe(target)
            self.assertEqual(status, 403, (target, body))
            self.assertEqual(body.count("\n"), 1, body)
            self.assertIn("not allowed", body)

    def test_name_resolving_outside_the_networks_is_refused(self):
        ex = Exporter(self, "--serve-allow", "10.0.0.0/8")
        status, body = ex.probe("localhost:22")
        self.assertEqual(status, 403, body)

    def test_name_not_listed_is_refused_without_a_lookup(self):
        ex = Exporter(self, "--serve-allow", "db.example,*.internal.example")
        for target in ("other.example:80", "internal.example:80", "127.0.0.1:22"):
            status, body = ex.probe(target)
            self.assertEqual(status, 403, (target, body))

    def test_targets_given_are_the_allow_list(self):
        server = self.server()
        other = self.server()
        ex = Exporter(self, server.target)
        status, body = ex.probe(server.target)
        self.assertEqual((status, metrics(body)["probe_success"]), (200, 1), body)
        status, body = ex.probe(other.target)
        self.assertEqual(status, 403, body)
        _, own = get(f"{ex.base}/metrics")
        self.assertEqual(metrics(own)['tcpretry_serve_requests_rejected_total{code="403"}'], 1)


class DeadlineTest(harness.TestCase):
    def test_scrape_timeout_header_bounds_a_silent_target(self):
        hole = harness.Blackhole()
        self.addCleanup(hole.close)
        # -T 30s: only the header (1.5 s less the 0.5 s offset) can end the probe early.
        ex = Exporter(self, "-T", "30s")
        start = time.monotonic()
        status, body = ex.probe(hole.target, {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
        took = time.monotonic() - start
        m = metrics(body)
        self.assertEqual((status, m["probe_success"]), (200, 0), body)
        self.assertEqual(m['tcpretry_probe_error_info{class="timeout"}'], 1)
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 1.5 + 3)  # generous: the machine may be loaded
        self.assertLess(m["probe_duration_seconds"], 1.5)


    def test_waiting_for_a_slot_counts_against_the_deadline(self):
        hole = harness.Blackhole()
        self.addCleanup(hole.close)
        server = self.server()
        ex = Exporter(self, "-T", "30s", "--parallel", "1")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            # The silent target holds the only slot for 5.5 s...
            stuck = pool.submit(ex.probe, hole.target,
                                {"X-Prometheus-Scrape-Timeout-Seconds": "6"})
            self.assertTrue(harness.wait_until(
                lambda: metrics(get(f"{ex.base}/metrics")[1])["tcpretry_serve_probes_in_flight"]
                == 1))
            # ...so the open port waits for it, and its own deadline (1 s) ends the wait.
            start = time.monotonic()
            status, body = ex.probe(server.target, {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
            took = time.monotonic() - start
            self.assertFalse(stuck.done())
            stuck.result(timeout=30)
        m = metrics(body)
        self.assertEqual((status, m["probe_success"]), (200, 0), body)
        self.assertEqual(m['tcpretry_probe_error_info{class="timeout"}'], 1)
        self.assertLess(took, 4.5)
        self.assertEqual(server.accepted, 0)


class ConcurrencyTest(harness.TestCase):
    def test_64_requests_at_once_all_answered(self):
        server = self.server()
        closed = self.closed_port()
        # --parallel 8: most requests wait for a slot, and still get their answer.
        ex = Exporter(self, "--parallel", "8")
        targets = [server.target if i % 2 == 0 else closed.target for i in range(64)]
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(ex.probe, targets))
        for target, (status, body) in zip(targets, answers):
            self.assertEqual(status, 200, body)
            self.assertEqual(metrics(body)["probe_success"], 1 if target == server.target else 0)
        _, own = get(f"{ex.base}/metrics")
        m = metrics(own)
        self.assertEqual(m['tcpretry_serve_probes_total{result="success"}'], 32)
        self.assertEqual(m['tcpretry_serve_probes_total{result="failure"}'], 32)
        self.assertEqual(m["tcpretry_serve_probes_in_flight"], 0)


class CommandLineTest(harness.TestCase):
    def test_usage_errors(self):
        for args in (["--serve", "127.0.0.1:0", "--watch"],
                     ["--serve", "127.0.0.1:0", "--count", "3"],
                     ["--serve", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
                     ["--serve", "127.0.0.1:0", "--serve-allow", "not a name!"],
                     ["--serve", "nowhere"],
                     ["--serve-allow", "10.0.0.0/8", "127.0.0.1:1"],
                     ["--serve", "127.0.0.1:0", "--", "true"]):
            r = harness.run(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)


@unittest.skipUnless(shutil.which("promtool"), "promtool not installed (Debian prometheus)")
class PromtoolTest(harness.TestCase):
    def check_metrics(self, body):
        p = subprocess.run(["promtool", "check", "metrics"], input=body.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_every_page_passes_promtool(self):
        server = self.server()
        closed = self.closed_port()
        ex = Exporter(self)
        for target in (server.target, closed.target):
            status, body = ex.probe(target, module="tcp_connect")
            self.assertEqual(status, 200)
            self.check_metrics(body)
        status, body = get(f"{ex.base}/metrics")
        self.assertEqual(status, 200)
        self.check_metrics(body)

    def test_readme_alert_rule_passes_promtool(self):
        with open(README) as f:
            text = f.read()
        blocks = re.findall(r"```yaml\n(groups:.*?)```", text, re.S)
        self.assertEqual(len(blocks), 1, "README: one ```yaml block starting with groups:")
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            f.write(blocks[0])
            f.flush()
            p = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True,
                               timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


@unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
class TlsTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        import tls_certs
        cls.tmp = tempfile.TemporaryDirectory(prefix="tcpretry-serve-tls-")
        cls.certs = tls_certs.make_certs(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def s_server(self, pair):
        from test_tls_certs import SServer
        s = SServer(pair.cert, pair.key)
        self.addCleanup(s.close)
        return s

    def test_tls_version_and_expiry(self):
        s = self.s_server(self.certs.leaf)
        # localhost is allowed only by its network: looked up first, and still the name the
        # certificate is checked for.
        ex = Exporter(self, "--tls", "--ca-file", self.certs.ca.cert, "--serve-allow",
                      "127.0.0.0/8")
        status, body = ex.probe(f"localhost:{s.port}")
        m = metrics(body)
        self.assertEqual((status, m["probe_success"]), (200, 1), body)
        self.assertEqual(len([k for k in m if k.startswith("probe_tls_version_info{")]), 1)
        self.assertRegex(body, r'probe_tls_version_info\{version="TLS 1\.[23]"\} 1')
        days = (m["probe_ssl_earliest_cert_expiry"] - time.time()) / 86400
        self.assertTrue(363 < days < 366, days)
        self.assertGreaterEqual(m['tcpretry_probe_phase_seconds{phase="tls"}'], 0)

    def test_certificate_for_another_name_fails(self):
        s = self.s_server(self.certs.other_name)
        ex = Exporter(self, "--tls", "--ca-file", self.certs.ca.cert)
        status, body = ex.probe(f"localhost:{s.port}")
        m = metrics(body)
        self.assertEqual((status, m["probe_success"]), (200, 0), body)
        self.assertEqual(m['tcpretry_probe_error_info{class="tls_verify"}'], 1)
        self.assertIn("probe_ssl_earliest_cert_expiry", m)


PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tcp
    metrics_path: /probe
    static_configs:
      - targets: [{open}, {closed}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{exporter}
"""


@unittest.skipUnless(shutil.which("prometheus"), "prometheus not installed (Debian prometheus)")
class RealPrometheusTest(harness.TestCase):
    def test_prometheus_scrapes_through_the_blackbox_relabelling(self):
        server = self.server()
        closed = self.closed_port()
        ex = Exporter(self)
        workdir = tempfile.mkdtemp(prefix="tcpretry-prom-")
        self.addCleanup(shutil.rmtree, workdir, True)
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(PROMETHEUS_CONFIG.format(open=server.target, closed=closed.target,
                                             exporter=ex.port))
        port = free_port()
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir}/data",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop():
            prom.terminate()
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        self.addCleanup(stop)

        def query(expr):
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
                {"query": expr})
            try:
                status, body = get(url, timeout=5)
            except OSError:
                return {}
            if status != 200:
                return {}
            return {r["metric"].get("instance"): float(r["value"][1])
                    for r in json.loads(body)["data"]["result"]}

        # Two scrapes of each target: two samples in the last minute.
        two = lambda: (len(query("count_over_time(probe_success[1m]) >= 2")) == 2)
        self.assertTrue(harness.wait_until(two, timeout=120, interval=0.5),
                        prom.stderr.read1(65536).decode("utf-8", "replace")
                        if prom.poll() is not None else "no two scrapes within 120 s")
        self.assertEqual(query("probe_success"), {server.target: 1.0, closed.target: 0.0})
        durations = query("probe_duration_seconds")
        self.assertEqual(set(durations), {server.target, closed.target})
        self.assertEqual(set(query("up")).issuperset({server.target, closed.target}), True)


if __name__ == "__main__":
    unittest.main()
