"""--tls and --starttls against loopback servers: `openssl s_server`, and Python `ssl` servers
in this file for the precise cases (certificates from tls_certs.py). Valid and invalid
certificates (each verify failure by its errno name), --insecure, --cert-min-days,
--tls-min-version, a plain-text server and a silent one, mutual TLS, ALPN, STARTTLS smtp,
ping mode and watch mode over TLS, exit statuses and the human lines."""

import shutil
import signal
import socket
import ssl
import struct
import tempfile
import threading
import time
import unittest

import harness
import tls_certs
from harness import of_type, summary
from servers_fleet import parse_exposition, promtool_check
from test_tls_certs import SServer

CERTS = None
_TMP = None


def setUpModule():
    global CERTS, _TMP
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("openssl is not installed")
    _TMP = tempfile.TemporaryDirectory(prefix="tcpretry-tls-")
    CERTS = tls_certs.make_certs(_TMP.name)


def tearDownModule():
    if _TMP:
        _TMP.cleanup()


def _drain(conn):
    """Reads until the peer closes (or the connection breaks)."""
    try:
        while conn.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        pass


def hold(tls):
    _drain(tls)


class Listener:
    """A listening socket on 127.0.0.1 with a thread that accepts and hands each connection to
    `serve(conn, index)` in a thread of its own. The socket listens before the constructor
    returns, so a client may connect at once."""

    def __init__(self, serve, accept=True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.serve = serve
        self.conns = []
        self.stopped = False
        self.count = 0
        self.lock = threading.Lock()
        if accept:
            self.thread = threading.Thread(target=self._accept, daemon=True)
            self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
                index = self.count
                self.count += 1
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn, index):
        try:
            self.serve(conn, index)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def server_context(pair, min_version=None, max_version=None, alpn=None, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair.cert, pair.key)
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    return ctx


class TlsCase(harness.TestCase):
    def tls_server(self, pair=None, after=hold, **context):
        """A Python TLS server: the handshake, then after(tls_socket, index)."""
        ctx = server_context(pair or CERTS.leaf, **context)

        def serve(conn, index):
            with ctx.wrap_socket(conn, server_side=True) as tls:
                if after is hold:
                    hold(tls)
                else:
                    after(tls, index)

        return self.listener(serve)

    def listener(self, serve, accept=True):
        l = Listener(serve, accept)
        self.addCleanup(l.close)
        return l

    def tls_run(self, port, *args, host="localhost", ca=True, timeout=harness.RUN_TIMEOUT):
        extra = ["--ca-file", CERTS.ca.cert] if ca else []
        return harness.run("--json", "--tls", *extra, *args, f"{host}:{port}", timeout=timeout)

    def clean(self, r):
        """No sanitizer report (the ASan build exits 1 on one, like a failed run)."""
        for word in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(word, r.stderr, r)

    def connected(self, r):
        self.clean(r)
        self.assertExit(r, harness.EXIT_OK)
        self.assertValidJsonLines(r)
        c = of_type(r.events(), "connected")
        self.assertEqual(len(c), 1, r)
        return c[0]

    def failure(self, r, error, errno=None):
        """One round (--once) that failed with `error`: exit 1; returns the failed event."""
        self.clean(r)
        self.assertExit(r, harness.EXIT_FAILED)
        self.assertValidJsonLines(r)
        failed = [e for e in of_type(r.events(), "failed") if e.get("address") == "127.0.0.1"]
        self.assertEqual(len(failed), 1, r)
        f = failed[0]
        self.assertEqual(f["error"], error, r)
        if errno is not None:
            self.assertEqual(f.get("errno"), errno, r)
        self.assertEqual(summary(r.events())["exit_code"], 1)
        return f


