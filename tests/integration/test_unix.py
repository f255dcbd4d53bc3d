"""Unix domain socket TARGETs (unix:PATH, unix:@NAME) in wait, watch and ping mode, against
Unix sockets the tests make in a temporary directory (or in the abstract namespace): a socket
file that appears later, an abstract socket, a socket file with no listener, permission
denied (as a user other than the socket's owner), --send/--expect over a Unix socket, and a
Unix target beside a TCP one. Events carry the path as the address and no port."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import EXIT_FAILED, EXIT_OK, EXIT_USAGE, of_type


class UnixServer:
    """A listening Unix stream socket; each connection gets `reply` (if any) once it sent
    something, and is held until close() (watch mode sees it stay up) or closed at once."""

    def __init__(self, path, reply=None, hold=False):
        self.path = path
        self.reply = reply
        self.hold = hold
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind("\0" + path[1:] if path.startswith("@") else path)
        self.sock.listen(16)
        self.accepted = 0
        self.conns = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            if self.reply is not None:
                conn.settimeout(5)
                try:
                    if conn.recv(1024):
                        conn.sendall(self.reply)
                except OSError:
                    pass
            if self.hold:
                self.conns.append(conn)
            else:
                conn.close()

    def wait_accepted(self, n, timeout=10.0):
        """The number accepted once it reaches n (or the timeout passes): a connect completes
        when the kernel queues it, before this thread has accepted it."""
        deadline = time.monotonic() + timeout
        while self.accepted < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.accepted

    def drop_connections(self):
        for c in self.conns:
            c.close()
        self.conns = []

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.drop_connections()
        self.sock.close()
        if not self.path.startswith("@") and os.path.exists(self.path):
            os.unlink(self.path)


class UnixCase(harness.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tcpretry-unix-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name="app.sock"):
        return os.path.join(self.dir, name)

    def unix_server(self, path, **kwargs):
        s = UnixServer(path, **kwargs)
        self.addCleanup(s.close)
        return s

    def events(self, r):
        """Ping and watch runs end with per-target summaries: each other event is checked."""
        events = r.events()
        for e in events:
            if e["event"] != "summary":
                self.assertEqual(harness.schema_problems(e), [], f"in {e}")
        return events

    def assertUnixAddress(self, e, path):
        self.assertEqual(e["address"], path, e)
        self.assertNotIn("port", e)
        self.assertNotIn("local_port", e)


class Wait(UnixCase):
    def test_a_socket_that_appears_later_is_waited_for(self):
        path = self.path()
        p = self.background("--json", "--max-delay", "200ms", "unix:" + path)
        failed = p.wait_for_event("failed", error="missing")
        self.assertIsNotNone(failed, p.lines())
        self.assertEqual(failed["errno"], "ENOENT")
        self.assertUnixAddress(failed, path)
        self.unix_server(path)
        r = p.wait()
        self.assertExit(r, EXIT_OK)
        events = self.assertValidJsonLines(r)
        attempt = of_type(events, "attempt")[0]
        self.assertEqual(attempt["family"], "unix")
        self.assertUnixAddress(attempt, path)
        [connected] = of_type(events, "connected")
        self.assertUnixAddress(connected, path)
        self.assertNotIn("local_address", connected)
        self.assertNotIn("resolve_ms", connected)
        self.assertGreaterEqual(connected["attempt"], 2)

    def test_an_abstract_socket(self):
        name = f"@tcpretry-test-{os.getpid()}"
        self.unix_server(name)
        r = harness.run("--json", "--once", "unix:" + name)
        self.assertExit(r, EXIT_OK)
        [connected] = of_type(self.assertValidJsonLines(r), "connected")
        self.assertUnixAddress(connected, name)

    def test_a_socket_file_without_a_listener_is_refused(self):
        path = self.path()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(path)  # the file exists; nobody listens
        r = harness.run("--json", "--attempts", "2", "--initial-delay", "10ms", "unix:" + path)
        self.assertExit(r, EXIT_FAILED)
        events = self.assertValidJsonLines(r)
        self.assertEqual([(f["error"], f["errno"]) for f in of_type(events, "failed")],
                         [("refused", "ECONNREFUSED")] * 2)
        self.assertEqual(of_type(events, "gave_up")[0]["reason"], "refused")

    def test_permission_denied_is_fatal(self):
        # Root ignores file permissions: the run is made as another user when we are root.
        path = self.path()
        self.unix_server(path)
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                print("skipped: setpriv (util-linux) is not installed", flush=True)
                self.skipTest("setpriv is not installed")
            nobody = pwd.getpwnam("nobody")
            os.chmod(path, 0o600)  # root's socket: nobody may not connect
            os.chmod(self.dir, 0o755)
            prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                      "--clear-groups"]
        else:
            os.chmod(path, 0o000)
            prefix = []
        proc = subprocess.run(prefix + [harness.BINARY, "--json", "--timeout", "20s",
                                        "unix:" + path],
                              capture_output=True, timeout=harness.RUN_TIMEOUT)
        r = harness.Result(["unix:" + path], proc.returncode, proc.stdout, proc.stderr, 0)
        self.assertExit(r, EXIT_FAILED)  # at once: retrying cannot fix it
        events = self.assertValidJsonLines(r)
        self.assertEqual([(f["error"], f["errno"]) for f in of_type(events, "failed")],
                         [("denied", "EACCES")])
        self.assertEqual(of_type(events, "gave_up")[0]["reason"], "denied")

    def test_beside_a_tcp_target(self):
        path = self.path()
        self.unix_server(path)
        tcp = self.server()
        r = harness.run("--json", "unix:" + path, tcp.target)
        self.assertExit(r, EXIT_OK)
        connected = of_type(self.assertValidJsonLines(r), "connected")
        self.assertEqual(sorted(c["target"] for c in connected), sorted(["unix:" + path,
                                                                          tcp.target]))
        by_target = {c["target"]: c for c in connected}
        self.assertUnixAddress(by_target["unix:" + path], path)
        self.assertEqual(by_target[tcp.target]["port"], tcp.port)

    def test_human_output_names_the_path_once(self):
        path = self.path()
        self.unix_server(path)
        r = harness.run("unix:" + path)
        self.assertExit(r, EXIT_OK)
        self.assertIn(f"unix:{path} connected on attempt 1", r.stdout)
        self.assertNotIn("[", r.stdout)  # no "[address]": the target says it

    def test_send_and_expect_over_a_unix_socket(self):
        path = self.path()
        self.unix_server(path, reply=b"+PONG\r\n")
        r = harness.run("--json", "--once", "--send", "PING\\r\\n", "--expect", "PONG",
                        "unix:" + path)
        self.assertExit(r, EXIT_OK)
        [connected] = of_type(self.assertValidJsonLines(r), "connected")
        self.assertIn("check_ms", connected)
        r = harness.run("--json", "--once", "--send", "PING\\r\\n", "--expect", "NOPE",
                        "unix:" + path)
        self.assertExit(r, EXIT_FAILED)
        [failed] = of_type(self.assertValidJsonLines(r), "failed")
        self.assertEqual(failed["error"], "expect_mismatch")
        self.assertIn("PONG", failed["received"])
        self.assertUnixAddress(failed, path)


class Modes(UnixCase):
    def test_ping_mode(self):
        path = self.path()
        server = self.unix_server(path)
        r = harness.run("--json", "--count", "3", "--interval", "50ms", "unix:" + path)
        self.assertExit(r, EXIT_OK)
        probes = of_type(self.events(r), "probe")
        self.assertEqual([p["ok"] for p in probes], [True] * 3)
        for p in probes:
            self.assertUnixAddress(p, path)
        self.assertEqual(server.wait_accepted(3), 3)

    def test_ping_mode_missing_socket(self):
        r = harness.run("--json", "--count", "2", "--interval", "50ms",
                        "unix:" + self.path("gone"))
        self.assertExit(r, EXIT_FAILED)
        probes = of_type(self.events(r), "probe")
        self.assertEqual([(p["ok"], p["error"]) for p in probes], [(False, "missing")] * 2)

    def test_watch_mode_drop_and_reconnect(self):
        path = self.path()
        server = self.unix_server(path, hold=True)
        p = self.background("--json", "--watch", "--initial-delay", "50ms", "--max-delay",
                            "200ms", "unix:" + path)
        self.assertIsNotNone(p.wait_for_event("connected", connection=1), p.lines())
        # The server goes away (its socket file too): an outage, retried while missing.
        self.assertTrue(harness.wait_until(lambda: server.conns, 10))
        server.close()
        self.assertIsNotNone(p.wait_for_event("failed", error="missing"), p.lines())
        self.unix_server(path, hold=True)
        self.assertIsNotNone(p.wait_for_event("connected", connection=2), p.lines())
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.assertExit(r, EXIT_OK)
        events = self.events(r)
        [drop] = of_type(events, "disconnected")
        self.assertTrue(drop["outage"], drop)
        self.assertUnixAddress(drop, path)


class Usage(harness.TestCase):
    def test_bad_unix_targets(self):
        for text, words in [("unix:", "the socket path is empty"),
                            ("unix:@", "empty abstract name"),
                            ("unix:/" + "a" * 107, "longer than 107 bytes")]:
            with self.subTest(text=text):
                r = harness.run(text)
                self.assertExit(r, EXIT_USAGE)
                self.assertIn(words, r.stderr)
                self.assertIn(f"invalid target '{text}'", r.stderr)


if __name__ == "__main__":
    unittest.main()
