"""HTTP(S) TARGETs: one HTTP/1.1 request after the connect (and TLS for https), ready when the
status is accepted (--http-status, default 200-399) and --expect matches the body. Python
servers for each kind of answer, real nginx (a file, a 503, a 301) over http and https, a
503 turning 200, HEAD, extra headers, ping mode's first-byte statistics, usage errors."""

import os
import shutil
import subprocess
import tempfile
import unittest

import harness
import servers_http as sh
import tls_certs
from harness import of_type, summary

_TMP = None
CERTS = None


def setUpModule():
    global CERTS, _TMP
    if shutil.which("openssl") is not None:
        _TMP = tempfile.TemporaryDirectory(prefix="tcpretry-http-")
        CERTS = tls_certs.make_certs(_TMP.name)


def tearDownModule():
    if _TMP:
        _TMP.cleanup()


class HttpCase(harness.TestCase):
    def server(self, server):
        self.addCleanup(server.close)
        return server

    def run_json(self, *args, **kw):
        r = harness.run("--json", *args, **kw)
        events = r.events()
        ping = "--count" in args  # its summaries are per target: not wait mode's schema
        for e in events:
            if not (ping and e.get("event") == "summary"):
                self.assertEqual(harness.schema_problems(e), [], f"in {e}\n{r}")
        if not ping:
            self.assertEqual(summary(events)["exit_code"], r.returncode, r)
        return r, events

    def connected(self, *args):
        r, events = self.run_json("--once", *args)
        self.assertEqual(r.returncode, harness.EXIT_OK, r)
        (c,) = of_type(events, "connected")
        self.assertGreaterEqual(c["http_ms"], 0)
        self.assertLessEqual(c["http_ms"], c["check_ms"])
        return c

    def failure(self, *args):
        r, events = self.run_json("--once", *args)
        self.assertEqual(r.returncode, harness.EXIT_FAILED, r)
        (f,) = of_type(events, "failed")
        self.assertEqual(f["phase"], "http", f)
        return f


