"""--metrics-listen under hostile clients (issue 13): a 200 MiB header, 1,000 idle connections
beside a real scrape, a slowloris client, garbage, a 1 MiB request line, pipelining, and the
routes (/metrics, /-/healthy, /, 405, 404, HEAD). The limits are app/http_server.hpp's: 8 KiB
of request head, no body, 10 s for a request to arrive, at most 64 connections.
"""

import resource
import signal
import socket
import threading
import time
import unittest
import urllib.error

import harness
from servers_fleet import free_port, scrape

REQUEST_TIMEOUT = 10.0  # app/http_server.hpp: k_http_request_timeout
MAX_CONNECTIONS = 64


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def exchange(port, data, timeout=10.0):
    """Sends data, then reads until the server closes (or timeout); returns the bytes read."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_until_closed(s, timeout)


def read_until_closed(s, timeout):
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got


def responses(data, heads=()):
    """The (status, headers, body) of each response in data, in order (Content-Length framed;
    the answers numbered in heads are to HEAD requests: no body)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"a truncated response: {data[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if len(out) in heads else int(headers.get("content-length", "0"))
        body, data = rest[:length], rest[length:]
        out.append((status, headers, body))
    return out


def get(path, method="GET", close=True):
    extra = "Connection: close\r\n" if close else ""
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


