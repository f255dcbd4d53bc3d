// The per-target board (app/board): one record a target, fed once per event; and the watch
// statistics' uptime, computed once for both reporters.
#include "app/board.hpp"
#include "core/watch_stats.hpp"

#include <chrono>
#include <doctest/doctest.h>

using namespace tcpretry;
using namespace tcpretry::app;
using namespace std::chrono_literals;

namespace {

core::Event event(core::EventType type, std::size_t target, unsigned round = 0) {
    core::Event e;
    e.type = type;
    e.target = target;
    e.attempt = round;
    return e;
}

core::Event failed(std::size_t target, unsigned round, core::ErrorClass error,
                   std::string message = "connection refused") {
    auto e = event(core::EventType::failed, target, round);
    e.error = error;
    e.message = std::move(message);
    return e;
}

core::Event drop(std::size_t target, bool outage) {
    auto e = event(core::EventType::disconnected, target);
    e.outage = outage;
    e.reason = core::DisconnectReason::reset;
    return e;
}

core::Event probe(std::size_t target, unsigned seq, bool ok) {
    auto e = event(core::EventType::probe, target);
    e.seq = seq;
    e.ok = ok;
    if (!ok) {
        e.error = core::ErrorClass::timeout;
        e.message = "timed out";
    }
    return e;
}

// The counts always add up to the targets.
void check_counts(const Board& b) {
    CHECK(b.count(TargetState::waiting) + b.count(TargetState::failing) +
              b.count(TargetState::connected) + b.count(TargetState::gave_up) ==
          b.size());
}

} // namespace

TEST_CASE("Board: every target starts waiting, not up, with no problem") {
    Board b(3);
    CHECK(b.size() == 3);
    CHECK(b.count(TargetState::waiting) == 3);
    CHECK(b.up_count() == 0);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(b.at(i).state == TargetState::waiting);
        CHECK_FALSE(b.at(i).up);
        CHECK(b.at(i).round == 0);
        CHECK_FALSE(b.at(i).problem);
    }
}

TEST_CASE("Board: wait mode, a target fails, retries, then connects") {
    Board b(2);
    b.on_event(event(core::EventType::attempt, 0, 1));
    CHECK(b.at(0).round == 1);
    CHECK(b.at(0).state == TargetState::waiting); // trying is not failing
    b.on_event(failed(0, 1, core::ErrorClass::refused));
    CHECK(b.at(0).state == TargetState::failing);
    CHECK(b.count(TargetState::failing) == 1);
    REQUIRE(b.at(0).problem);
    CHECK(b.at(0).problem->event == core::EventType::failed);
    CHECK(b.at(0).problem->error == core::ErrorClass::refused);
    CHECK(b.at(0).problem->message == "connection refused");
    b.on_event(event(core::EventType::retry, 0, 2));
    CHECK(b.at(0).round == 1); // a retry names the round to come
    b.on_event(event(core::EventType::attempt, 0, 2));
    b.on_event(event(core::EventType::connected, 0, 2));
    CHECK(b.at(0).state == TargetState::connected);
    CHECK(b.at(0).up);
    CHECK(b.at(0).round == 2);
    CHECK_FALSE(b.at(0).problem);
    CHECK(b.up_count() == 1);
    CHECK(b.count(TargetState::connected) == 1);
    CHECK(b.count(TargetState::failing) == 0);
    CHECK(b.count(TargetState::waiting) == 1);
    check_counts(b);
}

TEST_CASE("Board: a target that gives up keeps the failure that said why") {
    Board b(1);
    b.on_event(event(core::EventType::attempt, 0, 1));
    b.on_event(failed(0, 1, core::ErrorClass::unreachable, "no route to host"));
    auto g = event(core::EventType::gave_up, 0, 1);
    g.error = core::ErrorClass::unreachable;
    b.on_event(g);
    CHECK(b.at(0).state == TargetState::gave_up);
    CHECK(b.count(TargetState::gave_up) == 1);
    CHECK(b.count(TargetState::failing) == 0);
    REQUIRE(b.at(0).problem);
    CHECK(b.at(0).problem->event == core::EventType::failed);
    CHECK(b.at(0).problem->message == "no route to host");
    CHECK_FALSE(b.at(0).up);

    SUBCASE("with no failure heard, the give-up is the problem") {
        Board quiet(1);
        auto g2 = event(core::EventType::gave_up, 0, 3);
        g2.error = core::ErrorClass::timeout;
        quiet.on_event(g2);
        REQUIRE(quiet.at(0).problem);
        CHECK(quiet.at(0).problem->event == core::EventType::gave_up);
        CHECK(quiet.at(0).problem->error == core::ErrorClass::timeout);
    }
}

