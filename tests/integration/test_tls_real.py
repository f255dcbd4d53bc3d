"""--tls and --starttls against real Debian servers on loopback, with the certificates of
tls_certs.py: PostgreSQL 15 (`ssl = on`, probed with --starttls postgres: its SSLRequest, then
the handshake) and nginx with a TLS listener (facts, ALPN agreement with HTTP/2 on, a name the
certificate is not for). The servers come from real_servers.py: each on a port picked there,
its files in a temp dir, stopped by the test's cleanup. A missing server skips with a printed
reason (scripts/deps.sh test installs postgresql and nginx)."""

import shutil
import tempfile
import unittest

import harness
import tls_certs
from harness import of_type
from real_servers import NginxServer, PostgresServer

CERTS = None
_TMP = None


def setUpModule():
    global CERTS, _TMP
    if shutil.which("openssl") is None:
        print("skipped: openssl is not installed", flush=True)
        raise unittest.SkipTest("openssl is not installed")
    _TMP = tempfile.TemporaryDirectory(prefix="tcpretry-tls-real-")
    CERTS = tls_certs.make_certs(_TMP.name)


def tearDownModule():
    if _TMP:
        _TMP.cleanup()


class RealTls(harness.TestCase):
    def run_json(self, *args, schema=True):
        r = harness.run("--json", "--ca-file", CERTS.ca.cert, *args)
        for word in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(word, r.stderr, r)
        if schema:  # the harness's schema checks are those of wait and watch mode
            self.assertValidJsonLines(r)
        return r

    def connected(self, r):
        self.assertExit(r, harness.EXIT_OK)
        c = of_type(r.events(), "connected")
        self.assertEqual(len(c), 1, r)
        return c[0]

    def check_facts(self, c):
        tls = c["tls"]
        self.assertIn(tls["version"], ("TLSv1.2", "TLSv1.3"))
        self.assertTrue(tls["cipher"])
        self.assertIs(tls["verified"], True)
        self.assertIn("CN=localhost", tls["cert"]["subject"])
        self.assertIn("CN=tcpretry test CA", tls["cert"]["issuer"])
        self.assertIn(tls["cert"]["days_left"], (363, 364, 365))
        self.assertGreater(c["tls_ms"], 0)
        self.assertLessEqual(c["tls_ms"], c["check_ms"])


class Postgres(RealTls):
    def test_starttls_postgres_connects_verified(self):
        server = PostgresServer(ssl_cert=CERTS.leaf.cert, ssl_key=CERTS.leaf.key).start_for(self)
        r = self.run_json("--starttls", "postgres", "--once", f"localhost:{server.port}")
        c = self.connected(r)
        self.check_facts(c)
        self.assertEqual(c["tls"]["sni"], "localhost")
        # Ping mode: each probe a fresh SSLRequest and handshake, statistics of both.
        r = self.run_json("--starttls", "postgres", "-c", "3", "-i", "100ms",
                          f"127.0.0.1:{server.port}", schema=False)
        self.assertExit(r, harness.EXIT_OK)
        probes = of_type(r.events(), "probe")
        self.assertEqual([p["ok"] for p in probes], [True] * 3, r)
        for p in probes:
            self.assertIs(p["tls"]["verified"], True)  # the IP SAN, no SNI
            self.assertIsNone(p["tls"]["sni"])
        self.assertIn("tls_ms", of_type(r.events(), "summary")[0])

    def test_postgres_without_ssl_refuses_the_upgrade(self):
        server = PostgresServer().start_for(self)
        r = self.run_json("--starttls", "postgres", "--once", f"localhost:{server.port}")
        self.assertExit(r, harness.EXIT_FAILED)
        f = [e for e in of_type(r.events(), "failed") if e.get("address") == "127.0.0.1"]
        self.assertEqual(len(f), 1, r)
        self.assertEqual((f[0]["error"], f[0]["phase"]), ("starttls", "starttls"))
        self.assertEqual(f[0]["received"], "N")  # PostgreSQL's answer to SSLRequest


class Nginx(RealTls):
    def nginx(self, **kw):
        return NginxServer("location / { return 200 'ok\\n'; }", ssl_cert=CERTS.leaf.cert,
                           ssl_key=CERTS.leaf.key, **kw).start_for(self)

    def test_valid_certificate_connects_with_the_facts(self):
        server = self.nginx()
        c = self.connected(self.run_json("--tls", "--once", f"localhost:{server.port}"))
        self.check_facts(c)
        self.assertIsNone(c["tls"]["alpn"])
        # An HTTP request over the TLS channel, answered by nginx.
        c = self.connected(self.run_json("--tls", "--once", "--send",
                                         "GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n",
                                         "--expect", "^HTTP/1\\.1 200", f"localhost:{server.port}"))
        self.assertLessEqual(c["tls_ms"], c["check_ms"])

    def test_alpn_agreement(self):
        server = self.nginx(http2=True)
        c = self.connected(self.run_json("--tls", "--once", "--alpn", "h2,http/1.1",
                                         f"localhost:{server.port}"))
        self.assertEqual(c["tls"]["alpn"], "h2")
        c = self.connected(self.run_json("--tls", "--once", "--alpn", "http/1.1",
                                         f"localhost:{server.port}"))
        self.assertEqual(c["tls"]["alpn"], "http/1.1")

    def test_wrong_name_is_a_hostname_mismatch(self):
        server = self.nginx()
        r = self.run_json("--tls", "--once", "--sni", "db.example", f"127.0.0.1:{server.port}")
        self.assertExit(r, harness.EXIT_FAILED)
        f = of_type(r.events(), "failed")
        self.assertEqual(len(f), 1, r)
        self.assertEqual(f[0]["error"], "tls_verify")
        self.assertEqual(f[0]["errno"], "X509_V_ERR_HOSTNAME_MISMATCH")
        self.assertEqual(f[0]["phase"], "tls")
        self.assertIn("CN=localhost", f[0]["cert"]["subject"])
        # Human words name both names.
        h = harness.run("--tls", "--ca-file", CERTS.ca.cert, "--once", "--sni", "db.example",
                        f"127.0.0.1:{server.port}")
        self.assertExit(h, harness.EXIT_FAILED)
        self.assertIn("db.example", h.stdout + h.stderr)


if __name__ == "__main__":
    unittest.main()
