// The command line: flags and TARGETs become Options, a UsageError, or an EarlyExit.
#include "app/options.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry;
using namespace tcpretry::app;
using namespace std::chrono_literals;
using tcpretry::test::Argv;

namespace {

using Args = std::vector<std::string>;

// No TCPRETRY_ variables: the shell running the tests cannot change what they see
// (tests/unit/test_app_env.cpp gives them).
ParseResult parse(const Args& args) {
    Argv argv(args);
    return parse_options(argv.argc(), argv.argv(), Environment{});
}

Options parse_ok(const Args& args) {
    auto r = parse(args);
    if (auto* e = std::get_if<UsageError>(&r))
        FAIL("unexpected usage error: " << e->message);
    if (std::holds_alternative<EarlyExit>(r))
        FAIL("unexpected early exit");
    return std::get<Options>(r);
}

std::string usage_error(const Args& args) {
    auto r = parse(args);
    if (!std::holds_alternative<UsageError>(r)) {
        FAIL("expected a usage error");
        return {};
    }
    return std::get<UsageError>(r).message;
}

} // namespace

TEST_CASE("parse_options: defaults") {
    Options o = parse_ok({"db:5432"});
    REQUIRE(o.targets.size() == 1);
    CHECK(o.targets[0].text == "db:5432");
    CHECK(o.targets[0].host == "db");
    CHECK(o.targets[0].port == 5432);
    CHECK_FALSE(o.timeout);
    CHECK(o.attempts == 0);
    CHECK(o.connect_timeout == 3s);
    CHECK(o.backoff.initial == 100ms);
    CHECK(o.backoff.max == 500ms);
    CHECK(o.backoff.multiplier == 2.0);
    CHECK(o.backoff.jitter == doctest::Approx(0.1));
    CHECK_FALSE(o.seed);
    CHECK_FALSE(o.family);
    CHECK_FALSE(o.source);
    CHECK_FALSE(o.resolver);
    CHECK(o.needed == 1); // all of the one target
    CHECK(o.parallel == 1024);
    CHECK(o.format == Format::human);
    CHECK(o.verbosity == Verbosity::normal);
    CHECK(o.color == ColorMode::automatic);
    CHECK(o.command.empty());
    CHECK_FALSE(o.recheck);
    CHECK_FALSE(o.timestamps);
    CHECK(o.warnings.empty());
}

TEST_CASE("parse_options: several targets keep their order") {
    Options o = parse_ok({"db:5432", "[::1]:80", "127.0.0.1:https"});
    REQUIRE(o.targets.size() == 3);
    CHECK(o.targets[0].text == "db:5432");
    CHECK(o.targets[1].text == "[::1]:80");
    CHECK(o.targets[2].port == 443);
}

