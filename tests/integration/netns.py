"""Network namespaces for the fault-injection tests (root only).

    netns.require_root()                  # unittest.SkipTest, with a printed reason, if not
    with netns.Netns() as ns:             # a new, uniquely named namespace, lo up
        ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", "5555", "-j", "DROP")
        ns.sysctl("net.ipv4.ip_local_port_range", "5555 5555")
        r = ns.run(harness.BINARY, "--once", "127.0.0.1:5555")      # ip netns exec NS ...
        p = ns.popen([harness.BINARY, "--watch", ...], stdout=PIPE)  # in the background
        sock = ns.socket(socket.AF_INET, socket.SOCK_STREAM)        # a socket inside NS
    # here every process left in NS has been killed and NS is deleted, even after a failure

A namespace starts with nothing but a loopback interface (brought up here) and empty
firewall tables, so whatever a test does inside it (drop, reject, pin the ephemeral port
range, take loopback down) stays there and no packet can leave the machine.

Names are "tcpretry-ns-PID-N": unique per process, and a namespace left over by a test run
that was killed (its PID gone) is deleted the next time one is created.
"""

import atexit
import ctypes
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

PREFIX = "tcpretry-ns"
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-\d+$")
_counter = itertools.count(1)
_live = set()  # namespaces this process created and has not deleted yet
_live_lock = threading.Lock()
_CLONE_NEWNET = 0x40000000


def _sh(argv, timeout=15, **kwargs):
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kwargs)


def _skip(reason):
    print(f"skipped: {reason}", flush=True)
    raise unittest.SkipTest(reason)


_checked = None  # the reason the namespace tests cannot run here ("" when they can)


def why_not():
    """'' when network namespaces can be made here, else the reason they cannot. A trial
    namespace is made (and deleted) once per process."""
    global _checked
    if _checked is not None:
        return _checked
    if os.geteuid() != 0:
        _checked = "needs root (ip netns add, iptables, sysctl in a namespace)"
    elif shutil.which("ip") is None:
        _checked = "the ip command (iproute2) is not installed"
    else:
        try:
            with Netns():
                pass
            _checked = ""
        except (OSError, subprocess.SubprocessError, NetnsError) as e:
            _checked = f"cannot make a network namespace here: {e}"
    return _checked


def require_root():
    """Raises unittest.SkipTest (and prints why) unless the caller is root and `ip netns`
    works. CI runs as root, so there these tests run."""
    reason = why_not()
    if reason:
        _skip(reason)


def require_tool(name, package=None):
    """Raises unittest.SkipTest (and prints why) if the command is not installed."""
    if shutil.which(name) is None:
        _skip(f"{name} is not installed (Debian package {package or name}; "
              f"scripts/deps.sh test installs it)")


class NetnsError(RuntimeError):
    pass


