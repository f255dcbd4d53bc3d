// Human-readable output: number formats, one line per event, repeats summarised every 10 s.
#include "app/human_reporter.hpp"

#include "support.hpp"

#include <cerrno>
#include <doctest/doctest.h>
#include <event2/util.h>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry;
using namespace tcpretry::app;
using namespace std::chrono_literals;
using tcpretry::test::MemoryFile;
using Lines = std::vector<std::string>;

namespace {

core::Target target(const std::string& text) {
    auto r = core::parse_target(text);
    REQUIRE(std::holds_alternative<core::Target>(r));
    return std::get<core::Target>(r);
}

// A reporter on captured outputs with a clock the test moves by hand.
struct Fixture {
    MemoryFile out_file;
    MemoryFile err_file;
    Output out{out_file.file()};
    Output err{err_file.file()};
    core::TimePoint now{};
    HumanReporter reporter;

    explicit Fixture(std::vector<std::string> texts, HumanStyle style = {})
        : reporter(out, err, targets(texts), style, [this] { return now; }) {}

    static std::vector<core::Target> targets(const std::vector<std::string>& texts) {
        std::vector<core::Target> out;
        for (const auto& t : texts)
            out.push_back(target(t));
        return out;
    }

    void at(core::Duration since_start) { now = core::TimePoint{} + since_start; }

    core::Event event(core::EventType type, unsigned attempt, std::size_t index = 0) {
        core::Event e;
        e.type = type;
        e.target = index;
        e.attempt = attempt;
        return e;
    }
    void attempt(unsigned n, const std::string& address = "10.0.0.5", std::size_t index = 0) {
        auto e = event(core::EventType::attempt, n, index);
        e.address = core::Endpoint{address, 5432, core::Family::ipv4};
        reporter.on_event(e);
    }
    void failed(unsigned n, core::ErrorClass cls = core::ErrorClass::refused,
                std::string message = "connection refused", core::Duration took = 213us,
                const std::string& address = "10.0.0.5", std::size_t index = 0) {
        auto e = event(core::EventType::failed, n, index);
        e.address = core::Endpoint{address, 5432, core::Family::ipv4};
        e.error = cls;
        e.code = core::ErrorCode::sys(cls == core::ErrorClass::timeout ? ETIMEDOUT : ECONNREFUSED);
        e.message = std::move(message);
        e.duration = took;
        reporter.on_event(e);
    }
    void retry(unsigned next, core::Duration delay, std::size_t index = 0) {
        auto e = event(core::EventType::retry, next, index);
        e.delay = delay;
        reporter.on_event(e);
    }
    void connected(unsigned n, core::Duration took, core::Duration waited,
                   const std::string& address = "10.0.0.5", std::size_t index = 0) {
        auto e = event(core::EventType::connected, n, index);
        e.address = core::Endpoint{address, 5432, core::Family::ipv4};
        e.local = core::Endpoint{"10.0.0.9", 40000, core::Family::ipv4};
        e.duration = took;
        e.waited = waited;
        reporter.on_event(e);
    }
    void gave_up(unsigned rounds, core::ErrorClass cls, std::size_t index = 0) {
        auto e = event(core::EventType::gave_up, rounds, index);
        e.error = cls;
        reporter.on_event(e);
    }
    // One failed round: attempt, failed, retry.
    void refused_round(unsigned n, core::Duration delay = 500ms) {
        attempt(n);
        failed(n);
        retry(n + 1, delay);
    }
};

} // namespace