TEST_CASE("parse_options: retry options") {
    SUBCASE("--once is --attempts 1") {
        CHECK(parse_ok({"--once", "db:1"}).attempts == 1);
    }
    SUBCASE("--attempts / -n") {
        CHECK(parse_ok({"--attempts", "3", "db:1"}).attempts == 3);
        CHECK(parse_ok({"-n", "5", "db:1"}).attempts == 5);
        CHECK(parse_ok({"--attempts=7", "db:1"}).attempts == 7);
        CHECK(parse_ok({"-n", "0", "db:1"}).attempts == 0);
    }
    SUBCASE("--timeout / -t") {
        auto o = parse_ok({"-t", "1.5s", "db:1"});
        REQUIRE(o.timeout);
        CHECK(*o.timeout == 1500ms);
        CHECK(*parse_ok({"--timeout", "2m", "db:1"}).timeout == 2min);
        CHECK(*parse_ok({"--timeout=30", "db:1"}).timeout == 30s);
        CHECK(*parse_ok({"-t", "1m30s", "db:1"}).timeout == 90s);
        CHECK(*parse_ok({"-t", "1h2m", "db:1"}).timeout == 62min);
    }
    SUBCASE("--timeout 0 is no deadline (wait-for-it's -t 0)") {
        for (const char* zero : {"0", "0s", "0ms", "0m00s"}) {
            CAPTURE(zero);
            CHECK_FALSE(parse_ok({"-t", zero, "db:1"}).timeout);
            CHECK_FALSE(parse_ok({"--timeout", zero, "-w", "db:1"}).timeout);
        }
    }
    SUBCASE("--connect-timeout / -T") {
        CHECK(parse_ok({"-T", "250ms", "db:1"}).connect_timeout == 250ms);
        CHECK(parse_ok({"--connect-timeout", "1h", "db:1"}).connect_timeout == 1h);
    }
    SUBCASE("delays, multiplier, jitter, seed") {
        auto o = parse_ok({"--initial-delay", "50ms", "--max-delay", "2s", "--multiplier", "1.5",
                           "--jitter", "0.25", "--seed", "42", "db:1"});
        CHECK(o.backoff.initial == 50ms);
        CHECK(o.backoff.max == 2s);
        CHECK(o.backoff.multiplier == 1.5);
        CHECK(o.backoff.jitter == 0.25);
        REQUIRE(o.seed);
        CHECK(*o.seed == 42);
        CHECK(*parse_ok({"--seed", "18446744073709551615", "db:1"}).seed ==
              18446744073709551615ULL);
        CHECK(*parse_ok({"--seed", "0", "db:1"}).seed == 0);
    }
    SUBCASE("initial equal to max is fine") {
        auto o = parse_ok({"--initial-delay", "200ms", "--max-delay", "200ms", "db:1"});
        CHECK(o.backoff.initial == 200ms);
        CHECK(o.backoff.max == 200ms);
    }
    SUBCASE("only --initial-delay above the default max moves max up") {
        auto o = parse_ok({"--initial-delay", "1s", "db:1"});
        CHECK(o.backoff.initial == 1s);
        CHECK(o.backoff.max == 1s);
    }
    SUBCASE("only --max-delay below the default initial moves initial down") {
        auto o = parse_ok({"--max-delay", "50ms", "db:1"});
        CHECK(o.backoff.initial == 50ms);
        CHECK(o.backoff.max == 50ms);
    }
    SUBCASE("only one given, no conflict: the other keeps its default") {
        CHECK(parse_ok({"--initial-delay", "200ms", "db:1"}).backoff.max == 500ms);
        CHECK(parse_ok({"--max-delay", "2s", "db:1"}).backoff.initial == 100ms);
    }
    SUBCASE("delays are at least 1 ms") {
        auto o = parse_ok({"--initial-delay", "0", "--max-delay", "0", "db:1"});
        CHECK(o.backoff.initial == 1ms);
        CHECK(o.backoff.max == 1ms);
    }
    SUBCASE("jitter and multiplier bounds are inclusive") {
        CHECK(parse_ok({"--jitter", "0", "db:1"}).backoff.jitter == 0.0);
        CHECK(parse_ok({"--jitter", "1", "db:1"}).backoff.jitter == 1.0);
        CHECK(parse_ok({"--multiplier", "1", "db:1"}).backoff.multiplier == 1.0);
    }
    SUBCASE("--all / --any / --quorum") {
        CHECK(parse_ok({"a:1", "b:2", "c:3"}).needed == 3);
        CHECK(parse_ok({"--all", "a:1", "b:2"}).needed == 2);
        CHECK(parse_ok({"--any", "a:1", "b:2"}).needed == 1);
        CHECK(parse_ok({"--quorum", "2", "a:1", "b:2", "c:3"}).needed == 2);
    }
}

TEST_CASE("parse_options: initial delay above max delay, both given, is an error") {
    std::string m = usage_error({"--initial-delay", "1s", "--max-delay", "500ms", "db:1"});
    CHECK(m.find("'1s'") != std::string::npos);
    CHECK(m.find("'500ms'") != std::string::npos);
}

