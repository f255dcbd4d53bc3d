"""The TLS options' usage errors: exit 2 and exactly one line on stderr that names the flag
(and the bad value); the environment variables of the TLS options; and valid combinations
that must not be usage errors."""

import os
import shutil
import tempfile
import unittest

import harness
import tls_certs

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
