"""Real Debian servers (redis-server, PostgreSQL 15, nginx) for the integration tests, each on a
loopback port picked here, with all its files in a temporary directory of its own.

    with RedisServer(timeout=1) as redis:         # started and ready; stopped and removed after
        run("--once", redis.target)
        redis.restart()                          # stop, then start on the same port

or, inside a harness.TestCase: `redis = RedisServer(timeout=1).start_for(self)` (stopped and
removed by the test's cleanup, also when the test fails).

Readiness is checked at the protocol level (redis PING, PostgreSQL's startup packet through
pg_isready, an HTTP request to nginx), never by sleeping. A missing binary skips the calling
test with a printed reason. Nothing listens beyond 127.0.0.1. Servers left running when the
interpreter exits are stopped then, so no process or directory outlives the test run.
"""

import atexit
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

READY_TIMEOUT = 60.0  # generous: 2 shared cores, sanitized builds running beside us
STOP_TIMEOUT = 15.0
PG_BIN = "/usr/lib/postgresql/15/bin"

_running = set()  # servers started and not yet closed, for the atexit sweep


def _skip(reason):
    print(f"skipped: {reason}", flush=True)
    raise unittest.SkipTest(reason)


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host="127.0.0.1"):
    """A TCP port on host that nothing is bound to now. It is picked below the kernel's
    ephemeral range, so no client's connect() (ours or another test's bind(0)) is handed it
    meanwhile: a server can stop and start again on it."""
    low, _ = _ephemeral_range()
    first = 10000 if low > 11000 else 1024
    for _ in range(200 if low > first + 100 else 0):
        port = random.randint(first, low - 1)
        if not _port_is_busy(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # fall back on the kernel
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_is_busy(host, port):
    """True if a server could not listen on the port now. SO_REUSEADDR as the servers use
    it: connections in TIME_WAIT (left when a server closed first) do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return False
        except OSError:
            return True


def _connect(host, port, timeout=2.0):
    return socket.create_connection((host, port), timeout=timeout)


class ServerError(RuntimeError):
    """A server did not start or stop; the message carries the end of its log."""


class _PortTaken(Exception):
    pass


class RealServer:
    """What the three servers share: a temp dir, a port, start/stop/restart, readiness.
    Subclasses provide _prepare() (once per temp dir), _launch(), _ready(), _halt(),
    _kill_hard() and _log_text()."""

    name = "server"
    host = "127.0.0.1"

    def __init__(self):
        self.port = free_port(self.host)
        self.dir = None          # the temp dir (made by start(), removed by close())
        self._prepared = False
        self._ever_started = False
        self.running = False

    # -- what tests use --

    @property
    def target(self):
        return f"{self.host}:{self.port}"

    def start(self):
        """Starts the server and waits until it answers; returns self. The first start picks
        another port if someone took this one meanwhile; a restart keeps the port."""
        if self.running:
            return self
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix=f"tcpretry-{self.name}-")
        _running.add(self)
        try:
            for _ in range(5):
                if not self._prepared:
                    self._prepare()
                    self._prepared = True
                try:
                    self._launch()
                    self.running = True
                    self.wait_ready()
                    break
                except _PortTaken:
                    self._stop_quietly()
                    if self._ever_started:
                        raise ServerError(f"{self.name}: port {self.port} was taken while "
                                          "it was stopped") from None
                    self.port = free_port(self.host)
                    self._port_changed()
            else:
                raise ServerError(f"{self.name}: every port tried was taken")
        except BaseException:
            self.close()
            raise
        self._ever_started = True
        return self

    def stop(self):
        """Stops the server (gracefully, then by force) and waits until the port is free;
        keeps the temp dir so start() can bring it back on the same port."""
        if not self.running:
            return
        try:
            self._halt()
        finally:
            self._kill_hard()
            self.running = False
        deadline = time.monotonic() + STOP_TIMEOUT
        while _port_is_busy(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.02)  # the listener goes with the last process; poll, it is quick

    def restart(self):
        """stop() then start() on the same port."""
        self.stop()
        return self.start()

    def close(self):
        """stop() and remove the temp dir. Safe to call twice."""
        try:
            self._stop_quietly()
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
                self._prepared = False
            _running.discard(self)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Waits until the server answers its protocol on the port; raises ServerError with
        its log if it dies first or does not answer within timeout seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            if self._died():
                log = self._log_text()
                if self._port_in_use_message(log):
                    raise _PortTaken()
                raise ServerError(f"{self.name} exited while starting; its log ends:\n"
                                  f"{log[-3000:]}")
            try:
                if self._ready():
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise ServerError(f"{self.name} on port {self.port} not ready after "
                                  f"{timeout} s; its log ends:\n{self._log_text()[-3000:]}")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def start_for(self, test):
        """Starts the server and registers close() as a cleanup of test; returns self."""
        test.addCleanup(self.close)
        return self.start()

    def log(self):
        """The server's log so far (for failure messages)."""
        return self._log_text()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # -- shared details --

    def _stop_quietly(self):
        if self.running:
            try:
                self.stop()
            except Exception:
                self._kill_hard()
                self.running = False

    @staticmethod
    def _port_in_use_message(log):
        return "already in use" in log.lower()

    def _port_changed(self):
        pass

    def _died(self):
        return False

    def _read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class _ChildServer(RealServer):
    """A server that stays in the foreground as our child, in a process group of its own
    (so a forced stop also takes its workers)."""

    def __init__(self):
        super().__init__()
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def _spawn(self, argv):
        log = open(os.path.join(self.dir, "server.log"), "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)
        finally:
            log.close()

    def _died(self):
        return self.proc is None or self.proc.poll() is not None

    def _halt(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass

    def _kill_hard(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group: workers too
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.proc = None

    def _log_text(self):
        if self.dir is None:
            return ""
        return self._read(os.path.join(self.dir, "server.log"))


# -- redis ----------------------------------------------------------------------------------

class RedisServer(_ChildServer):
    """redis-server on 127.0.0.1:port, nothing saved to disk. timeout: seconds after which
    redis closes an idle client (redis's `timeout`; None leaves redis's default, 0 = never).
    requirepass: a password (clients must AUTH). extra: more command-line arguments,
    e.g. ["--maxclients", "10"]."""

    name = "redis"

    def __init__(self, timeout=None, requirepass=None, extra=()):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            _skip("redis-server is not installed (scripts/deps.sh test)")
        super().__init__()
        self.timeout = timeout
        self.requirepass = requirepass
        self.extra = list(extra)

    def _prepare(self):
        pass

    def _launch(self):
        argv = [self.binary, "--port", str(self.port), "--bind", self.host, "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", self.dir,
                "--logfile", ""]
        if self.timeout is not None:
            argv += ["--timeout", str(self.timeout)]
        if self.requirepass is not None:
            argv += ["--requirepass", self.requirepass]
        self._spawn(argv + self.extra)

    def _ready(self):
        # PING answers +PONG, or -NOAUTH with requirepass: either way redis serves commands
        # (not -LOADING).
        with _connect(self.host, self.port) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
        return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


# -- PostgreSQL -----------------------------------------------------------------------------

def _pg_value(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


class PostgresServer(RealServer):
    """A PostgreSQL 15 cluster made by initdb in a temp dir: listens on 127.0.0.1:port only,
    its Unix socket in the temp dir, local and 127.0.0.1 connections trusted (user
    `postgres`, database `postgres`). Runs as the `postgres` user when we are root.

    settings: postgresql.conf entries (Python values: bool → on/off, numbers as they are,
    strings quoted), e.g. {"authentication_timeout": "1s"}; they override the defaults set
    here for a fast, durable-nothing test cluster. ssl_cert / ssl_key: PEM files; when both
    are given, `ssl = on` with copies of them (the key made private to the server user)."""

    name = "postgres"

    DEFAULTS = {
        "fsync": False,
        "synchronous_commit": False,
        "full_page_writes": False,
        "shared_buffers": "16MB",
        "max_connections": 20,
        "dynamic_shared_memory_type": "mmap",  # no /dev/shm needed (small in containers)
        "logging_collector": False,
    }

    def __init__(self, settings=None, ssl_cert=None, ssl_key=None):
        for tool in ("initdb", "pg_ctl", "pg_isready", "postgres"):
            if not os.access(os.path.join(PG_BIN, tool), os.X_OK):
                _skip(f"PostgreSQL 15 is not installed ({PG_BIN}/{tool} is missing; "
                      "scripts/deps.sh test)")
        if (ssl_cert is None) != (ssl_key is None):
            raise ValueError("ssl_cert and ssl_key go together")
        self._as_user = []
        self._uid = self._gid = None
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                _skip("running as root and there is no `postgres` user to run PostgreSQL as")
            self._uid, self._gid = pw.pw_uid, pw.pw_gid
            if shutil.which("runuser"):
                self._as_user = ["runuser", "-u", "postgres", "--"]
            elif shutil.which("setpriv"):
                self._as_user = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                                 "--init-groups", "--"]
            else:
                _skip("running as root without runuser or setpriv to become `postgres`")
        super().__init__()
        self.settings = dict(settings or {})
        self.ssl_cert = ssl_cert
        self.ssl_key = ssl_key

    @property
    def datadir(self):
        """The cluster's data directory (postgresql.conf, pg_hba.conf live here)."""
        return os.path.join(self.dir, "data") if self.dir else None

    @property
    def socket_dir(self):
        return self.dir

    def _run(self, *argv, timeout=120, as_user=True):
        env = dict(os.environ, LC_ALL="C", LANG="C", PGTZ="UTC")
        env.pop("PGDATA", None)
        p = subprocess.run((self._as_user if as_user else []) + list(argv), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir,
                           env=env, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def _own(self, path, mode):
        os.chmod(path, mode)
        if self._uid is not None:
            os.chown(path, self._uid, self._gid)

    def _prepare(self):
        self._own(self.dir, 0o700)
        code, out = self._run(os.path.join(PG_BIN, "initdb"), "-D", self.datadir,
                              "-U", "postgres", "-A", "trust", "-E", "UTF8",
                              "--locale=C", "--no-sync", "--no-instructions")
        if code != 0:
            raise ServerError(f"initdb failed ({code}):\n{out[-3000:]}")
        conf = dict(self.DEFAULTS)
        if self.ssl_cert is not None:
            for src, name, mode in ((self.ssl_cert, "server.crt", 0o644),
                                    (self.ssl_key, "server.key", 0o600)):
                dst = os.path.join(self.datadir, name)
                shutil.copyfile(src, dst)
                self._own(dst, mode)
            conf.update(ssl=True, ssl_cert_file="server.crt", ssl_key_file="server.key")
        conf.update(self.settings)
        self._write_conf(conf)

    def _write_conf(self, conf):
        # The last entry of a name wins in postgresql.conf, so appending overrides.
        lines = [f"{k} = {_pg_value(v)}" for k, v in conf.items()]
        lines += [f"listen_addresses = '{self.host}'", f"port = {self.port}",
                  f"unix_socket_directories = '{self.dir}'"]
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write("\n# tcpretry tests\n" + "\n".join(lines) + "\n")

    def _port_changed(self):
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write(f"port = {self.port}\n")

    def _log_path(self):
        return os.path.join(self.dir, "server.log")

    def _launch(self):
        log = self._log_path()
        if not os.path.exists(log):
            open(log, "a").close()
            self._own(log, 0o644)
        # -w: pg_ctl returns once the postmaster reports it accepts connections.
        code, out = self._run(os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir, "-l", log,
                              "-w", "-t", str(int(READY_TIMEOUT)), "start")
        if code != 0:
            self.running = True  # a postmaster may be half up: let stop() make sure
            if self._port_in_use_message(self._log_text()):
                raise _PortTaken()
            raise ServerError(f"pg_ctl start failed ({code}): {out.strip()}\nlog:\n"
                              f"{self._log_text()[-3000:]}")

    def _ready(self):
        # pg_isready sends a startup packet over TCP: 0 only when connections are accepted
        # (not while the cluster is starting or shutting down).
        code, _ = self._run(os.path.join(PG_BIN, "pg_isready"), "-q", "-h", self.host,
                            "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                            "-t", "2", timeout=10, as_user=False)
        return code == 0

    def _postmaster_pid(self):
        text = self._read(os.path.join(self.datadir, "postmaster.pid")) if self.dir else ""
        try:
            return int(text.split("\n", 1)[0])
        except ValueError:
            return None

    def _died(self):
        pid = self._postmaster_pid()
        if pid is None:
            return True
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
        except PermissionError:
            return False

    def _halt(self):
        if self._postmaster_pid() is None:
            return
        self._run(os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir, "-m", "fast", "-w",
                  "-t", str(int(STOP_TIMEOUT)), "stop", timeout=STOP_TIMEOUT + 10)

    def _kill_hard(self):
        pid = self._postmaster_pid()
        if pid is None:
            return
        # pg_ctl started the postmaster in a session of its own: its group is the cluster.
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        try:
            os.unlink(os.path.join(self.datadir, "postmaster.pid"))
        except OSError:
            pass

    def _log_text(self):
        return self._read(self._log_path()) if self.dir else ""


# -- nginx ----------------------------------------------------------------------------------

class NginxServer(_ChildServer):
    """nginx (`daemon off`, one worker) on 127.0.0.1:port with a generated config whose files
    (pid, logs, temp paths) are all in the temp dir. conf_snippet: the body of the server
    block, e.g. 'location /down { return 503; }'; without a location, files are served from
    self.root. files: {relative path: str or bytes} written under self.root before the
    start. ssl_cert / ssl_key: PEM files; when both are given the port speaks TLS
    (`listen ... ssl`); http2: also HTTP/2 on it (ALPN offers h2 then http/1.1)."""

    name = "nginx"

    def __init__(self, conf_snippet="", files=None, ssl_cert=None, ssl_key=None, http2=False):
        self.binary = shutil.which("nginx") or ("/usr/sbin/nginx"
                                                if os.access("/usr/sbin/nginx", os.X_OK)
                                                else None)
        if self.binary is None:
            _skip("nginx is not installed (scripts/deps.sh test)")
        if (ssl_cert is None) != (ssl_key is None):
            raise ValueError("ssl_cert and ssl_key go together")
        super().__init__()
        self.conf_snippet = conf_snippet
        self.files = dict(files or {})
        self.ssl_cert = ssl_cert
        self.ssl_key = ssl_key
        self.http2 = http2

    @property
    def root(self):
        """The document root (in the temp dir)."""
        return os.path.join(self.dir, "www") if self.dir else None

    @property
    def url(self):
        return f"{'https' if self.ssl_cert else 'http'}://{self.host}:{self.port}/"

    def _prepare(self):
        os.chmod(self.dir, 0o755)  # workers run as nobody when we are root
        os.makedirs(self.root)
        for rel, content in self.files.items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
        self._write_conf()

    def _port_changed(self):
        self._write_conf()

    def _write_conf(self):
        d = self.dir
        tls = ""
        if self.ssl_cert is not None:
            tls = (f"        ssl_certificate {os.path.abspath(self.ssl_cert)};\n"
                   f"        ssl_certificate_key {os.path.abspath(self.ssl_key)};\n")
        conf = f"""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/server.log info;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type text/plain;
    server {{
        listen {self.host}:{self.port}{' ssl' if tls else ''}{' http2' if self.http2 else ''};
        server_name localhost;
        root {d}/www;
{tls}{self.conf_snippet}
    }}
}}
"""
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)

    def _launch(self):
        # -e: nginx opens its error log before reading the config; keep that one here too.
        self._spawn([self.binary, "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"),
                     "-e", os.path.join(self.dir, "server.log")])

    def _ready(self):
        if self.ssl_cert is not None:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with _connect(self.host, self.port) as raw, ctx.wrap_socket(raw) as s:
                s.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/1.")
        with _connect(self.host, self.port) as s:
            s.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.")


@atexit.register
def _close_all():
    for server in list(_running):
        server.close()