TEST_CASE("parse_options: network options") {
    SUBCASE("-4 / -6") {
        CHECK(parse_ok({"-4", "db:1"}).family == core::Family::ipv4);
        CHECK(parse_ok({"-6", "db:1"}).family == core::Family::ipv6);
        CHECK(parse_ok({"-4", "127.0.0.1:1"}).family == core::Family::ipv4);
        CHECK(parse_ok({"-6", "[::1]:1"}).family == core::Family::ipv6);
    }
    SUBCASE("-4 with an IPv6 literal, -6 with an IPv4 literal") {
        std::string m = usage_error({"-4", "[::1]:80"});
        CHECK(m.find("'[::1]:80'") != std::string::npos);
        CHECK(m.find("ipv6") != std::string::npos);
        CHECK_FALSE(usage_error({"-6", "127.0.0.1:80"}).empty());
    }
    SUBCASE("--source") {
        auto o = parse_ok({"--source", "127.0.0.1", "db:1"});
        REQUIRE(o.source);
        CHECK(o.source->host() == "127.0.0.1");
        CHECK(o.source->port() == 0);
        CHECK(o.family == core::Family::ipv4); // only addresses the source can reach
        CHECK(parse_ok({"--source", "::1", "db:1"}).family == core::Family::ipv6);
        CHECK(usage_error({"--source", "127.0.0.1", "[::1]:80"}).find("'[::1]:80'") !=
              std::string::npos);
        CHECK(usage_error({"--source", "::1", "-4", "db:1"}).find("'::1'") != std::string::npos);
        CHECK(usage_error({"--source", "myhost", "db:1"}).find("'myhost'") != std::string::npos);
    }
    SUBCASE("--resolver") {
        auto o = parse_ok({"--resolver", "127.0.0.1:5353", "db:1"});
        REQUIRE(o.resolver);
        CHECK(*o.resolver == "127.0.0.1:5353");
        CHECK(*parse_ok({"--resolver", "[::1]:53", "db:1"}).resolver == "[::1]:53");
        CHECK(*parse_ok({"--resolver", "127.0.0.1", "db:1"}).resolver == "127.0.0.1:53");
        CHECK(usage_error({"--resolver", "dns.example", "db:1"}).find("'dns.example'") !=
              std::string::npos);
    }
}

TEST_CASE("parse_resolver") {
    struct Row {
        std::string text;
        std::optional<std::string> normalised;
    };
    const std::vector<Row> rows{
        {"127.0.0.1", "127.0.0.1:53"},
        {"127.0.0.1:5353", "127.0.0.1:5353"},
        {"127.0.0.1:1", "127.0.0.1:1"},
        {"127.0.0.1:65535", "127.0.0.1:65535"},
        {"[::1]:53", "[::1]:53"},
        {"[::1]:5353", "[::1]:5353"},
        {"[::1]", "[::1]:53"},
        {"::1", "[::1]:53"},
        {"2001:db8::53", "[2001:db8::53]:53"},
        {"", std::nullopt},
        {"dns.example", std::nullopt},
        {"dns.example:53", std::nullopt},
        {"127.0.0.1:", std::nullopt},
        {"127.0.0.1:0", std::nullopt},
        {"127.0.0.1:65536", std::nullopt},
        {"127.0.0.1:domain", std::nullopt},
        {"127.0.0.1:-1", std::nullopt},
        {"256.0.0.1", std::nullopt},
        {"[::1", std::nullopt},
        {"[::1]53", std::nullopt},
        {"[::1]:", std::nullopt},
        {"[::1]:0", std::nullopt},
        {"[]:53", std::nullopt},
        {"127.0.0.1\n", std::nullopt},
        {"127.0.0.1:53\xff", std::nullopt},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(parse_resolver(row.text) == row.normalised);
    }
}

TEST_CASE("parse_count") {
    struct Row {
        std::string text;
        std::optional<unsigned> n;
    };
    const std::vector<Row> rows{
        {"0", 0u},
        {"1", 1u},
        {"42", 42u},
        {"007", 7u},
        {"999999999", 999999999u},
        {"", std::nullopt},
        {"-1", std::nullopt},
        {"+1", std::nullopt},
        {"1.5", std::nullopt},
        {"abc", std::nullopt},
        {" 1", std::nullopt},
        {"1 ", std::nullopt},
        {"1e3", std::nullopt},
        {"9999999999", std::nullopt},
        {"99999999999999999999", std::nullopt},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(parse_count(row.text) == row.n);
    }
}