class PythonServers(HttpCase):
    def test_each_status_class(self):
        for code, ok in ((200, True), (204, True), (301, True), (404, False), (500, False),
                         (503, False)):
            with self.subTest(code=code):
                s = self.server(sh.status_server(code, b"body of %d\n" % code))
                if ok:
                    c = self.connected(s.url("/health"))
                    self.assertEqual(c["http"]["status"], code)
                    self.assertGreater(c["http"]["bytes"], 0)
                    self.assertGreaterEqual(c["http"]["ttfb_ms"], 0)
                else:
                    f = self.failure(s.url("/health"))
                    self.assertEqual(f["error"], "http_status")
                    self.assertEqual(f["status"], code)
                    self.assertEqual(f["reason"], sh.REASONS[code])
                    self.assertEqual(f["received"], "body of %d\\n" % code)

    def test_status_list_accepts_what_it_names(self):
        s = self.server(sh.status_server(404))
        c = self.connected("--http-status", "200,404", s.url())
        self.assertEqual(c["http"]["status"], 404)
        s2 = self.server(sh.status_server(301))
        self.assertEqual(self.failure("--http-status", "200", s2.url())["error"], "http_status")

    def test_chunked_body_is_decoded_for_expect(self):
        s = self.server(sh.chunked_server([b"hello ", b"world\n"], extensions=True,
                                          trailers=(("X-T", "1"),)))
        self.connected("--expect", "^hello world$", s.url())
        f = self.failure("--expect", "^goodbye", s.url())
        self.assertEqual(f["error"], "expect_mismatch")

    def test_slow_body_within_and_over_the_timeout(self):
        s = self.server(sh.slow_body_server(b"x" * 10, interval=0.05))
        self.connected("--expect-timeout", "10s", s.url())
        s2 = self.server(sh.slow_body_server(b"x" * 100, interval=0.1))
        f = self.failure("--expect-timeout", "0.5s", s2.url())
        self.assertEqual(f["error"], "timeout")

    def test_headers_over_the_limit_are_a_protocol_failure(self):
        s = self.server(sh.huge_headers_server(16385))
        self.assertEqual(self.failure(s.url())["error"], "http_protocol")
        s2 = self.server(sh.huge_headers_server(16000))
        self.connected(s2.url())

    def test_a_banner_is_not_http(self):
        s = self.server(sh.banner_server())
        f = self.failure(s.url())
        self.assertEqual(f["error"], "http_protocol")
        self.assertIn("SSH-2.0", f["received"])

    def test_http_1_0_to_eof(self):
        s = self.server(sh.http10_server(b"old but fine\n"))
        c = self.connected("--expect", "fine", s.url())
        self.assertEqual(c["http"]["status"], 200)

    def test_head_and_extra_headers_reach_the_server(self):
        s = self.server(sh.status_server(200, b"ok\n"))
        self.connected("--http-method", "HEAD", "--http-header", "X-Probe: yes",
                       "--http-header", "User-Agent: probe/1", s.url("/path?q=1"))
        req = s.requests[-1]
        text = req.raw.decode("latin-1")
        self.assertTrue(text.startswith("HEAD /path?q=1 HTTP/1.1\r\n"), text)
        self.assertIn("X-Probe: yes\r\n", text)
        self.assertIn("User-Agent: probe/1\r\n", text)
        self.assertNotIn("tcpretry/", text)

    def test_waits_until_503_turns_200(self):
        s = self.server(sh.flipping_server(after_requests=3))
        r, events = self.run_json("--max-delay", "100ms", "-t", "20s", s.url())
        self.assertEqual(r.returncode, harness.EXIT_OK, r)
        failed = of_type(events, "failed")
        self.assertEqual([f["status"] for f in failed], [503, 503, 503])
        self.assertEqual(of_type(events, "connected")[0]["http"]["status"], 200)

    def test_ping_mode_reports_first_byte_statistics(self):
        s = self.server(sh.status_server(200, b"ok\n"))
        r, events = self.run_json("--count", "3", "-i", "50ms", s.url())
        self.assertEqual(r.returncode, harness.EXIT_OK, r)
        probes = of_type(events, "probe")
        self.assertEqual(len(probes), 3)
        for p in probes:
            self.assertEqual(p["http"]["status"], 200)
        stats = [e for e in events if e.get("event") == "summary" and "ttfb_ms" in e]
        self.assertTrue(stats, r)
        self.assertLessEqual(stats[0]["ttfb_ms"]["min"], stats[0]["ttfb_ms"]["max"])
        human = harness.run("--count", "2", "-i", "50ms", s.url())
        self.assertIn("HTTP 200 OK", human.stdout)
        self.assertIn("first byte min/avg/max", human.stdout)

    def test_prometheus_status_gauge_and_http_histogram(self):
        s = self.server(sh.flipping_server(after_requests=1))
        r = harness.run("--format", "prometheus", "--count", "3", "-i", "50ms", s.url())
        self.assertEqual(r.returncode, harness.EXIT_OK, r)  # 2 of 3 probes answered 200
        target = s.url().replace("\\", "\\\\")
        self.assertIn(f'tcpretry_http_status_code{{target="{target}"}} 200\n', r.stdout)
        self.assertIn(f'tcpretry_http_duration_seconds_count{{target="{target}"}} 2\n', r.stdout)
        self.assertIn('error="http_status"} 1\n', r.stdout)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=r.stdout,
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_human_output_shows_the_status(self):
        s = self.server(sh.status_server(200))
        r = harness.run("--once", s.url())
        self.assertEqual(r.returncode, harness.EXIT_OK, r)
        self.assertIn("HTTP 200 OK", r.stdout + r.stderr)