TEST_CASE("format_latency") {
    struct Row {
        core::Duration d;
        std::string text;
    };
    const std::vector<Row> rows{
        {0us, "0.00 ms"},   {213us, "0.21 ms"}, {400us, "0.40 ms"}, {1ms, "1.0 ms"},
        {4560us, "4.6 ms"}, {12400us, "12 ms"}, {999ms, "999 ms"},  {1s, "1.0 s"},
        {1340ms, "1.3 s"},  {3s, "3.0 s"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(format_latency(row.d) == row.text);
    }
}

TEST_CASE("format_span") {
    struct Row {
        core::Duration d;
        std::string text;
    };
    const std::vector<Row> rows{
        {0s, "0.0 s"},    {700ms, "0.7 s"},  {20300ms, "20.3 s"}, {59s, "59.0 s"},
        {60s, "1m00s"},   {125s, "2m05s"},   {3599s, "59m59s"},   {3600s, "1h00m"},
        {3725s, "1h02m"}, {100h, "100h00m"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(format_span(row.d) == row.text);
    }
}

TEST_CASE("format_delay") {
    struct Row {
        core::Duration d;
        std::string text;
    };
    const std::vector<Row> rows{
        {1ms, "1 ms"}, {100ms, "100 ms"}, {200ms, "200 ms"}, {500ms, "500 ms"},
        {1s, "1.0 s"}, {1500ms, "1.5 s"}, {30s, "30.0 s"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(format_delay(row.d) == row.text);
    }
}

TEST_CASE("HumanReporter: a failure and its retry are one line") {
    Fixture f({"db:5432"});
    f.attempt(2);
    f.failed(2);
    CHECK(f.out_file.lines().empty()); // waiting for its "; retrying in"
    f.retry(3, 200ms);
    CHECK(f.out_file.lines() ==
          Lines{"db:5432 [10.0.0.5] attempt 2: connection refused (0.21 ms); retrying in 200 ms"});
    CHECK(f.err_file.text().empty());
}

TEST_CASE("HumanReporter: connected, gave up, summary") {
    SUBCASE("connected") {
        Fixture f({"db:5432"});
        f.attempt(4);
        f.connected(4, 400us, 700ms);
        CHECK(f.out_file.lines() ==
              Lines{"db:5432 [10.0.0.5] connected on attempt 4 in 0.40 ms after 0.7 s"});
    }
    SUBCASE("a literal address is not repeated") {
        Fixture f({"127.0.0.1:5432", "[::1]:5432"});
        f.attempt(1, "127.0.0.1");
        f.failed(1, core::ErrorClass::refused, "connection refused", 213us, "127.0.0.1");
        f.retry(2, 100ms);
        auto e = f.event(core::EventType::connected, 1, 1);
        e.address = core::Endpoint{"::1", 5432, core::Family::ipv6};
        e.duration = 1ms;
        e.waited = 1ms;
        f.reporter.on_event(e);
        CHECK(f.out_file.lines() ==
              Lines{"127.0.0.1:5432 attempt 1: connection refused (0.21 ms); retrying in 100 ms",
                    "[::1]:5432 connected on attempt 1 in 1.0 ms after 0.0 s"});
    }
    SUBCASE("a failure with no retry after it is printed before the next line") {
        Fixture f({"db:5432"});
        f.attempt(3);
        f.failed(3);
        f.gave_up(3, core::ErrorClass::refused);
        CHECK(f.out_file.lines() ==
              Lines{"db:5432 [10.0.0.5] attempt 3: connection refused (0.21 ms)",
                    "db:5432 gave up after 3 attempts (last error: refused)"});
    }
    SUBCASE("gave up after one attempt: singular") {
        Fixture f({"db:5432"});
        f.gave_up(1, core::ErrorClass::timeout);
        CHECK(f.out_file.lines() == Lines{"db:5432 gave up after 1 attempt (last error: timeout)"});
    }
    SUBCASE("summary lines") {
        struct Row {
            Result result;
            std::string text;
        };
        const std::vector<Row> rows{
            {Result::ok, "tcpretry: ok, 1 of 1 target connected, 4 attempts, 3 failed, 0.7 s"},
            {Result::gave_up,
             "tcpretry: gave up, 1 of 1 target connected, 4 attempts, 3 failed, 0.7 s"},
            {Result::timeout,
             "tcpretry: timed out, 1 of 1 target connected, 4 attempts, 3 failed, 0.7 s"},
            {Result::interrupted,
             "tcpretry: interrupted, 1 of 1 target connected, 4 attempts, 3 failed, 0.7 s"},
        };
        for (const auto& row : rows) {
            CAPTURE(row.text);
            Fixture f({"db:5432"});
            Summary s;
            s.result = row.result;
            s.attempts = 4;
            s.failures = 3;
            s.targets = 1;
            s.connected = 1;
            s.elapsed = 700ms;
            f.connected(1, 1ms, 700ms);
            f.out_file.clear();
            f.reporter.summary(s);
            CHECK(f.out_file.lines() == Lines{row.text});
        }
        Fixture f({"a:1", "b:2"});
        Summary s;
        s.result = Result::gave_up;
        s.attempts = 1;
        s.failures = 1;
        s.targets = 2;
        s.connected = 0;
        s.elapsed = 125s;
        f.attempt(1, "10.0.0.5", 0);
        f.failed(1, core::ErrorClass::refused, "connection refused", 213us, "10.0.0.5", 0);
        f.gave_up(1, core::ErrorClass::refused, 0);
        f.out_file.clear();
        f.reporter.summary(s);
        // Then each target that is not up, and why.
        CHECK(f.out_file.lines() ==
              Lines{"a:1 not connected: refused: connection refused",
                    "b:2 not connected: no attempt finished",
                    "tcpretry: gave up, 0 of 2 targets connected, 1 attempt, 1 failed, 2m05s"});
    }
    SUBCASE("the summary prints a pending failure first") {
        Fixture f({"db:5432"});
        f.attempt(1);
        f.failed(1);
        Summary s;
        s.result = Result::interrupted;
        s.attempts = 1;
        s.failures = 1;
        s.targets = 1;
        f.reporter.summary(s);
        auto lines = f.out_file.lines();
        REQUIRE(lines.size() == 3);
        CHECK(lines[0] == "db:5432 [10.0.0.5] attempt 1: connection refused (0.21 ms)");
        CHECK(lines[1] == "db:5432 not connected: refused: connection refused");
        CHECK(lines[2].rfind("tcpretry: interrupted", 0) == 0);
    }
}

TEST_CASE("HumanReporter: a resolution failure") {
    Fixture f({"db.example:5432"});
    auto e = f.event(core::EventType::failed, 1);
    e.error = core::ErrorClass::resolve;
    e.code = core::ErrorCode::resolver(EVUTIL_EAI_NONAME);
    e.message = "name does not exist (NXDOMAIN)";
    e.duration = 1ms;
    f.reporter.on_event(e);
    f.retry(2, 100ms);
    CHECK(f.out_file.lines() == Lines{"db.example:5432 attempt 1: cannot resolve db.example: name "
                                      "does not exist (NXDOMAIN) (1.0 ms); retrying in 100 ms"});
}

TEST_CASE("HumanReporter: a repeating failure is summarised every 10 s") {
    Fixture f({"db:5432"});
    // A round every 0.5 s, each refused.
    unsigned round = 1;
    for (; round <= 40; ++round) {
        f.at((round - 1) * 500ms);
        f.refused_round(round);
    }
    // Rounds 1..40 at 0.0 .. 19.5 s: the first is printed, round 21 (10.0 s) is summarised,
    // 41 (20.0 s) will be.
    CHECK(f.out_file.lines() ==
          Lines{
              "db:5432 [10.0.0.5] attempt 1: connection refused (0.21 ms); retrying in 500 ms",
              "db:5432 still refused after 21 attempts, 10.0 s",
          });
    f.at(20s);
    f.refused_round(41);
    CHECK(f.out_file.lines().size() == 3);
    CHECK(f.out_file.lines().back() == "db:5432 still refused after 41 attempts, 20.0 s");
    // Nothing more within the next 10 s.
    for (round = 42; round <= 44; ++round) {
        f.at((round - 1) * 500ms);
        f.refused_round(round);
    }
    CHECK(f.out_file.lines().size() == 3);
    CHECK(f.err_file.text().empty());
}

TEST_CASE("HumanReporter: a change of error is printed at once, after a summary of the repeats") {
    Fixture f({"db:5432"});
    for (unsigned round = 1; round <= 4; ++round) {
        f.at((round - 1) * 1s);
        f.refused_round(round);
    }
    // Attempts 2-4 were refused again and not printed; attempt 5 times out.
    f.at(4s);
    f.attempt(5);
    f.failed(5, core::ErrorClass::timeout, "timed out after 3 s", 3s);
    f.retry(6, 500ms);
    auto lines = f.out_file.lines();
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] ==
          "db:5432 [10.0.0.5] attempt 1: connection refused (0.21 ms); retrying in 500 ms");
    CHECK(lines[2] ==
          "db:5432 [10.0.0.5] attempt 5: timed out after 3 s (3.0 s); retrying in 500 ms");
    // The summary is about the refusals: attempts 1-4 were refused, attempt 5 was not.
    CHECK(lines[1] == "db:5432 still refused after 4 attempts, 4.0 s");
}

TEST_CASE("HumanReporter: a change of error without repeats needs no summary") {
    Fixture f({"db:5432"});
    f.refused_round(1);
    f.attempt(2);
    f.failed(2, core::ErrorClass::timeout, "timed out after 3 s", 3s);
    f.retry(3, 200ms);
    f.attempt(3);
    f.failed(3); // refused again: a change back is printed too
    f.retry(4, 400ms);
    CHECK(f.out_file.lines() ==
          Lines{
              "db:5432 [10.0.0.5] attempt 1: connection refused (0.21 ms); retrying in 500 ms",
              "db:5432 [10.0.0.5] attempt 2: timed out after 3 s (3.0 s); retrying in 200 ms",
              "db:5432 [10.0.0.5] attempt 3: connection refused (0.21 ms); retrying in 400 ms",
          });
}

TEST_CASE("HumanReporter: the same error on another address is printed") {
    Fixture f({"db:5432"});
    f.attempt(1, "10.0.0.5");
    f.failed(1, core::ErrorClass::refused, "connection refused", 213us, "10.0.0.5");
    f.attempt(1, "10.0.0.6");
    f.failed(1, core::ErrorClass::refused, "connection refused", 213us, "10.0.0.6");
    f.retry(2, 100ms);
    CHECK(f.out_file.lines() ==
          Lines{
              "db:5432 [10.0.0.5] attempt 1: connection refused (0.21 ms)",
              "db:5432 [10.0.0.6] attempt 1: connection refused (0.21 ms); retrying in 100 ms",
          });
}

TEST_CASE("HumanReporter: --verbose prints every event") {
    Fixture f({"db:5432"}, HumanStyle{Verbosity::verbose, false});
    for (unsigned round = 1; round <= 3; ++round) {
        f.at((round - 1) * 1s);
        f.refused_round(round, 200ms);
    }
    f.attempt(4);
    f.connected(4, 400us, 2s);
    CHECK(f.out_file.lines() ==
          Lines{
              "db:5432 [10.0.0.5] attempt 1: connecting",
              "db:5432 [10.0.0.5] attempt 1: connection refused (0.21 ms); retrying in 200 ms",
              "db:5432 [10.0.0.5] attempt 2: connecting",
              "db:5432 [10.0.0.5] attempt 2: connection refused (0.21 ms); retrying in 200 ms",
              "db:5432 [10.0.0.5] attempt 3: connecting",
              "db:5432 [10.0.0.5] attempt 3: connection refused (0.21 ms); retrying in 200 ms",
              "db:5432 [10.0.0.5] attempt 4: connecting",
              "db:5432 [10.0.0.5] connected on attempt 4 in 0.40 ms after 2.0 s",
          });
}

TEST_CASE("HumanReporter: --quiet prints nothing but errors, on the error output") {
    Fixture f({"db:5432"}, HumanStyle{Verbosity::quiet, false});
    f.refused_round(1);
    f.refused_round(2);
    f.attempt(3);
    f.failed(3);
    f.gave_up(3, core::ErrorClass::refused);
    Summary s;
    s.result = Result::gave_up;
    s.attempts = 3;
    s.failures = 3;
    s.targets = 1;
    s.elapsed = 1s;
    f.reporter.summary(s);
    CHECK(f.out_file.text().empty());
    CHECK(f.err_file.lines() ==
          Lines{"tcpretry: db:5432 gave up after 3 attempts (last error: refused)",
                "tcpretry: db:5432 not connected: refused: connection refused",
                "tcpretry: gave up, 0 of 1 target connected, 3 attempts, 3 failed, 1.0 s"});

    SUBCASE("a successful run is silent") {
        Fixture ok({"db:5432"}, HumanStyle{Verbosity::quiet, false});
        ok.refused_round(1);
        ok.connected(2, 1ms, 1s);
        Summary s2;
        s2.result = Result::ok;
        ok.reporter.summary(s2);
        CHECK(ok.out_file.text().empty());
        CHECK(ok.err_file.text().empty());
    }
}

TEST_CASE("HumanReporter: colour") {
    Fixture f({"db:5432"}, HumanStyle{Verbosity::normal, true});
    f.refused_round(1, 200ms);
    f.connected(2, 400us, 700ms);
    auto lines = f.out_file.lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "db:5432 [10.0.0.5] attempt 1: \033[31mconnection refused\033[0m (0.21 ms); "
                      "\033[33mretrying in 200 ms\033[0m");
    CHECK(lines[1] ==
          "db:5432 [10.0.0.5] \033[32mconnected\033[0m on attempt 2 in 0.40 ms after 0.7 s");

    SUBCASE("no colour, no escape sequences") {
        Fixture plain({"db:5432"});
        plain.refused_round(1);
        plain.connected(2, 400us, 700ms);
        CHECK(plain.out_file.text().find('\033') == std::string::npos);
    }
}