TEST_CASE("parse_options: output options") {
    CHECK(parse_ok({"-j", "db:1"}).format == Format::json);
    CHECK(parse_ok({"--json", "db:1"}).format == Format::json);
    CHECK(parse_ok({"-q", "db:1"}).verbosity == Verbosity::quiet);
    CHECK(parse_ok({"--verbose", "db:1"}).verbosity == Verbosity::verbose);
    CHECK(parse_ok({"--color", "always", "db:1"}).color == ColorMode::always);
    CHECK(parse_ok({"--color", "never", "db:1"}).color == ColorMode::never);
    CHECK(parse_ok({"--color=auto", "db:1"}).color == ColorMode::automatic);
    // JSON lines are the output: -q and -v have no effect there.
    CHECK(parse_ok({"-jv", "db:1"}).verbosity == Verbosity::normal);
    CHECK(parse_ok({"--json", "-q", "db:1"}).verbosity == Verbosity::normal);
    CHECK(parse_ok({"--format", "json", "-q", "db:1"}).verbosity == Verbosity::normal);
    CHECK(parse_ok({"--json", "-q", "db:1"}).format == Format::json);
    CHECK(parse_ok({"--format", "prometheus", "-q", "db:1"}).verbosity == Verbosity::quiet);
    SUBCASE("--timestamps / --no-timestamps") {
        CHECK(parse_ok({"--timestamps", "db:1"}).timestamps == true);
        CHECK(parse_ok({"--no-timestamps", "db:1"}).timestamps == false);
        CHECK(parse_ok({"-w", "--timestamps", "db:1"}).timestamps == true);
        CHECK(parse_ok({"--json", "--no-timestamps", "db:1"}).timestamps == false);
        CHECK(usage_error({"--timestamps", "--no-timestamps", "db:1"}).find("--no-timestamps") !=
              std::string::npos);
        CHECK(usage_error({"--json", "--timestamps", "db:1"}).find("--timestamps") !=
              std::string::npos);
    }
    SUBCASE("--metrics-listen") {
        auto o = parse_ok({"--metrics-listen", "127.0.0.1:9464", "db:1"});
        REQUIRE(o.metrics_listen);
        CHECK(o.metrics_listen->host() == "127.0.0.1");
        CHECK(o.metrics_listen->port() == 9464);
        o = parse_ok({"--metrics-listen", "[::1]:9100", "db:1"});
        REQUIRE(o.metrics_listen);
        CHECK(o.metrics_listen->host() == "::1");
        // ":PORT" is all addresses: [::], dual stack.
        o = parse_ok({"--metrics-listen", ":9100", "db:1"});
        REQUIRE(o.metrics_listen);
        CHECK(o.metrics_listen->host() == "::");
        CHECK(o.metrics_listen->port() == 9100);
        for (const char* bad :
             {":", ":0", ":65536", ":x", "db:9100", "9100", "tcp://127.0.0.1:1"}) {
            CAPTURE(bad);
            std::string m = usage_error({"--metrics-listen", bad, "db:1"});
            CHECK(m.find("--metrics-listen: invalid value '" + std::string(bad) + "'") !=
                  std::string::npos);
        }
    }
}

TEST_CASE("parse_options: --recheck (watch mode)") {
    auto o = parse_ok({"-w", "--recheck", "30s", "db:1"});
    REQUIRE(o.recheck);
    CHECK(*o.recheck == 30s);
    CHECK(*parse_ok({"--watch", "--recheck=1m30s", "db:1"}).recheck == 90s);
    CHECK(usage_error({"--recheck", "30s", "db:1"}) == "--recheck has no effect without --watch");
    CHECK(usage_error({"-w", "--recheck", "0", "db:1"}) ==
          "--recheck: invalid value '0' (more than 0)");
    CHECK(
        usage_error({"-w", "--recheck", "soon", "db:1"}).find("--recheck: invalid value 'soon'") ==
        0);
}

TEST_CASE("parse_options: a target given twice is probed twice, with one warning") {
    auto o = parse_ok({"127.0.0.1:80", "db:5432", "127.0.0.1:80", "other:1", "127.0.0.1:http"});
    CHECK(o.targets.size() == 5);
    REQUIRE(o.warnings.size() == 1);
    CHECK(o.warnings[0] == "target 127.0.0.1:80 is given 3 times; each copy is probed");
    CHECK(o.needed == 5);

    o = parse_ok({"DB.example.:5432", "tcp://db.example:5432", "[::1]:80", "[0::1]:80", "db:1"});
    CHECK(o.targets.size() == 5);
    REQUIRE(o.warnings.size() == 2);
    CHECK(o.warnings[0] == "target DB.example.:5432 is given 2 times; each copy is probed");
    CHECK(o.warnings[1] == "target [::1]:80 is given 2 times; each copy is probed");

    CHECK(parse_ok({"db:1", "db:2", "[::1]:1", "127.0.0.1:1"}).warnings.empty());
}

TEST_CASE("parse_options: tcp://HOST:PORT targets") {
    auto o = parse_ok({"tcp://db:5432", "tcp://[::1]:80/"});
    REQUIRE(o.targets.size() == 2);
    CHECK(o.targets[0].host == "db");
    CHECK(o.targets[0].port == 5432);
    CHECK(o.targets[1].numeric);
    // http:// and https:// are HTTP TARGETs now (test_app_options_http.cpp).
    CHECK(parse_ok({"http://db:80"}).targets[0].port == 80);
}

