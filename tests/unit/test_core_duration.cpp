// DUR arguments: "250ms", "1.5s", "2m", "1h", a bare number of seconds, or compound forms.
#include "core/duration.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using namespace std::string_literals;

TEST_CASE("parse_duration accepts the documented forms") {
    struct Row {
        std::string text;
        Duration expected;
    };
    const std::vector<Row> rows{
        {"250ms", 250ms},
        {"1.5s", 1500ms},
        {"2m", 2min},
        {"1h", 1h},
        {"3", 3s}, // a bare number is seconds
        {"0.5", 500ms},
        {"3s", 3s},
        {"100us", 100us},
        {"1.5us", 1500ns},
        {"0", Duration::zero()},
        {"0ms", Duration::zero()},
        {"0.25m", 15s},
        {"1.5h", 90min},
        {".5", 500ms},
        {"1.", 1s},
        {"007s", 7s},
        {"0.001", 1ms},
        {"0.1", 100ms}, // no binary-fraction drift: rounded to the nanosecond
        {"0.3s", 300ms},
        {"87600h", 87600h}, // ten years, the largest accepted
        // Compound forms, as tcpretry prints spans ("1m00s", "1h02m").
        {"1m30s", 90s},
        {"1h2m", 62min},
        {"1h02m", 62min},
        {"1m00s", 60s},
        {"2m05s", 125s},
        {"1h2m3s", 3723s},
        {"1h30s", 3630s},
        {"1s500ms", 1500ms},
        {"1m1.5s", 61500ms},
        {"2s250us", 2000250us},
        {"1h0m0s0ms0us", 1h},
        {"87599h60m", 87600h},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        auto d = parse_duration(row.text);
        REQUIRE(d);
        CHECK(d->count() == row.expected.count());
    }
}

TEST_CASE("parse_duration rejects bad input") {
    const std::vector<std::string> rows{
        "", "-1", "-1s", "+1s", " 1s", "1s ", "1 s", "abc", "1x", "1sec", "1S", "1MS", "1d", "ms",
        "s", ".", "inf", "nan", "infs", "-inf", "1..5s", "1.5.s", "1,5s", "0x10", "1ms5", "5s1",
        "1e3", "1e3s", "1e-3", "1E3", "1e", "\x31\0s"s,
        // Beyond ten years, and numbers too large for any duration.
        "88889h", "99999999999h", "1" + std::string(400, '0'), "1" + std::string(30, '0') + "ms",
        // Compound forms: each unit once, largest first, a unit on every part, a fraction
        // only in the last part, nothing between the parts.
        "1m30", "30s1m", "1s1s", "1m1m", "1ms1s", "1.5m30s", "1m 30s", "1m+30s", "1m-30s", "1m30s ",
        "m30s", "1h2x",
        "88888h60m", // one hour past the largest
    };
    for (const auto& text : rows) {
        CAPTURE(text);
        CHECK_FALSE(parse_duration(text));
    }
}

TEST_CASE("parse_duration: exponent notation is rejected consistently, with or without a unit") {
    // The code parses fixed notation only; "1e3" is not 1000 seconds in any spelling.
    for (const char* text : {"1e3", "1e3s", "1e3ms", "1.5e2", "2E1", "1e+3", "1e-3s"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_duration(text));
    }
}

TEST_CASE("format_duration_arg") {
    struct Row {
        Duration d;
        std::string text;
    };
    const std::vector<Row> rows{
        {100ms, "100ms"}, {500ms, "500ms"}, {3s, "3s"},       {0s, "0s"},     {2min, "2m"},
        {90s, "90s"},     {1h, "1h"},       {250ms, "250ms"}, {120min, "2h"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(format_duration_arg(row.d) == row.text);
    }

    SUBCASE("what it prints parses back to the same duration") {
        for (Duration d : {Duration(1ms), Duration(100ms), Duration(1500ms), Duration(3s),
                           Duration(90s), Duration(2min), Duration(1h), Duration(36h)}) {
            std::string text = format_duration_arg(d);
            CAPTURE(text);
            auto back = parse_duration(text);
            REQUIRE(back);
            CHECK(back->count() == d.count());
        }
    }
}