class OverUnixSockets(HttpCase):
    """http+unix://%2Fpath%2Fto.sock/PATH: the request over a Unix socket (a file or an abstract
    name), as Docker's API clients write it."""

    def test_file_socket_status_and_host(self):
        tmp = tempfile.mkdtemp(prefix="tcpretry-http-unix-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = tmp + "/app.sock"
        ok = self.server(sh.status_server(200, b"up\n", unix_path=path))
        c = self.connected("--expect", "up", ok.url("/health"))
        self.assertEqual(c["http"]["status"], 200)
        self.assertEqual(c["address"], path)
        self.assertNotIn("port", c)
        (request,) = ok.requests
        self.assertEqual(request.target, "/health")
        self.assertEqual(request.headers.get("host"), "localhost")

        down_path = tmp + "/down.sock"
        down = self.server(sh.status_server(503, b"draining\n", unix_path=down_path))
        f = self.failure(down.url("/health"))
        self.assertEqual(f["error"], "http_status")
        self.assertEqual(f["status"], 503)
        self.assertEqual(f["address"], down_path)

    def test_abstract_socket(self):
        name = f"@tcpretry-http-{os.getpid()}"
        s = self.server(sh.status_server(204, unix_path=name))
        c = self.connected(s.url("/ping"))
        self.assertEqual(c["http"]["status"], 204)
        self.assertEqual(c["address"], name)

    def test_missing_socket_is_retried_like_a_unix_target(self):
        r, events = self.run_json("--once", "http+unix://%2Fnonexistent%2Ftcpretry.sock/")
        self.assertEqual(r.returncode, harness.EXIT_FAILED, r)
        (f,) = of_type(events, "failed")
        self.assertEqual(f["error"], "missing")


class Usage(HttpCase):
    def usage(self, *args, needle):
        r = harness.run(*args)
        self.assertEqual(r.returncode, harness.EXIT_USAGE, r)
        self.assertIn(needle, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r)

    def test_usage_errors(self):
        url = "http://127.0.0.1:9/"
        self.usage("--watch", url, needle="--count")
        self.usage("http://a@b/", needle="userinfo")
        self.usage("--http-status", "600", url, needle="--http-status")
        self.usage("--http-header", "Bad Header", url, needle="'Bad Header'")
        self.usage("--http-header", "Connection: keep-alive", url, needle="--http-header")
        self.usage("--http-method", "POST", url, needle="--http-method")
        self.usage("--http-status", "200", "127.0.0.1:9", needle="needs an http://")
        self.usage("--send", "x", url, needle="--send")


class RealNginx(HttpCase):
    def test_file_down_and_moved(self):
        nginx = sh.nginx_http().start_for(self)
        c = self.connected("--expect", "nginx is ready", nginx.url)
        self.assertEqual(c["http"]["status"], 200)
        r, events = self.run_json("-t", "2s", "--max-delay", "200ms", nginx.url + "down")
        self.assertEqual(r.returncode, harness.EXIT_TIMEOUT, r)
        failed = of_type(events, "failed")
        self.assertGreaterEqual(len(failed), 2)
        self.assertTrue(all(f["error"] == "http_status" and f["status"] == 503
                            for f in failed), failed)
        self.assertEqual(self.connected(nginx.url + "moved")["http"]["status"], 301)
        f = self.failure("--http-status", "200", nginx.url + "moved")
        self.assertEqual(f["status"], 301)

    def test_https(self):
        if CERTS is None:
            self.skipTest("openssl is not installed")
        nginx = sh.nginx_http(ssl_cert=CERTS.leaf.cert, ssl_key=CERTS.leaf.key).start_for(self)
        url = f"https://127.0.0.1:{nginx.port}/health.txt"
        c = self.connected("--ca-file", CERTS.ca.cert, "--expect", "^ready$", url)
        self.assertEqual(c["http"]["status"], 200)
        self.assertTrue(c["tls"]["verified"])
        f = harness.run("--json", "--once", url)  # the test CA is not trusted by default
        self.assertEqual(f.returncode, harness.EXIT_FAILED, f)
        self.assertEqual(of_type(f.events(), "failed")[0]["error"], "tls_verify")


if __name__ == "__main__":
    unittest.main()