TEST_CASE("parse_options: '--' splits off the COMMAND") {
    SUBCASE("simple") {
        auto o = parse_ok({"db:5432", "--", "migrate", "--all"});
        REQUIRE(o.targets.size() == 1);
        CHECK(o.command == std::vector<std::string>{"migrate", "--all"});
        CHECK(o.needed == 1);      // all of the one target
        CHECK(o.parallel == 1024); // the COMMAND's --all is not ours
    }
    SUBCASE("options before the targets, and COMMAND words that look like targets or options") {
        auto o = parse_ok(
            {"-n", "3", "db:1", "cache:2", "--", "sh", "-c", "echo db:3", "--", "-v", "x:4"});
        REQUIRE(o.targets.size() == 2);
        CHECK(o.attempts == 3);
        CHECK(o.verbosity == Verbosity::normal);
        CHECK(o.command == std::vector<std::string>{"sh", "-c", "echo db:3", "--", "-v", "x:4"});
    }
    SUBCASE("an empty argument is kept") {
        CHECK(parse_ok({"db:1", "--", "printf", ""}).command ==
              std::vector<std::string>{"printf", ""});
    }
    SUBCASE("'--' with nothing after it") {
        CHECK(usage_error({"db:1", "--"}).find("COMMAND") != std::string::npos);
    }
    SUBCASE("'--' with no target before it") {
        CHECK(usage_error({"--", "echo", "db:1"}).find("TARGET") != std::string::npos);
    }
}

TEST_CASE("parse_options: --help and --version are early exits") {
    SUBCASE("--help shows the groups and defaults") {
        for (const char* flag : {"--help", "-h"}) {
            CAPTURE(flag);
            auto r = parse({flag});
            REQUIRE(std::holds_alternative<EarlyExit>(r));
            const std::string& text = std::get<EarlyExit>(r).text;
            for (const char* piece :
                 {"Retry", "Network", "Output", "--initial-delay", "100ms", "500ms", "3s",
                  "--jitter", "0.1", "--resolver", "--json", "TARGET", "--once"}) {
                CAPTURE(piece);
                CHECK(text.find(piece) != std::string::npos);
            }
        }
    }
    SUBCASE("--help with other options still prints the help") {
        for (const Args& args : {Args{"--help", "-v"}, Args{"-h", "-t", "5s"}, Args{"-q", "-h"},
                                 Args{"--help", "--json", "--bogus"}}) {
            CAPTURE(args[0]);
            CHECK(std::holds_alternative<EarlyExit>(parse(args)));
        }
    }
    SUBCASE(
        "-h/--help beside anything that is no option is a usage error (wait-for-it's -h HOST)") {
        // A compose entrypoint "tcpretry -h db -p 5432 -- migrate" must not look like success.
        CHECK(usage_error({"-h", "db", "-p", "5432", "--", "migrate"}) ==
              "tcpretry takes HOST:PORT; -h is --help (did you mean 'tcpretry db:5432'?)");
        CHECK(usage_error({"-h", "db", "-p", "5432"}).find("'tcpretry db:5432'") !=
              std::string::npos);
        CHECK(usage_error({"-h", "db"}) == "tcpretry takes HOST:PORT; -h is --help");
        CHECK(usage_error({"--help", "db:0"}) == "tcpretry takes HOST:PORT; -h is --help");
        CHECK(usage_error({"-h", "db:5432"}) ==
              "tcpretry takes HOST:PORT; -h is --help (did you mean 'tcpretry db:5432'?)");
        CHECK(usage_error({"--help", "--", "migrate"}) == "tcpretry takes HOST:PORT; -h is --help");
        CHECK(usage_error({"-p", "5432", "-h", "db", "-t", "10"}).find("'tcpretry db:5432'") !=
              std::string::npos);
    }
    SUBCASE("--help tells of compound durations, -t 0, CRLF and --json -q") {
        const std::string text = std::get<EarlyExit>(parse({"--help"})).text;
        for (const char* piece :
             {"1m30s", "--timeout 0 means no deadline", "CRLF", "-q and -v have no effect",
              "tcp://", "--recheck", "--timestamps", "--no-timestamps", ":PORT: all addresses"}) {
            CAPTURE(piece);
            CHECK(text.find(piece) != std::string::npos);
        }
    }
    SUBCASE("--version") {
        auto r = parse({"--version"});
        REQUIRE(std::holds_alternative<EarlyExit>(r));
        const std::string& text = std::get<EarlyExit>(r).text;
        CHECK(text.find(version()) != std::string::npos);
        CHECK(text.find("tcpretry") != std::string::npos);
        CHECK(text.back() == '\n');
    }
}

