"""Usage errors: exit 2 and exactly one line on stderr naming the bad value, never a crash;
and the valid edge cases next to them that must not be usage errors."""

import os
import socket
import tempfile
import time
import unittest
import urllib.request

import harness
from harness import of_type
from stub_dns import StubDns

NAME_253 = ("a" * 63 + ".") * 3 + "a" * 61           # 253 bytes: the longest name
NAME_254 = ("a" * 63 + ".") * 3 + "a" * 62           # 254 bytes
LABEL_63 = "b" * 63 + ".test"
LABEL_64 = "b" * 64 + ".test"

# (argv, substrings that must all appear in the message). Targets are bytes when they are
# not valid text. Each row also gets --resolver pointing at a stub DNS server, so that even
# a wrongly accepted name would never send a query off this machine.
USAGE_ERRORS = [
    ([], ["TARGET"]),
    ([":80"], [":80"]),
    (["host:"], ["host:"]),
    (["host"], ["host"]),
    (["host:0"], ["host:0"]),
    (["host:65536"], ["host:65536"]),
    (["host:99999999999"], ["99999999999"]),
    (["host:abc-not-a-service"], ["abc-not-a-service"]),
    (["host:-1"], ["host:-1"]),
    (["[::1"], ["[::1"]),
    (["[::1]80"], ["[::1]80"]),
    (["[::1]:"], ["[::1]:"]),
    (["[::1]:0"], ["[::1]:0"]),
    (["[nothex]:80"], ["nothex"]),
    (["[127.0.0.1]:80"], ["127.0.0.1"]),
    (["::1:80"], ["::1:80"]),
    (["256.1.1.1:80"], ["256.1.1.1"]),
    (["a..b:80"], ["a..b:80"]),
    (["bad_chars!:80"], ["bad_chars!"]),
    ([""], ["''"]),
    ([NAME_254 + ":80"], [NAME_254]),
    ([LABEL_64 + ":80"], [LABEL_64]),
    (["-T", "0", "h:1"], ["0"]),
    (["-T", "0ms", "h:1"], ["0ms"]),
    (["-T", "-5", "h:1"], ["-5"]),
    (["--connect-timeout", "soon", "h:1"], ["soon"]),
    (["--timeout", "-1", "h:1"], ["-1"]),
    (["--timeout", "abc", "h:1"], ["abc"]),
    (["--timeout", "5parsecs", "h:1"], ["5parsecs"]),
    (["--timeout", "", "h:1"], ["timeout"]),
    (["--initial-delay", "-10ms", "h:1"], ["-10ms"]),
    (["--max-delay", "1x", "h:1"], ["1x"]),
    (["-n", "-1", "h:1"], ["-1"]),
    (["-n", "x", "h:1"], ["x"]),
    (["--attempts", "1.5", "h:1"], ["1.5"]),
    (["--attempts", "99999999999999999999", "h:1"], ["99999999999999999999"]),
    (["--jitter", "1.5", "h:1"], ["1.5"]),
    (["--jitter", "-0.1", "h:1"], ["-0.1"]),
    (["--jitter", "lots", "h:1"], ["lots"]),
    (["--multiplier", "0.5", "h:1"], ["0.5"]),
    (["--multiplier", "0", "h:1"], ["0"]),
    (["--multiplier", "nan", "h:1"], ["nan"]),
    (["--initial-delay", "2s", "--max-delay", "1s", "h:1"], ["2s", "1s"]),
    (["--seed", "-3", "h:1"], ["-3"]),
    (["--bogus", "h:1"], ["--bogus"]),
    (["-x", "h:1"], ["-x"]),
    (["--color", "maybe", "h:1"], ["maybe"]),
    (["--source", "not-an-address", "h:1"], ["not-an-address"]),
    (["--once", "--attempts", "2", "h:1"], ["--once", "--attempts"]),
    (["-4", "-6", "h:1"], ["-4", "-6"]),
    (["-4", "[::1]:80"], ["[::1]:80"]),
    (["h:1", "--"], ["COMMAND"]),
    # Durations: compound forms must be whole ("1m30" lacks the unit of its last part).
    (["--timeout", "1m30", "h:1"], ["--timeout: invalid value '1m30'"]),
    (["-T", "30s1m", "h:1"], ["--connect-timeout: invalid value '30s1m'"]),
    # URLs: only tcp://HOST:PORT; never "an IPv6 address needs brackets".
    # http:// and https:// are HTTP TARGETs (test_http.py); other schemes are not targets,
    # and a URL is parsed strictly.
    (["ftp://h:21"], ["'ftp://h:21'", "ftp://", "only HOST:PORT"]),
    (["http://user:pw@h/"], ["invalid URL 'http://user:pw@h/'", "no credentials"]),
    (["https://h:99999/x"], ["invalid URL 'https://h:99999/x'", "99999"]),
    (["http://h/a b"], ["invalid URL 'http://h/a b'", "space"]),
    (["tcp://h:80/path"], ["'tcp://h:80/path'", "nothing may follow"]),
    (["tcp://h"], ["'tcp://h'", "missing port"]),
    # Mode-specific flags.
    (["--recheck", "5s", "h:1"], ["--recheck", "--watch"]),
    (["-w", "--recheck", "0", "h:1"], ["--recheck: invalid value '0'"]),
    (["--timestamps", "--no-timestamps", "h:1"], ["--timestamps", "--no-timestamps"]),
    (["--json", "--timestamps", "h:1"], ["--timestamps"]),
    (["--metrics-listen", ":0", "h:1"], ["--metrics-listen: invalid value ':0'"]),
    # Control characters and invalid UTF-8 (passed as bytes).
    ([b"bad\x01host:80"], ["bad", "host:80"]),
    ([b"bad\nhost:80"], ["bad", "host:80"]),
    ([b"bad\x1b[31mhost:80"], ["bad", "host:80"]),
    ([b"bad\x7fhost:80"], ["bad", "host:80"]),
    ([b"host:80\r"], ["host:80"]),
    ([b"bad\xffhost:80"], ["bad", "host:80"]),
    ([b"bad\xc3host:80"], ["bad", "host:80"]),           # truncated sequence
    ([b"bad\xc0\xafhost:80"], ["bad", "host:80"]),       # overlong '/'
    ([b"bad\xed\xa0\x80host:80"], ["bad", "host:80"]),   # UTF-16 surrogate
    ([b"bad\xc2\x85host:80"], ["bad", "host:80"]),       # C1 control (NEL)
]


