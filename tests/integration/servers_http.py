"""HTTP servers for the HTTP(S) readiness tests: small threaded servers on a loopback port the
kernel picks (or on a Unix socket), each answering in one way, and real nginx (Debian's
package) with a static file and a `return 503` location.

    server = status_server(503).start_for(self)      # stopped by the test's cleanup
    run("--once", server.url("/health"))
    server.requests[0].headers["host"]               # what tcpretry sent

    with chunked_server([b"hello ", b"world"]) as server: ...

Every server reads the request head (up to the empty line), records it in .requests, answers
with `Connection: close` semantics and closes. Nothing listens beyond 127.0.0.1 / ::1.
Run as a script, `python3 servers_http.py` checks each server once with a raw socket.
"""

import os
import select
import socket
import threading
import time

import real_servers

REQUEST_LIMIT = 65536  # a request head longer than this is answered 431 and closed
READ_TIMEOUT = 30.0    # generous: sanitized builds on 2 shared cores

REASONS = {100: "Continue", 101: "Switching Protocols", 103: "Early Hints", 200: "OK",
           201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found",
           304: "Not Modified", 401: "Unauthorized", 404: "Not Found", 418: "I'm a teapot",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


class Request:
    """One request as the server read it: method, target (path and query), version, headers
    (a dict with lower-case names; the last of a repeated name wins), header_lines (as sent,
    in order), raw (the head's bytes), at (time.monotonic() when it was complete)."""

    def __init__(self, raw):
        self.raw = raw
        self.at = time.monotonic()
        lines = raw.decode("latin-1").split("\r\n")
        self.method, self.target, self.version = (lines[0].split(" ", 2) + ["", ""])[:3]
        self.header_lines = [line for line in lines[1:] if line]
        self.headers = {}
        for line in self.header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()


def response_bytes(code, body=b"", reason=None, headers=(), length=True, version="HTTP/1.1"):
    """The bytes of a response: status line, headers (name, value pairs), Content-Length
    when length is True, the empty line, then body."""
    reason = REASONS.get(code, "Status") if reason is None else reason
    head = f"{version} {code} {reason}\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def _read_head(sock, stop):
    """The request head up to and including the empty line; None if the client went away,
    stop was set, or the head grew past REQUEST_LIMIT (b"" then)."""
    data = b""
    deadline = time.monotonic() + READ_TIMEOUT
    while b"\r\n\r\n" not in data:
        if stop.is_set() or time.monotonic() > deadline:
            return None
        ready, _, _ = select.select([sock], [], [], 0.05)
        if not ready:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > REQUEST_LIMIT:
            return b""
    return data[:data.index(b"\r\n\r\n") + 4]


class HttpServer:
    """Listens on host (port 0: the kernel picks one) or on the Unix socket unix_path, and
    runs respond(server, sock, request) on a thread per connection after reading the
    request head; with read_request=False, respond(server, sock, None) runs at once (a
    banner). The socket is closed when respond returns."""

    def __init__(self, respond, host="127.0.0.1", unix_path=None, read_request=True):
        self.respond = respond
        self.read_request = read_request
        self.unix_path = unix_path
        self.requests = []
        self.connections = 0
        self.stopping = threading.Event()  # respond functions that wait watch it
        self._lock = threading.Lock()
        self._threads = []
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path if not unix_path.startswith("@")
                           else "\0" + unix_path[1:])
            self.host, self.port = None, None
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, 0))
            self.host, self.port = self.sock.getsockname()[:2]
        self.sock.listen(64)
        self._thread = threading.Thread(target=self._serve, name="http-server", daemon=True)
        self._thread.start()

    # -- what tests use --

    def url(self, path="/"):
        """http://127.0.0.1:PORT/path, http://[::1]:PORT/path, or http+unix://%2F...path."""
        if self.unix_path is not None:
            encoded = "".join(c if c.isalnum() or c in "-._~" else f"%{ord(c):02X}"
                              for c in self.unix_path)
            return f"http+unix://{encoded}{path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    @property
    def target(self):
        """HOST:PORT, for a plain TCP check of the same port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def request_count(self):
        with self._lock:
            return len(self.requests)

    def wait_requests(self, n, timeout=READ_TIMEOUT):
        """Waits until n requests were read; returns whether they were."""
        deadline = time.monotonic() + timeout
        while self.request_count() < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def start_for(self, test):
        """Registers close() as a cleanup of test; returns self (the server already runs)."""
        test.addCleanup(self.close)
        return self

    def close(self):
        """Stops accepting, tells waiting respond functions to give up, joins the threads and
        removes the Unix socket file. Safe to call twice."""
        self.stopping.set()
        self._thread.join(timeout=5)
        try:
            self.sock.close()
        except OSError:
            pass
        for t in list(self._threads):
            t.join(timeout=5)
        if self.unix_path is not None and not self.unix_path.startswith("@"):
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the server --

    def _serve(self):
        while not self.stopping.is_set():
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
                if not ready:
                    continue
                conn, _ = self.sock.accept()
            except (OSError, ValueError):
                continue
            with self._lock:
                self.connections += 1
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _handle(self, conn):
        try:
            request = None
            if self.read_request:
                raw = _read_head(conn, self.stopping)
                if raw is None:
                    return
                if raw == b"":
                    conn.sendall(response_bytes(431))
                    return
                request = Request(raw)
                with self._lock:
                    self.requests.append(request)
            self.respond(self, conn, request)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client went away; that is its right
        finally:
            conn.close()


# -- servers that answer one way ------------------------------------------------------------

def status_server(code, body=b"", reason=None, headers=(), head_body=False, **kw):
    """Every request gets code with body (Content-Length). A HEAD gets the headers only,
    unless head_body (a broken server that sends a body anyway)."""
    def respond(server, sock, request):
        data = response_bytes(code, body, reason, headers)
        if request.method == "HEAD" and not head_body:
            data = data[:len(data) - len(body)]
        sock.sendall(data)
    return HttpServer(respond, **kw)


def chunked_server(chunks, code=200, trailers=(), extensions=False, **kw):
    """A chunked body: each of chunks (bytes) one chunk, with a chunk extension on each when
    extensions, then the last chunk and the trailers (name, value pairs)."""
    def respond(server, sock, request):
        out = response_bytes(code, headers=[("Transfer-Encoding", "chunked")], length=False)
        for chunk in chunks:
            ext = b';ext="v"' if extensions else b""
            out += b"%x" % len(chunk) + ext + b"\r\n" + chunk + b"\r\n"
        out += b"0\r\n"
        for name, value in trailers:
            out += f"{name}: {value}\r\n".encode()
        sock.sendall(out + b"\r\n")
    return HttpServer(respond, **kw)


def slow_body_server(body, interval=0.05, code=200, **kw):
    """Sends the head at once, then the body (Content-Length) one byte every interval
    seconds: a slow body for timeouts and ttfb."""
    def respond(server, sock, request):
        sock.sendall(response_bytes(code, body)[:-len(body) or None])
        for i in range(len(body)):
            if server.stopping.wait(interval):
                return
            sock.sendall(body[i:i + 1])
    return HttpServer(respond, **kw)


def huge_headers_server(head_size=16385, code=200, **kw):
    """A response whose head (status line to the empty line, CRLFs included) is exactly
    head_size bytes: 16384 is the most tcpretry reads, 16385 one byte over."""
    def respond(server, sock, request):
        start = f"HTTP/1.1 {code} {REASONS.get(code, 'Status')}\r\nContent-Length: 0\r\n"
        pad = head_size - len(start) - len("X-Pad: \r\n\r\n")
        if pad < 0:
            raise ValueError(f"head_size {head_size} is too small")
        sock.sendall((start + "X-Pad: " + "p" * pad + "\r\n\r\n").encode())
    return HttpServer(respond, **kw)


def banner_server(banner=b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", hold=True, **kw):
    """Not HTTP: sends banner as soon as it accepts (before any request), then holds the
    connection until the client closes (hold) or closes at once."""
    def respond(server, sock, request):
        sock.sendall(banner)
        if hold:
            deadline = time.monotonic() + READ_TIMEOUT
            while not server.stopping.is_set() and time.monotonic() < deadline:
                ready, _, _ = select.select([sock], [], [], 0.05)
                if ready and not sock.recv(65536):
                    return
    return HttpServer(respond, read_request=False, **kw)


def http10_server(body, code=200, **kw):
    """HTTP/1.0 without Content-Length: the body runs until the server closes."""
    def respond(server, sock, request):
        sock.sendall(response_bytes(code, body, headers=[("Server", "old/1.0")], length=False,
                                    version="HTTP/1.0"))
    return HttpServer(respond, **kw)


class Flip:
    """When a flipping server turned: after_requests requests were answered `before`, or
    after_seconds passed since the server started (whichever is given). turned_at is the
    time.monotonic() of the turn (set by the first request answered `after` when counting
    requests, or the moment itself when counting time)."""

    def __init__(self, after_requests=None, after_seconds=None):
        if (after_requests is None) == (after_seconds is None):
            raise ValueError("give after_requests or after_seconds")
        self.after_requests = after_requests
        self.started_at = time.monotonic()
        self.turn_time = None if after_seconds is None else self.started_at + after_seconds
        self.turned_at = self.turn_time
        self.answered = 0
        self._lock = threading.Lock()

    def turned(self):
        """Counts this request; True when it is answered the `after` way."""
        with self._lock:
            self.answered += 1
            if self.turn_time is not None:
                return time.monotonic() >= self.turn_time
            if self.answered > self.after_requests:
                if self.turned_at is None:
                    self.turned_at = time.monotonic()
                return True
            return False


def flipping_server(after_requests=None, after_seconds=None, before=503, after=200,
                    body=b"", **kw):
    """Answers before (default 503) until after_requests requests were answered or
    after_seconds have passed, then after (default 200). server.flip says when it turned."""
    flip = Flip(after_requests, after_seconds)

    def respond(server, sock, request):
        code = after if flip.turned() else before
        sock.sendall(response_bytes(code, body if code == after else b"down\n"))
    server = HttpServer(respond, **kw)
    flip.started_at = time.monotonic()
    if after_seconds is not None:
        flip.turn_time = flip.turned_at = flip.started_at + after_seconds
    server.flip = flip
    return server


# -- real nginx ------------------------------------------------------------------------------

NGINX_INDEX = b"<!doctype html><title>ready</title><p>nginx is ready\n"
NGINX_HEALTH = b"ready\n"


def nginx_http(ssl_cert=None, ssl_key=None):
    """Debian's nginx (real_servers.NginxServer; skips the test when not installed) on a
    loopback port, files in a temp dir of its own:
        /            index.html (NGINX_INDEX)
        /health.txt  NGINX_HEALTH
        /down        `return 503`
        /moved       `return 301 /health.txt`
    HTTPS when ssl_cert and ssl_key (PEM files) are given. Not started: use .start_for(test)
    or `with nginx_http() as nginx:`; nginx.url + "health.txt" is a URL."""
    snippet = ("        location = /down { return 503; }\n"
               "        location = /moved { return 301 /health.txt; }\n")
    return real_servers.NginxServer(conf_snippet=snippet,
                                    files={"index.html": NGINX_INDEX,
                                           "health.txt": NGINX_HEALTH},
                                    ssl_cert=ssl_cert, ssl_key=ssl_key)


# -- a self-check ----------------------------------------------------------------------------

def _fetch(server, path="/", method="GET"):
    """One raw request to server; the whole response (until the server closes)."""
    if server.unix_path is not None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(server.unix_path if not server.unix_path.startswith("@")
                  else "\0" + server.unix_path[1:])
    else:
        s = socket.create_connection((server.host, server.port), timeout=READ_TIMEOUT)
    with s:
        s.settimeout(READ_TIMEOUT)
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def _self_check():
    import tempfile
    checks = [
        (status_server(503, b"busy"), b"HTTP/1.1 503 Service Unavailable\r\n", b"\r\n\r\nbusy"),
        (chunked_server([b"hello", b" world"], trailers=[("T", "1")], extensions=True),
         b"Transfer-Encoding: chunked", b'5;ext="v"\r\nhello\r\n6;ext="v"\r\n world\r\n0\r\nT: 1\r\n\r\n'),
        (slow_body_server(b"abc", interval=0.01), b"Content-Length: 3", b"\r\n\r\nabc"),
        (http10_server(b"to eof"), b"HTTP/1.0 200 OK\r\n", b"\r\n\r\nto eof"),
        (banner_server(hold=False), b"SSH-2.0-", b"\r\n"),
    ]
    for server, start, end in checks:
        with server:
            data = _fetch(server)
            assert start in data and data.endswith(end), data[:200]
    with huge_headers_server(16385) as server:
        data = _fetch(server)
        assert len(data) == 16385 and data.endswith(b"\r\n\r\n"), len(data)
    with status_server(200, b"body") as server:
        assert _fetch(server, method="HEAD").endswith(b"Content-Length: 4\r\n\r\n")
        assert server.requests[0].method == "HEAD" and server.requests[0].headers["host"] == "x"
    with flipping_server(after_requests=2) as server:
        codes = [_fetch(server)[9:12] for _ in range(4)]
        assert codes == [b"503", b"503", b"200", b"200"], codes
        assert server.flip.turned_at is not None
    with flipping_server(after_seconds=0.2) as server:
        assert _fetch(server)[9:12] == b"503"
        time.sleep(0.3)  # the server's own clock decides; this only waits past its moment
        assert _fetch(server)[9:12] == b"200"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "app.sock")
        with status_server(204, unix_path=path) as server:
            assert _fetch(server).startswith(b"HTTP/1.1 204 ")
            assert server.url("/health") == "http+unix://" + path.replace("/", "%2F") + "/health"
    print("servers_http: every server answered as described")


if __name__ == "__main__":
    _self_check()