TEST_CASE("Board: watch mode, a recycle keeps the target available, an outage does not") {
    Board b(1);
    b.on_event(event(core::EventType::connected, 0, 1));
    CHECK(b.up_count() == 1);
    b.on_event(drop(0, false)); // recycled
    CHECK(b.at(0).state == TargetState::connected);
    CHECK(b.up_count() == 1);
    // The reconnect's first address fails before the second connects: still available.
    b.on_event(failed(0, 2, core::ErrorClass::refused));
    CHECK(b.at(0).state == TargetState::connected);
    CHECK(b.at(0).up);
    b.on_event(event(core::EventType::connected, 0, 2));
    CHECK_FALSE(b.at(0).problem);

    b.on_event(drop(0, true)); // an outage
    CHECK(b.at(0).state == TargetState::waiting);
    CHECK_FALSE(b.at(0).up);
    CHECK(b.up_count() == 0);
    REQUIRE(b.at(0).problem);
    CHECK(b.at(0).problem->event == core::EventType::disconnected);
    CHECK(b.at(0).problem->reason == core::DisconnectReason::reset);
    b.on_event(failed(0, 3, core::ErrorClass::refused));
    CHECK(b.at(0).state == TargetState::failing);
    b.on_event(event(core::EventType::connected, 0, 4));
    CHECK(b.at(0).state == TargetState::connected);
    CHECK(b.up_count() == 1);
    check_counts(b);
}

TEST_CASE("Board: ping mode, the latest probe decides the state; one answer makes it up") {
    Board b(2);
    b.on_event(probe(0, 1, false));
    CHECK(b.at(0).state == TargetState::gave_up); // that probe's round gave up
    CHECK(b.at(0).round == 1);
    CHECK_FALSE(b.at(0).up);
    REQUIRE(b.at(0).problem);
    CHECK(b.at(0).problem->event == core::EventType::probe);
    b.on_event(probe(0, 2, true));
    CHECK(b.at(0).state == TargetState::connected);
    CHECK(b.at(0).up);
    CHECK_FALSE(b.at(0).problem);
    b.on_event(probe(0, 3, false));
    CHECK(b.at(0).state == TargetState::gave_up);
    CHECK(b.at(0).up); // it answered once: up for the exit status
    CHECK(b.at(0).round == 3);
    CHECK(b.up_count() == 1);
    CHECK(b.count(TargetState::gave_up) == 1);
    CHECK(b.count(TargetState::waiting) == 1); // no probe yet
    check_counts(b);
}

TEST_CASE("Board: events about the run or an unknown target are ignored") {
    Board b(1);
    auto w = event(core::EventType::warning, 0);
    w.message = "duplicate target";
    b.on_event(w);
    b.on_event(event(core::EventType::connected, 5, 1));
    CHECK(b.count(TargetState::waiting) == 1);
    CHECK(b.up_count() == 0);
    CHECK_FALSE(b.at(0).problem);
}

TEST_CASE("Board: live reload adds slots and retires removed ones; other indexes stay") {
    Board b(3);
    b.on_event(event(core::EventType::connected, 0, 1));
    b.on_event(event(core::EventType::connected, 1, 1));
    b.remove_target(1); // up, then removed: out of every count
    CHECK(b.size() == 3);
    CHECK(b.live() == 2);
    CHECK(b.up_count() == 1);
    CHECK(b.count(TargetState::connected) == 1);
    CHECK(b.count(TargetState::waiting) == 1);
    CHECK(b.at(1).removed);
    // A new target takes a new slot, never the removed one.
    CHECK(b.add_target() == 3);
    CHECK(b.size() == 4);
    CHECK(b.live() == 3);
    CHECK(b.count(TargetState::waiting) == 2);
    // Events of the removed target are ignored; the others' indexes are unchanged.
    b.on_event(failed(1, 2, core::ErrorClass::refused));
    CHECK_FALSE(b.at(1).problem);
    b.on_event(event(core::EventType::connected, 3, 1));
    CHECK(b.up_count() == 2);
    CHECK(b.at(0).up);
    CHECK(b.at(3).up);
    b.remove_target(1); // twice is once
    CHECK(b.live() == 3);
    // The run's `removed` event does the same.
    b.on_event(event(core::EventType::removed, 0));
    CHECK(b.at(0).removed);
    CHECK(b.live() == 2);
    CHECK(b.up_count() == 1);
}

TEST_CASE("BoardView: the run's board, or one of its own") {
    SUBCASE("shared: read, never fed") {
        Board run(1);
        BoardView view(&run, 1);
        view.on_event(event(core::EventType::connected, 0, 1));
        CHECK(run.up_count() == 0); // the run feeds its own board
        run.on_event(event(core::EventType::connected, 0, 1));
        CHECK(view->up_count() == 1);
        CHECK(&*view == &run);
    }
    SUBCASE("alone: fed from the events it hears") {
        BoardView view(nullptr, 2);
        view.on_event(event(core::EventType::connected, 1, 1));
        CHECK(view->size() == 2);
        CHECK(view->at(1).up);
    }
}

TEST_CASE("WatchStats::uptime_percent: once, for both reporters") {
    core::WatchStats st;
    CHECK(st.uptime_percent() == 0); // no time yet
    st.elapsed = 10s;
    st.up = 10s;
    CHECK(st.uptime_percent() == doctest::Approx(100));
    st.up = 2500ms;
    CHECK(st.uptime_percent() == doctest::Approx(25));
    st.up = 0s;
    CHECK(st.uptime_percent() == 0);
}
