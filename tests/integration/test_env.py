"""Configuration from the environment: TCPRETRY_<NAME> for every option, TCPRETRY_TARGETS
after the command line's TARGETs, the command line winning option by option, bad values
named by their variable, and the variables listed in --help and in the man page."""

import os
import re
import tempfile
import unittest

import harness
from harness import of_type, summary

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MAN_PAGE = os.path.join(ROOT, "man", "tcpretry.1")
RECIPES = os.path.join(ROOT, "docs", "recipes.md")


def env(**variables):
    """The test's environment without any TCPRETRY_ variable of the shell, plus these."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("TCPRETRY_")}
    e.update(variables)
    return e


def run(*args, **variables):
    return harness.run(*args, env=env(**variables))


def help_variables():
    """The variables --help lists, in its order."""
    text = harness.run("--help").stdout
    part = text[text.index("The variables:"):text.index("Exit status")]
    return re.findall(r"TCPRETRY_[A-Z0-9_]+", part)


class Precedence(harness.TestCase):
    def test_command_line_wins_option_by_option(self):
        # The environment says: JSON, 3 rounds, 10 ms delays. The command line says 2 rounds.
        port = self.closed_port()
        r = run("-n", "2", port.target, TCPRETRY_JSON="1", TCPRETRY_ATTEMPTS="3",
                TCPRETRY_INITIAL_DELAY="10ms", TCPRETRY_MAX_DELAY="10ms",
                TCPRETRY_JITTER="0")
        self.assertExit(r, harness.EXIT_FAILED)
        events = self.assertValidJsonLines(r)  # JSON: the environment's
        gave_up = of_type(events, "gave_up")
        self.assertEqual([e["attempts"] for e in gave_up], [2], r)  # the command line's
        self.assertEqual([e["delay_ms"] for e in of_type(events, "retry")], [10], r)

    def test_command_line_format_beats_the_environments_json(self):
        server = self.server()
        r = run("--format", "human", server.target, TCPRETRY_JSON="1")
        self.assertExit(r, 0)
        self.assertIn(f"{server.target} connected on attempt 1", r.stdout)
        self.assertEqual(r.stderr, "")

    def test_an_option_given_sets_aside_the_variables_it_excludes(self):
        server = self.server()
        r = run("-v", server.target, TCPRETRY_QUIET="1")
        self.assertExit(r, 0)
        self.assertIn("attempt 1: connecting", r.stdout)  # verbose, no error
        r = run("--once", server.target, TCPRETRY_ATTEMPTS="5")
        self.assertExit(r, 0)

    def test_a_bad_variable_the_command_line_overrides_is_not_read(self):
        server = self.server()
        r = run("--timeout", "5s", server.target, TCPRETRY_TIMEOUT="30x")
        self.assertExit(r, 0)
        self.assertEqual(r.stderr, "")


class BadValues(harness.TestCase):
    def assertUsage(self, message, *args, **variables):
        r = run(*(args or ("127.0.0.1:1",)), **variables)
        self.assertExit(r, harness.EXIT_USAGE)
        self.assertEqual(r.stderr, f"tcpretry: {message}\n", r)
        self.assertEqual(r.stdout, "")

    def test_each_kind_of_bad_value_names_the_variable(self):
        cases = [
            ("TCPRETRY_TIMEOUT", "30x",
             "invalid value '30x' (a duration such as 250ms, 1.5s, 1m30s or seconds)"),
            ("TCPRETRY_CONNECT_TIMEOUT", "0", "invalid value '0' (more than 0)"),
            ("TCPRETRY_ATTEMPTS", "three", "invalid value 'three' (a whole number >= 0)"),
            ("TCPRETRY_PARALLEL", "0", "invalid value '0' (a whole number >= 1)"),
            ("TCPRETRY_FORMAT", "xml", "invalid value 'xml' (human, json or prometheus)"),
            ("TCPRETRY_COLOR", "blue", "invalid value 'blue' (auto, always or never)"),
            ("TCPRETRY_JSON", "on",
             "invalid value 'on' (a switch: 1, true, yes, 0, false or no)"),
            ("TCPRETRY_QUIET", "2",
             "invalid value '2' (a switch: 1, true, yes, 0, false or no)"),
        ]
        for name, value, message in cases:
            with self.subTest(variable=name):
                self.assertUsage(f"{name}: {message}", **{name: value})
                # The same words as the flag's, with the flag's name.
                flag = "--" + name[len("TCPRETRY_"):].lower().replace("_", "-")
                if name not in ("TCPRETRY_JSON", "TCPRETRY_QUIET"):
                    self.assertUsage(f"{flag}: {message}", flag, value, "127.0.0.1:1")

    def test_a_bad_target(self):
        self.assertUsage("TCPRETRY_TARGETS: invalid target 'db:0': port 0 is out of range "
                         "(1-65535)", TCPRETRY_TARGETS="127.0.0.1:1, db:0")

    def test_rules_between_options_name_the_variables(self):
        self.assertUsage("TCPRETRY_QUIET and TCPRETRY_VERBOSE exclude each other",
                         TCPRETRY_QUIET="1", TCPRETRY_VERBOSE="true")
        self.assertUsage("TCPRETRY_INTERVAL needs --count (ping mode)", TCPRETRY_INTERVAL="2s")


class Targets(harness.TestCase):
    def start_targets(self, r):
        events = self.assertValidJsonLines(r)
        return events[0]["targets"]

    def test_each_separator_and_the_order(self):
        a, b, c = self.server(), self.server(), self.server()
        for label, text in [
            ("space", f"{b.target} {c.target}"),
            ("comma", f"{b.target},{c.target}"),
            ("newline", f"{b.target}\n{c.target}"),
            ("tab and CRLF", f"{b.target}\t{c.target}\r\n"),
            ("mixed", f"{b.target} ,\n {c.target}"),
            ("leading and trailing", f" ,\n{b.target},{c.target}, \n"),
        ]:
            with self.subTest(separators=label):
                r = run("--json", a.target, TCPRETRY_TARGETS=text)
                self.assertExit(r, 0)
                # The command line's TARGET first, then the variable's, in their order.
                self.assertEqual(self.start_targets(r), [a.target, b.target, c.target])
                self.assertEqual(summary(r.events())["connected"], 3, r)

    def test_targets_from_the_environment_alone(self):
        a = self.server()
        r = run(TCPRETRY_TARGETS=a.target, TCPRETRY_JSON="1")
        self.assertExit(r, 0)
        self.assertEqual(self.start_targets(r), [a.target])

    def test_the_targets_file_comes_before_the_variable(self):
        a, b, c = self.server(), self.server(), self.server()
        path = os.path.join(self.tmpdir(), "targets")
        with open(path, "w") as f:
            f.write(b.target + "\n")
        r = run("--json", a.target, "--targets-file", path, TCPRETRY_TARGETS=c.target)
        self.assertExit(r, 0)
        self.assertEqual(self.start_targets(r), [a.target, b.target, c.target])

    def tmpdir(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        return d.name


class Values(harness.TestCase):
    def test_json_1_and_0(self):
        server = self.server()
        r = run(server.target, TCPRETRY_JSON="1")
        self.assertExit(r, 0)
        self.assertEqual(summary(self.assertValidJsonLines(r))["result"], "ok")
        for off in ("0", "false", "No"):
            with self.subTest(value=off):
                r = run(server.target, TCPRETRY_JSON=off)
                self.assertExit(r, 0)
                self.assertIn(f"{server.target} connected on attempt 1", r.stdout)
                self.assertEqual(r.stderr, "")

    def test_an_empty_variable_is_unset(self):
        server = self.server()
        r = run(server.target, TCPRETRY_JSON="", TCPRETRY_TIMEOUT="", TCPRETRY_FORMAT="",
                TCPRETRY_TARGETS="")
        self.assertExit(r, 0)
        self.assertIn(f"{server.target} connected on attempt 1", r.stdout)
        self.assertEqual(r.stderr, "")  # no warning either

    def test_quiet_from_a_compose_file(self):
        server = self.server()
        r = run(server.target, TCPRETRY_QUIET="1")
        self.assertExit(r, 0)
        self.assertEqual((r.stdout, r.stderr), ("", ""))

    def test_timestamps_0_is_no_timestamps(self):
        # In watch mode with stdout not a terminal, human lines start with the time unless
        # --no-timestamps: TCPRETRY_TIMESTAMPS=0 says it.
        server = self.server()
        for value, stamped in (("0", False), ("1", True)):
            with self.subTest(value=value):
                r = run("--watch", "-t", "2s", server.target, TCPRETRY_TIMESTAMPS=value)
                self.assertExit(r, 0)
                first = r.stdout.splitlines()[0]
                self.assertEqual(bool(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", first)),
                                 stamped, r)


class Command(harness.TestCase):
    def test_command_runs_and_inherits_the_variables(self):
        a, b = self.server(), self.server()
        r = run(a.target, "--", "sh", "-c", 'echo "$TCPRETRY_TARGETS|$TCPRETRY_QUIET"; exit 7',
                TCPRETRY_TARGETS=b.target, TCPRETRY_QUIET="1", TCPRETRY_TIMEOUT="20s")
        self.assertExit(r, 7)
        self.assertEqual(r.stdout, f"{b.target}|1\n")
        self.assertEqual(r.stderr, "")

    def test_command_with_json_from_the_environment(self):
        a = self.server()
        r = run(a.target, "--", "sh", "-c", "echo from-command", TCPRETRY_JSON="yes")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, "from-command\n")
        events = self.assertValidJsonLines(r, stream="stderr")
        self.assertEqual(summary(events)["result"], "ok")


class UnknownVariables(harness.TestCase):
    def test_a_typo_is_one_warning_line_and_the_run_goes_on(self):
        server = self.server()
        r = run(server.target, TCPRETRY_TIMOUT="3s")
        self.assertExit(r, 0)
        self.assertEqual(r.stderr, "tcpretry: warning: TCPRETRY_TIMOUT is not a tcpretry "
                                   "variable; ignored (did you mean TCPRETRY_TIMEOUT?)\n")

    def test_with_json_the_warning_is_an_event(self):
        server = self.server()
        r = run("--json", server.target, TCPRETRY_TIMOUT="3s")
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([e["message"] for e in of_type(events, "warning")],
                         ["TCPRETRY_TIMOUT is not a tcpretry variable; ignored "
                          "(did you mean TCPRETRY_TIMEOUT?)"])
        self.assertEqual(r.stderr, "")

    def test_the_projects_own_variables_draw_no_warning(self):
        # Every TCPRETRY_ name the scripts and tests read from the environment, and the
        # CMake options, may be in the environment of a test run: tcpretry is silent on them.
        names = set()
        patterns = [
            re.compile(r"\$\{(TCPRETRY_[A-Z0-9_]+):[-=]"),  # shell: ${NAME:-default}
            re.compile(r"environ(?:\.get\(|\[)\s*[\"'](TCPRETRY_[A-Z0-9_]+)"),  # Python
            re.compile(r"option\((TCPRETRY_[A-Z0-9_]+)"),  # CMake options
        ]
        for top in ("scripts", "tests", "packaging", "CMakeLists.txt"):
            for path in self.files(os.path.join(ROOT, top)):
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for p in patterns:
                    names.update(p.findall(text))
        self.assertIn("TCPRETRY_PACKAGE_TEST", names)
        server = self.server()
        r = run(server.target, **{n: "1" for n in names})
        self.assertExit(r, 0)
        self.assertEqual(r.stderr, "", f"warned about {sorted(names)}")

    @staticmethod
    def files(top):
        if os.path.isfile(top):
            yield top
            return
        for d, _, files in os.walk(top):
            for f in files:
                if f.endswith((".py", ".sh", ".txt", ".cmake", ".in")) or "." not in f:
                    yield os.path.join(d, f)


class Documentation(harness.TestCase):
    def test_every_flag_in_help_has_a_variable_in_help_and_the_man_page(self):
        text = harness.run("--help").stdout
        options = text[:text.index("TARGET is HOST:PORT")]
        flags = set(re.findall(r"(?:^|[ ,])(--[a-z][a-z-]*|-[46])\b", options, re.M))
        flags -= {"--help", "--version"}
        self.assertGreater(len(flags), 30)
        expected = {"TCPRETRY_IPV" + f[1] if f in ("-4", "-6")
                    else "TCPRETRY_" + f[2:].upper().replace("-", "_") for f in flags}
        expected.add("TCPRETRY_TARGETS")
        listed = help_variables()
        self.assertEqual(sorted(set(listed)), sorted(expected))
        self.assertEqual(len(listed), len(set(listed)))

        with open(MAN_PAGE, encoding="utf-8") as f:
            man = f.read()
        section = man[man.index(".Sh ENVIRONMENT"):man.index(".Sh FILES")]
        in_man = set(re.findall(r"^\.It Ev (TCPRETRY_[A-Z0-9_]+)$", section, re.M))
        self.assertEqual(sorted(in_man), sorted(expected), "man page ENVIRONMENT list")
        for flag in flags:
            name = ("TCPRETRY_IPV" + flag[1] if flag in ("-4", "-6")
                    else "TCPRETRY_" + flag[2:].upper().replace("-", "_"))
            man_flag = ".Fl " + (flag[1] if flag in ("-4", "-6")
                                 else "\\-" + flag[2:].replace("-", "\\-"))
            self.assertRegex(section, re.escape(f".It Ev {name}\n{man_flag}") + r"\n",
                             f"{name} is not shown beside {flag}")

    def test_help_states_the_rule(self):
        text = " ".join(harness.run("--help").stdout.split())
        for rule in ("every option but --help and --version can also come from TCPRETRY_",
                     "the command line wins", "Switches take 1, true, yes, 0, false or no",
                     "An empty variable is unset",
                     "TCPRETRY_TARGETS adds TARGETs (separated by spaces, commas or newlines)"):
            self.assertIn(rule, text)

    def test_the_compose_recipe_with_variables(self):
        # docs/recipes.md shows a health check configured by `environment:`: its command
        # with its variables answers 0 with the port open and 1 with it closed.
        with open(RECIPES, encoding="utf-8") as f:
            text = f.read()
        block = next(b for b in re.findall(r"^```yaml[^\n]*\n(.*?)^```$", text, re.M | re.S)
                     if "TCPRETRY_" in b)
        variables = dict(re.findall(r"^\s+(TCPRETRY_[A-Z_]+):\s*\"?([^\"\n]*)\"?$", block,
                                    re.M))
        self.assertTrue(variables, block)
        test = re.search(r"test: \[(.*)\]", block).group(1)
        argv = [w.strip().strip('"') for w in test.split(",")][1:]  # after "CMD"
        self.assertEqual(argv[0], "tcpretry")
        for state, status in (("up", 0), ("down", 1)):
            with self.subTest(port=state):
                p = self.server() if state == "up" else self.closed_port()
                args = [re.sub(r"^localhost:\d+$", p.target, a) for a in argv[1:]]
                r = run(*args, **variables)
                self.assertExit(r, status)
                self.assertEqual(r.stdout, "", r)  # quiet


if __name__ == "__main__":
    unittest.main()
