// Configuration from the environment: TCPRETRY_<NAME> variables and TCPRETRY_TARGETS.
#include "app/env.hpp"
#include "app/options.hpp"

#include "support.hpp"

#include <algorithm>
#include <cctype>
#include <doctest/doctest.h>
#include <regex>
#include <set>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry;
using namespace tcpretry::app;
using namespace std::chrono_literals;
using tcpretry::test::Argv;

namespace {

using Args = std::vector<std::string>;

ParseResult parse(const Args& args, const Environment& env) {
    Argv argv(args);
    return parse_options(argv.argc(), argv.argv(), env);
}

Options parse_ok(const Args& args, const Environment& env) {
    auto r = parse(args, env);
    if (auto* e = std::get_if<UsageError>(&r))
        FAIL("unexpected usage error: " << e->message);
    if (std::holds_alternative<EarlyExit>(r))
        FAIL("unexpected early exit");
    return std::get<Options>(r);
}

std::string usage_error(const Args& args, const Environment& env) {
    auto r = parse(args, env);
    if (!std::holds_alternative<UsageError>(r)) {
        FAIL("expected a usage error");
        return {};
    }
    return std::get<UsageError>(r).message;
}

std::vector<std::string> texts(const Options& o) {
    std::vector<std::string> t;
    for (const auto& target : o.targets)
        t.push_back(target.text);
    return t;
}

std::string help_text() {
    return std::get<EarlyExit>(parse({"--help"}, {})).text;
}

// The variables --help lists: the words TCPRETRY_* after "The variables:".
std::vector<std::string> help_variables() {
    std::string help = help_text();
    auto at = help.find("The variables:");
    REQUIRE(at != std::string::npos);
    std::vector<std::string> names;
    std::regex word("TCPRETRY_[A-Z0-9_]+");
    std::string rest = help.substr(at, help.find("Exit status") - at);
    for (std::sregex_iterator it(rest.begin(), rest.end(), word), end; it != end; ++it)
        names.push_back(it->str());
    return names;
}

} // namespace

TEST_CASE("env_name: TCPRETRY_ and the long name in capitals, '_' for '-'") {
    struct Case {
        const char* flag;
        const char* name;
    };
    for (auto c : {Case{"--timeout", "TCPRETRY_TIMEOUT"},
                   Case{"--connect-timeout", "TCPRETRY_CONNECT_TIMEOUT"},
                   Case{"--no-timestamps", "TCPRETRY_NO_TIMESTAMPS"},
                   Case{"--metrics-listen", "TCPRETRY_METRICS_LISTEN"}, Case{"-4", "TCPRETRY_IPV4"},
                   Case{"-6", "TCPRETRY_IPV6"}}) {
        CAPTURE(c.flag);
        CHECK(env_name(c.flag) == c.name);
    }
}

TEST_CASE("parse_switch: flag-like words in any case, nothing else") {
    for (const char* yes : {"1", "true", "TRUE", "True", "yes", "YES"}) {
        CAPTURE(yes);
        CHECK(parse_switch(yes) == std::optional<bool>(true));
    }
    for (const char* no : {"0", "false", "False", "no", "NO"}) {
        CAPTURE(no);
        CHECK(parse_switch(no) == std::optional<bool>(false));
    }
    for (const char* bad : {"2", "on", "off", "y", "n", " 1", "1 ", "maybe", "-1", "00"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_switch(bad));
    }
}

TEST_CASE("split_targets: spaces, tabs, commas and newlines separate; no empty words") {
    struct Case {
        const char* text;
        std::vector<std::string> words;
    };
    for (const auto& c : {
             Case{"a:1 b:2", {"a:1", "b:2"}},
             Case{"a:1,b:2", {"a:1", "b:2"}},
             Case{"a:1\nb:2", {"a:1", "b:2"}},
             Case{"a:1\r\nb:2\r\n", {"a:1", "b:2"}},
             Case{"a:1\tb:2", {"a:1", "b:2"}},
             Case{" ,a:1 , b:2,\n c:3 ,,", {"a:1", "b:2", "c:3"}},
             Case{"[::1]:80,tcp://db:5432", {"[::1]:80", "tcp://db:5432"}},
             Case{"", {}},
             Case{" , \n", {}},
         }) {
        CAPTURE(c.text);
        CHECK(split_targets(c.text) == c.words);
    }
}

