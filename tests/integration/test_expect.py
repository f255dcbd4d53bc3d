"""--send/--expect: a connection counts only when the server's reply matches. Banner,
silent, closing and streaming servers, a real redis-server, the bytes --send puts on the
wire, usage errors, and the check in watch mode."""

import shutil
import signal
import socket
import subprocess
import time
import unittest

import harness
import servers_watch as sw
from harness import of_type, summary

SSH_BANNER = b"SSH-2.0-OpenSSH_9.2\r\n"


class ExpectCase(harness.TestCase):
    def behaviour_server(self, handler):
        s = sw.BehaviourServer(handler)
        self.addCleanup(s.close)
        return s

    def events_of(self, r):
        """Wait-mode output: every line JSON, one summary, last; exit_code matches."""
        events = r.events()
        self.assertEqual(events[0]["event"], "start", r)
        self.assertEqual(events[-1]["event"], "summary", r)
        for e in events:
            self.assertRegex(e.get("time", ""), harness.TIME_RE)
            self.assertEqual(sw.watch_problems(e), [], f"in {e}\n{r}")
        self.assertEqual(summary(events)["exit_code"], r.returncode, r)
        return events

    def only_failure(self, r):
        failed = of_type(self.events_of(r), "failed")
        self.assertEqual(len(failed), 1, r)
        return failed[0]


class Banner(ExpectCase):
    def test_matching_banner_succeeds(self):
        server = self.behaviour_server(sw.banner(SSH_BANNER))
        r = harness.run("--json", "--expect", "^SSH-", server.target)
        self.assertExit(r, 0)
        events = self.events_of(r)
        connected = of_type(events, "connected")
        self.assertEqual(len(connected), 1, r)
        self.assertIsInstance(connected[0].get("check_ms"), (int, float), connected[0])
        self.assertEqual(of_type(events, "failed"), [])
        self.assertEqual(summary(events)["result"], "ok")

    def test_anchors_match_at_line_starts(self):
        server = self.behaviour_server(sw.banner(b"220 hello\r\nSSH-2.0-x\r\n"))
        r = harness.run("--json", "--once", "--expect", "^SSH-2", server.target)
        self.assertExit(r, 0)

    def test_mismatch_fails_with_what_was_received(self):
        server = self.behaviour_server(sw.banner(SSH_BANNER))
        r = harness.run("--json", "--expect", "^HTTP", "--once", "--expect-timeout", "500ms",
                        server.target)
        self.assertExit(r, 1)
        f = self.only_failure(r)
        self.assertEqual(f["error"], "expect_mismatch", f)
        self.assertIn("SSH-2.0", f["received"])
        # Escaped: the CR LF arrive as the four characters \r\n.
        self.assertEqual(f["received"], "SSH-2.0-OpenSSH_9.2\\r\\n", f)
        self.assertNotIn("errno", f)
        self.assertTrue(400 <= f["duration_ms"] <= 2000, f)
        events = self.events_of(r)
        self.assertEqual(of_type(events, "connected"), [])
        self.assertEqual(of_type(events, "gave_up")[0]["reason"], "expect_mismatch")
        self.assertEqual(summary(events)["result"], "gave_up")

    def test_mismatch_human_output_shows_the_reply(self):
        server = self.behaviour_server(sw.banner(SSH_BANNER))
        r = harness.run("--expect", "^HTTP", "--once", "--expect-timeout", "300ms",
                        "--color", "never", server.target)
        self.assertExit(r, 1)
        self.assertIn('"SSH-2.0-OpenSSH_9.2\\r\\n"', r.stdout)

    def test_received_is_at_most_200_bytes_escaped(self):
        server = self.behaviour_server(sw.banner(bytes(range(256)), then_close=True))
        r = harness.run("--json", "--expect", "^nope", "--once", server.target)
        self.assertExit(r, 1)
        f = self.only_failure(r)
        expected = "".join({0: "\\0", 9: "\\t", 10: "\\n", 13: "\\r", 92: "\\\\"}.get(
            b, chr(b) if 0x20 <= b < 0x7f else f"\\x{b:02x}") for b in range(200))
        self.assertEqual(f["received"], expected)