TEST_CASE("HumanReporter: several targets keep their own state") {
    Fixture f({"db:5432", "cache:6379"});
    f.attempt(1, "10.0.0.5", 0);
    f.failed(1, core::ErrorClass::refused, "connection refused", 213us, "10.0.0.5", 0);
    f.retry(2, 100ms, 0);
    f.attempt(1, "10.0.0.7", 1);
    f.failed(1, core::ErrorClass::refused, "connection refused", 213us, "10.0.0.7", 1);
    f.retry(2, 100ms, 1);
    // Repeats of each are suppressed.
    f.attempt(2, "10.0.0.5", 0);
    f.failed(2, core::ErrorClass::refused, "connection refused", 213us, "10.0.0.5", 0);
    f.retry(3, 200ms, 0);
    f.attempt(2, "10.0.0.7", 1);
    f.failed(2, core::ErrorClass::refused, "connection refused", 213us, "10.0.0.7", 1);
    f.retry(3, 200ms, 1);
    CHECK(f.out_file.lines() ==
          Lines{
              "db:5432 [10.0.0.5] attempt 1: connection refused (0.21 ms); retrying in 100 ms",
              "cache:6379 [10.0.0.7] attempt 1: connection refused (0.21 ms); retrying in 100 ms",
          });
}

TEST_CASE("HumanReporter: a run that fails names the targets that are not up, at most 10") {
    std::vector<std::string> texts;
    for (int i = 1; i <= 13; ++i)
        texts.push_back("h" + std::to_string(i) + ":1");
    HumanStyle quiet{Verbosity::quiet, false};
    Fixture f(texts, quiet);
    f.connected(1, 1ms, 1ms, "10.0.0.5", 0);
    for (std::size_t i = 1; i < texts.size(); ++i)
        f.failed(1, core::ErrorClass::timeout, "timed out", 3s, "10.0.0.5", i);
    Summary s;
    s.result = Result::timeout;
    s.targets = texts.size();
    s.connected = 1;
    f.reporter.summary(s);
    Lines lines = f.err_file.lines();
    REQUIRE(lines.size() == 12);
    CHECK(lines[0] == "tcpretry: h2:1 not connected: timeout: timed out");
    CHECK(lines[9] == "tcpretry: h11:1 not connected: timeout: timed out");
    CHECK(lines[10] == "tcpretry: and 2 more not connected");
    CHECK(lines[11].rfind("tcpretry: timed out, 1 of 13 targets connected", 0) == 0);
    CHECK(f.out_file.text().empty());
}

