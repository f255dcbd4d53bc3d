// The outcome table (app/outcome): every mode x every way a run can end -> result and exit
// status, the precedence between them, and the --help text made from the table.
#include "app/options.hpp"
#include "app/outcome.hpp"

#include <doctest/doctest.h>
#include <optional>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry::app;

namespace {

const std::vector<Mode> k_modes = {Mode::wait, Mode::watch, Mode::ping};
const std::vector<Stop> k_stops = {Stop::none, Stop::deadline, Stop::sigint, Stop::sigterm,
                                   Stop::output_closed};

// Three targets; wait and watch need two of them (a quorum), unless a row says otherwise.
Facts facts(Stop stop, std::size_t up, std::size_t gave_up = 0, bool probes_done = false) {
    Facts f;
    f.stop = stop;
    f.targets = 3;
    f.needed = 2;
    f.up = up;
    f.gave_up = gave_up;
    f.probes_done = probes_done;
    return f;
}

struct Row {
    const char* name;
    Mode mode;
    Facts facts;
    std::optional<Result> result; // none: the run goes on
    int status = 0;
};

// Every way a run can end, with the status a script sees.
const std::vector<Row> k_table = {
    // wait: until enough targets connected
    {"wait: nothing decided yet", Mode::wait, facts(Stop::none, 1, 0), std::nullopt},
    {"wait: the quorum connected", Mode::wait, facts(Stop::none, 2), Result::ok, 0},
    {"wait: every target connected", Mode::wait, facts(Stop::none, 3), Result::ok, 0},
    {"wait: quorum reached while a target gave up", Mode::wait, facts(Stop::none, 2, 1), Result::ok,
     0},
    {"wait: one gave up, the quorum is still possible", Mode::wait, facts(Stop::none, 0, 1),
     std::nullopt},
    {"wait: too few left for the quorum", Mode::wait, facts(Stop::none, 1, 2), Result::gave_up, 1},
    {"wait: every target gave up", Mode::wait, facts(Stop::none, 0, 3), Result::gave_up, 1},
    {"wait: --timeout", Mode::wait, facts(Stop::deadline, 1), Result::timeout, 124},
    {"wait: SIGINT", Mode::wait, facts(Stop::sigint, 1), Result::interrupted, 130},
    {"wait: SIGTERM", Mode::wait, facts(Stop::sigterm, 0, 1), Result::interrupted, 143},
    // A signal ends the run as it is: it is not re-judged by the targets.
    {"wait: SIGINT with the quorum up (not decided yet)", Mode::wait, facts(Stop::sigint, 2),
     Result::interrupted, 130},
    {"wait: SIGINT during a deadline (the signal came first)", Mode::wait, facts(Stop::sigint, 1),
     Result::interrupted, 130},
    {"wait: output closed", Mode::wait, facts(Stop::output_closed, 2), Result::interrupted, 141},
    // watch: until stopped; the status says whether the targets were up then
    {"watch: running", Mode::watch, facts(Stop::none, 3), std::nullopt},
    {"watch: running, one target gave up", Mode::watch, facts(Stop::none, 2, 1), std::nullopt},
    {"watch: every target gave up", Mode::watch, facts(Stop::none, 0, 3), Result::gave_up, 1},
    {"watch: SIGINT while available", Mode::watch, facts(Stop::sigint, 2), Result::ok, 0},
    {"watch: SIGINT while not", Mode::watch, facts(Stop::sigint, 1), Result::disconnected, 1},
    {"watch: SIGTERM while available", Mode::watch, facts(Stop::sigterm, 3), Result::ok, 0},
    {"watch: SIGTERM while not", Mode::watch, facts(Stop::sigterm, 0), Result::disconnected, 1},
    {"watch: --timeout while available", Mode::watch, facts(Stop::deadline, 2), Result::ok, 0},
    {"watch: --timeout while not", Mode::watch, facts(Stop::deadline, 1), Result::disconnected, 1},
    {"watch: stopped after every target gave up", Mode::watch, facts(Stop::sigint, 0, 3),
     Result::disconnected, 1},
    {"watch: output closed while available", Mode::watch, facts(Stop::output_closed, 3),
     Result::interrupted, 141},
    // ping: until every target sent its probes, or stopped
    {"ping: probing", Mode::ping, facts(Stop::none, 3, 0, false), std::nullopt},
    {"ping: done, every target answered", Mode::ping, facts(Stop::none, 3, 0, true), Result::ok, 0},
    {"ping: done, one target never answered", Mode::ping, facts(Stop::none, 2, 0, true),
     Result::failed, 1},
    {"ping: done, one target's last probe failed (it answered before)", Mode::ping,
     facts(Stop::none, 3, 1, true), Result::ok, 0},
    {"ping: SIGINT, every target answered", Mode::ping, facts(Stop::sigint, 3), Result::ok, 0},
    {"ping: SIGINT, one never answered", Mode::ping, facts(Stop::sigint, 2), Result::failed, 1},
    {"ping: SIGTERM, every target answered", Mode::ping, facts(Stop::sigterm, 3), Result::ok, 0},
    {"ping: SIGTERM, none answered", Mode::ping, facts(Stop::sigterm, 0), Result::failed, 1},
    {"ping: --timeout, every target answered", Mode::ping, facts(Stop::deadline, 3), Result::ok, 0},
    {"ping: --timeout, one never answered", Mode::ping, facts(Stop::deadline, 2), Result::failed,
     1},
    {"ping: output closed", Mode::ping, facts(Stop::output_closed, 3), Result::interrupted, 141},
};

} // namespace

