"""The Debian package (scripts/package.sh): it builds, lintian finds no errors in it, it
installs with dpkg, and then `tcpretry --version` runs, `man -w tcpretry` finds the man page
and bash-completion finds the completion; purging it leaves nothing behind.

It installs a package on this machine, so it runs only where that is wanted: as root, with
CI set (.ci/run) or TCPRETRY_PACKAGE_TEST=1, and when no tcpretry package is installed
already; and not with the sanitizer build (it has no static binary to package).
The package holds the static binary: the suite's tcpretry_static (TCPRETRY_STATIC, which
ctest sets), else scripts/build-static.sh's. TCPRETRY_PACKAGE_BUILD_DIR names the directory
CPack works in; without it a temporary one."""

import os
import shutil
import subprocess
import tempfile
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PACKAGE_SH = os.path.join(ROOT, "scripts", "package.sh")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def skip(reason):
    print(f"skipped: {reason}", flush=True)
    raise unittest.SkipTest(reason)


def run(*argv, check=True, timeout=120, env=None):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: exit {out.returncode}\n"
                             f"stdout: {out.stdout}\nstderr: {out.stderr}")
    return out


def package_known():
    """True when dpkg has any record of a package named tcpretry (installed, half-installed
    or only configuration files left)."""
    return run("dpkg-query", "-W", "-f=${Status}", "tcpretry", check=False).returncode == 0


def dpkg_excludes(path):
    """True when a dpkg path-exclude (slim container images) drops files under path."""
    d = "/etc/dpkg/dpkg.cfg.d"
    for name in os.listdir(d) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), errors="replace") as f:
            for line in f:
                if line.startswith("path-exclude") and path.startswith(
                        line.split(None, 1)[1].strip().rstrip("*").rstrip("/")):
                    return True
    return False


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            skip("not root: installing a .deb needs root")
        if not os.environ.get("CI") and os.environ.get("TCPRETRY_PACKAGE_TEST") != "1":
            skip("installs a package on this machine: runs only with CI set or "
                 "TCPRETRY_PACKAGE_TEST=1")
        if harness.SANITIZED:
            # The package is built from sources of its own, not from the binary under test:
            # once per suite run (the regular build) is enough.
            skip("the ASan+UBSan build: the package test runs with the regular build")
        for tool in ("dpkg", "dpkg-deb", "apt-get", "cpack"):
            if shutil.which(tool) is None:
                skip(f"{tool} is not installed")
        if package_known():
            skip("a tcpretry package is already installed (dpkg -l tcpretry): not touching it")

        cls.tmp = tempfile.mkdtemp(prefix="tcpretry-package-")
        env = dict(os.environ)
        env.setdefault("TCPRETRY_PACKAGE_BUILD_DIR", os.path.join(cls.tmp, "build"))
        # The static build: the suite's own tcpretry_static (TCPRETRY_STATIC, set by ctest),
        # else package.sh builds build-static/.
        env.pop("TCPRETRY_PACKAGE_FROM", None)
        out = run(PACKAGE_SH, os.path.join(cls.tmp, "out"), env=env, timeout=600, check=False)
        if out.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError(f"scripts/package.sh failed (exit {out.returncode})\n"
                                 f"{out.stderr[-6000:]}")
        cls.lintian = out.stderr[out.stderr.find("lintian "):]
        cls.deb = out.stdout.strip().splitlines()[-1]
        # The files (not directories) the package holds, as absolute paths.
        cls.files = [line.split()[-1].lstrip(".")
                     for line in run("dpkg-deb", "-c", cls.deb).stdout.splitlines()
                     if not line.startswith("d")]

    @classmethod
    def tearDownClass(cls):
        if package_known():
            run("dpkg", "--purge", "tcpretry", check=False)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_install_use_and_purge(self):
        self.assertRegex(os.path.basename(self.deb), r"^tcpretry_[0-9][^_]*_amd64\.deb$")
        for path in ("/usr/bin/tcpretry", "/usr/share/man/man1/tcpretry.1.gz",
                     "/usr/share/bash-completion/completions/tcpretry",
                     "/usr/share/zsh/vendor-completions/_tcpretry",
                     "/usr/share/fish/vendor_completions.d/tcpretry.fish",
                     "/usr/share/doc/tcpretry/copyright",
                     "/usr/share/doc/tcpretry/changelog.gz",
                     "/usr/share/doc/tcpretry/README.md"):
            self.assertIn(path, self.files)
        self.assertNotIn("E: ", self.lintian, "lintian errors")

        run("dpkg", "-i", self.deb)
        self.addCleanup(lambda: package_known() and run("dpkg", "--purge", "tcpretry",
                                                         check=False))
        installed = run("dpkg", "-L", "tcpretry").stdout.split()

        self.assertEqual(run("/usr/bin/tcpretry", "--version").returncode, 0)
        self.assertEqual(run("/usr/bin/tcpretry", "--help").returncode, 0)

        man = "/usr/share/man/man1/tcpretry.1.gz"
        if dpkg_excludes(man):
            print(f"not checked: dpkg excludes {man} on this machine (path-exclude)",
                  flush=True)
        elif shutil.which("man"):
            self.assertEqual(run("man", "-w", "tcpretry").stdout.strip(), man)
        else:
            print("man-db is not installed: checking only that the man page exists",
                  flush=True)
            self.assertTrue(os.path.isfile(man))

        if os.path.exists(BASH_COMPLETION):
            out = run("bash", "--norc", "-c", f"source {BASH_COMPLETION}; "
                      "_completion_loader tcpretry; complete -p tcpretry")
            self.assertIn("-F _tcpretry", out.stdout)
            self.assertTrue(out.stdout.rstrip().endswith(" tcpretry"), out.stdout)
        else:
            print("bash-completion is not installed: its loader was not checked", flush=True)

        run("dpkg", "--purge", "tcpretry")
        self.assertNotEqual(run("dpkg", "-L", "tcpretry", check=False).returncode, 0)
        self.assertFalse(package_known(), "dpkg still knows tcpretry after --purge")
        left = [p for p in installed + self.files
                if os.path.lexists(p) and not os.path.isdir(p)]
        self.assertEqual(left, [], "files left after dpkg --purge")
        for d in ("/usr/share/doc/tcpretry",):
            self.assertFalse(os.path.exists(d), f"{d} left after dpkg --purge")


if __name__ == "__main__":
    unittest.main()