class Netns:
    """A network namespace of its own; a context manager that always deletes it."""

    def __init__(self):
        _reap_stale()
        self.name = f"{PREFIX}-{os.getpid()}-{next(_counter)}"
        self._procs = []
        self._deleted = False

    # -- life cycle ----------------------------------------------------------------------

    def __enter__(self):
        r = _sh(["ip", "netns", "add", self.name])
        if r.returncode != 0:
            raise NetnsError(f"ip netns add {self.name}: {r.stderr.strip()}")
        with _live_lock:
            _live.add(self.name)
        try:
            self.check("ip", "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise
        return self

    def __exit__(self, *exc):
        self.delete()
        return False

    def delete(self):
        """Kills every process still in the namespace, then deletes it. Idempotent; never
        raises (a cleanup that fails must not hide the test's own failure)."""
        if self._deleted:
            return
        self._deleted = True
        for p in self._procs:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass
        _kill_members(self.name)
        for p in self._procs:
            try:
                p.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        for _ in range(50):
            r = _sh(["ip", "netns", "del", self.name])
            if r.returncode == 0 or self.name not in _list():
                break
            time.sleep(0.1)
        with _live_lock:
            _live.discard(self.name)

    # -- running things inside -----------------------------------------------------------

    def argv(self, *argv):
        """argv prefixed so that it runs inside the namespace."""
        return ["ip", "netns", "exec", self.name, *[str(a) for a in argv]]

    def run(self, *argv, timeout=30, input=None, env=None, preexec_fn=None):
        """Runs argv inside; returns the CompletedProcess (text output) plus .elapsed."""
        start = time.monotonic()
        r = subprocess.run(self.argv(*argv), input=input,
                           stdin=None if input is not None else subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=env, preexec_fn=preexec_fn)
        r.elapsed = time.monotonic() - start
        return r

    def tcpretry(self, *args, timeout=30, preexec_fn=None):
        """Runs the tcpretry binary inside with args; returns a harness.Result (so the
        harness's JSON checks apply)."""
        import harness  # here, so that this module stays usable on its own
        start = time.monotonic()
        p = subprocess.run(self.argv(harness.BINARY, *args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           preexec_fn=preexec_fn)
        return harness.Result([str(a) for a in args], p.returncode, p.stdout, p.stderr,
                              time.monotonic() - start)

    def check(self, *argv, timeout=30):
        """Runs argv inside and raises NetnsError if it fails; returns its stdout."""
        r = self.run(*argv, timeout=timeout)
        if r.returncode != 0:
            raise NetnsError(f"{' '.join(map(str, argv))} in {self.name} exited "
                             f"{r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def popen(self, argv, **kwargs):
        """subprocess.Popen of argv inside. `ip netns exec` execs argv in place (no fork),
        so the Popen's pid is argv's own: signals and /proc/PID/fd reach it directly. The
        process is killed when the namespace is deleted."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.argv(*argv), **kwargs)
        self._procs.append(p)
        return p

    def track(self, proc):
        """Has a Popen made elsewhere (e.g. by servers_watch.LineProcess) killed at exit."""
        self._procs.append(proc)
        return proc

    def pids(self):
        return _members(self.name)

    # -- configuring ---------------------------------------------------------------------

    def iptables(self, *args):
        return self.check("iptables", "-w", "5", *args)

    def ip6tables(self, *args):
        return self.check("ip6tables", "-w", "5", *args)

    def sysctl(self, key, value):
        return self.check("sysctl", "-q", "-w", f"{key}={value}")

    def ip(self, *args):
        return self.check("ip", *args)

    # -- sockets inside ------------------------------------------------------------------

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        """A socket created inside the namespace (this thread enters it just for the
        socket() call). Bind, listen and serve it from any thread as usual."""
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            target = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(target, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {self.name}: {os.strerror(err)}")
                try:
                    return socket.socket(family, kind)
                finally:
                    if libc.setns(own, _CLONE_NEWNET) != 0:
                        # Never go on in the wrong namespace.
                        os.abort()
            finally:
                os.close(target)
        finally:
            os.close(own)


def _list():
    r = _sh(["ip", "netns", "list"])
    return {line.split()[0] for line in r.stdout.splitlines() if line.strip()}


def _members(name):
    r = _sh(["ip", "netns", "pids", name])
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def _kill_members(name):
    """SIGKILLs each process in the namespace, by pid, until none is left (2 s at most)."""
    deadline = time.monotonic() + 2
    while True:
        pids = [p for p in _members(name) if p != os.getpid()]
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


_reaped = False


def _reap_stale():
    """Deletes namespaces named by this module for a process that no longer exists (a test
    run killed before its cleanup). Runs once per process."""
    global _reaped
    if _reaped:
        return
    _reaped = True
    try:
        names = _list()
    except (OSError, subprocess.SubprocessError):
        return
    for name in names:
        m = _NAME_RE.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            _kill_members(name)
            _sh(["ip", "netns", "del", name])


@atexit.register
def _delete_leftovers():
    """Last resort: a namespace still alive at interpreter exit is deleted."""
    with _live_lock:
        names = list(_live)
    for name in names:
        _kill_members(name)
        _sh(["ip", "netns", "del", name])