TEST_CASE("exit_status: every mode x every way a run ends") {
    for (const Row& row : k_table) {
        CAPTURE(row.name);
        auto o = exit_status(row.mode, row.facts);
        REQUIRE(o.has_value() == row.result.has_value());
        if (!o)
            continue;
        CHECK(o->result == *row.result);
        CHECK(o->status == row.status);
        CHECK_FALSE(o->run_command); // no COMMAND given
    }
}

TEST_CASE("exit_status: a stop always decides; the targets alone decide only when they can") {
    for (Mode mode : k_modes) {
        for (Stop stop : k_stops) {
            for (std::size_t up = 0; up <= 3; ++up) {
                for (std::size_t gave_up = 0; gave_up + up <= 3; ++gave_up) {
                    CAPTURE(mode_name(mode));
                    CAPTURE(static_cast<int>(stop));
                    CAPTURE(up);
                    CAPTURE(gave_up);
                    auto o = exit_status(mode, facts(stop, up, gave_up));
                    if (stop != Stop::none)
                        CHECK(o.has_value());
                    if (stop == Stop::output_closed) {
                        CHECK(o->status == k_exit_sigpipe);
                        CHECK(o->result == Result::interrupted);
                    }
                    if (mode == Mode::ping && stop == Stop::none)
                        CHECK_FALSE(o.has_value()); // still probing
                }
            }
        }
    }
}

TEST_CASE("exit_status: the output closed while the summary was written") {
    SUBCASE("after a success: 141, and the result stays ok") {
        Facts f = facts(Stop::none, 3);
        f.summary_lost = true;
        auto o = exit_status(Mode::wait, f);
        REQUIRE(o);
        CHECK(o->result == Result::ok);
        CHECK(o->status == 141);
    }
    SUBCASE("after a give-up, a deadline or a signal: 141") {
        for (Stop stop : {Stop::none, Stop::deadline, Stop::sigint, Stop::sigterm}) {
            Facts f = facts(stop, 0, 3);
            f.summary_lost = true;
            for (Mode mode : {Mode::wait, Mode::watch}) {
                auto o = exit_status(mode, f);
                REQUIRE(o);
                CHECK(o->status == 141);
            }
        }
    }
    SUBCASE("a stopped ping that was fine: 141, result ok") {
        Facts f = facts(Stop::sigint, 3);
        f.summary_lost = true;
        auto o = exit_status(Mode::ping, f);
        REQUIRE(o);
        CHECK(o->result == Result::ok);
        CHECK(o->status == 141);
    }
}

TEST_CASE("exit_status: a COMMAND runs after success only") {
    Facts f = facts(Stop::none, 3);
    f.command = true;
    SUBCASE("ready: run it") {
        auto o = exit_status(Mode::wait, f);
        REQUIRE(o);
        CHECK(o->run_command);
    }
    SUBCASE("ready, but our output closed while the summary was written: still run it") {
        f.summary_lost = true;
        auto o = exit_status(Mode::wait, f);
        REQUIRE(o);
        CHECK(o->run_command);
    }
    SUBCASE("not on a give-up, a deadline, a signal or a closed output") {
        f.up = 0;
        f.gave_up = 3;
        for (Stop stop :
             {Stop::none, Stop::deadline, Stop::sigint, Stop::sigterm, Stop::output_closed}) {
            CAPTURE(static_cast<int>(stop));
            f.stop = stop;
            auto o = exit_status(Mode::wait, f);
            REQUIRE(o);
            CHECK_FALSE(o->run_command);
        }
    }
    SUBCASE("a signal with every target up is still not success") {
        f.stop = Stop::sigint;
        auto o = exit_status(Mode::wait, f);
        REQUIRE(o);
        CHECK_FALSE(o->run_command);
    }
}