class SilentAndClosing(ExpectCase):
    def test_silent_server_is_expect_timeout(self):
        server = self.behaviour_server(sw.silent())
        r = harness.run("--json", "--expect", "x", "--expect-timeout", "300ms", "--once",
                        server.target)
        self.assertExit(r, 1)
        self.assertLess(r.elapsed, 2.0, r)
        f = self.only_failure(r)
        self.assertEqual(f["error"], "expect_timeout", f)
        self.assertTrue(250 <= f["duration_ms"] <= 1000, f)
        self.assertEqual(f.get("received", ""), "")

    def test_expect_timeout_defaults_to_the_connect_timeout(self):
        server = self.behaviour_server(sw.silent())
        r = harness.run("--json", "--expect", "x", "--connect-timeout", "400ms", "--once",
                        server.target)
        self.assertExit(r, 1)
        f = self.only_failure(r)
        self.assertEqual(f["error"], "expect_timeout", f)
        self.assertTrue(350 <= f["duration_ms"] <= 1500, f)

    def test_expect_timeout_is_its_own_deadline(self):
        def late(peer):
            time.sleep(0.8)
            peer.sock.sendall(b"READY\n")
            peer.read_until_eof(10)
        server = self.behaviour_server(late)
        r = harness.run("--json", "--once", "--connect-timeout", "300ms", "--expect-timeout",
                        "3s", "--expect", "^READY", server.target)
        self.assertExit(r, 0)
        connected = of_type(self.events_of(r), "connected")[0]
        self.assertGreater(connected["check_ms"], 600, connected)

    def test_close_without_a_match_is_mismatch_at_once(self):
        server = self.behaviour_server(sw.banner(b"hello\n", then_close=True))
        r = harness.run("--json", "--expect", "x", "--expect-timeout", "5s", "--once",
                        server.target)
        self.assertExit(r, 1)
        self.assertLess(r.elapsed, 2.0, r)
        f = self.only_failure(r)
        self.assertEqual(f["error"], "expect_mismatch", f)
        self.assertEqual(f["received"], "hello\\n")
        self.assertLess(f["duration_ms"], 1000, f)

    def test_close_after_a_match_still_succeeds(self):
        server = self.behaviour_server(sw.banner(b"READY\n", then_close=True))
        r = harness.run("--json", "--expect", "^READY$", "--once", server.target)
        self.assertExit(r, 0)

    def test_failed_check_is_retried(self):
        server = self.behaviour_server(sw.banner(b"nope\n", then_close=True))
        r = harness.run("--json", "--expect", "x", "--attempts", "3", "--initial-delay", "10ms",
                        server.target)
        self.assertExit(r, 1)
        events = self.events_of(r)
        self.assertEqual([f["error"] for f in of_type(events, "failed")],
                         ["expect_mismatch"] * 3)
        self.assertEqual(len(of_type(events, "retry")), 2)
        self.assertEqual(server.accepted, 3)


class Streaming(ExpectCase):
    def test_endless_stream_is_mismatch_at_the_4k_cap(self):
        server = self.behaviour_server(sw.stream())
        r = harness.run("--json", "--expect", "x", "--expect-timeout", "10s", "--once",
                        server.target)
        self.assertExit(r, 1)
        self.assertLess(r.elapsed, 5.0, r)
        f = self.only_failure(r)
        self.assertEqual(f["error"], "expect_mismatch", f)
        self.assertIn("4096", f["message"])
        self.assertEqual(f["received"], "a" * 200)
        self.assertLess(f["duration_ms"], 5000, f)

    def test_match_beyond_the_cap_is_not_seen(self):
        data = b"a" * 4096 + b"MATCH\n"
        server = self.behaviour_server(sw.banner(data))
        r = harness.run("--json", "--expect", "MATCH", "--expect-timeout", "3s", "--once",
                        server.target)
        self.assertExit(r, 1)
        self.assertEqual(self.only_failure(r)["error"], "expect_mismatch")

    def test_match_just_inside_the_cap_is_seen(self):
        data = b"a" * 4091 + b"MATCH" + b"b" * 100
        server = self.behaviour_server(sw.banner(data))
        r = harness.run("--json", "--expect", "MATCH", "--expect-timeout", "3s", "--once",
                        server.target)
        self.assertExit(r, 0)

    def test_backtracking_pattern_over_4k_is_quick(self):
        server = self.behaviour_server(sw.banner(b"a" * 4096))
        start = time.monotonic()
        r = harness.run("--json", "--expect", "(a|b)*c", "--expect-timeout", "10s", "--once",
                        server.target)
        self.assertLess(time.monotonic() - start, 5.0, r)
        self.assertExit(r, 1)  # not a crash (negative) nor a match
        f = self.only_failure(r)
        self.assertEqual(f["error"], "expect_mismatch", f)

    def test_nul_bytes_do_not_cut_the_reply(self):
        server = self.behaviour_server(sw.banner(b"\x00\x00HELLO\n"))
        r = harness.run("--json", "--expect", "HELLO", "--once", "--expect-timeout", "2s",
                        server.target)
        self.assertExit(r, 0)