TEST_CASE("read_environment keeps TCPRETRY_* entries only, empty values too") {
    const char* envp[] = {
        "PATH=/bin",        "TCPRETRY_TIMEOUT=5s", "TCPRETRY_JSON=",    "TCPRETRY=/bin/x",
        "XTCPRETRY_ONCE=1", "TCPRETRY_ODD",        "TCPRETRY_SEND=a=b", nullptr};
    Environment env = read_environment(envp);
    CHECK(env ==
          Environment{{"TCPRETRY_TIMEOUT", "5s"}, {"TCPRETRY_JSON", ""}, {"TCPRETRY_SEND", "a=b"}});
    CHECK(read_environment(nullptr).empty());
}

TEST_CASE("unknown_variable_warnings: one line each, a did-you-mean when near") {
    std::vector<std::string> known = {"TCPRETRY_TIMEOUT", "TCPRETRY_TARGETS", "TCPRETRY_JSON",
                                      "TCPRETRY_CONNECT_TIMEOUT"};
    Environment excluded = {{"TCPRETRY_HELP", "--help"}};
    auto w = unknown_variable_warnings({{"TCPRETRY_TIMOUT", "3"},
                                        {"TCPRETRY_TARGET", "db:1"},
                                        {"TCPRETRY_JSNO", "1"},
                                        {"TCPRETRY_json", "1"},
                                        {"TCPRETRY_COFFEE", "1"},
                                        {"TCPRETRY_TIMEOUT", "1"},
                                        {"TCPRETRY_HELP", "1"},
                                        {"TCPRETRY_PACKAGE_TEST", "1"},
                                        {"TCPRETRY_STATIC_BUILD_DIR", "/tmp/b"},
                                        {"TCPRETRY_TEST_X", "1"},
                                        {"TCPRETRY_STATIC", "ON"}},
                                       known, excluded);
    CHECK(w ==
          std::vector<std::string>{
              "TCPRETRY_COFFEE is not a tcpretry variable; ignored",
              "TCPRETRY_HELP is ignored: --help cannot come from the environment",
              "TCPRETRY_JSNO is not a tcpretry variable; ignored (did you mean TCPRETRY_JSON?)",
              "TCPRETRY_TARGET is not a tcpretry variable; ignored (did you mean "
              "TCPRETRY_TARGETS?)",
              "TCPRETRY_TIMOUT is not a tcpretry variable; ignored (did you mean "
              "TCPRETRY_TIMEOUT?)",
              "TCPRETRY_json is not a tcpretry variable; ignored (did you mean TCPRETRY_JSON?)",
          });
}

TEST_CASE("the variables are the option table's: every option of --help has one, listed") {
    std::string help = help_text();
    std::vector<std::string> listed = help_variables();
    std::set<std::string> expected = {"TCPRETRY_TARGETS"};
    // The option part of --help: every flag with a long name, and -4 / -6.
    std::string options = help.substr(0, help.find("TARGET is HOST:PORT"));
    std::regex flag(R"((^|[ ,])(--[a-z][a-z-]*|-[46])\b)");
    for (std::sregex_iterator it(options.begin(), options.end(), flag), end; it != end; ++it) {
        std::string f = (*it)[2].str();
        if (f != "--help" && f != "--version")
            expected.insert(env_name(f));
    }
    CHECK(expected.size() == 54); // 39 options with values, 14 switches, TARGETS
    CHECK(std::set<std::string>(listed.begin(), listed.end()) == expected);
    CHECK(listed.size() == expected.size()); // each once
    std::string flat = help;                 // the footer is wrapped: a rule may span lines
    std::replace(flat.begin(), flat.end(), '\n', ' ');
    for (const char* rule :
         {"TCPRETRY_ and its", "the command line wins", "1, true, yes, 0, false",
          "TCPRETRY_TIMESTAMPS=0 is --no-timestamps", "An empty variable is unset",
          "separated by spaces, commas or newlines", "but --help and --version"}) {
        CAPTURE(rule);
        CHECK(flat.find(rule) != std::string::npos);
    }
    // Each listed variable is read: none draws an unknown-variable warning, none is reserved.
    for (const std::string& name : listed) {
        CAPTURE(name);
        CHECK_FALSE(is_reserved(name));
        auto r = parse({"db:1"}, {{name, ""}});
        if (auto* o = std::get_if<Options>(&r))
            CHECK(o->warnings.empty());
    }
}

