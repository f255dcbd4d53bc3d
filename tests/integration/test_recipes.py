"""docs/recipes.md is tested: each block marked `recipe` (```LANG recipe up=N down=M```)
gives one tcpretry command line (the YAML `test:`, `run:` or `args:` line, a unit's
ExecStartPre=, a crontab line's command, or a whole shell script with `script`). The test
points every HOST:PORT in it at a loopback server it starts and checks the exit status with
the servers up (up=N) and with the ports closed (down=M; -t/--timeout cut to 1 s)."""

import json
import os
import re
import shlex
import subprocess
import tempfile
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
RECIPES = os.path.join(ROOT, "docs", "recipes.md")

FENCE_RE = re.compile(r"^```(\w+) recipe([^\n]*)\n(.*?)^```$", re.M | re.S)
# HOST:PORT as the recipes write targets (db:5432, localhost:5432, db.internal:5432).
TARGET_RE = re.compile(r"(?<![\w/.:-])([a-z][a-z0-9.-]*):(\d{1,5})(?![\w.:])")
TIMEOUT_RE = re.compile(r"(?<!\S)(-t|--timeout)(\s+|=)(\S+)")
BINARY_PATH_RE = re.compile(r"(?<![\w/])(?:/usr(?:/local)?/bin)?/tcpretry\b")
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


def recipes():
    """[(title, lang, attrs, body)] for every recipe block, title being the section's."""
    with open(RECIPES, encoding="utf-8") as f:
        text = f.read()
    out = []
    for m in FENCE_RE.finditer(text):
        title = re.findall(r"^## (.*)$", text[:m.start()], re.M)[-1]
        attrs = dict(a.partition("=")[::2] for a in m.group(2).split())
        out.append((title, m.group(1), attrs, m.group(3)))
    return out


def commands(lang, body):
    """The shell command lines in a recipe block (only those that run tcpretry)."""
    found = []
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if lang == "yaml":
            m = re.match(r"(?:- )?(test|args|command|run):\s*(\S.*)$", line)
            if not m:
                continue
            key, value = m.groups()
            if key == "run":
                found.append(re.sub(r"\s+#.*$", "", value))
                continue
            argv = json.loads(value)
            if key == "test":
                if argv[0] == "CMD-SHELL":
                    found.append(argv[1])
                    continue
                argv = argv[1:]  # "CMD"
            elif key == "args":
                argv = ["tcpretry"] + argv  # the image's ENTRYPOINT is /tcpretry
            found.append(shlex.join(argv))
        elif lang == "ini":
            if line.startswith("ExecStartPre="):
                found.append(line.split("=", 1)[1].lstrip("-@+!"))
        elif lang == "crontab":
            fields = line.split(None, 6)  # five times, the user (cron.d), the command
            found.append(fields[6] if fields[5] == "root" else " ".join(fields[5:]))
        else:
            found.append(line)
    return [BINARY_PATH_RE.sub("tcpretry", c) for c in found
            if re.search(r"(?<![\w.-])tcpretry\b", BINARY_PATH_RE.sub("tcpretry", c))]


class Recipes(harness.TestCase):
    def setUp(self):
        # `tcpretry` on PATH, as the recipes call it.
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        bindir = os.path.join(self.tmp.name, "bin")
        os.mkdir(bindir)
        os.symlink(os.path.abspath(harness.BINARY), os.path.join(bindir, "tcpretry"))
        self.env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])

    def test_readme_links_the_recipes(self):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            self.assertTrue("docs/recipes.md" in f.read(), "README does not link docs/recipes.md")

    def test_the_recipes_are_there(self):
        titles = {title for title, *_ in recipes()}
        for word in ("Compose", "entrypoint", "Kubernetes", "systemd", "GitHub Actions",
                     "wait-for-it", "Prometheus"):
            self.assertTrue(any(word in t for t in titles), f"no recipe about {word}")

    def test_every_recipe(self):
        for title, lang, attrs, body in recipes():
            for state in ("up", "down"):
                with self.subTest(recipe=title, servers=state):
                    self.run_recipe(lang, attrs, body, state)

    def run_recipe(self, lang, attrs, body, state):
        workdir = tempfile.mkdtemp(dir=self.tmp.name)
        if "script" in attrs:
            self.assertIn("tcpretry", body)
            script = os.path.join(workdir, "recipe.sh")
            with open(script, "w") as f:
                f.write(self.localize(body, state, workdir))
            argv = ["sh", script, "echo", "app-started"]
            shown = body
        else:
            found = commands(lang, body)
            self.assertEqual(len(found), 1, f"one tcpretry command per recipe: {found}")
            argv = ["sh", "-c", self.localize(found[0], state, workdir)]
            shown = found[0]
        out = subprocess.run(argv, capture_output=True, text=True, cwd=workdir,
                             env=self.env, timeout=harness.RUN_TIMEOUT)
        report = (f"{shown}\nran: {argv[-1] if 'script' not in attrs else argv}\n"
                  f"exit {out.returncode}\nstdout: {out.stdout}\nstderr: {out.stderr}")
        self.assertEqual(out.returncode, int(attrs[state]), report)

        # What the recipe's COMMAND prints appears exactly when the services are up.
        m = re.search(r" -- (?:echo (\S+)|\"\$@\")", shown)
        if m:
            word = m.group(1) or "app-started"
            (self.assertIn if state == "up" else self.assertNotIn)(word, out.stdout, report)
        if TEXTFILE_DIR in shown:
            self.check_textfile(workdir, state, report)

    def localize(self, command, state, workdir):
        """command with its HOST:PORTs on loopback servers (up) or closed ports (down), a
        short deadline when down, and the textfile directory in workdir."""
        ports = {}

        def loopback(m):
            if m.group(0) not in ports:
                p = self.server() if state == "up" else self.closed_port()
                ports[m.group(0)] = p.target
            return ports[m.group(0)]

        command = TARGET_RE.sub(loopback, command)
        self.assertTrue(ports, f"no HOST:PORT in {command}")
        if state == "down":
            command = TIMEOUT_RE.sub(r"\1\g<2>1s", command)
        return command.replace(TEXTFILE_DIR, workdir)

    def check_textfile(self, workdir, state, report):
        self.assertEqual(sorted(os.listdir(workdir)), ["tcpretry.prom"], report)
        with open(os.path.join(workdir, "tcpretry.prom")) as f:
            metrics = f.read()
        up = re.findall(r"^tcpretry_up\{[^}]*\} (\d)$", metrics, re.M)
        self.assertEqual(up, ["1", "1"] if state == "up" else ["0", "0"], metrics)


if __name__ == "__main__":
    unittest.main()