TEST_CASE("parse_options: every usage error is one line naming the problem") {
    struct Row {
        Args args;
        std::string expect; // a piece of the message
    };
    const std::vector<Row> rows{
        {{}, "TARGET"},
        {{"-n", "3"}, "TARGET"},
        {{"--bogus", "db:1"}, "--bogus"},
        {{"-x", "db:1"}, "-x"},
        {{"db:0"}, "'db:0'"},
        {{":80"}, "':80'"},
        {{"db:"}, "'db:'"},
        {{"[::1"}, "'[::1'"},
        {{"db:5432", "db:99999"}, "'db:99999'"},
        {{"db\n:1"}, "'db\\x0a:1'"},
        {{"d\xff:1"}, "invalid UTF-8"},
        {{"--timeout", "abc", "db:1"}, "'abc'"},
        {{"--timeout=-1s", "db:1"}, "'-1s'"},
        {{"--timeout", "1x", "db:1"}, "'1x'"},
        {{"--timeout", "inf", "db:1"}, "'inf'"},
        {{"--timeout", "", "db:1"}, "--timeout"},
        {{"--timeout"}, "--timeout"},
        {{"-T", "0", "db:1"}, "--connect-timeout"},
        {{"-T", "0ms", "db:1"}, "--connect-timeout"},
        {{"--connect-timeout", "nan", "db:1"}, "'nan'"},
        {{"--initial-delay", "fast", "db:1"}, "'fast'"},
        {{"--max-delay=-5ms", "db:1"}, "'-5ms'"},
        {{"--initial-delay", "1s", "--max-delay", "500ms", "db:1"}, "--initial-delay"},
        {{"--attempts", "abc", "db:1"}, "'abc'"},
        {{"--attempts=-1", "db:1"}, "'-1'"},
        {{"-n", "1.5", "db:1"}, "'1.5'"},
        {{"--once", "-n", "2", "db:1"}, "--once"},
        {{"--jitter", "1.1", "db:1"}, "'1.1'"},
        {{"--jitter=-0.1", "db:1"}, "'-0.1'"},
        {{"--jitter", "abc", "db:1"}, "'abc'"},
        {{"--jitter", "nan", "db:1"}, "'nan'"},
        {{"--jitter", "inf", "db:1"}, "'inf'"},
        {{"--multiplier", "0.5", "db:1"}, "'0.5'"},
        {{"--multiplier", "0", "db:1"}, "'0'"},
        {{"--multiplier=-2", "db:1"}, "'-2'"},
        {{"--multiplier", "x", "db:1"}, "'x'"},
        {{"--seed", "abc", "db:1"}, "'abc'"},
        {{"--seed=-1", "db:1"}, "'-1'"},
        {{"--seed", "18446744073709551616", "db:1"}, "seed"},
        {{"-4", "-6", "db:1"}, "-4"},
        {{"-4", "[::1]:80"}, "'[::1]:80'"},
        {{"-6", "127.0.0.1:80"}, "'127.0.0.1:80'"},
        {{"--all", "--any", "db:1"}, "--any"},
        {{"-q", "-v", "db:1"}, "--quiet"},
        {{"--color", "sometimes", "db:1"}, "'sometimes'"},
        {{"--resolver", "1.2.3.4:0", "db:1"}, "'1.2.3.4:0'"},
        {{"--resolver", "[::1", "db:1"}, "'[::1'"},
        {{"--source", "nope", "db:1"}, "'nope'"},
        {{"db:1", "--"}, "COMMAND"},
    };
    for (const auto& row : rows) {
        std::string joined;
        for (const auto& a : row.args)
            joined += "[" + a + "] ";
        CAPTURE(joined);
        std::string m = usage_error(row.args);
        CAPTURE(m);
        CHECK_FALSE(m.empty());
        CHECK(m.find('\n') == std::string::npos);
        CHECK(m.find('\r') == std::string::npos);
        CHECK(core::is_clean_text(m));
        CHECK(m.find(row.expect) != std::string::npos);
    }
}