class Redis(ExpectCase):
    def setUp(self):
        self.redis = shutil.which("redis-server")
        if self.redis is None:
            print("skipped: redis-server is not installed (apt-get install redis-server)",
                  flush=True)
            self.skipTest("redis-server is not installed")

    def start_redis(self):
        # A free loopback port: bind, read it, release (redis binds it a moment later).
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([self.redis, "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)
        return port

    def test_ping_pong(self):
        port = self.start_redis()
        # tcpretry itself waits for redis to come up (refused until it listens).
        r = harness.run("--json", "--timeout", "20s", "--send", "PING\\r\\n", "--expect",
                        "^[+]PONG", f"127.0.0.1:{port}")
        self.assertExit(r, 0)
        events = self.events_of(r)
        self.assertEqual(len(of_type(events, "connected")), 1)
        self.assertTrue(all(f["error"] == "refused" for f in of_type(events, "failed")), r)

    def test_wrong_expectation_shows_the_redis_reply(self):
        port = self.start_redis()
        harness.run("--timeout", "20s", "-q", f"127.0.0.1:{port}")
        r = harness.run("--json", "--once", "--send", "PING\\r\\n", "--expect", "^[+]PANG",
                        "--expect-timeout", "300ms", f"127.0.0.1:{port}")
        self.assertExit(r, 1)
        f = self.only_failure(r)
        self.assertEqual(f["error"], "expect_mismatch", f)
        self.assertEqual(f["received"], "+PONG\\r\\n")

    def test_dollar_matches_before_crlf(self):
        # Redis ends its reply "+PONG\r\n": $ must match before the CR of a CRLF line end.
        port = self.start_redis()
        r = harness.run("--json", "--timeout", "20s", "--send", "PING\\r\\n", "--expect",
                        "^\\+PONG$", f"127.0.0.1:{port}")
        self.assertExit(r, 0)
        self.assertEqual(len(of_type(self.events_of(r), "connected")), 1, r)
        # And a reply that is not exactly PONG on its line still fails.
        r = harness.run("--json", "--once", "--send", "PING\\r\\n", "--expect", "^\\+PON$",
                        "--expect-timeout", "300ms", f"127.0.0.1:{port}")
        self.assertExit(r, 1)
        self.assertEqual(self.only_failure(r)["error"], "expect_mismatch", r)


class Send(ExpectCase):
    def test_send_alone_puts_the_exact_bytes_on_the_wire(self):
        server = self.behaviour_server(sw.silent())
        arg = "a\\r\\n\\t\\0b\\x41\\xff\\x00\\\\z"
        r = harness.run("--json", "--once", "--send", arg, server.target)
        self.assertExit(r, 0)
        self.assertTrue(harness.wait_until(lambda: server.accepted >= 1, 5))
        peer = server.peers[0]
        self.assertTrue(peer.closed.wait(5), "tcpretry did not close the connection")
        self.assertIsNotNone(peer.eof_at, "the connection ended without a clean EOF")
        self.assertEqual(bytes(peer.received), b"a\r\n\t\x00bA\xff\x00\\z")

    def test_every_byte_value_can_be_sent(self):
        server = self.behaviour_server(sw.silent())
        arg = "".join(f"\\x{b:02x}" for b in range(256))
        r = harness.run("--once", "-q", "--send", arg, server.target)
        self.assertExit(r, 0)
        self.assertTrue(harness.wait_until(lambda: server.accepted >= 1, 5))
        self.assertTrue(server.peers[0].closed.wait(5))
        self.assertEqual(bytes(server.peers[0].received), bytes(range(256)))

    def test_send_then_expect_an_echo(self):
        def echo(peer):
            data = peer.sock.recv(100)
            peer.sock.sendall(b"echo:" + data)
            peer.read_until_eof(10)
        server = self.behaviour_server(echo)
        r = harness.run("--json", "--once", "--send", "hi\\n", "--expect", "^echo:hi$",
                        "--expect-timeout", "2s", server.target)
        self.assertExit(r, 0)

    def test_bad_escapes_are_usage_errors(self):
        for bad in ("a\\q", "\\8", "a\\", "\\x", "\\x4", "\\xg0"):
            with self.subTest(send=bad):
                r = harness.run("--send", bad, "127.0.0.1:1")
                self.assertExit(r, 2)
                self.assertEqual(r.stdout, "")
                self.assertEqual(len(r.stderr.splitlines()), 1, r)
                self.assertTrue(r.stderr.startswith("tcpretry: "), r)
                self.assertIn("--send", r.stderr)

    def test_crlf_line_ends_in_a_banner(self):
        # SMTP, FTP, SSH and HTTP end lines with CRLF: ^...$ matches a whole line of them.
        server = self.behaviour_server(sw.banner(b"220-first\r\n220 mail ESMTP ready\r\n"))
        r = harness.run("--json", "--once", "--expect", "^220 .*ready$", server.target)
        self.assertExit(r, 0)
        server = self.behaviour_server(sw.banner(b"HTTP/1.1 200 OK\r\nServer: x\r\n"))
        r = harness.run("--json", "--once", "--expect", "^HTTP/1\\.[01] 200 OK$", server.target)
        self.assertExit(r, 0)

    def test_perl_escapes_are_usage_errors_that_name_the_posix_form(self):
        for bad, advice in (("^\\d+$", "[0-9]"), ("\\w+", "[[:alnum:]_]"),
                            ("a\\sb", "[[:space:]]"), ("\\bok\\b", "\\b"),
                            ("PONG\\r\\n", "$"), ("[\\d.]+", "[:digit:]")):
            with self.subTest(expect=bad):
                r = harness.run("--expect", bad, "127.0.0.1:1")
                self.assertExit(r, 2)
                self.assertEqual(r.stdout, "")
                self.assertEqual(len(r.stderr.splitlines()), 1, r)
                self.assertIn(f"--expect: invalid value '{bad}'", r.stderr)
                self.assertIn(advice, r.stderr)

    def test_escapes_posix_knows_are_fine(self):
        server = self.behaviour_server(sw.banner(b"+OK v1.2 (a) $5 \\ [x]\r\n"))
        r = harness.run("--json", "--once", "--expect",
                        "^\\+OK v1\\.2 \\(a\\) \\$5 \\\\ \\[x\\]$", server.target)
        self.assertExit(r, 0)

    def test_bad_regex_is_a_usage_error(self):
        for bad in ("(", "a{1", "[z-a]"):
            with self.subTest(expect=bad):
                r = harness.run("--json", "--expect", bad, "127.0.0.1:1")
                self.assertExit(r, 2)
                self.assertEqual(r.stdout, "")
                self.assertEqual(len(r.stderr.splitlines()), 1, r)
                self.assertIn("--expect", r.stderr)


class WatchWithExpect(ExpectCase):
    def test_wrong_answer_fails_each_connection_and_never_connects(self):
        server = self.behaviour_server(sw.banner(b"HTTP/1.0 400 Bad\r\n"))
        p = sw.tcpretry("--watch", "--json", "--expect", "^SSH-", "--expect-timeout", "200ms",
                        "--initial-delay", "50ms", "--max-delay", "200ms", server.target)
        self.addCleanup(p.kill)
        for n in range(3):
            f, _ = p.wait_for_event("failed", timeout=10, attempt=n + 1)
            self.assertIsNotNone(f, p.lines())
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.assertExit(r, 1)
        events, per_target, overall = sw.check_watch_output(self, r, [server.target])
        self.assertEqual(of_type(events, "connected"), [], r)
        self.assertEqual(of_type(events, "disconnected"), [], r)
        failed = of_type(events, "failed")
        self.assertGreaterEqual(len(failed), 3)
        for f in failed:
            self.assertEqual(f["error"], "expect_mismatch", f)
            self.assertEqual(f["received"], "HTTP/1.0 400 Bad\\r\\n", f)
        s = per_target[server.target]
        self.assertEqual((s["result"], s["connections"]), ("disconnected", 0), s)
        self.assertEqual(overall["result"], "disconnected")
        # A failed check closes the connection it made.
        self.assertTrue(harness.wait_until(
            lambda: all(peer.closed.is_set() for peer in server.peers), 5))

    def test_send_goes_out_on_every_new_connection(self):
        def read_then_close(peer):
            peer.read_until_eof(0.3)
        server = self.behaviour_server(read_then_close)
        p = sw.tcpretry("--watch", "--json", "--send", "PING\\r\\n", "--initial-delay", "20ms",
                        server.target)
        self.addCleanup(p.kill)
        e, _ = p.wait_for_event("connected", timeout=10, connection=3)
        self.assertIsNotNone(e, p.lines())
        p.send_signal(signal.SIGINT)
        r = p.wait()
        sw.check_watch_output(self, r, [server.target])
        self.assertTrue(harness.wait_until(
            lambda: all(peer.closed.is_set() for peer in server.peers), 5))
        self.assertGreaterEqual(len(server.peers), 3)
        for peer in server.peers:
            self.assertEqual(bytes(peer.received), b"PING\r\n")

    def test_right_answer_holds_the_connection(self):
        server = self.behaviour_server(sw.banner(SSH_BANNER))
        p = sw.tcpretry("--watch", "--json", "--expect", "^SSH-", server.target)
        self.addCleanup(p.kill)
        e, _ = p.wait_for_event("connected", timeout=10)
        self.assertIsNotNone(e, p.lines())
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.assertExit(r, 0)
        events, per_target, _ = sw.check_watch_output(self, r, [server.target])
        self.assertEqual(per_target[server.target]["result"], "connected")
        self.assertEqual(server.accepted, 1)


if __name__ == "__main__":
    unittest.main()