TEST_CASE("HumanReporter: a failed address of a round that connects is folded in") {
    Fixture f({"localhost:5432"});
    f.attempt(1, "::1");
    f.failed(1, core::ErrorClass::refused, "connection refused", 100us, "::1");
    f.attempt(1, "127.0.0.1");
    f.connected(1, 200us, 1ms, "127.0.0.1");
    CHECK(f.out_file.lines() ==
          Lines{"localhost:5432 [127.0.0.1] connected on attempt 1 in 0.20 ms after 0.0 s "
                "(after ::1: connection refused)"});

    SUBCASE("with --verbose each failure has its own line") {
        Fixture v({"localhost:5432"}, HumanStyle{Verbosity::verbose, false});
        v.failed(1, core::ErrorClass::refused, "connection refused", 100us, "::1");
        v.connected(1, 200us, 1ms, "127.0.0.1");
        CHECK(v.out_file.lines() ==
              Lines{"localhost:5432 [::1] attempt 1: connection refused (0.10 ms)",
                    "localhost:5432 [127.0.0.1] connected on attempt 1 in 0.20 ms after 0.0 s"});
    }
}

namespace {

core::Event drop(std::size_t connection, bool outage, core::Duration uptime) {
    core::Event e;
    e.type = core::EventType::disconnected;
    e.address = core::Endpoint{"10.0.0.5", 5432, core::Family::ipv4};
    e.reason = core::DisconnectReason::closed;
    e.connection = static_cast<unsigned>(connection);
    e.uptime = uptime;
    e.outage = outage;
    return e;
}

core::Event numbered(core::Event e, unsigned connection) {
    e.connection = connection;
    return e;
}

} // namespace