TEST_CASE("parse_options: negative numbers given as separate arguments are errors naming them") {
    // CLI11 hands "-1" over as the option's value; the value check then names it.
    struct Row {
        Args args;
        std::string expect;
    };
    const std::vector<Row> rows{
        {{"-n", "-1", "db:1"}, "'-1'"},
        {{"--timeout", "-1", "db:1"}, "'-1'"},
        {{"--jitter", "-0.5", "db:1"}, "'-0.5'"},
        {{"--multiplier", "-1", "db:1"}, "'-1'"},
        {{"--initial-delay", "-100ms", "db:1"}, "'-100ms'"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.args[0]);
        std::string m = usage_error(row.args);
        CAPTURE(m);
        CHECK(m.find('\n') == std::string::npos);
        CHECK(m.find(row.expect) != std::string::npos);
    }
}

TEST_CASE("parse_options: every invalid value is '--FLAG: invalid value 'VALUE' (what is valid)'") {
    struct Row {
        Args args;
        std::string message; // the whole message
    };
    const std::string dur = " (a duration such as 250ms, 1.5s, 1m30s or seconds)";
    const std::vector<Row> rows{
        {{"--multiplier", "2000", "db:1"}, "--multiplier: invalid value '2000' (1 to 1000)"},
        {{"--multiplier", "0.5", "db:1"}, "--multiplier: invalid value '0.5' (1 to 1000)"},
        {{"--jitter", "1.5", "db:1"}, "--jitter: invalid value '1.5' (a fraction from 0 to 1)"},
        {{"-t", "soon", "db:1"}, "--timeout: invalid value 'soon'" + dur},
        {{"-t", "-1", "db:1"}, "--timeout: invalid value '-1'" + dur},
        {{"-T", "1m30", "db:1"}, "--connect-timeout: invalid value '1m30'" + dur},
        {{"-T", "0", "db:1"}, "--connect-timeout: invalid value '0' (more than 0)"},
        {{"--initial-delay", "x", "db:1"}, "--initial-delay: invalid value 'x'" + dur},
        {{"--max-delay", "x", "db:1"}, "--max-delay: invalid value 'x'" + dur},
        {{"-n", "x", "db:1"}, "--attempts: invalid value 'x' (a whole number >= 0)"},
        {{"--seed", "x", "db:1"},
         "--seed: invalid value 'x' (a whole number from 0 to 18446744073709551615)"},
        {{"--quorum", "3", "a:1", "b:1"},
         "--quorum: invalid value '3' (1 to 2, the number of targets given)"},
        {{"--parallel", "0", "db:1"}, "--parallel: invalid value '0' (a whole number >= 1)"},
        {{"-w", "--stable-after", "x", "db:1"}, "--stable-after: invalid value 'x'" + dur},
        {{"-w", "--keepalive", "1s", "db:1"},
         "--keepalive: invalid value '1s' (0 to turn it off, or at least 2s)"},
        {{"-w", "--recheck", "0", "db:1"}, "--recheck: invalid value '0' (more than 0)"},
        {{"--send", "\\q", "db:1"}, "--send: invalid value '\\q' (unknown escape '\\q')"},
        {{"--expect", "(", "db:1"}, "--expect: invalid value '('"},
        {{"--expect", "^\\d+$", "db:1"},
         "--expect: invalid value '^\\d+$' (\\d is not POSIX ERE: use [0-9])"},
        {{"--expect", "\\w", "db:1"},
         "--expect: invalid value '\\w' (\\w is not POSIX ERE: use [[:alnum:]_])"},
        {{"--expect", "a\\sb", "db:1"},
         "--expect: invalid value 'a\\sb' (\\s is not POSIX ERE: use [[:space:]])"},
        {{"--expect", "x", "--expect-timeout", "0", "db:1"},
         "--expect-timeout: invalid value '0' (more than 0)"},
        {{"-c", "x", "db:1"}, "--count: invalid value 'x' (a whole number >= 0)"},
        {{"-c", "1", "-i", "0", "db:1"}, "--interval: invalid value '0' (at least 1ms)"},
        {{"-c", "1", "-i", "x", "db:1"}, "--interval: invalid value 'x'" + dur},
        {{"--source", "x", "db:1"}, "--source: invalid value 'x' (a numeric IP address)"},
        {{"--resolver", "x", "db:1"},
         "--resolver: invalid value 'x' (ADDR, ADDR:PORT or [IPV6]:PORT)"},
        {{"--format", "xml", "db:1"}, "--format: invalid value 'xml' (human, json or prometheus)"},
        {{"--color", "x", "db:1"}, "--color: invalid value 'x' (auto, always or never)"},
        {{"--metrics-listen", "x", "db:1"}, "--metrics-listen: invalid value 'x'"},
        // What CLI11 itself finds, in the same shape.
        {{"--once=3", "db:1"}, "--once: invalid value '3' (a switch takes no value)"},
        {{"--json=x", "db:1"}, "--json: invalid value 'x' (a switch takes no value)"},
        {{"--watch=0", "db:1"}, "--watch: invalid value '0' (a switch takes no value)"},
        {{"--timeout"}, "--timeout: missing value (DUR)"},
        {{"db:1", "-c"}, "--count: missing value (N)"},
        {{"-t", "1", "-t", "2", "db:1"}, "--timeout: given more than once"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.args[0]);
        std::string m = usage_error(row.args);
        CAPTURE(m);
        CHECK(m.rfind(row.message, 0) == 0);
        CHECK(m.find('\n') == std::string::npos);
    }
}