class HostileClients(harness.TestCase):
    def setUp(self):
        server = self.server()
        for _ in range(5):
            self.port = free_port()
            self.proc = self.background("--metrics-listen", f"127.0.0.1:{self.port}",
                                        "--count", "0", "--interval", "1s", server.target)
            self.url = f"http://127.0.0.1:{self.port}"

            def answering():
                try:
                    return scrape(self.url + "/metrics", timeout=1)[0] == 200
                except (urllib.error.URLError, OSError):
                    return self.proc.proc.poll() is not None
            harness.wait_until(answering, timeout=10)
            if self.proc.proc.poll() is None:
                return
            r = self.proc.wait()
            if "listen" not in r.stderr:  # not a lost race for the port
                self.fail(f"tcpretry with --metrics-listen ended early\n{r}")
        self.fail("could not find a free port for --metrics-listen")

    def tearDown(self):
        # Still alive and well after whatever the test did to it.
        self.assertIsNone(self.proc.proc.poll(), "tcpretry ended under the test")
        self.assertEqual(scrape(self.url + "/-/healthy")[0], 200)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait()

    def test_routes(self):
        status, ctype, body = scrape(self.url + "/-/healthy")
        self.assertEqual((status, body), (200, "OK\n"))
        status, ctype, body = scrape(self.url + "/")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/html"), ctype)
        self.assertIn('href="/metrics"', body)
        self.assertNotIn("<script", body.lower())
        self.assertEqual(scrape(self.url + "/metrics?x=1")[0], 200)
        for path in ("/metric", "/metrics/", "/foo", "/-/ready"):
            with self.subTest(path=path):
                self.assertEqual(scrape(self.url + path)[0], 404)

    def test_head_has_headers_and_no_body(self):
        (get_status, get_headers, get_body), = responses(exchange(self.port, get("/metrics")))
        (status, headers, body), = responses(exchange(self.port, get("/metrics", "HEAD")),
                                             heads=(0,))
        self.assertEqual((get_status, status), (200, 200))
        self.assertEqual(body, b"")
        self.assertGreater(int(headers["content-length"]), 0)
        self.assertEqual(headers["content-type"], get_headers["content-type"])

    def test_other_methods_are_405_with_allow(self):
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "get"):
            with self.subTest(method=method):
                (status, headers, _), = responses(exchange(self.port, get("/metrics", method)))
                self.assertEqual(status, 405)
                self.assertEqual(headers.get("allow"), "GET, HEAD")
        # A body is never read: the answer says so and the connection closes.
        post = (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                b"GET /metrics HTTP/1.1\r\n\r\n")
        got = responses(exchange(self.port, post))
        self.assertEqual([r[0] for r in got], [405])
        self.assertEqual(got[0][1].get("connection"), "close")

    def test_pipelined_requests_are_answered_in_order(self):
        wire = (get("/-/healthy", close=False) + get("/nope", close=False) +
                get("/metrics", "HEAD", close=False) + get("/", close=False) +
                get("/-/healthy", close=True))
        got = responses(exchange(self.port, wire), heads=(2,))
        self.assertEqual([r[0] for r in got], [200, 404, 200, 200, 200])
        self.assertEqual(got[0][2], b"OK\n")
        self.assertEqual(got[2][2], b"")  # HEAD
        self.assertIn(b"<html", got[3][2])
        # Sent one byte at a time, the same.
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            for b in get("/nope", close=False) + get("/-/healthy"):
                s.sendall(bytes([b]))
            self.assertEqual([r[0] for r in responses(read_until_closed(s, 10))], [404, 200])

    def test_garbage_is_400_or_closed(self):
        for garbage in (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)),
                        b"\x00" * 100, b"hello\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
            with self.subTest(garbage=garbage[:20]):
                got = exchange(self.port, garbage)
                if got:
                    (status, _, _), = responses(got)
                    self.assertIn(status, (400, 505))

    def test_a_1_mib_request_line_is_refused(self):
        line = b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            try:
                s.sendall(line)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed before it was all sent: the answer may be lost to the reset
            got = read_until_closed(s, 10)
        if got:
            self.assertIn(responses(got)[0][0], (414, 431))

    def test_a_200_mib_header_is_cut_off_and_memory_stays_flat(self):
        pid = self.proc.pid
        before = rss_kib(pid)
        peak = [before]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.005)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        chunk = b"a" * (1 << 16)
        sent = 0
        closed = False
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Bomb: ")
            try:
                while sent < 200 << 20:
                    s.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
        done.set()
        watcher.join()
        after = rss_kib(pid)
        print(f"200 MiB header: closed after {sent / 1024:.0f} KiB sent; tcpretry RSS "
              f"{before} KiB before, peak {peak[0]} KiB, {after} KiB after", flush=True)
        self.assertTrue(closed)
        self.assertLess(sent, 200 << 20, "the server read the whole header")
        if harness.SANITIZED:
            print("note: RSS not checked under ASan", flush=True)
        else:
            self.assertLess(peak[0] - before, 2048)

    def test_1000_idle_connections_and_a_real_scrape(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1200
        if soft < want:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
                self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
            except (ValueError, OSError):
                self.skipTest(f"cannot raise RLIMIT_NOFILE to {want} (soft {soft}, hard {hard})")
        fds_before = len(self.proc.open_fds())
        idle = []
        try:
            for _ in range(1000):
                s = socket.socket()
                idle.append(s)
                s.settimeout(10)
                s.connect(("127.0.0.1", self.port))
            started = time.monotonic()
            status, _, body = scrape(self.url + "/metrics", timeout=30)
            took = time.monotonic() - started
            print(f"scrape beside 1,000 idle connections: {took * 1000:.1f} ms", flush=True)
            self.assertEqual(status, 200)
            self.assertIn("tcpretry_up", body)
            held = len(self.proc.open_fds()) - fds_before
            self.assertLessEqual(held, MAX_CONNECTIONS + 2)  # + a probe in flight
        finally:
            for s in idle:
                s.close()

    def test_slowloris_and_a_silent_client_are_closed_by_the_request_timeout(self):
        results = {}

        def slowloris():
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
                s.settimeout(1.0)
                got = b""
                try:
                    while time.monotonic() - start < 3 * REQUEST_TIMEOUT:
                        try:
                            s.sendall(b"X")
                        except (BrokenPipeError, ConnectionResetError):
                            break
                        try:
                            chunk = s.recv(4096)
                            if not chunk:
                                break
                            got += chunk
                        except socket.timeout:
                            pass
                except ConnectionResetError:
                    pass
                results["slowloris"] = (time.monotonic() - start, got)

        def silent():
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                got = read_until_closed(s, 3 * REQUEST_TIMEOUT)
                results["silent"] = (time.monotonic() - start, got)

        threads = [threading.Thread(target=f) for f in (slowloris, silent)]
        for t in threads:
            t.start()
        # Meanwhile the real scrapes go on.
        self.assertEqual(scrape(self.url + "/metrics")[0], 200)
        for t in threads:
            t.join(timeout=4 * REQUEST_TIMEOUT)
        for name in ("slowloris", "silent"):
            took, got = results[name]
            print(f"{name} closed after {took:.1f} s: {got[:40]!r}", flush=True)
            self.assertGreater(took, REQUEST_TIMEOUT - 1)
            self.assertLess(took, REQUEST_TIMEOUT + 4)
        if results["slowloris"][1]:
            self.assertEqual(responses(results["slowloris"][1])[0][0], 408)
        self.assertEqual(results["silent"][1], b"")


if __name__ == "__main__":
    unittest.main()
