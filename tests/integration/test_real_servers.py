"""real_servers.py works: each real server (redis-server, PostgreSQL, nginx) starts on its
loopback port, tcpretry connects to it, a stopped server refuses, a restart on the same port
is reached again, the settings the later tests rely on take effect, and nothing (process,
temp dir) is left behind."""

import http.client
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import harness
from harness import EXIT_FAILED, EXIT_OK, of_type, run
from real_servers import NginxServer, PostgresServer, RedisServer, PG_BIN


def closes_idle_connection_within(port, seconds):
    """Connects, sends nothing and returns how long the server took to close (None if it
    kept the connection for `seconds`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as s:
        start = time.monotonic()
        try:
            while s.recv(4096):
                pass
        except socket.timeout:
            return None
        except ConnectionResetError:
            pass
        return time.monotonic() - start


def alive(pid):
    """True if the process exists and is not a zombie waiting for its parent (pg_ctl's
    postmaster is reaped by init, at init's own pace)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def self_signed_cert(test):
    """A throwaway certificate for 127.0.0.1 (cert and key paths), removed after the test."""
    if shutil.which("openssl") is None:
        print("skipped: openssl is not installed", flush=True)
        test.skipTest("openssl is not installed")
    d = tempfile.mkdtemp(prefix="tcpretry-cert-")
    test.addCleanup(shutil.rmtree, d, True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


class Lifecycle:
    """Mixed into each server's case: make() returns a server not yet started."""

    def assertReached(self, server):
        r = run("--once", "-T", "5s", server.target)
        self.assertExit(r, EXIT_OK)

    def assertRefused(self, server):
        r = run("--json", "--once", "-T", "5s", server.target)
        self.assertExit(r, EXIT_FAILED)
        self.assertEqual([f["error"] for f in of_type(r.events(), "failed")], ["refused"], r)

    def assertGone(self, server, pids):
        self.assertIsNone(server.dir)
        for pid in pids:
            self.assertFalse(alive(pid), f"process {pid} of {server.name} is still alive")

    def test_start_stop_restart_on_the_same_port(self):
        server = self.make()
        with server:
            directory, port = server.dir, server.port
            self.assertTrue(os.path.isdir(directory))
            self.assertReached(server)
            pids = self.pids(server)
            server.stop()
            self.assertRefused(server)
            server.restart()
            self.assertEqual(server.port, port)
            self.assertReached(server)
            pids += self.pids(server)
        self.assertFalse(os.path.exists(directory))
        self.assertGone(server, pids)

    def test_tcpretry_waits_for_the_start(self):
        # The port is known before the server starts: tcpretry can be waiting already.
        server = self.make()
        self.addCleanup(server.close)
        p = self.background("--json", "-t", "60s", "--initial-delay", "50ms",
                            "--max-delay", "200ms", server.target)
        self.assertIsNotNone(p.wait_for_event("failed", error="refused"))
        server.start()
        r = p.wait(timeout=60)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(len(of_type(r.events(), "connected")), 1)

    def test_start_for_cleans_up_after_the_test(self):
        server = self.make()
        inner = harness.TestCase("run")  # a test of its own, whose cleanups we run here
        server.start_for(inner)
        directory, pids = server.dir, self.pids(server)
        self.assertReached(server)
        inner.doCleanups()
        self.assertFalse(os.path.exists(directory))
        self.assertGone(server, pids)
        self.assertRefused(server)


class Redis(Lifecycle, harness.TestCase):
    def make(self, **kw):
        return RedisServer(**kw)

    def pids(self, server):
        return [server.pid]

    def test_timeout_closes_idle_clients(self):
        server = RedisServer(timeout=1).start_for(self)
        took = closes_idle_connection_within(server.port, 10)
        self.assertIsNotNone(took, "redis kept an idle client for 10 s with timeout 1")
        self.assertGreater(took, 0.5)

    def test_requirepass_and_extra(self):
        server = RedisServer(requirepass="sesame", extra=["--maxclients", "7"]).start_for(self)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"PING\r\n")
            self.assertTrue(s.recv(64).startswith(b"-NOAUTH"))
            s.sendall(b"AUTH sesame\r\nCONFIG GET maxclients\r\n")
            reply = b""
            while b"7\r\n" not in reply:
                chunk = s.recv(256)
                self.assertTrue(chunk, reply)
                reply += chunk
            self.assertTrue(reply.startswith(b"+OK\r\n"), reply)


class Postgres(Lifecycle, harness.TestCase):
    def make(self, **kw):
        return PostgresServer(**kw)

    def pids(self, server):
        pid = server._postmaster_pid()
        return [pid] if pid else []

    def psql(self, server, sql):
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-At", "-h", "127.0.0.1",
                            "-p", str(server.port), "-U", "postgres", "-d", "postgres",
                            "-c", sql], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_settings_apply_and_authentication_timeout_closes_silent_clients(self):
        server = PostgresServer(settings={"authentication_timeout": "1s",
                                          "cluster_name": "it's"}).start_for(self)
        self.assertEqual(self.psql(server, "show authentication_timeout"), "1s")
        self.assertEqual(self.psql(server, "show cluster_name"), "it's")
        self.assertEqual(self.psql(server, "show listen_addresses"), "127.0.0.1")
        took = closes_idle_connection_within(server.port, 10)
        self.assertIsNotNone(took, "PostgreSQL kept a silent client for 10 s")
        self.assertGreater(took, 0.5)

    def test_ssl_answers_sslrequest_with_s(self):
        cert, key = self_signed_cert(self)
        server = PostgresServer(ssl_cert=cert, ssl_key=key).start_for(self)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
            self.assertEqual(s.recv(1), b"S")
            ctx = ssl.create_default_context(cafile=cert)
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                self.assertIn(t.version(), ("TLSv1.2", "TLSv1.3"))


class Nginx(Lifecycle, harness.TestCase):
    SNIPPET = "location /down { return 503; }"

    def make(self, **kw):
        return NginxServer(self.SNIPPET, files={"index.html": "hello\n"}, **kw)

    def pids(self, server):
        return [server.pid] + [int(p) for p in os.listdir("/proc") if p.isdigit() and
                               self.parent(p) == server.pid]

    @staticmethod
    def parent(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def get(self, server, path):
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            c.request("GET", path)
            resp = c.getresponse()
            return resp.status, resp.read()
        finally:
            c.close()

    def test_static_file_and_snippet(self):
        server = self.make().start_for(self)
        self.assertEqual(self.get(server, "/"), (200, b"hello\n"))
        self.assertEqual(self.get(server, "/down")[0], 503)
        self.assertEqual(self.get(server, "/missing")[0], 404)

    def test_tls_listener(self):
        cert, key = self_signed_cert(self)
        server = self.make(ssl_cert=cert, ssl_key=key).start_for(self)
        self.assertTrue(server.url.startswith("https://"))
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=5, context=ctx)
        try:
            c.request("GET", "/down")
            self.assertEqual(c.getresponse().status, 503)
        finally:
            c.close()