class UsageErrors(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = StubDns()  # answers NXDOMAIN to every name

    @classmethod
    def tearDownClass(cls):
        cls.dns.close()

    def check_usage_error(self, args, expected):
        r = harness.run("--resolver", self.dns.address, *args, timeout=15)
        self.assertExit(r, 2)
        self.assertEqual(r.stdout, "", f"a usage error prints nothing on stdout\n{r}")
        self.assertTrue(r.stderr_bytes.endswith(b"\n"), r)
        self.assertEqual(r.stderr_bytes.count(b"\n"), 1,
                         f"the message must be exactly one line\n{r}")
        self.assertNotIn(b"\r", r.stderr_bytes, r)
        self.assertNotIn(b"\x1b", r.stderr_bytes, r)
        for text in expected:
            self.assertIn(text, r.stderr, f"the message does not name {text!r}\n{r}")
        self.assertEqual(self.dns.queries(), [], "nothing is resolved before the checks")

    def test_usage_errors(self):
        for args, expected in USAGE_ERRORS:
            with self.subTest(args=args):
                self.check_usage_error(args, expected)

    def test_control_character_is_shown_escaped(self):
        r = harness.run(b"bad\x01host:80")
        self.assertExit(r, 2)
        self.assertNotIn(b"\x01", r.stderr_bytes)

    def test_bracketed_ipv6_without_port_is_named_as_given(self):
        # "[::1]" lacks a port; the message must name what the user typed, "[::1]" (not
        # "::1", and not only inside an example such as "[::1]:80").
        self.check_usage_error(["[::1]"], ["[::1]"])
        r = harness.run("[::1]")
        self.assertRegex(r.stderr, r"\[::1\](?!:)", r)

    def test_bracketed_list_is_not_split_into_targets(self):
        # One argument is one TARGET: "[a,b]" is not a valid target (only [IPV6]:PORT takes
        # brackets) and must not turn into two targets.
        c1, c2 = self.closed_port(), self.closed_port()
        arg = f"[{c1.target},{c2.target}]"
        self.check_usage_error(["--once", arg], [arg])


# Every invalid value: one line "--FLAG: invalid value 'VALUE' (what is valid)".
INVALID_VALUES = [
    (["--multiplier", "2000"], "--multiplier: invalid value '2000' (1 to 1000)"),
    (["--jitter", "2"], "--jitter: invalid value '2' (a fraction from 0 to 1)"),
    (["-t", "soon"], "--timeout: invalid value 'soon' ("),
    (["-T", "0"], "--connect-timeout: invalid value '0' (more than 0)"),
    (["--initial-delay", "x"], "--initial-delay: invalid value 'x' ("),
    (["--max-delay", "x"], "--max-delay: invalid value 'x' ("),
    (["-n", "x"], "--attempts: invalid value 'x' ("),
    (["--seed", "x"], "--seed: invalid value 'x' ("),
    (["--parallel", "0"], "--parallel: invalid value '0' ("),
    (["--quorum", "2"], "--quorum: invalid value '2' ("),
    (["-w", "--stable-after", "x"], "--stable-after: invalid value 'x' ("),
    (["-w", "--keepalive", "1s"], "--keepalive: invalid value '1s' ("),
    (["-w", "--recheck", "x"], "--recheck: invalid value 'x' ("),
    (["--send", "\\q"], "--send: invalid value '\\q' ("),
    (["--expect", "("], "--expect: invalid value '(' ("),
    (["--expect", "x", "--expect-timeout", "0"], "--expect-timeout: invalid value '0' ("),
    (["-c", "x"], "--count: invalid value 'x' ("),
    (["-c", "1", "-i", "0"], "--interval: invalid value '0' ("),
    (["--source", "x"], "--source: invalid value 'x' ("),
    (["--resolver", "x"], "--resolver: invalid value 'x' ("),
    (["--format", "xml"], "--format: invalid value 'xml' ("),
    (["--color", "x"], "--color: invalid value 'x' ("),
    (["--metrics-listen", "x"], "--metrics-listen: invalid value 'x' ("),
    (["--once=3"], "--once: invalid value '3' (a switch takes no value)"),
    (["--json=x"], "--json: invalid value 'x' (a switch takes no value)"),
    (["-t", "1", "-t", "2"], "--timeout: given more than once"),
]


class InvalidValues(harness.TestCase):
    def test_every_invalid_value_names_its_flag(self):
        for args, message in INVALID_VALUES:
            with self.subTest(args=args):
                r = harness.run(*args, "127.0.0.1:1")
                self.assertExit(r, 2)
                self.assertEqual(r.stdout, "", r)
                self.assertEqual(r.stderr.count("\n"), 1, r)
                self.assertTrue(r.stderr.startswith("tcpretry: " + message), r)

    def test_missing_value_names_the_flag(self):
        r = harness.run("127.0.0.1:1", "--timeout")
        self.assertExit(r, 2)
        self.assertEqual(r.stderr, "tcpretry: --timeout: missing value (DUR)\n")


class HelpBesideAHost(harness.TestCase):
    """wait-for-it's -h HOST -p PORT: help and exit 0 would let "tcpretry -h db -p 5432 --
    migrate" look like success without running migrate."""

    def test_wait_for_it_habit_is_a_usage_error_and_runs_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            marker = os.path.join(tmp, "ran")
            r = harness.run("-h", "db", "-p", "5432", "--", "touch", marker)
            self.assertExit(r, 2)
            self.assertEqual(r.stdout, "", r)
            self.assertEqual(
                r.stderr,
                "tcpretry: tcpretry takes HOST:PORT; -h is --help (did you mean 'tcpretry db:5432'?)\n")
            self.assertFalse(os.path.exists(marker), "COMMAND ran")

    def test_help_beside_any_word_is_a_usage_error(self):
        for args in (["-h", "db"], ["--help", "db:5432"], ["-h", "127.0.0.1", "-p", "80"],
                     ["--help", "--", "true"]):
            with self.subTest(args=args):
                r = harness.run(*args)
                self.assertExit(r, 2)
                self.assertEqual(r.stdout, "", r)
                self.assertEqual(r.stderr.count("\n"), 1, r)
                self.assertIn("tcpretry takes HOST:PORT; -h is --help", r.stderr)

    def test_help_alone_or_with_options_prints_the_help(self):
        for args in (["-h"], ["--help"], ["--help", "-v"], ["-q", "-h", "-t", "5s"]):
            with self.subTest(args=args):
                r = harness.run(*args)
                self.assertExit(r, 0)
                self.assertIn("Usage: tcpretry", r.stdout)
                self.assertEqual(r.stderr, "")


class MetricsListen(harness.TestCase):
    def test_busy_port_says_why_in_one_line(self):
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = harness.run("--once", "--metrics-listen", f"127.0.0.1:{port}", f"127.0.0.1:{port}")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, "", r)
        self.assertEqual(r.stderr.count("\n"), 1, r)
        self.assertIn(f"--metrics-listen: cannot listen on 127.0.0.1:{port}", r.stderr)
        self.assertIn("address already in use", r.stderr)

    def test_colon_port_is_all_addresses(self):
        server = self.server()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        p = self.background("--watch", "--metrics-listen", f":{port}", server.target)
        hosts = ["127.0.0.1"] + (["[::1]"] if harness.ipv6_available() else [])

        def scrape(host):
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2) as r:
                    return r.read().decode()
            except OSError:
                return None
        for host in hosts:
            with self.subTest(host=host):
                self.assertTrue(harness.wait_until(lambda: scrape(host) is not None, 10),
                                f"nothing serves /metrics on {host}:{port}")
                self.assertIn("tcpretry_up", scrape(host))


