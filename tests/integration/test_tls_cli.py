"""The TLS options' usage errors: exit 2 and exactly one line on stderr that names the flag
(and the bad value); the environment variables of the TLS options; and valid combinations
that must not be usage errors; the system CA store as OpenSSL's environment names it
(SSL_CERT_FILE, SSL_CERT_DIR), which tcpretry reads lazily when the directory is hashed."""

import os
import shutil
import subprocess
import tempfile
import unittest

import harness
import tls_certs
from test_tls_certs import SServer

CERTS = None
_TMP = None


def setUpModule():
    global CERTS, _TMP
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("openssl is not installed")
    _TMP = tempfile.TemporaryDirectory(prefix="tcpretry-tls-cli-")
    CERTS = tls_certs.make_certs(_TMP.name)


def tearDownModule():
    if _TMP:
        _TMP.cleanup()


class TlsUsageErrors(harness.TestCase):
    def usage_error(self, args, *words, env=None):
        r = harness.run(*args, env=env)
        self.assertExit(r, harness.EXIT_USAGE)
        self.assertEqual(r.stdout, "", r)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r)
        for w in words:
            self.assertIn(w, lines[0], r)
        return lines[0]

    def test_tls_options_need_tls(self):
        for args in (["--insecure"], ["--ca-file", "x.pem"], ["--ca-path", "/tmp"],
                     ["--sni", "a.example"], ["--tls-min-version", "1.3"], ["--alpn", "h2"],
                     ["--client-cert", "c.pem", "--client-key", "k.pem"],
                     ["--cert-min-days", "7"]):
            with self.subTest(args=args):
                self.usage_error(args + ["127.0.0.1:1"], args[0], "needs --tls or --starttls")

    def test_bad_values(self):
        cases = [
            (["--tls-min-version", "1.1"], "--tls-min-version", "'1.1'"),
            (["--tls-min-version", "tls1.3"], "--tls-min-version", "'tls1.3'"),
            (["--starttls", "http"], "--starttls", "'http'"),
            (["--alpn", "h2,,x"], "--alpn"),
            (["--alpn", ""], "--alpn"),
            (["--cert-min-days", "-1"], "--cert-min-days", "'-1'"),
            (["--cert-min-days", "soon"], "--cert-min-days", "'soon'"),
            (["--sni", ""], "--sni"),
            (["--client-cert", CERTS.client.cert], "--client-cert", "needs --client-key"),
            (["--client-key", CERTS.client.key], "--client-key", "needs --client-cert"),
        ]
        for args, *words in cases:
            with self.subTest(args=args):
                self.usage_error(["--tls"] + args + ["127.0.0.1:1"], *words)

    def test_files_that_cannot_be_loaded_name_their_flag(self):
        missing = os.path.join(_TMP.name, "no-such.pem")
        line = self.usage_error(["--tls", "--ca-file", missing, "127.0.0.1:1"],
                                "--ca-file: cannot load CA file", missing)
        self.assertTrue(line.startswith("tcpretry: --ca-file") or
                        line.startswith("--ca-file"), line)
        self.usage_error(["--tls", "--ca-path", missing, "127.0.0.1:1"], "--ca-path")
        self.usage_error(["--tls", "--client-cert", missing, "--client-key", CERTS.client.key,
                          "127.0.0.1:1"], "--client-cert", missing)
        # A key that does not belong to the certificate.
        self.usage_error(["--tls", "--client-cert", CERTS.client.cert, "--client-key",
                          CERTS.leaf.key, "127.0.0.1:1"], "--client-key", "does not match")

    def test_environment_names_the_variable(self):
        env = dict(os.environ, TCPRETRY_TLS_MIN_VERSION="1.0", TCPRETRY_TLS="1")
        self.usage_error(["127.0.0.1:1"], "TCPRETRY_TLS_MIN_VERSION", "'1.0'", env=env)
        env = dict(os.environ, TCPRETRY_INSECURE="1")
        self.usage_error(["127.0.0.1:1"], "TCPRETRY_INSECURE", "needs --tls", env=env)

    def test_valid_combinations_are_not_usage_errors(self):
        closed = self.closed_port()
        for args in (["--tls"], ["--starttls", "smtp"], ["--starttls", "postgres", "--insecure"],
                     ["--tls", "--ca-file", CERTS.ca.cert, "--sni", "db.example",
                      "--tls-min-version", "1.3", "--alpn", "h2,http/1.1",
                      "--client-cert", CERTS.client.cert, "--client-key", CERTS.client.key,
                      "--cert-min-days", "0"],
                     ["--tls", "--ca-path", _TMP.name]):
            with self.subTest(args=args):
                r = harness.run(*args, "--once", f"127.0.0.1:{closed.port}")
                self.assertExit(r, harness.EXIT_FAILED)  # refused: the options were fine

    def test_help_lists_the_tls_group(self):
        r = harness.run("--help")
        self.assertExit(r, harness.EXIT_OK)
        for flag in ("--tls", "--insecure", "--ca-file", "--ca-path", "--sni",
                     "--tls-min-version", "--alpn", "--client-cert", "--client-key",
                     "--cert-min-days", "--starttls", "TCPRETRY_STARTTLS"):
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)


