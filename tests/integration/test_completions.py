"""Shell completions (packaging/completions): bash, zsh and fish know every flag of
`tcpretry --help`, and no flag it lacks; the values they offer for --format and --color are
exactly the ones the parser accepts; bash and fish complete `--for<TAB>` and
`--format <TAB>`; zsh -n and fish -n accept their files. The completions are written by hand
(the parser lives in app/ and has no way to print its definitions), so these tests are what
keeps them in step with the options."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
COMPLETIONS = os.path.normpath(os.path.join(HERE, "..", "..", "packaging", "completions"))
BASH_FILE = os.path.join(COMPLETIONS, "tcpretry.bash")
ZSH_FILE = os.path.join(COMPLETIONS, "_tcpretry")
FISH_FILE = os.path.join(COMPLETIONS, "tcpretry.fish")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

# One option line of --help: "  -t,--timeout DUR=none   Overall deadline" or "  --once   ...".
# The value's name may hold single spaces: "--expect-timeout DUR=connect timeout".
HELP_OPTION_RE = re.compile(r"^  (-[^\s,]+(?:,-[^\s,]+)*)(?: (\S+(?: \S+)*?))?(?:\s{2,}|$)")


def help_options():
    """{flag: takes_value} for every flag that `tcpretry --help` lists."""
    result = harness.run("--help")
    assert result.returncode == 0, str(result)
    options = {}
    for line in result.stdout.splitlines():
        m = HELP_OPTION_RE.match(line)
        if m:
            for flag in m.group(1).split(","):
                options[flag] = m.group(2) is not None
    return options


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def valid_values(flag):
    """The values the parser accepts for flag, from its invalid-value message:
    "--format: invalid value 'x' (human, json or prometheus)"."""
    result = harness.run(flag, "not-a-value", "127.0.0.1:1")
    assert result.returncode == harness.EXIT_USAGE, str(result)
    m = re.search(r"invalid value '[^']*' \(([^)]*)\)", result.stderr)
    assert m, f"no list of valid values\n{result}"
    return set(re.split(r", | or ", m.group(1)))


def bash(script, with_bash_completion=False, env=None):
    """Runs script in a bash that has sourced the bash completion; returns stdout."""
    prelude = f"source {BASH_COMPLETION}\n" if with_bash_completion else ""
    prelude += f"source {BASH_FILE}\n"
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", prelude + script],
                         capture_output=True, text=True, timeout=30, check=True,
                         env=dict(os.environ, **(env or {})))
    return out.stdout


def bash_complete(line, with_bash_completion=False):
    """What _tcpretry offers for the command line `line` (the cursor at its end), as bash
    would call it on <TAB>: the words, COMP_CWORD, COMP_LINE and COMP_POINT."""
    script = r'''
read -ra COMP_WORDS <<<"$LINE"
[[ $LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$LINE
COMP_POINT=${#LINE}
_tcpretry tcpretry "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''
    out = bash(script, with_bash_completion, env={"LINE": line})
    return sorted(w for w in out.splitlines() if w)


def fish_complete(line):
    out = subprocess.run(["fish", "--no-config", "-c",
                          f"source {FISH_FILE}; complete -C {shquote(line)}"],
                         capture_output=True, text=True, timeout=30, check=True)
    return sorted(w.split("\t")[0] for w in out.stdout.splitlines() if w)


def shquote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def require(tool):
    if shutil.which(tool) is None:
        print(f"skipped: {tool} is not installed (scripts/deps.sh test installs it)",
              flush=True)
        raise unittest.SkipTest(f"{tool} is not installed")


class HelpParsing(unittest.TestCase):
    def test_help_lists_the_options_these_tests_rely_on(self):
        # If --help changed shape and nothing parsed, every other test would pass vacuously.
        options = help_options()
        self.assertGreater(len(options), 30, options)
        for flag, takes_value in [("-h", False), ("--help", False), ("--once", False),
                                  ("-4", False), ("-t", True), ("--timeout", True),
                                  ("--format", True), ("--color", True),
                                  ("--targets-file", True), ("--expect-timeout", True)]:
            self.assertEqual(options.get(flag), takes_value, flag)


class Bash(unittest.TestCase):
    def test_the_options_are_exactly_those_of_help(self):
        options = help_options()
        out = bash('echo $_tcpretry_value_opts; echo "|"; echo $_tcpretry_flag_opts')
        value_opts, flag_opts = (set(part.split()) for part in out.split("|"))
        self.assertEqual(value_opts, {f for f, v in options.items() if v},
                         "options that take a value (bash: _tcpretry_value_opts)")
        self.assertEqual(flag_opts, {f for f, v in options.items() if not v},
                         "options without a value (bash: _tcpretry_flag_opts)")

    def test_dash_offers_every_flag(self):
        self.assertEqual(set(bash_complete("tcpretry -")), set(help_options()) | {"--"})

    def test_for_completes_to_format(self):
        self.assertEqual(bash_complete("tcpretry --for"), ["--format"])

    def test_format_values(self):
        self.assertEqual(bash_complete("tcpretry --format "), ["human", "json", "prometheus"])
        self.assertEqual(set(bash_complete("tcpretry --format ")), valid_values("--format"))
        self.assertEqual(bash_complete("tcpretry -q db:5432 --format p"), ["prometheus"])
        # "--format=" in one word (COMP_WORDBREAKS without "=") and split at "=" (the default).
        self.assertEqual(bash_complete("tcpretry --format=j"), ["--format=json"])
        self.assertEqual(bash_complete("tcpretry --format = j"), ["json"])

    def test_color_values(self):
        self.assertEqual(set(bash_complete("tcpretry --color ")), valid_values("--color"))
        self.assertEqual(bash_complete("tcpretry --color al"), ["always"])

    def test_every_offered_value_is_accepted(self):
        closed = harness.ClosedPort()
        self.addCleanup(closed.close)
        for flag in ("--format", "--color"):
            for value in bash_complete(f"tcpretry {flag} "):
                with self.subTest(flag=flag, value=value):
                    result = harness.run(flag, value, "--once", "-q", closed.target)
                    self.assertEqual(result.returncode, harness.EXIT_FAILED, str(result))

    def test_targets_file_completes_file_names(self):
        with tempfile.TemporaryDirectory() as d:
            for name in ("targets.txt", "with space.txt"):
                open(os.path.join(d, name), "w").close()
            os.mkdir(os.path.join(d, "sub"))
            self.assertEqual(bash_complete(f"tcpretry --targets-file {d}/"),
                             [f"{d}/sub", f"{d}/targets.txt", f"{d}/with space.txt"])
            self.assertEqual(bash_complete(f"tcpretry --targets-file {d}/t"),
                             [f"{d}/targets.txt"])

    def test_free_form_values_offer_nothing(self):
        self.assertEqual(bash_complete("tcpretry --timeout "), [])
        self.assertEqual(bash_complete("tcpretry -T "), [])

    def test_after_dashdash_the_command_is_completed(self):
        self.assertIn("true", bash_complete("tcpretry db:5432 -- tru"))
        # A "--" that is the value of --send does not start the COMMAND.
        self.assertEqual(bash_complete("tcpretry --send -- --for"), ["--format"])

    def test_with_bash_completion_loaded(self):
        if not os.path.exists(BASH_COMPLETION):
            print("skipped: bash-completion is not installed (scripts/deps.sh test "
                  "installs it)", flush=True)
            self.skipTest("bash-completion is not installed")
        self.assertEqual(bash_complete("tcpretry --for", True), ["--format"])
        self.assertEqual(bash_complete("tcpretry --format ", True),
                         ["human", "json", "prometheus"])
        self.assertIn("true", bash_complete("tcpretry db:5432 -- tru", True))
        self.assertIn("tcpretry", bash("complete -p tcpretry", True))


class Zsh(unittest.TestCase):
    def setUp(self):
        require("zsh")

    def test_zsh_n_accepts_the_file(self):
        out = subprocess.run(["zsh", "-n", ZSH_FILE], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_every_flag_of_help_is_specified(self):
        # In _arguments specs a flag stands as --flag[...], -f+ / --flag= (with a value), or
        # inside {-f,--flag} before either.
        text = read(ZSH_FILE)
        specs = text[text.index("_arguments"):]
        for flag, takes_value in help_options().items():
            with self.subTest(flag=flag):
                end = r"[=+]" if takes_value else r"(?=[\[},])"
                self.assertRegex(specs, r"(?<![\w-])" + re.escape(flag) + end)

    def test_no_flag_that_help_lacks(self):
        text = read(ZSH_FILE)
        specs = text[text.index("_arguments") + len("_arguments -s"):]
        found = set(re.findall(r"(?<![\w\-\[:])(--?[\w][\w-]*)[=+]?(?=[\[},])", specs))
        self.assertEqual(found - set(help_options()), set())

    def test_fixed_values(self):
        text = read(ZSH_FILE)
        fmt = re.search(r"--format=\[[^]]*\]:format:\(\((.*?)\)\)", text).group(1)
        self.assertEqual(set(re.findall(r"(\w+)\\:", fmt)), valid_values("--format"))
        color = re.search(r"--color=\[[^]]*\]:when:\((.*?)\)", text).group(1)
        self.assertEqual(set(color.split()), valid_values("--color"))
        self.assertRegex(text, r"--targets-file=\[[^]]*\]:file:_files")


class Fish(unittest.TestCase):
    def setUp(self):
        require("fish")

    def test_fish_n_accepts_the_file(self):
        out = subprocess.run(["fish", "-n", FISH_FILE], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_the_options_are_exactly_those_of_help(self):
        declared = {}
        for line in read(FISH_FILE).splitlines():
            if not line.startswith("complete -c tcpretry"):
                continue
            takes_value = bool(re.search(r" -[xr]\b", line))
            for kind, name in re.findall(r" -([sl]) (\S+)", line):
                declared[("-" if kind == "s" else "--") + name] = takes_value
        self.assertEqual(declared, help_options())

    def test_for_completes_to_format(self):
        self.assertEqual(fish_complete("tcpretry --for"), ["--format"])

    def test_format_and_color_values(self):
        self.assertEqual(set(fish_complete("tcpretry --format ")), valid_values("--format"))
        self.assertEqual(set(fish_complete("tcpretry --color ")), valid_values("--color"))

    def test_targets_file_completes_file_names(self):
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "targets.txt"), "w").close()
            self.assertEqual(fish_complete(f"tcpretry --targets-file {d}/t"),
                             [f"{d}/targets.txt"])

    def test_after_dashdash_the_command_is_completed(self):
        self.assertIn("true", fish_complete("tcpretry db:5432 -- tru"))


if __name__ == "__main__":
    unittest.main()