TEST_CASE("each variable sets its option") {
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_TIMEOUT", "30s"}}).timeout == 30s);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_CONNECT_TIMEOUT", "1m30s"}}).connect_timeout == 90s);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_ATTEMPTS", "7"}}).attempts == 7);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_ONCE", "yes"}}).attempts == 1);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_MAX_DELAY", "2s"}}).backoff.max == 2s);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_SEED", "42"}}).seed == std::optional<uint64_t>(42));
    CHECK(parse_ok({"a:1", "b:2"}, {{"TCPRETRY_ANY", "1"}}).needed == 1);
    CHECK(parse_ok({"a:1", "b:2"}, {{"TCPRETRY_QUORUM", "1"}}).needed == 1);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_WATCH", "true"}}).mode == Mode::watch);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_COUNT", "3"}}).mode == Mode::ping);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_IPV6", "1"}}).family == core::Family::ipv6);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_IPV4", "1"}}).family == core::Family::ipv4);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_RESOLVER", "127.0.0.1:53"}}).resolver ==
          std::optional<std::string>("127.0.0.1:53"));
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_FORMAT", "prometheus"}}).format == Format::prometheus);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_QUIET", "1"}}).verbosity == Verbosity::quiet);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_VERBOSE", "1"}}).verbosity == Verbosity::verbose);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_COLOR", "never"}}).color == ColorMode::never);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_TIMESTAMPS", "1"}}).timestamps ==
          std::optional<bool>(true));
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_NO_TIMESTAMPS", "1"}}).timestamps ==
          std::optional<bool>(false));
    Options check =
        parse_ok({"db:1"}, {{"TCPRETRY_SEND", "PING\\r\\n"}, {"TCPRETRY_EXPECT", "^\\+PONG"}});
    REQUIRE(check.check);
    CHECK(check.check->send == "PING\r\n");
    Options watch = parse_ok(
        {"db:1"},
        {{"TCPRETRY_WATCH", "1"}, {"TCPRETRY_KEEPALIVE", "0"}, {"TCPRETRY_RECHECK", "5s"}});
    CHECK(watch.keepalive == core::Duration::zero());
    CHECK(watch.recheck == std::optional<core::Duration>(5s));
}

TEST_CASE("switches: 1/true/yes turn on; 0/false/no leave off; empty is unset") {
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_JSON", "1"}}).format == Format::json);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_JSON", "Yes"}}).format == Format::json);
    for (const char* off : {"0", "false", "NO", ""}) {
        CAPTURE(off);
        CHECK(parse_ok({"db:1"}, {{"TCPRETRY_JSON", off}}).format == Format::human);
        CHECK(parse_ok({"db:1"}, {{"TCPRETRY_WATCH", off}}).mode == Mode::wait);
        CHECK(parse_ok({"db:1"}, {{"TCPRETRY_QUIET", off}}).verbosity == Verbosity::normal);
        // Off is not a contradiction: TCPRETRY_JSON=0 beside --format prometheus.
        CHECK(parse_ok({"db:1", "--format", "prometheus"}, {{"TCPRETRY_JSON", off}}).format ==
              Format::prometheus);
    }
    SUBCASE("TCPRETRY_TIMESTAMPS=0 is --no-timestamps; TCPRETRY_NO_TIMESTAMPS=0 is unset") {
        CHECK(parse_ok({"db:1"}, {{"TCPRETRY_TIMESTAMPS", "0"}}).timestamps ==
              std::optional<bool>(false));
        CHECK_FALSE(parse_ok({"db:1"}, {{"TCPRETRY_NO_TIMESTAMPS", "0"}}).timestamps);
        CHECK_FALSE(parse_ok({"db:1"}, {{"TCPRETRY_TIMESTAMPS", ""}}).timestamps);
        // --no-timestamps is allowed with --json; --timestamps is not.
        CHECK(parse_ok({"db:1", "--json"}, {{"TCPRETRY_TIMESTAMPS", "false"}}).format ==
              Format::json);
    }
}