class Verification(TlsCase):
    def test_valid_certificate_connects_with_the_tls_facts(self):
        s = SServer(CERTS.leaf.cert, CERTS.leaf.key)
        self.addCleanup(s.close)
        r = self.tls_run(s.port, "--once")
        c = self.connected(r)
        tls = c["tls"]
        self.assertIn(tls["version"], ("TLSv1.2", "TLSv1.3"))
        self.assertTrue(tls["cipher"])
        self.assertIsNone(tls["alpn"])
        self.assertEqual(tls["sni"], "localhost")
        self.assertIs(tls["verified"], True)
        cert = tls["cert"]
        self.assertIn("CN=localhost", cert["subject"])
        self.assertIn("CN=tcpretry test CA", cert["issuer"])
        self.assertEqual(cert["dns_names"], ["localhost"])
        self.assertIn("127.0.0.1", cert["ip_addresses"])
        self.assertIn(cert["days_left"], (363, 364, 365))
        self.assertRegex(cert["sha256"], r"^[0-9a-f]{64}$")
        self.assertRegex(cert["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # Phase times: localhost was looked up (/etc/hosts); the handshake is part of the check.
        self.assertGreaterEqual(c["resolve_ms"], 0)
        self.assertGreater(c["tls_ms"], 0)
        self.assertLessEqual(c["tls_ms"], c["check_ms"])
        self.assertNotIn("phase", c)

    def test_ip_literal_is_checked_against_the_ip_addresses_without_sni(self):
        s = self.tls_server()
        c = self.connected(self.tls_run(s.port, "--once", host="127.0.0.1"))
        self.assertIsNone(c["tls"]["sni"])
        self.assertIs(c["tls"]["verified"], True)
        self.assertIn("tls_ms", c)
        self.assertNotIn("resolve_ms", c)  # an IP literal is not looked up

    def test_each_verify_failure_has_its_errno(self):
        cases = [
            (CERTS.expired, "localhost", "X509_V_ERR_CERT_HAS_EXPIRED", "expired 3 days ago"),
            (CERTS.not_yet_valid, "localhost", "X509_V_ERR_CERT_NOT_YET_VALID",
             "not valid before"),
            (CERTS.other_name, "localhost", "X509_V_ERR_HOSTNAME_MISMATCH", "other.example"),
            (CERTS.other_name, "127.0.0.1", "X509_V_ERR_IP_ADDRESS_MISMATCH", "other.example"),
            (CERTS.self_signed, "localhost", "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT",
             "self-signed"),
        ]
        for pair, host, errno, words in cases:
            with self.subTest(errno=errno, host=host):
                s = self.tls_server(pair)
                f = self.failure(self.tls_run(s.port, "--once", host=host), "tls_verify", errno)
                self.assertIn(words, f["message"])
                self.assertEqual(f["phase"], "tls")
                self.assertIn("cert", f)  # the certificate that failed, for the record
                self.assertRegex(f["cert"]["sha256"], r"^[0-9a-f]{64}$")

    def test_unknown_ca_without_ca_file(self):
        s = self.tls_server()
        f = self.failure(self.tls_run(s.port, "--once", ca=False), "tls_verify")
        self.assertIn(f["errno"], ("X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
                                   "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT"))
        self.assertIn("not trusted", f["message"])

    def test_insecure_connects_and_reports_why_it_did_not_verify(self):
        s = self.tls_server(CERTS.expired)
        c = self.connected(self.tls_run(s.port, "--once", "--insecure"))
        self.assertIs(c["tls"]["verified"], False)
        self.assertEqual(c["tls"]["verify_errno"], "X509_V_ERR_CERT_HAS_EXPIRED")
        self.assertIn("expired", c["tls"]["verify_message"])

    def test_verify_failure_is_retried_like_any_failed_round(self):
        s = self.tls_server(CERTS.expired)
        r = self.tls_run(s.port, "--attempts", "2", "--initial-delay", "10ms")
        self.assertExit(r, harness.EXIT_FAILED)
        events = r.events()
        self.assertEqual(len(of_type(events, "retry")), 1, r)
        self.assertEqual(of_type(events, "gave_up")[0]["reason"], "tls_verify")

    def test_cert_min_days(self):
        s = self.tls_server(CERTS.short_lived)  # 10 days left
        c = self.connected(self.tls_run(s.port, "--once", "--cert-min-days", "5"))
        self.assertIn(c["tls"]["cert"]["days_left"], (9, 10))
        f = self.failure(self.tls_run(s.port, "--once", "--cert-min-days", "30"),
                         "cert_expiring")
        self.assertIn(f["cert"]["days_left"], (9, 10))
        # Also with --insecure: the expiry is the point of the flag.
        self.failure(self.tls_run(s.port, "--once", "--insecure", "--cert-min-days", "30"),
                     "cert_expiring")

    def test_sni_replaces_the_host_for_sending_and_checking(self):
        s = self.tls_server(CERTS.other_name)
        c = self.connected(self.tls_run(s.port, "--once", "--sni", "other.example"))
        self.assertEqual(c["tls"]["sni"], "other.example")


class Handshake(TlsCase):
    def test_min_version_1_3_against_a_1_2_server(self):
        s = self.tls_server(max_version=ssl.TLSVersion.TLSv1_2)
        c = self.connected(self.tls_run(s.port, "--once"))
        self.assertEqual(c["tls"]["version"], "TLSv1.2")
        f = self.failure(self.tls_run(s.port, "--once", "--tls-min-version", "1.3"),
                         "tls_handshake")
        self.assertTrue(f["errno"].startswith("SSL_R_"), f)

    def test_openssl_s_server_tls_1_2_only(self):
        s = SServer(CERTS.leaf.cert, CERTS.leaf.key, extra=("-tls1_2",))
        self.addCleanup(s.close)
        self.failure(self.tls_run(s.port, "--once", "--tls-min-version", "1.3"),
                     "tls_handshake")

    def test_plain_text_server_fails_the_handshake_quickly(self):
        def banner(conn, index):
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" * 4)
            _drain(conn)

        l = self.listener(banner)
        r = self.tls_run(l.port, "--once", "-T", "10s")
        f = self.failure(r, "tls_handshake")
        self.assertTrue(f["errno"].startswith("SSL_R_"), f)
        self.assertEqual(f["phase"], "tls")
        self.assertLess(r.elapsed, 8.0, "a plain-text answer must not wait for the deadline")

    def test_silent_server_times_out_naming_the_handshake(self):
        l = self.listener(None, accept=False)  # the kernel accepts; nobody ever speaks
        r = self.tls_run(l.port, "--once", "-T", "1s")
        f = self.failure(r, "timeout")
        self.assertEqual(f["message"], "TLS handshake timed out after 1 s")
        self.assertEqual(f["phase"], "tls")  # the connect worked; the handshake never did

    def test_mutual_tls(self):
        s = self.tls_server(client_ca=CERTS.client_ca.cert)
        c = self.connected(self.tls_run(s.port, "--once", "--client-cert", CERTS.client.cert,
                                         "--client-key", CERTS.client.key))
        self.assertIs(c["tls"]["verified"], True)
        f = self.failure(self.tls_run(s.port, "--once"), "tls_handshake")
        self.assertTrue(f["errno"].startswith("SSL_R_"), f)

    def test_alpn_agree_and_disagree(self):
        s = self.tls_server(alpn=["h2", "http/1.1"])
        c = self.connected(self.tls_run(s.port, "--once", "--alpn", "h2,http/1.1"))
        self.assertEqual(c["tls"]["alpn"], "h2")
        s2 = self.tls_server(alpn=["h2"])
        self.failure(self.tls_run(s2.port, "--once", "--alpn", "http/1.1"), "tls_alpn")

    def test_send_expect_over_tls(self):
        def echo(tls, index):
            line = tls.recv(100)
            tls.sendall(b"+" + line)
            hold(tls)

        s = self.tls_server(after=echo)
        c = self.connected(self.tls_run(s.port, "--once", "--send", "PING\\r\\n",
                                        "--expect", "^\\+PING"))
        self.assertIn("tls", c)
        self.assertLessEqual(c["tls_ms"], c["check_ms"])  # the exchange comes after it


class StartTls(TlsCase):
    def smtp(self, offer):
        ctx = server_context(CERTS.leaf)

        def serve(conn, index):
            f = conn.makefile("rb")
            conn.sendall(b"220 mail.test ESMTP\r\n")
            f.readline()  # EHLO
            if not offer:
                conn.sendall(b"250-mail.test\r\n250 SIZE 1000\r\n")
                _drain(conn)
                return
            conn.sendall(b"250-mail.test\r\n250 STARTTLS\r\n")
            if f.readline().strip().upper() != b"STARTTLS":
                return
            conn.sendall(b"220 go ahead\r\n")
            with ctx.wrap_socket(conn, server_side=True) as tls:
                hold(tls)

        return self.listener(serve)

    def test_smtp(self):
        l = self.smtp(offer=True)
        r = harness.run("--json", "--starttls", "smtp", "--ca-file", CERTS.ca.cert, "--once",
                        f"localhost:{l.port}")
        c = self.connected(r)
        self.assertIs(c["tls"]["verified"], True)

    def test_a_silent_opening_times_out_naming_starttls(self):
        def greet_only(conn, index):
            conn.sendall(b"220 mail.test ESMTP\r\n")
            _drain(conn)

        l = self.listener(greet_only)
        r = harness.run("--json", "--starttls", "smtp", "--once", "-T", "1s",
                        f"localhost:{l.port}")
        f = self.failure(r, "timeout", "ETIMEDOUT")
        self.assertEqual(f["message"], "STARTTLS (smtp) timed out after 1 s")
        self.assertEqual(f["phase"], "starttls")

    def test_smtp_without_starttls_fails_with_what_it_received(self):
        l = self.smtp(offer=False)
        r = harness.run("--json", "--starttls", "smtp", "--ca-file", CERTS.ca.cert, "--once",
                        f"localhost:{l.port}")
        f = self.failure(r, "starttls")
        self.assertIn("250 SIZE 1000", f["received"])
        self.assertEqual(f["phase"], "starttls")


class OtherOpenings(TlsCase):
    """imap, pop3, ftp and postgres: a scripted plain-text opening, then TLS."""

    # (greeting, [(command the client sends, reply)]) per protocol
    SCRIPTS = {
        "imap": (b"* OK IMAP ready\r\n",
                 [(b"A1 CAPABILITY", b"* CAPABILITY IMAP4rev1 STARTTLS\r\nA1 OK done\r\n"),
                  (b"A2 STARTTLS", b"A2 OK begin TLS\r\n")]),
        "pop3": (b"+OK POP3 ready\r\n",
                 [(b"CAPA", b"+OK\r\nUSER\r\nSTLS\r\n.\r\n"), (b"STLS", b"+OK begin TLS\r\n")]),
        "ftp": (b"220 FTP ready\r\n", [(b"AUTH TLS", b"234 go ahead\r\n")]),
    }

    def opening_server(self, greeting, steps):
        ctx = server_context(CERTS.leaf)

        def serve(conn, index):
            f = conn.makefile("rb")
            conn.sendall(greeting)
            for command, reply in steps:
                line = f.readline().rstrip(b"\r\n")
                if line != command:
                    return
                conn.sendall(reply)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                hold(tls)

        return self.listener(serve)

    def run_opening(self, proto, port):
        return harness.run("--json", "--starttls", proto, "--ca-file", CERTS.ca.cert, "--once",
                           f"localhost:{port}")

    def test_imap_pop3_ftp(self):
        for proto, (greeting, steps) in self.SCRIPTS.items():
            with self.subTest(proto=proto):
                l = self.opening_server(greeting, steps)
                c = self.connected(self.run_opening(proto, l.port))
                self.assertIs(c["tls"]["verified"], True)

    def postgres_server(self, answer):
        ctx = server_context(CERTS.leaf)

        def serve(conn, index):
            request = b""
            while len(request) < 8:
                chunk = conn.recv(8 - len(request))
                if not chunk:
                    return
                request += chunk
            if request != bytes.fromhex("0000000804d2162f"):  # SSLRequest
                return
            conn.sendall(answer)
            if answer != b"S":
                _drain(conn)
                return
            with ctx.wrap_socket(conn, server_side=True) as tls:
                hold(tls)

        return self.listener(serve)

    def test_postgres_ssl_request(self):
        c = self.connected(self.run_opening("postgres", self.postgres_server(b"S").port))
        self.assertIs(c["tls"]["verified"], True)
        f = self.failure(self.run_opening("postgres", self.postgres_server(b"N").port),
                         "starttls")
        self.assertEqual(f["received"], "N")


class Modes(TlsCase):
    def test_ping_mode_each_probe_a_full_handshake(self):
        s = self.tls_server()
        r = self.tls_run(s.port, "-c", "3", "-i", "50ms")
        self.assertExit(r, harness.EXIT_OK)
        probes = of_type(r.events(), "probe")
        self.assertEqual(len(probes), 3, r)
        for p in probes:
            self.assertIs(p["ok"], True)
            self.assertIs(p["tls"]["verified"], True)
            self.assertGreater(p["tls_ms"], 0)  # each probe's own handshake
            self.assertLessEqual(p["tls_ms"], p["check_ms"])
        self.assertGreaterEqual(s.count, 3)
        # The summary: handshake statistics beside the connect ones, over the same probes.
        for sm in of_type(r.events(), "summary"):
            stats = sm["tls_ms"]
            self.assertEqual(set(stats), {"min", "avg", "max", "mdev", "p50", "p90", "p99"})
            self.assertEqual(stats["min"], min(p["tls_ms"] for p in probes))
            self.assertEqual(stats["max"], max(p["tls_ms"] for p in probes))
            self.assertIn("connect_ms", sm)
        human = harness.run("--tls", "--ca-file", CERTS.ca.cert, "-c", "2", "-i", "50ms",
                            f"localhost:{s.port}")
        self.assertExit(human, harness.EXIT_OK)
        self.assertRegex(human.stdout, r"seq=1 connected in .* ms, handshake [0-9.]+ ms, check ")
        self.assertRegex(human.stdout, r"\nhandshake min/avg/max/mdev = [0-9./]+ ms, "
                                       r"p50/p90/p99 = [0-9./]+ ms")

    def test_ping_mode_failures_carry_the_certificate(self):
        s = self.tls_server(CERTS.expired)
        r = self.tls_run(s.port, "-c", "2", "-i", "50ms")
        self.clean(r)
        self.assertExit(r, harness.EXIT_FAILED)
        probes = of_type(r.events(), "probe")
        self.assertEqual(len(probes), 2, r)
        for p in probes:
            self.assertIs(p["ok"], False)
            self.assertEqual(p["error"], "tls_verify")
            self.assertEqual(p["phase"], "tls")
            self.assertEqual(p["errno"], "X509_V_ERR_CERT_HAS_EXPIRED")
            self.assertLess(p["cert"]["days_left"], 0)

    def watch(self, after, reason):
        s = self.tls_server(after=after)
        p = self.background("--json", "--watch", "--tls", "--ca-file", CERTS.ca.cert,
                            f"localhost:{s.port}")
        c = p.wait_for_event("connected")
        self.assertIsNotNone(c, p.lines())
        self.assertIn("tls", c)
        d = p.wait_for_event("disconnected")
        self.assertIsNotNone(d, p.lines())
        self.assertEqual(d["reason"], reason, d)
        # The reconnect holds a TLS connection again: SIGINT closes it (close_notify first).
        self.assertIsNotNone(p.wait_for_event("connected", connection=2), p.lines())
        p.send_signal(signal.SIGINT)
        r = p.wait()
        self.clean(r)
        self.assertExit(r, harness.EXIT_OK)  # watch mode: available at the end
        return d

    def test_watch_close_notify_is_an_orderly_close(self):
        def close_first(tls, index):
            if index == 0:
                tls.unwrap()  # close_notify
            hold(tls)

        self.watch(close_first, "tls_close")

    def test_watch_reset(self):
        def reset_first(tls, index):
            if index == 0:
                tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                tls.close()  # an RST
                return
            hold(tls)

        self.watch(reset_first, "reset")

    def test_watch_truncation_is_a_tls_error(self):
        def truncate_first(tls, index):
            if index == 0:
                tls.close()  # no close_notify
                return
            hold(tls)

        d = self.watch(truncate_first, "tls_error")
        self.assertIn("close_notify", d["message"])


class Prometheus(TlsCase):
    """The TLS metrics of --format prometheus, checked by promtool (Debian package prometheus;
    the test skips with a printed reason without it)."""

    def exposition(self, *args):
        r = harness.run("--format", "prometheus", "--tls", "--ca-file", CERTS.ca.cert, *args)
        self.clean(r)
        checked = promtool_check(r.stdout)
        if checked is None:
            print("skipped: promtool not installed (Debian package prometheus)", flush=True)
            self.skipTest("promtool not installed (Debian package prometheus)")
        ok, output = checked
        self.assertTrue(ok, f"promtool check metrics failed:\n{output}\n{r.stdout}")
        families, samples = parse_exposition(r.stdout)
        return r, families, samples

    def test_handshake_histogram_certificate_expiry_and_version(self):
        s = self.tls_server()
        target = f"localhost:{s.port}"
        r, families, samples = self.exposition("-c", "3", "-i", "50ms", target)
        self.assertExit(r, harness.EXIT_OK)
        self.assertEqual(families["tcpretry_tls_handshake_duration_seconds"]["type"], "histogram")
        self.assertEqual(families["tcpretry_tls_cert_not_after_timestamp_seconds"]["type"],
                         "gauge")
        self.assertEqual(families["tcpretry_tls_version_info"]["type"], "gauge")
        count = [v for n, l, v in samples
                 if n == "tcpretry_tls_handshake_duration_seconds_count" and l["target"] == target]
        self.assertEqual(count, [3.0])
        not_after = [v for n, l, v in samples
                     if n == "tcpretry_tls_cert_not_after_timestamp_seconds"]
        self.assertEqual(len(not_after), 1)
        days = (not_after[0] - time.time()) / 86400
        self.assertTrue(363 <= days <= 366, days)  # the leaf is valid for 365 days
        versions = [l for n, l, v in samples if n == "tcpretry_tls_version_info" and v == 1]
        self.assertEqual(len(versions), 1)
        self.assertIn(versions[0]["version"], ("TLSv1.2", "TLSv1.3"))

    def test_an_expired_certificate_still_reports_its_expiry(self):
        s = self.tls_server(CERTS.expired)
        r, families, samples = self.exposition("-c", "1", f"localhost:{s.port}")
        self.assertExit(r, harness.EXIT_FAILED)
        not_after = [v for n, l, v in samples
                     if n == "tcpretry_tls_cert_not_after_timestamp_seconds"]
        self.assertEqual(len(not_after), 1)
        self.assertLess(not_after[0], time.time())
        self.assertNotIn("tcpretry_tls_handshake_duration_seconds", families)


class Human(TlsCase):
    def test_connected_line_and_failure_words(self):
        s = self.tls_server()
        r = harness.run("--tls", "--ca-file", CERTS.ca.cert, "--once", f"localhost:{s.port}")
        self.assertExit(r, harness.EXIT_OK)
        self.assertRegex(r.stdout, r"connected on attempt 1 .*TLSv1\.[23], certificate 36\d "
                                   r"days left")
        e = self.tls_server(CERTS.expired)
        r = harness.run("--tls", "--ca-file", CERTS.ca.cert, "--once", f"localhost:{e.port}")
        self.assertExit(r, harness.EXIT_FAILED)
        self.assertIn("certificate expired 3 days ago", r.stdout + r.stderr)
        self.assertIn("tls_verify", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