TEST_CASE("HumanReporter: watch mode, a recycled connection is one line, repeats summarised") {
    HumanStyle watch{};
    watch.watch = true;
    Fixture f({"db:5432"}, watch);
    auto up = [&](unsigned n) {
        auto e = f.event(core::EventType::connected, n);
        e.address = core::Endpoint{"10.0.0.5", 5432, core::Family::ipv4};
        e.duration = 300us;
        f.reporter.on_event(numbered(e, n));
    };
    up(1);
    f.reporter.on_event(drop(1, false, 60s));
    up(2);
    f.at(5s);
    f.reporter.on_event(drop(2, false, 60s));
    up(3);
    f.at(11s);
    f.reporter.on_event(drop(3, false, 60s));
    up(4);
    CHECK(f.out_file.lines() ==
          Lines{"db:5432 [10.0.0.5] connected (connection 1) in 0.30 ms",
                "db:5432 [10.0.0.5] connection 1 recycled: closed by peer after 1m00s; "
                "reconnected (connection 2) in 0.30 ms",
                "db:5432 2 more connections recycled (closed by peer)"});

    SUBCASE("an outage is said at once, and with its reconnect delay") {
        f.out_file.clear();
        f.reporter.on_event(drop(4, true, 2s));
        f.retry(9, 500ms);
        CHECK(f.out_file.lines() ==
              Lines{"db:5432 [10.0.0.5] disconnected: closed by peer after 2.0 s, outage; "
                    "reconnecting in 500 ms"});
    }
}