TEST_CASE("an empty variable is unset, whatever its option") {
    Options o = parse_ok({"db:1"}, {{"TCPRETRY_TIMEOUT", ""},
                                    {"TCPRETRY_ATTEMPTS", ""},
                                    {"TCPRETRY_FORMAT", ""},
                                    {"TCPRETRY_SEND", ""},
                                    {"TCPRETRY_TARGETS", ""},
                                    {"TCPRETRY_ONCE", ""}});
    CHECK_FALSE(o.timeout);
    CHECK(o.attempts == 0);
    CHECK(o.format == Format::human);
    CHECK_FALSE(o.check);
    CHECK(texts(o) == std::vector<std::string>{"db:1"});
    CHECK(o.warnings.empty());
    // Not a TARGET either.
    CHECK(usage_error({}, {{"TCPRETRY_TARGETS", ""}}).rfind("no TARGET given", 0) == 0);
}

TEST_CASE("the command line wins, option by option") {
    Environment env = {{"TCPRETRY_TIMEOUT", "30s"},
                       {"TCPRETRY_CONNECT_TIMEOUT", "5s"},
                       {"TCPRETRY_FORMAT", "json"},
                       {"TCPRETRY_COLOR", "always"}};
    Options o = parse_ok({"db:1", "-t", "10s", "--color", "never"}, env);
    CHECK(o.timeout == 10s);            // the command line's
    CHECK(o.color == ColorMode::never); // the command line's
    CHECK(o.connect_timeout == 5s);     // the environment's
    CHECK(o.format == Format::json);    // the environment's
    SUBCASE("a bad value the command line overrides is not read") {
        CHECK(parse_ok({"db:1", "--timeout", "1s"}, {{"TCPRETRY_TIMEOUT", "30x"}}).timeout == 1s);
        CHECK(parse_ok({"db:1", "--json"}, {{"TCPRETRY_JSON", "maybe"}}).format == Format::json);
    }
    SUBCASE("an option given also sets aside the environment's values of the ones it excludes") {
        CHECK(parse_ok({"db:1", "-v"}, {{"TCPRETRY_QUIET", "1"}}).verbosity == Verbosity::verbose);
        CHECK(parse_ok({"db:1", "-q"}, {{"TCPRETRY_VERBOSE", "1"}}).verbosity == Verbosity::quiet);
        CHECK(parse_ok({"db:1", "--once"}, {{"TCPRETRY_ATTEMPTS", "5"}}).attempts == 1);
        CHECK(parse_ok({"db:1", "-n", "5"}, {{"TCPRETRY_ONCE", "1"}}).attempts == 5);
        CHECK(parse_ok({"db:1", "--format", "human"}, {{"TCPRETRY_JSON", "1"}}).format ==
              Format::human);
        CHECK(parse_ok({"db:1", "--json"}, {{"TCPRETRY_FORMAT", "prometheus"}}).format ==
              Format::json);
        CHECK(parse_ok({"a:1", "b:2", "--any"}, {{"TCPRETRY_QUORUM", "2"}}).needed == 1);
        CHECK(parse_ok({"a:1", "b:2", "--quorum", "2"}, {{"TCPRETRY_ANY", "1"}}).needed == 2);
        CHECK(parse_ok({"db:1", "-4"}, {{"TCPRETRY_IPV6", "1"}}).family == core::Family::ipv4);
        CHECK(parse_ok({"db:1", "--count", "2"}, {{"TCPRETRY_WATCH", "1"}}).mode == Mode::ping);
        CHECK(parse_ok({"db:1", "--watch"}, {{"TCPRETRY_COUNT", "2"}}).mode == Mode::watch);
        CHECK(parse_ok({"db:1", "--timestamps"}, {{"TCPRETRY_NO_TIMESTAMPS", "1"}}).timestamps ==
              std::optional<bool>(true));
        CHECK(parse_ok({"db:1", "--no-timestamps"}, {{"TCPRETRY_TIMESTAMPS", "1"}}).timestamps ==
              std::optional<bool>(false));
    }
    SUBCASE("--help and --version do not read the environment") {
        CHECK(std::holds_alternative<EarlyExit>(parse({"--help"}, {{"TCPRETRY_TIMEOUT", "30x"}})));
        CHECK(std::holds_alternative<EarlyExit>(parse({"--version"}, {{"TCPRETRY_ONCE", "x"}})));
    }
}