TEST_CASE("exit_status: --any and the default (all)") {
    Facts f = facts(Stop::none, 1, 0);
    f.needed = 1; // --any
    CHECK(exit_status(Mode::wait, f)->result == Result::ok);
    f.up = 0;
    f.gave_up = 2; // one left: --any can still be met
    CHECK_FALSE(exit_status(Mode::wait, f));
    f.needed = 3; // all: one gave up, so never
    f.gave_up = 1;
    CHECK(exit_status(Mode::wait, f)->result == Result::gave_up);
}

TEST_CASE(
    "outcome_rules: every row is reachable; stopped watches and pings agree however stopped") {
    auto rules = outcome_rules();
    for (Mode mode : k_modes)
        for (Stop stop : k_stops) {
            if (stop == Stop::none)
                continue;
            // Every stop ends every mode: its last row for it asks nothing more.
            const Rule* last = nullptr;
            for (const Rule& r : rules)
                if (r.mode == mode && r.stop == stop)
                    last = &r;
            CAPTURE(mode_name(mode));
            REQUIRE(last != nullptr);
            CHECK(last->when == When::always);
        }
    // --help says "--watch: 0 if connected when stopped, else 1" for SIGINT's rows: the
    // deadline and SIGTERM must say the same.
    for (Mode mode : {Mode::watch, Mode::ping}) {
        auto rows_for = [&](Stop stop) {
            std::vector<std::pair<int, Result>> out;
            for (const Rule& r : rules)
                if (r.mode == mode && r.stop == stop)
                    out.emplace_back(r.status, r.result);
            return out;
        };
        CHECK(rows_for(Stop::deadline) == rows_for(Stop::sigint));
        CHECK(rows_for(Stop::sigterm) == rows_for(Stop::sigint));
    }
}

TEST_CASE("result_name and mode_name: the JSON words") {
    const std::vector<std::pair<Result, std::string>> results = {
        {Result::ok, "ok"},
        {Result::gave_up, "gave_up"},
        {Result::timeout, "timeout"},
        {Result::interrupted, "interrupted"},
        {Result::disconnected, "disconnected"},
        {Result::failed, "failed"}};
    for (const auto& [r, name] : results)
        CHECK(result_name(r) == name);
    CHECK(mode_name(Mode::wait) == "wait");
    CHECK(mode_name(Mode::watch) == "watch");
    CHECK(mode_name(Mode::ping) == "ping");
}

TEST_CASE("exit_status_help: every status, from the table") {
    std::string help = exit_status_help();
    CHECK(help ==
          "Exit status: 0 ready (or COMMAND's status), 1 gave up, 2 usage error, 124 --timeout, "
          "125 internal error, 126/127 COMMAND not executable/not found, 130 SIGINT, 141 output "
          "closed, 143 SIGTERM. --watch: 0 if connected when stopped, else 1. --count: 0 if "
          "every target answered a probe, else 1.");
    // Each status a run can end with is named.
    for (const Rule& r : outcome_rules())
        CHECK(help.find(std::to_string(r.status)) != std::string::npos);
}

TEST_CASE("--help ends with the exit statuses of the table, wrapped") {
    const char* argv[] = {"tcpretry", "--help"};
    auto parsed = parse_options(2, argv);
    auto* early = std::get_if<EarlyExit>(&parsed);
    REQUIRE(early);
    std::string text = early->text;
    std::string flat;
    auto at = text.find("Exit status:");
    REQUIRE(at != std::string::npos);
    for (char c : text.substr(at))
        flat += c == '\n' ? ' ' : c;
    while (!flat.empty() && flat.back() == ' ')
        flat.pop_back();
    CHECK(flat == exit_status_help() + " See tcpretry(1) and docs/json-events.md.");
}

TEST_CASE("Options::mode: set once by the parser") {
    auto mode_of = [](std::vector<const char*> args) {
        args.insert(args.begin(), "tcpretry");
        auto parsed = parse_options(static_cast<int>(args.size()), args.data());
        REQUIRE(std::holds_alternative<Options>(parsed));
        return std::get<Options>(parsed).mode;
    };
    CHECK(mode_of({"db:1"}) == Mode::wait);
    CHECK(mode_of({"--watch", "db:1"}) == Mode::watch);
    CHECK(mode_of({"-c", "3", "db:1"}) == Mode::ping);
    CHECK(mode_of({"--count", "0", "db:1"}) == Mode::ping); // until stopped
}