class SystemStore(harness.TestCase):
    """Without --ca-file/--ca-path the system store decides, found as OpenSSL finds it: the
    file SSL_CERT_FILE names, else the directory SSL_CERT_DIR names (hash links, "f299f7c8.0",
    looked up only for the CA a chain names), else OpenSSL's defaults."""

    def probe(self, **env_vars):
        server = SServer(CERTS.leaf.cert, CERTS.leaf.key)
        self.addCleanup(server.close)
        env = {k: v for k, v in os.environ.items()
               if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        env.update(env_vars)
        return harness.run("--json", "--tls", "--once", f"localhost:{server.port}", env=env)

    def hashed_dir(self, *certs):
        d = tempfile.mkdtemp(prefix="tcpretry-cadir-", dir=_TMP.name)
        for i, cert in enumerate(certs):
            shutil.copy(cert, os.path.join(d, f"ca{i}.pem"))
        subprocess.run(["openssl", "rehash", d], check=True, capture_output=True)
        self.assertTrue(any(n.endswith(".0") for n in os.listdir(d)), os.listdir(d))
        return d

    def verified(self, r):
        self.assertExit(r, harness.EXIT_OK)
        connected = [e for e in r.events() if e.get("event") == "connected"]
        self.assertEqual(len(connected), 1, r)
        self.assertIs(connected[0]["tls"]["verified"], True, r)

    def test_a_hashed_directory_with_the_ca_verifies(self):
        self.verified(self.probe(SSL_CERT_DIR=self.hashed_dir(CERTS.ca.cert)))

    def test_a_hashed_directory_without_the_ca_does_not(self):
        r = self.probe(SSL_CERT_DIR=self.hashed_dir(CERTS.client_ca.cert))
        self.assertExit(r, harness.EXIT_FAILED)
        failed = [e for e in r.events() if e.get("event") == "failed"]
        self.assertTrue(failed, r)
        self.assertEqual(failed[-1]["error"], "tls_verify", r)

    def test_the_directory_is_a_list_as_in_openssl(self):
        empty = tempfile.mkdtemp(prefix="tcpretry-cadir-", dir=_TMP.name)
        hashed = self.hashed_dir(CERTS.ca.cert)
        self.verified(self.probe(SSL_CERT_DIR=f"{empty}:{hashed}"))

    def test_ssl_cert_file_is_loaded(self):
        empty = tempfile.mkdtemp(prefix="tcpretry-cadir-", dir=_TMP.name)
        self.verified(self.probe(SSL_CERT_FILE=CERTS.ca.cert, SSL_CERT_DIR=empty))

    def test_a_directory_without_hash_links_falls_back_to_openssl(self):
        # No hash links: OpenSSL's own defaults, with SSL_CERT_FILE still honoured.
        plain = tempfile.mkdtemp(prefix="tcpretry-cadir-", dir=_TMP.name)
        shutil.copy(CERTS.ca.cert, os.path.join(plain, "ca.pem"))
        self.verified(self.probe(SSL_CERT_DIR=plain, SSL_CERT_FILE=CERTS.ca.cert))