TEST_CASE("a bad value names the variable, in the flag's own words") {
    struct Case {
        const char* name;
        const char* value;
        const char* flag_message; // the same value on the command line
        const char* message;
    };
    for (auto c : {
             Case{"TCPRETRY_TIMEOUT", "30x",
                  "--timeout: invalid value '30x' (a duration such as 250ms, 1.5s, 1m30s or "
                  "seconds)",
                  "TCPRETRY_TIMEOUT: invalid value '30x' (a duration such as 250ms, 1.5s, 1m30s "
                  "or seconds)"},
             Case{"TCPRETRY_CONNECT_TIMEOUT", "0",
                  "--connect-timeout: invalid value '0' (more than 0)",
                  "TCPRETRY_CONNECT_TIMEOUT: invalid value '0' (more than 0)"},
             Case{"TCPRETRY_ATTEMPTS", "-1", nullptr,
                  "TCPRETRY_ATTEMPTS: invalid value '-1' (a whole number >= 0)"},
             Case{"TCPRETRY_PARALLEL", "0", "--parallel: invalid value '0' (a whole number >= 1)",
                  "TCPRETRY_PARALLEL: invalid value '0' (a whole number >= 1)"},
             Case{"TCPRETRY_FORMAT", "xml",
                  "--format: invalid value 'xml' (human, json or prometheus)",
                  "TCPRETRY_FORMAT: invalid value 'xml' (human, json or prometheus)"},
             Case{"TCPRETRY_COLOR", "Always",
                  "--color: invalid value 'Always' (auto, always or never)",
                  "TCPRETRY_COLOR: invalid value 'Always' (auto, always or never)"},
             Case{"TCPRETRY_SOURCE", "db", "--source: invalid value 'db' (a numeric IP address)",
                  "TCPRETRY_SOURCE: invalid value 'db' (a numeric IP address)"},
             Case{"TCPRETRY_JSON", "on", nullptr,
                  "TCPRETRY_JSON: invalid value 'on' (a switch: 1, true, yes, 0, false or no)"},
             Case{"TCPRETRY_ONCE", "2", nullptr,
                  "TCPRETRY_ONCE: invalid value '2' (a switch: 1, true, yes, 0, false or no)"},
             Case{"TCPRETRY_TARGETS", "db:1,db:0,x:2", nullptr,
                  "TCPRETRY_TARGETS: invalid target 'db:0': port 0 is out of range (1-65535)"},
             Case{"TCPRETRY_TARGETS_FILE", "/nonexistent/targets", nullptr,
                  "TCPRETRY_TARGETS_FILE: cannot read '/nonexistent/targets': No such file or "
                  "directory"},
         }) {
        CAPTURE(c.name);
        CHECK(usage_error({"db:1"}, {{c.name, c.value}}) == c.message);
        if (c.flag_message) {
            std::string flag = "--" + std::string(c.name + 9);
            for (char& ch : flag)
                ch = ch == '_' ? '-' : static_cast<char>(std::tolower(ch));
            CHECK(usage_error({"db:1", flag, c.value}, {}) == c.flag_message);
        }
    }
}

TEST_CASE("rules between options name the variables") {
    CHECK(usage_error({"db:1"}, {{"TCPRETRY_QUIET", "1"}, {"TCPRETRY_VERBOSE", "1"}}) ==
          "TCPRETRY_QUIET and TCPRETRY_VERBOSE exclude each other");
    CHECK(usage_error({"db:1"}, {{"TCPRETRY_ONCE", "1"}, {"TCPRETRY_ATTEMPTS", "3"}}) ==
          "TCPRETRY_ONCE and TCPRETRY_ATTEMPTS exclude each other");
    CHECK(usage_error({"db:1"}, {{"TCPRETRY_INTERVAL", "2s"}}) ==
          "TCPRETRY_INTERVAL needs --count (ping mode)");
    CHECK(usage_error({"db:1"}, {{"TCPRETRY_KEEPALIVE", "5s"}}) ==
          "TCPRETRY_KEEPALIVE has no effect without --watch");
    CHECK(usage_error({"db:1", "--", "true"}, {{"TCPRETRY_WATCH", "1"}}) ==
          "-- COMMAND cannot be used with TCPRETRY_WATCH (a watch does not end in success)");
    CHECK(usage_error({"db:1", "--json"}, {{"TCPRETRY_TIMESTAMPS", "1"}}) ==
          "TCPRETRY_TIMESTAMPS has no effect with --format json (it is for human output)");
    CHECK(usage_error({"db:1", "--initial-delay", "5s"}, {{"TCPRETRY_MAX_DELAY", "1s"}}) ==
          "--initial-delay '5s' is above TCPRETRY_MAX_DELAY '1s'");
    CHECK(usage_error({"db:1", "--source", "::1"}, {{"TCPRETRY_IPV4", "1"}}) ==
          "--source '::1' does not match TCPRETRY_IPV4");
    CHECK(usage_error({"db:1"}, {{"TCPRETRY_JSON", "1"}, {"TCPRETRY_FORMAT", "human"}}) ==
          "TCPRETRY_JSON and TCPRETRY_FORMAT 'human' contradict each other");
}