class ValidEdgeCases(harness.TestCase):
    """Inputs next to the errors above that must be accepted (exit is not 2)."""

    def setUp(self):
        self.dns = StubDns()  # NXDOMAIN for every name: a name parses, then fails to resolve
        self.addCleanup(self.dns.close)

    def run_once(self, *args):
        return harness.run("--json", "--resolver", self.dns.address, "--once", "-T", "2s",
                           *args)

    def test_longest_name_and_label_are_accepted(self):
        for name in (NAME_253, NAME_253 + ".", LABEL_63):
            with self.subTest(name=name):
                r = self.run_once(f"{name}:80")
                self.assertExit(r, 1)
                self.assertEqual([f["error"] for f in of_type(r.events(), "failed")],
                                 ["resolve"])

    def test_service_name_port(self):
        # 127.0.0.1:ssh parses as port 22; keep 22 closed if we can so the answer is exact.
        try:
            port = self.closed_port("127.0.0.1", 22)
        except OSError:
            port = None
        r = self.run_once("127.0.0.1:ssh")
        if port is not None:
            self.assertExit(r, 1)
        else:
            self.assertIn(r.returncode, (0, 1), r)
        self.assertEqual(of_type(r.events(), "attempt")[0]["port"], 22)
        r = self.run_once("localhost:https")
        self.assertIn(r.returncode, (0, 1), r)
        self.assertEqual(of_type(r.events(), "attempt")[0]["port"], 443)

    def test_duration_forms_and_counts(self):
        server = self.server()
        r = harness.run("--json", "-t", "1h", "-T", "1.5", "--initial-delay", "250ms",
                        "--max-delay", "2m", "--multiplier", "1", "--jitter", "0",
                        "--seed", "0", "-n", "0", server.target)
        self.assertExit(r, 0)

    def test_compound_durations_and_timeout_zero(self):
        server = self.server()
        r = harness.run("--json", "-t", "1m30s", "-T", "1m00s", "--initial-delay", "0m01s",
                        "--max-delay", "1h2m", server.target)
        self.assertExit(r, 0)
        # -t 0: no deadline (wait-for-it's convention), not a usage error.
        for zero in ("0", "0s"):
            with self.subTest(timeout=zero):
                r = harness.run("--json", "-t", zero, server.target)
                self.assertExit(r, 0)

    def test_timeout_zero_is_no_deadline(self):
        # With -t 0 a closed port is retried until --attempts gives up: exit 1 (not 2, not 124).
        closed = self.closed_port()
        r = harness.run("--json", "-t", "0", "-n", "3", "--initial-delay", "10ms", closed.target)
        self.assertExit(r, 1)

    def test_tcp_url_targets(self):
        server = self.server()
        for text in (f"tcp://{server.target}", f"tcp://{server.target}/",
                     f"TCP://localhost:{server.port}"):
            with self.subTest(target=text):
                r = harness.run("--json", text)
                self.assertExit(r, 0)
                self.assertEqual(of_type(r.events(), "connected")[0]["target"], text)

    def test_tcp_url_with_ipv6(self):
        self.require_ipv6()
        server = self.server("::1")
        r = harness.run("--json", f"tcp://[::1]:{server.port}")
        self.assertExit(r, 0)

    def test_json_quiet_is_json(self):
        # JSON lines are the output: -q changes nothing, -v neither.
        server = self.server()
        plain = [e["event"] for e in harness.run("--json", server.target).events()]
        for flag in ("-q", "-v"):
            with self.subTest(flag=flag):
                r = harness.run("--json", flag, server.target)
                self.assertExit(r, 0)
                self.assertEqual([e["event"] for e in r.events()], plain, r)
                self.assertEqual(r.stderr, "")

    def test_duplicate_targets_are_probed_each_with_one_warning(self):
        server = self.server()
        other = self.server()
        r = harness.run("--json", server.target, other.target, server.target, server.target)
        self.assertExit(r, 0)
        events = r.events()
        warnings = [e["message"] for e in of_type(events, "warning")]
        self.assertEqual(warnings,
                         [f"target {server.target} is given 3 times; each copy is probed"], r)
        self.assertEqual(len(of_type(events, "connected")), 4, r)

    def test_jitter_bounds_inclusive(self):
        server = self.server()
        for j in ("0", "1", "0.25"):
            with self.subTest(jitter=j):
                self.assertExit(harness.run("--jitter", j, server.target), 0)

    def test_ipv6_with_zone(self):
        self.require_ipv6()
        server = self.server("::1")
        r = harness.run("--json", f"[::1%lo]:{server.port}")
        self.assertExit(r, 0)
        self.assertEqual(of_type(r.events(), "connected")[0]["address"][:3], "::1")

    def test_help_and_version(self):
        r = harness.run("--help")
        self.assertExit(r, 0)
        for word in ("Retry", "Network", "Output", "--timeout", "--attempts",
                     "--connect-timeout", "--initial-delay", "--max-delay", "--multiplier",
                     "--jitter", "--resolver", "--json", "3s", "100ms", "500ms"):
            self.assertIn(word, r.stdout)
        r = harness.run("--version")
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"^tcpretry \d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