TEST_CASE("HumanReporter: watch mode, each outage's repeats count from that outage") {
    HumanStyle watch{};
    watch.watch = true;
    Fixture f({"db:5432"}, watch);
    auto up = [&](unsigned round, unsigned connection) {
        auto e = f.event(core::EventType::connected, round);
        e.address = core::Endpoint{"10.0.0.5", 5432, core::Family::ipv4};
        e.duration = 300us;
        f.reporter.on_event(numbered(e, connection));
    };
    // A first outage of 21 rounds (0 .. 10 s), then up for a minute.
    unsigned round = 1;
    for (; round <= 21; ++round) {
        f.at((round - 1) * 500ms);
        f.refused_round(round);
    }
    up(round++, 1);
    CHECK(f.out_file.lines().back() == "db:5432 [10.0.0.5] connected (connection 1) in 0.30 ms");
    CHECK(f.out_file.lines()[1] == "db:5432 still refused after 21 attempts, 10.0 s");
    // The second outage begins at 70 s; its rounds keep their run-wide numbers (23, 24...),
    // but the summary counts this outage's attempts and time only.
    f.at(70s);
    f.reporter.on_event(drop(1, true, 60s));
    f.retry(round, 500ms);
    f.out_file.clear();
    unsigned first = round;
    for (; round < first + 21; ++round) {
        f.at(70s + (round - first) * 500ms);
        f.refused_round(round);
    }
    auto lines = f.out_file.lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "db:5432 [10.0.0.5] attempt 23: connection refused (0.21 ms); retrying in "
                      "500 ms");
    CHECK(lines[1] == "db:5432 still refused after 21 attempts, 10.0 s");
}