TEST_CASE("TCPRETRY_TARGETS: after the command line's TARGETs and the targets file") {
    CHECK(texts(parse_ok({"a:1", "b:2"}, {{"TCPRETRY_TARGETS", "c:3,d:4"}})) ==
          std::vector<std::string>{"a:1", "b:2", "c:3", "d:4"});
    CHECK(texts(parse_ok({}, {{"TCPRETRY_TARGETS", "\nc:3 d:4,\te:5\n"}})) ==
          std::vector<std::string>{"c:3", "d:4", "e:5"});
    CHECK(parse_ok({}, {{"TCPRETRY_TARGETS", "a:1 b:2"}, {"TCPRETRY_QUORUM", "2"}}).needed == 2);
    // The same target from both places is probed twice, with the usual warning.
    Options twice = parse_ok({"a:1"}, {{"TCPRETRY_TARGETS", "a:1"}});
    CHECK(twice.targets.size() == 2);
    CHECK(twice.warnings ==
          std::vector<std::string>{"target a:1 is given 2 times; each copy is probed"});
    char path[] = "/tmp/tcpretry-env-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "f:6\n", 4) == 4);
    close(fd);
    CHECK(texts(parse_ok({"a:1", "--targets-file", path}, {{"TCPRETRY_TARGETS", "c:3"}})) ==
          std::vector<std::string>{"a:1", "f:6", "c:3"});
    CHECK(texts(parse_ok({"a:1"}, {{"TCPRETRY_TARGETS_FILE", path}})) ==
          std::vector<std::string>{"a:1", "f:6"});
    unlink(path);
}

TEST_CASE("unknown TCPRETRY_ variables are warnings, not errors") {
    Options o = parse_ok({"db:1"}, {{"TCPRETRY_TIMOUT", "3s"}, {"TCPRETRY_PACKAGE_TEST", "1"}});
    CHECK(o.warnings == std::vector<std::string>{"TCPRETRY_TIMOUT is not a tcpretry variable; "
                                                 "ignored (did you mean TCPRETRY_TIMEOUT?)"});
    CHECK_FALSE(o.timeout);
    CHECK(parse_ok({"db:1"}, {{"TCPRETRY_VERSION", "1"}}).warnings ==
          std::vector<std::string>{
              "TCPRETRY_VERSION is ignored: --version cannot come from the environment"});
    // With no TARGET at all, the likely reason is said in the one line of the error.
    CHECK(usage_error({}, {{"TCPRETRY_TARGET", "db:1"}}) ==
          "no TARGET given (usage: tcpretry [OPTIONS] HOST:PORT... [-- COMMAND]); "
          "TCPRETRY_TARGET is not a tcpretry variable; ignored (did you mean TCPRETRY_TARGETS?)");
}

TEST_CASE("-- COMMAND with variables set") {
    Options o = parse_ok({"db:1", "--", "migrate", "--json"},
                         {{"TCPRETRY_TIMEOUT", "5s"}, {"TCPRETRY_TARGETS", "cache:6379"}});
    CHECK(o.command == std::vector<std::string>{"migrate", "--json"});
    CHECK(texts(o) == std::vector<std::string>{"db:1", "cache:6379"});
    CHECK(o.timeout == 5s);
}