TEST_CASE("parse_options: TLS options") {
    SUBCASE("--tls alone: a check with a TLS context and the connect timeout") {
        Options o = parse_ok({"--tls", "-T", "2s", "db:5432"});
        REQUIRE(o.check);
        CHECK(o.check->tls.has_value());
        CHECK_FALSE(o.check->starttls);
        CHECK(o.check->timeout == std::chrono::seconds(2));
        CHECK(o.check->send.empty());
        CHECK_FALSE(o.check->expect);
    }
    SUBCASE("--starttls implies --tls; the values reach the context's config") {
        Options o = parse_ok({"--starttls", "postgres", "--insecure", "--sni", "db.example",
                              "--tls-min-version", "1.3", "--alpn", "h2,http/1.1",
                              "--cert-min-days", "14", "db:5432"});
        REQUIRE(o.check);
        REQUIRE(o.check->tls);
        CHECK(o.check->starttls == core::StartTlsProtocol::postgres);
        const core::TlsConfig& c = o.check->tls->config();
        CHECK(c.insecure);
        CHECK(c.sni == "db.example");
        CHECK(c.min_version == core::TlsVersion::tls1_3);
        CHECK(c.alpn == std::vector<std::string>{"h2", "http/1.1"});
        CHECK(c.cert_min_days == 14);
    }
    SUBCASE("--expect-timeout bounds the TLS check alone too") {
        Options o = parse_ok({"--tls", "--expect-timeout", "5s", "db:1"});
        REQUIRE(o.check);
        CHECK(o.check->timeout == std::chrono::seconds(5));
        CHECK(usage_error({"--expect-timeout", "5s", "db:1"}) ==
              "--expect-timeout needs --expect, --send or --tls");
    }
    SUBCASE("--send/--expect keep their check, with TLS under it") {
        Options o = parse_ok({"--tls", "--send", "PING\\r\\n", "--expect", "PONG", "db:1"});
        REQUIRE(o.check);
        CHECK(o.check->tls.has_value());
        CHECK(o.check->send == "PING\r\n");
        CHECK(o.check->expect.has_value());
    }
    SUBCASE("usage errors name the flag") {
        CHECK(usage_error({"--insecure", "db:1"}) == "--insecure needs --tls or --starttls");
        CHECK(usage_error({"--alpn", "h2", "db:1"}) == "--alpn needs --tls or --starttls");
        CHECK(usage_error({"--tls", "--tls-min-version", "1.1", "db:1"}) ==
              "--tls-min-version: invalid value '1.1' (1.2 or 1.3)");
        CHECK(usage_error({"--starttls", "http", "db:1"}) ==
              "--starttls: invalid value 'http' (smtp, imap, pop3, ftp or postgres)");
        CHECK(usage_error({"--tls", "--client-key", "k.pem", "db:1"}) ==
              "--client-key needs --client-cert");
        CHECK(
            usage_error({"--tls", "--cert-min-days", "-3", "db:1"}).rfind("--cert-min-days:", 0) ==
            0);
        std::string ca = usage_error({"--tls", "--ca-file", "/nonexistent/ca.pem", "db:1"});
        CHECK(ca.rfind("--ca-file: cannot load CA file /nonexistent/ca.pem", 0) == 0);
    }
}
