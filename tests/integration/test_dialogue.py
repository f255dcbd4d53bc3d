"""Multi-step dialogues: --send and --expect given several times run in command-line order,
each --expect matched against what arrived after the previous match, each step within
--expect-timeout; a failure names its step. An SMTP-like Python server and a real
redis-server with requirepass."""

import socket
import threading
import unittest

import harness
from harness import of_type, summary
from real_servers import RedisServer


class SmtpLike:
    """220 greeting; EHLO -> 250 lines; anything else -> 500. Records what it read."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        with conn:
            conn.settimeout(30)
            conn.sendall(b"220 mail.test ESMTP\r\n")
            data = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                    while b"\r\n" in data:
                        line, data = data.split(b"\r\n", 1)
                        self.lines.append(line)
                        if line.startswith(b"EHLO "):
                            conn.sendall(b"250-mail.test\r\n250 SIZE 1000\r\n")
                        else:
                            conn.sendall(b"500 unknown\r\n")
            except OSError:
                return

    def close(self):
        self.sock.close()


class Dialogue(harness.TestCase):
    def run_json(self, *args):
        r = harness.run("--json", "--once", *args)
        events = r.events()
        for e in events:
            self.assertEqual(harness.schema_problems(e), [], f"in {e}\n{r}")
        self.assertEqual(summary(events)["exit_code"], r.returncode, r)
        return r, events

    def smtp(self):
        s = SmtpLike()
        self.addCleanup(s.close)
        return s

    def test_smtp_dialogue_banner_first(self):
        s = self.smtp()
        r, _ = self.run_json("--expect", "^220", "--send", "EHLO tcpretry\\r\\n", "--expect",
                             "^250 ", f"127.0.0.1:{s.port}")
        self.assertEqual(r.returncode, harness.EXIT_OK, r)
        self.assertIn(b"EHLO tcpretry", s.lines)

    def test_expect_then_send_keeps_the_order(self):
        # --expect X --send Y: the banner is awaited before anything is sent.
        s = self.smtp()
        r, _ = self.run_json("--expect", "^220", "--send", "EHLO a\\r\\n", f"127.0.0.1:{s.port}")
        self.assertEqual(r.returncode, harness.EXIT_OK, r)

    def test_each_expect_sees_only_what_came_after_the_previous_match(self):
        # ^220 again after the greeting's match: the server never says it twice.
        s = self.smtp()
        r, events = self.run_json("--expect-timeout", "1s", "--expect", "^220", "--send",
                                  "EHLO a\\r\\n", "--expect", "^220", f"127.0.0.1:{s.port}")
        self.assertEqual(r.returncode, harness.EXIT_FAILED, r)
        (f,) = of_type(events, "failed")
        self.assertEqual(f["step"], 3, f)
        self.assertEqual(f["phase"], "check")
        self.assertIn("step 3", f["message"])

    def test_send_expect_send_expect(self):
        s = self.smtp()
        r, _ = self.run_json("--send", "EHLO a\\r\\n", "--expect", "^250 ", "--send",
                             "NOOP\\r\\n", "--expect", "^500", f"127.0.0.1:{s.port}")
        self.assertEqual(r.returncode, harness.EXIT_OK, r)
        self.assertEqual(s.lines[:2], [b"EHLO a", b"NOOP"])

    def test_redis_auth_and_ping(self):
        redis = RedisServer(requirepass="s3cret").start_for(self)
        r, _ = self.run_json("--send", "AUTH s3cret\\r\\n", "--expect", "^\\+OK", "--send",
                             "PING\\r\\n", "--expect", "^\\+PONG", redis.target)
        self.assertEqual(r.returncode, harness.EXIT_OK, r)
        r, events = self.run_json("--expect-timeout", "1s", "--send", "AUTH wrong\\r\\n",
                                  "--expect", "^\\+OK", "--send", "PING\\r\\n", "--expect",
                                  "^\\+PONG", redis.target)
        self.assertEqual(r.returncode, harness.EXIT_FAILED, r)
        (f,) = of_type(events, "failed")
        self.assertEqual(f["step"], 2, f)
        self.assertIn("WRONGPASS", f["received"])
        human = harness.run("--once", "--expect-timeout", "1s", "--send", "AUTH wrong\\r\\n",
                            "--expect", "^\\+OK", "--send", "PING\\r\\n", "--expect", "^\\+PONG",
                            redis.target)
        self.assertIn("step 2", human.stdout + human.stderr)


if __name__ == "__main__":
    unittest.main()
