"""The main scenarios under valgrind (memcheck, full leak check, --track-fds=yes): no memory
error, no definite or indirect leak, and no descriptor open at exit beyond stdin, stdout and
stderr, whether the run ends by itself, by a signal in the middle of a connect, a resolution
or a watched connection, or because the reader closed stdout.

valgrind exits with 99 (--error-exitcode) when it found an error, so the exit status is
tcpretry's own otherwise. Skipped (with the reason printed) when valgrind is not installed
or when the binary is built with AddressSanitizer (the two cannot run together).
"""

import os
import re
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
import servers_watch as sw
import tls_certs
from harness import of_type
from stub_dns import StubDns
from test_tls import Listener, hold, server_context
from test_tls_certs import SServer

VALGRIND_ERROR = 99
# Valgrind makes the binary 20-50 times slower: give runs room.
RUN_TIMEOUT = 90


def _skip_reason():
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian package valgrind)"
    try:
        with open(harness.BINARY, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"cannot read the binary {harness.BINARY}: {e}"
    if b"__asan_init" in data:
        return "the binary is built with AddressSanitizer, which valgrind cannot run"
    return None


def setUpModule():
    reason = _skip_reason()
    if reason:
        print(f"skipped: {reason}", flush=True)
        raise unittest.SkipTest(reason)


class ValgrindCase(harness.TestCase):
    # Leak kinds that are errors; the TLS scenarios make every kind one (see TlsScenarios).
    LEAK_OPTIONS = ["--errors-for-leak-kinds=definite,indirect"]

    def setUp(self):
        self.logs = tempfile.mkdtemp(prefix="tcpretry-valgrind-")
        self.addCleanup(shutil.rmtree, self.logs, True)

    def argv(self, *args):
        return ["valgrind", f"--error-exitcode={VALGRIND_ERROR}", "--leak-check=full",
                *self.LEAK_OPTIONS, "--track-fds=yes", "-q",
                f"--log-file={self.logs}/vg.%p.log", harness.BINARY,
                *[str(a) for a in args]]

    def run_valgrind(self, *args, fd_limit=None):
        def preexec():
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

        start = time.monotonic()
        p = subprocess.run(self.argv(*args), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=RUN_TIMEOUT, preexec_fn=preexec if fd_limit else None)
        r = harness.Result(list(args), p.returncode, p.stdout, p.stderr,
                           time.monotonic() - start)
        self.assertClean(r)
        return r

    def background(self, *args):
        p = sw.LineProcess(self.argv(*args))
        self.addCleanup(p.kill)
        return p

    def report(self):
        text = ""
        for name in sorted(os.listdir(self.logs)):
            with open(os.path.join(self.logs, name), errors="replace") as f:
                text += f.read()
        return text

    def assertClean(self, r):
        """valgrind found no error (its exit code was not ours, its log holds no error) and
        no descriptor beyond the three standard ones was open at exit."""
        log = self.report()
        self.assertNotEqual(r.returncode, VALGRIND_ERROR, f"valgrind found errors:\n{log}\n{r}")
        self.assertIn("FILE DESCRIPTORS:", log, f"no descriptor report from valgrind\n{r}")
        leaked = [block for block in self.open_fd_blocks(log)
                  if "<inherited from parent>" not in block]
        self.assertEqual(leaked, [], f"descriptors left open at exit:\n{log}")
        # Whatever else valgrind wrote (with -q: only errors) is a finding.
        body = re.sub(r"(?m)^==\d+== ?", "", log)
        body = body.split("FILE DESCRIPTORS:")[0]
        self.assertEqual(body.strip(), "", f"valgrind reported:\n{log}")
        for marker in ("Invalid read", "Invalid write", "uninitialised", "definitely lost"):
            self.assertNotIn(marker, log)


    @staticmethod
    def open_fd_blocks(log):
        """The entries of valgrind's "FILE DESCRIPTORS: N open (M std) at exit" report (one
        per non-standard descriptor, with where it was opened), each as one string."""
        blocks = []
        for report in log.split("FILE DESCRIPTORS:")[1:]:
            current = None
            for line in report.splitlines()[1:]:
                text = re.sub(r"^==\d+== ?", "", line)
                if text.startswith("Open "):
                    current = [text]
                    blocks.append(current)
                elif current is not None and text.strip():
                    current.append(text)
                else:
                    current = None
        return ["\n".join(b) for b in blocks]


class Scenarios(ValgrindCase):
    def test_open_port(self):
        server = self.server()
        r = self.run_valgrind("--json", server.target)
        self.assertExit(r, 0)
        self.assertEqual(len(of_type(self.assertValidJsonLines(r), "connected")), 1)

    def test_refused_and_retried(self):
        port = self.closed_port()
        r = self.run_valgrind("-n", "3", "--jitter", "0", port.target)
        self.assertExit(r, 1)
        self.assertIn("gave up after 3 attempts (last error: refused)", r.stdout)

    def test_timeout(self):
        hole = self.blackhole()
        r = self.run_valgrind("--json", "-T", "300ms", "--once", hole.target)
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r)
        self.assertEqual([f["error"] for f in of_type(events, "failed")], ["timeout"])

    def test_watch_with_reconnects(self):
        server = sw.BehaviourServer(sw.close_after(0.2))
        self.addCleanup(server.close)
        r = self.run_valgrind("--json", "--watch", "--initial-delay", "50ms", "--timeout", "2s",
                              server.target)
        self.assertIn(r.returncode, (0, 1), r)
        events = r.events()
        self.assertGreaterEqual(len(of_type(events, "connected")), 2, r)
        self.assertGreaterEqual(len(of_type(events, "disconnected")), 1, r)

    def test_ping(self):
        server = self.server()
        r = self.run_valgrind("--json", "--count", "3", "--interval", "50ms", server.target)
        self.assertExit(r, 0)
        self.assertEqual([p["ok"] for p in of_type(r.events(), "probe")], [True] * 3)

    def test_names_through_the_resolver(self):
        # evdns set up, answered, failed (NXDOMAIN) and cancelled (no answer) rounds.
        dns = StubDns()
        self.addCleanup(dns.close)
        server = self.server()
        dns.answer("up.test", a=["127.0.0.1"])
        dns.nxdomain("missing.test")
        dns.drop("silent.test")
        r = self.run_valgrind("--json", "--resolver", dns.address, "-T", "500ms", "-n", "2",
                              "--jitter", "0", "--initial-delay", "20ms", "--any",
                              f"up.test:{server.port}", "missing.test:80", "silent.test:80")
        self.assertExit(r, 0)
        r = self.run_valgrind("--json", "--resolver", dns.address, "-T", "500ms", "-n", "2",
                              "--jitter", "0", "--initial-delay", "20ms", "--any",
                              "missing.test:80", "silent.test:80")
        self.assertExit(r, 1)
        self.assertEqual({f["errno"] for f in of_type(r.events(), "failed")},
                         {"EAI_NONAME", "EAI_AGAIN"})

    def test_send_and_expect(self):
        server = sw.BehaviourServer(sw.banner(b"+PONG\r\n"))
        self.addCleanup(server.close)
        r = self.run_valgrind("--send", r"PING\r\n", "--expect", "^\\+PONG", server.target)
        self.assertExit(r, 0)

    def test_many_targets_with_a_low_descriptor_limit(self):
        # The EMFILE back-pressure path: 40 targets, a limit of 24 descriptors (valgrind
        # takes some of them for itself, so not the 16 of test_process_faults).
        ports = [self.closed_port() for _ in range(40)]
        r = self.run_valgrind("--json", "--any", "--once", *[p.target for p in ports],
                              fd_limit=24)
        self.assertExit(r, 1)
        events = r.events()
        self.assertEqual(len(of_type(events, "gave_up")), 40)
        self.assertEqual([w.get("errno") for w in of_type(events, "warning")], ["EMFILE"])


SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "valgrind",
                            "openssl.supp")


class TlsScenarios(ValgrindCase):
    """--tls under valgrind, stricter than the scenarios above: every leak kind is an error,
    still reachable included, except the few blocks tests/valgrind/openssl.supp names (each
    one allocation site, reachable only). Against `openssl s_server` and Python ssl servers
    with the certificates of tls_certs.py."""

    LEAK_OPTIONS = ["--show-leak-kinds=all", "--errors-for-leak-kinds=all", "--num-callers=40",
                    f"--suppressions={os.path.normpath(SUPPRESSIONS)}"]
    # The handshake is slow under valgrind: room for it in every run.
    SLOW = ("-T", "60s", "--expect-timeout", "60s")

    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            print("skipped: openssl is not installed", flush=True)
            raise unittest.SkipTest("openssl is not installed")
        cls.tmp = tempfile.TemporaryDirectory(prefix="tcpretry-valgrind-tls-")
        cls.certs = tls_certs.make_certs(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def s_server(self, pair):
        s = SServer(pair.cert, pair.key)
        self.addCleanup(s.close)
        return s

    def tls_server(self, after=None):
        ctx = server_context(self.certs.leaf)

        def serve(conn, index):
            with ctx.wrap_socket(conn, server_side=True) as tls:
                if after:
                    after(tls)
                else:
                    hold(tls)

        l = Listener(serve)
        self.addCleanup(l.close)
        return l

    def tls_args(self, *args):
        return ("--json", "--tls", "--ca-file", self.certs.ca.cert, *self.SLOW, *args)

    def test_tls_probe_verified(self):
        s = self.s_server(self.certs.leaf)
        r = self.run_valgrind(*self.tls_args("--once", f"localhost:{s.port}"))
        self.assertExit(r, 0)
        c = of_type(r.events(), "connected")
        self.assertEqual(len(c), 1, r)
        self.assertIs(c[0]["tls"]["verified"], True)
        self.assertIn("tls_ms", c[0])

    def test_tls_verify_failure_with_the_certificate(self):
        s = self.s_server(self.certs.other_name)
        r = self.run_valgrind(*self.tls_args("--once", f"localhost:{s.port}"))
        self.assertExit(r, 1)
        f = [e for e in of_type(r.events(), "failed") if e.get("address") == "127.0.0.1"]
        self.assertEqual([e["errno"] for e in f], ["X509_V_ERR_HOSTNAME_MISMATCH"], r)
        self.assertIn("cert", f[0])

    def test_tls_handshake_failure_against_plain_text(self):
        server = sw.BehaviourServer(sw.banner(b"SSH-2.0-OpenSSH_9.2\r\n" * 4))
        self.addCleanup(server.close)
        r = self.run_valgrind(*self.tls_args("--once", server.target))
        self.assertExit(r, 1)
        self.assertEqual([f["error"] for f in of_type(r.events(), "failed")], ["tls_handshake"])

    def test_tls_ping_with_send_and_expect(self):
        def echo(tls):
            tls.sendall(b"+" + tls.recv(100))
            hold(tls)

        l = self.tls_server(echo)
        r = self.run_valgrind(*self.tls_args("-c", "3", "-i", "50ms", "--send", r"PING\r\n",
                                             "--expect", "^\\+PING", f"localhost:{l.port}"))
        self.assertExit(r, 0)
        self.assertEqual([p["ok"] for p in of_type(r.events(), "probe")], [True] * 3, r)

    def test_tls_watch_stopped_by_sigint(self):
        l = self.tls_server()
        p = self.background(*self.tls_args("--watch", f"localhost:{l.port}"))
        self.assertIsNotNone(p.wait_for_event("connected", timeout=60)[0], p.lines("stderr"))
        p.send_signal(signal.SIGINT)  # the held TLS connection closes with close_notify
        r = p.wait(timeout=RUN_TIMEOUT)
        self.assertExit(r, 0)
        self.assertClean(r)


class Interrupted(ValgrindCase):
    """Stopped in the middle of something: whatever was in flight is released."""

    def stop(self, p, sig, code):
        p.send_signal(sig)
        r = p.wait(timeout=RUN_TIMEOUT)
        self.assertExit(r, code)
        self.assertClean(r)
        return r

    def test_sigint_while_connecting(self):
        hole = self.blackhole()
        p = self.background("--json", "-T", "30s", hole.target)
        self.assertIsNotNone(p.wait_for_event("attempt", timeout=30)[0], p.lines("stderr"))
        time.sleep(0.3)
        r = self.stop(p, signal.SIGINT, harness.EXIT_SIGINT)
        self.assertEqual(r.events()[-1]["result"], "interrupted")

    def test_sigterm_while_resolving(self):
        dns = StubDns()
        self.addCleanup(dns.close)
        dns.drop("silent.test")
        p = self.background("--json", "--resolver", dns.address, "-T", "30s", "silent.test:80")
        self.assertTrue(harness.wait_until(lambda: dns.queries("silent.test"), 30))
        r = self.stop(p, signal.SIGTERM, harness.EXIT_SIGTERM)
        self.assertEqual(r.events()[-1]["result"], "interrupted")

    def test_sigint_while_waiting_to_retry(self):
        port = self.closed_port()
        p = self.background("--json", "--initial-delay", "30s", port.target)
        self.assertIsNotNone(p.wait_for_event("retry", timeout=30)[0], p.lines("stderr"))
        self.stop(p, signal.SIGINT, harness.EXIT_SIGINT)

    def test_sigterm_while_watching(self):
        server = sw.BehaviourServer(sw.hold(close_on_eof=True))
        self.addCleanup(server.close)
        p = self.background("--json", "--watch", server.target)
        self.assertIsNotNone(p.wait_for_event("connected", timeout=30)[0], p.lines("stderr"))
        self.stop(p, signal.SIGTERM, 0)
        self.assertTrue(harness.wait_until(lambda: server.peers[0].eof_at is not None, 5))

    def test_reader_leaves(self):
        port = self.closed_port()
        proc = subprocess.Popen(self.argv("--json", port.target), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 30
        seen = b""
        while b'"event":"failed"' not in seen:
            self.assertLess(time.monotonic(), deadline, seen)
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                self.assertTrue(chunk, seen)
                seen += chunk
        proc.stdout.close()
        proc.wait(timeout=RUN_TIMEOUT)
        err = proc.stderr.read()
        proc.stderr.close()
        r = harness.Result(["--json", port.target], proc.returncode, seen, err, 0)
        self.assertExit(r, 141)
        self.assertClean(r)


if __name__ == "__main__":
    unittest.main()