TEST_CASE("HumanReporter: --timestamps starts each line with the local time") {
    HumanStyle style{};
    style.timestamps = true;
    MemoryFile out_file, err_file;
    Output out{out_file.file()}, err{err_file.file()};
    // 2026-12-01 10:04:05 local time, whatever the zone.
    std::tm tm{};
    tm.tm_year = 126;
    tm.tm_mon = 11;
    tm.tm_mday = 1;
    tm.tm_hour = 10;
    tm.tm_min = 4;
    tm.tm_sec = 5;
    tm.tm_isdst = -1;
    auto wall = std::chrono::system_clock::from_time_t(std::mktime(&tm));
    HumanReporter r(out, err, Fixture::targets({"db:5432"}), style, core::Clock::now,
                    [wall] { return wall; });
    core::Event e;
    e.type = core::EventType::connected;
    e.attempt = 1;
    e.duration = 1ms;
    r.on_event(e);
    CHECK(out_file.lines() ==
          Lines{"2026-12-01 10:04:05 db:5432 connected on attempt 1 in 1.0 ms after 0.0 s"});
}

TEST_CASE("HumanReporter: TLS facts on the connected line") {
    Fixture f({"db:5432"});
    f.attempt(1);
    auto e = f.event(core::EventType::connected, 1);
    e.address = core::Endpoint{"10.0.0.5", 5432, core::Family::ipv4};
    e.duration = 400us;
    e.check = 2ms;
    e.waited = 10ms;
    core::TlsInfo tls;
    tls.version = "TLSv1.3";
    tls.verified = true;
    tls.cert.emplace();
    tls.cert->days_left = 89;
    SUBCASE("verified") {
        e.tls = tls;
        f.reporter.on_event(e);
        CHECK(f.out_file.lines() ==
              Lines{"db:5432 [10.0.0.5] connected on attempt 1 in 0.40 ms, check 2.0 ms after 0.0 "
                    "s, TLSv1.3, certificate 89 days left"});
    }
    SUBCASE("--insecure: not verified, and why; ALPN") {
        tls.verified = false;
        tls.alpn = "h2";
        tls.verify_message = "certificate is self-signed (not trusted)";
        e.tls = tls;
        f.reporter.on_event(e);
        CHECK(f.out_file.lines() ==
              Lines{"db:5432 [10.0.0.5] connected on attempt 1 in 0.40 ms, check 2.0 ms after 0.0 "
                    "s, TLSv1.3, ALPN h2, certificate 89 days left, NOT verified: certificate is "
                    "self-signed (not trusted)"});
    }
}

TEST_CASE("HumanReporter: a ping probe over TLS shows its handshake time") {
    Fixture f({"db:5432"});
    auto e = f.event(core::EventType::probe, 0);
    e.seq = 3;
    e.ok = true;
    e.address = core::Endpoint{"10.0.0.5", 5432, core::Family::ipv4};
    e.duration = 400us;
    e.tls_time = 1800us;
    e.check = 2ms;
    core::TlsInfo tls;
    tls.version = "TLSv1.3";
    tls.verified = true;
    e.tls = tls;
    f.reporter.on_event(e);
    CHECK(f.out_file.lines() == Lines{"db:5432 [10.0.0.5] seq=3 connected in 0.40 ms, handshake "
                                      "1.8 ms, check 2.0 ms, TLSv1.3"});
}

TEST_CASE("HumanReporter: ping statistics add a handshake line with TLS") {
    Fixture f({"db:5432"});
    core::ProbeStats st;
    st.add_success(1ms, 4ms);
    st.add_success(3ms, 6ms);
    f.reporter.probe_summary(0, st, false);
    CHECK(f.out_file.lines() ==
          Lines{"--- db:5432 tcpretry statistics ---",
                "2 probes sent, 2 answered, 0.0% loss, longest failure streak 0",
                "connect min/avg/max/mdev = 1.000/2.000/3.000/1.000 ms, p50/p90/p99 = "
                "1.000/3.000/3.000 ms",
                "handshake min/avg/max/mdev = 4.000/5.000/6.000/1.000 ms, p50/p90/p99 = "
                "4.000/6.000/6.000 ms"});
}
