"""The certificate factory of the TLS tests (tls_certs.py): the dates and names of what it
makes, read back with `openssl x509 -noout -text`, the chains with `openssl verify`, and a real
handshake between `openssl s_server` and `openssl s_client -verify_return_error` on loopback
(server and client certificates, and the expired one refused)."""

import datetime
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import tls_certs

DATE = "%b %d %H:%M:%S %Y GMT"


def _text(cert):
    return subprocess.run(["openssl", "x509", "-noout", "-text", "-in", cert],
                          capture_output=True, text=True, check=True, timeout=30).stdout


def _dates(cert):
    text = _text(cert)
    def when(label):
        m = re.search(rf"{label}\s*:\s*(\w+\s+\d+ \d\d:\d\d:\d\d \d{{4}} GMT)", text)
        assert m, f"no {label} in {text}"
        return datetime.datetime.strptime(re.sub(r"\s+", " ", m.group(1)), DATE).replace(
            tzinfo=datetime.timezone.utc)
    return when("Not Before"), when("Not After ")


def _sans(cert):
    m = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.*)\n", _text(cert))
    return m.group(1).strip() if m else ""


class SServer:
    """`openssl s_server` on 127.0.0.1, on a port the test binds first (so no one else takes
    it) and hands over by closing just before the start; waits for its ACCEPT line. Retries on
    another port if that one was taken in between."""

    def __init__(self, cert, key, extra=()):
        self.proc = None
        for _ in range(5):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
            probe.close()
            self.proc = subprocess.Popen(
                ["openssl", "s_server", "-accept", f"127.0.0.1:{self.port}", "-cert", cert,
                 "-key", key, "-naccept", "1", *extra],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True)
            if self._wait_ready(30.0):
                return
            self.close()
        raise RuntimeError("openssl s_server did not start")

    def _wait_ready(self, timeout):
        ready = threading.Event()
        self.output = []

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                if line.startswith("ACCEPT"):
                    ready.set()
            ready.set()  # ended without ACCEPT: the start failed

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        ready.wait(timeout)
        return self.proc.poll() is None and any(l.startswith("ACCEPT") for l in self.output)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait(timeout=30)
            self.reader.join(timeout=30)  # it ends at the pipe's EOF
            self.proc.stdin.close()
            self.proc.stdout.close()


def _s_client(port, ca, name="localhost", extra=()):
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name,
         "-verify_hostname", name, "-CAfile", ca, "-verify_return_error", "-brief", *extra],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


@unittest.skipIf(shutil.which("openssl") is None, "openssl is not installed")
class TlsCertsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tcpretry-certs-")
        cls.certs = tls_certs.make_certs(cls.tmp.name)
        cls.now = datetime.datetime.now(datetime.timezone.utc)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def near(self, actual, expected):
        self.assertLess(abs(actual - expected), datetime.timedelta(minutes=5),
                        f"{actual} is not {expected}")

    def test_dates(self):
        day = datetime.timedelta(days=1)
        hour = datetime.timedelta(hours=1)
        c, now = self.certs, self.now
        before, after = _dates(c.leaf.cert)
        self.near(before, now - day)
        self.near(after, now + 365 * day)
        before, after = _dates(c.expired.cert)
        self.near(after, now - 3 * day - hour)
        self.assertLess(after, now)
        before, after = _dates(c.not_yet_valid.cert)
        self.near(before, now + 5 * day + hour)
        self.assertGreater(before, now)
        _, after = _dates(c.short_lived.cert)
        self.near(after, now + 10 * day + hour)

    def test_names(self):
        c = self.certs
        for pair in (c.leaf, c.expired, c.not_yet_valid, c.self_signed, c.short_lived):
            self.assertEqual(_sans(pair.cert),
                             "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1")
        self.assertEqual(_sans(c.other_name.cert), "DNS:other.example")
        self.assertEqual(_sans(c.client.cert), "")
        self.assertIn("TLS Web Client Authentication", _text(c.client.cert))
        self.assertIn("CA:TRUE", _text(c.ca.cert))
        self.assertIn("CA:TRUE", _text(c.client_ca.cert))
        self.assertRegex(_text(c.self_signed.cert), r"Issuer: CN = localhost")

    def test_chains(self):
        c = self.certs

        def verify(ca, cert, *extra):
            return subprocess.run(["openssl", "verify", "-CAfile", ca, *extra, cert],
                                  capture_output=True, text=True, timeout=30)

        self.assertEqual(verify(c.ca.cert, c.leaf.cert).returncode, 0)
        self.assertEqual(verify(c.ca.cert, c.other_name.cert).returncode, 0)
        self.assertEqual(verify(c.client_ca.cert, c.client.cert, "-purpose", "sslclient")
                         .returncode, 0)
        for pair, error in ((c.expired, "error 10 "), (c.not_yet_valid, "error 9 "),
                            (c.self_signed, "error 18 ")):
            r = verify(c.ca.cert, pair.cert)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(error, r.stdout + r.stderr)
        self.assertNotEqual(verify(c.ca.cert, c.client.cert).returncode, 0)

    def test_handshake_valid_leaf(self):
        c = self.certs
        server = SServer(c.leaf.cert, c.leaf.key)
        try:
            r = _s_client(server.port, c.ca.cert)
        finally:
            server.close()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Verification: OK", r.stdout + r.stderr)

    def test_handshake_expired_refused(self):
        c = self.certs
        server = SServer(c.expired.cert, c.expired.key)
        try:
            r = _s_client(server.port, c.ca.cert)
        finally:
            server.close()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate has expired", r.stdout + r.stderr)

    def test_handshake_client_certificate(self):
        c = self.certs
        server = SServer(c.leaf.cert, c.leaf.key,
                         ["-Verify", "1", "-CAfile", c.client_ca.cert, "-verify_return_error"])
        try:
            r = _s_client(server.port, c.ca.cert,
                          extra=["-cert", c.client.cert, "-key", c.client.key])
        finally:
            server.close()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Verification: OK", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
