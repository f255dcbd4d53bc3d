"""tcpretry in an empty root: a temporary directory holding only the binary, entered with
chroot (as root; skipped otherwise). No /etc at all: no hosts, resolv.conf, services or
nsswitch.conf, no shared libraries, no NSS modules, no /proc. That is what a FROM scratch
image gives the binary (packaging/Dockerfile), and no container runtime runs here: these
cases are what proves the image's contents work.

The static binary comes from $TCPRETRY_STATIC (tests/CMakeLists.txt sets it to the
tcpretry_static target a normal build links beside tcpretry; the ASan build has none).

The same cases run on the regular binary ($TCPRETRY). A dynamic binary cannot start in a root
holding only itself (there is no loader to run it; a case checks that it fails), so its root
also holds the shared libraries ldd names, at the same paths, and nothing else: the cases
then show that the regular binary, too, needs nothing from /etc (no NSS, no resolv.conf for
numeric targets, its own /etc/services reader), which is the honest half of the claim. Its
libraries are what it needs beyond the static one; the static binary's root holds one file.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from stub_dns import StubDns

STATIC = os.environ.get("TCPRETRY_STATIC")

# A service name no built-in table has: it can only come from the root's /etc/services.
OWN_SERVICE = "tcpretry-empty-root-test"


def _skip_reason_common():
    if os.geteuid() != 0:
        return "chroot needs root"
    if shutil.which("chroot") is None:
        return "chroot (coreutils) is not installed"
    if harness.SANITIZED:
        return ("the ASan build cannot link statically, and its runtime needs /proc, which "
                "an empty root lacks")
    return None


def _is_dynamic(binary):
    r = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode == 0 and b"not a dynamic executable" not in r.stdout


def _libraries(binary):
    """The files ldd says the binary loads (the loader included), as absolute paths."""
    out = subprocess.run(["ldd", binary], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    paths = []
    for line in out.splitlines():
        for word in line.split():
            if word.startswith("/") and os.path.exists(word):
                paths.append(word)
    return paths


class EmptyRoot:
    """A temporary directory holding the binary as /tcpretry, and (for a dynamic binary)
    its libraries. etc(name, text) adds a file under /etc."""

    def __init__(self, binary, with_libraries):
        self.path = tempfile.mkdtemp(prefix="tcpretry-root-")
        shutil.copy2(binary, os.path.join(self.path, "tcpretry"))
        if with_libraries:
            for lib in _libraries(binary):
                dest = os.path.join(self.path, lib.lstrip("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy2(os.path.realpath(lib), dest)

    def etc(self, name, text):
        os.makedirs(os.path.join(self.path, "etc"), exist_ok=True)
        with open(os.path.join(self.path, "etc", name), "w") as f:
            f.write(text)

    def files(self):
        found = []
        for top, _, names in os.walk(self.path):
            found += [os.path.relpath(os.path.join(top, n), self.path) for n in names]
        return sorted(found)

    def run(self, *args, timeout=harness.RUN_TIMEOUT):
        argv = [shutil.which("chroot"), self.path, "/tcpretry", *[str(a) for a in args]]
        # No TCPRETRY_* variables: the run sees only its arguments.
        env = {"PATH": "/"}
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env)
        return harness.Result(args, p.returncode, p.stdout, p.stderr, 0.0)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


class EmptyRootCases:
    """The cases, for a binary given by the subclass (BINARY, WITH_LIBRARIES)."""

    BINARY = None
    WITH_LIBRARIES = False
    IS_STATIC = None

    def setUp(self):
        reason = _skip_reason_common() or self.skip_reason()
        if reason:
            print(f"skipped: {reason}", flush=True)
            self.skipTest(reason)
        self.root = EmptyRoot(self.BINARY, self.WITH_LIBRARIES)
        self.addCleanup(self.root.remove)

    def skip_reason(self):
        return None

    def assertConnected(self, result, port):
        self.assertExit(result, harness.EXIT_OK)
        events = self.assertValidJsonLines(result)
        connected = harness.of_type(events, "connected")
        self.assertEqual(len(connected), 1, str(result))
        self.assertEqual(connected[0]["port"], port, str(result))
        return connected[0]

    def test_root_holds_only_what_it_should(self):
        files = self.root.files()
        self.assertIn("tcpretry", files)
        if not self.WITH_LIBRARIES:
            self.assertEqual(files, ["tcpretry"])
        self.assertFalse(any(f.startswith("etc/") for f in files), files)

    def test_numeric_target(self):
        server = self.server()
        r = self.root.run("--json", server.target)
        self.assertConnected(r, server.port)
        self.assertTrue(harness.wait_until(lambda: server.accepted == 1), server.accepted)

    def test_numeric_target_human_output(self):
        server = self.server()
        r = self.root.run(server.target)
        self.assertExit(r, harness.EXIT_OK)
        self.assertIn(f"{server.target} connected on attempt 1", r.stdout)
        self.assertEqual(r.stderr, "")

    def test_json_events(self):
        closed = self.closed_port()
        r = self.root.run("--json", "--once", closed.target)
        self.assertExit(r, harness.EXIT_FAILED)
        events = self.assertValidJsonLines(r)
        self.assertEqual(events[0]["event"], "start")
        self.assertEqual(harness.summary(events)["result"], "gave_up")
        self.assertEqual(harness.of_type(events, "failed")[0]["error"], "refused")

    def test_help(self):
        r = self.root.run("--help")
        self.assertExit(r, harness.EXIT_OK)
        self.assertIn("--timeout", r.stdout)
        self.assertIn("--resolver", r.stdout)

    def test_version(self):
        r = self.root.run("--version")
        self.assertExit(r, harness.EXIT_OK)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^tcpretry \d+\.\d+\.\d+$")
        if len(lines) == 1:
            print("skipped: --version prints only the version (app/version is not wired in "
                  "app/options.cpp yet)", flush=True)
            return
        self.assertIn("static: yes" if self.IS_STATIC else "static: no", lines)

    def test_service_name_from_the_builtin_table_without_etc_services(self):
        # Where the port leads does not matter: the attempt names the port the name gave.
        for name, port in [("ssh", 22), ("http-alt", 8080), ("postgresql", 5432)]:
            with self.subTest(name=name):
                r = self.root.run("--json", "--once", "--connect-timeout", "2s",
                                  f"127.0.0.1:{name}")
                events = self.assertValidJsonLines(r)
                attempts = harness.of_type(events, "attempt")
                self.assertEqual([e["port"] for e in attempts], [port], str(r))

    def test_service_name_only_etc_services_knows(self):
        server = self.server()
        r = self.root.run("--json", f"127.0.0.1:{OWN_SERVICE}")
        self.assertExit(r, harness.EXIT_USAGE)
        self.assertIn(f"unknown port or service '{OWN_SERVICE}'", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

        self.root.etc("services", "# services(5) of the empty root\n"
                                  "ssh\t\t22/tcp\n"
                                  f"{OWN_SERVICE}\t{server.port}/udp\n"
                                  f"{OWN_SERVICE}\t{server.port}/tcp\tempty-root-alias\n")
        for name in (OWN_SERVICE, "empty-root-alias", OWN_SERVICE.upper()):
            with self.subTest(name=name):
                r = self.root.run("--json", f"127.0.0.1:{name}")
                self.assertConnected(r, server.port)

    def test_name_through_resolver(self):
        server = self.server()
        dns = StubDns()
        self.addCleanup(dns.close)
        dns.answer("static.test", a=["127.0.0.1"])
        r = self.root.run("--json", "-4", "--resolver", dns.address,
                          f"static.test:{server.port}")
        connected = self.assertConnected(r, server.port)
        self.assertEqual(connected["address"], "127.0.0.1")
        self.assertTrue(dns.queries("static.test"), "the stub DNS was not asked")

    def test_name_without_resolv_conf_is_a_one_line_error(self):
        r = self.root.run("--once", "static.test:80")
        self.assertExit(r, harness.EXIT_FAILED)
        lines = [l for l in r.stdout.splitlines() if "resolv.conf" in l]
        self.assertTrue(lines, str(r))
        self.assertIn("static.test:80 attempt 1: cannot resolve static.test: no DNS server to "
                      "ask: /etc/resolv.conf is missing (name one with --resolver)", lines[0])

        r = self.root.run("--json", "--once", "static.test:80")
        self.assertExit(r, harness.EXIT_FAILED)
        failed = harness.of_type(self.assertValidJsonLines(r), "failed")
        self.assertEqual(failed[0]["error"], "resolve")
        self.assertIn("/etc/resolv.conf is missing", failed[0]["message"])

    def test_tls_option(self):
        # The static binary has OpenSSL inside; the dynamic one loads libssl.so.3 at the first
        # TLS use, and its root holds only what ldd names, which is not OpenSSL.
        closed = self.closed_port()
        r = self.root.run("--json", "--once", "--tls", closed.target)
        if self.IS_STATIC:
            self.assertExit(r, harness.EXIT_FAILED)
            failed = harness.of_type(self.assertValidJsonLines(r), "failed")
            self.assertEqual(failed[0]["error"], "refused", str(r))
            return
        self.assertExit(r, harness.EXIT_USAGE)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("--tls: cannot load OpenSSL (libssl.so.3): ", r.stderr)
        self.assertIn("No such file or directory", r.stderr)

    def test_localhost_without_etc_hosts(self):
        server = self.server()
        r = self.root.run("--json", "-4", f"localhost:{server.port}")
        connected = self.assertConnected(r, server.port)
        self.assertEqual(connected["address"], "127.0.0.1")


class StaticBinaryInEmptyRoot(EmptyRootCases, harness.TestCase):
    BINARY = STATIC
    WITH_LIBRARIES = False
    IS_STATIC = True

    def skip_reason(self):
        if not STATIC:
            return ("TCPRETRY_STATIC is not set (the ASan build, and builds without the "
                    "tcpretry_static target, have no static binary)")
        if not os.access(STATIC, os.X_OK):
            return f"TCPRETRY_STATIC={STATIC} is not an executable file"
        if _is_dynamic(STATIC):
            self.fail(f"TCPRETRY_STATIC={STATIC} is a dynamic executable")
        return None

    def test_file_says_statically_linked(self):
        if shutil.which("file") is None:
            print("skipped: file is not installed", flush=True)
            self.skipTest("file is not installed")
        out = subprocess.run(["file", "-L", STATIC], stdout=subprocess.PIPE, text=True).stdout
        self.assertIn("statically linked", out)


class RegularBinaryInEmptyRoot(EmptyRootCases, harness.TestCase):
    BINARY = harness.BINARY
    WITH_LIBRARIES = _is_dynamic(harness.BINARY) if os.path.exists(harness.BINARY) else False
    IS_STATIC = not WITH_LIBRARIES

    def test_dynamic_binary_does_not_link_openssl(self):
        # Most runs use no TLS: mapping and relocating libssl and libcrypto at every start cost
        # about 2 MiB; the dynamic tcpretry loads them at the first TLS use instead.
        if not self.WITH_LIBRARIES:
            self.skipTest("the regular binary is static in this build")
        names = [os.path.basename(lib) for lib in _libraries(self.BINARY)]
        self.assertFalse([n for n in names if n.startswith(("libssl", "libcrypto"))], names)

    def test_dynamic_binary_alone_cannot_start(self):
        if not self.WITH_LIBRARIES:
            self.skipTest("the regular binary is static in this build")
        alone = EmptyRoot(self.BINARY, with_libraries=False)
        self.addCleanup(alone.remove)
        r = alone.run("--help")
        self.assertNotEqual(r.returncode, 0, "a dynamic binary ran without its loader")


if __name__ == "__main__":
    unittest.main()
