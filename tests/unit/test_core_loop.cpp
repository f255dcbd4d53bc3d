// The Loop and its Timer and defer(): when functions run, in what order, and what a
// cancelled or destroyed owner leaves behind. All on the real libevent loop.
#include "core/loop.hpp"

#include "support.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using tcpretry::test::run_for;
using tcpretry::test::run_until;
using tcpretry::test::Watchdog;

TEST_CASE("Timer: fires once after its delay; pending until then") {
    Watchdog dog(10);
    Loop loop;
    int fired = 0;
    TimePoint at{};
    Timer t(loop, [&] {
        ++fired;
        at = Clock::now();
    });
    CHECK_FALSE(t.pending()); // no event is made before the first start()
    TimePoint started = Clock::now();
    REQUIRE(t.start(30ms));
    CHECK(t.pending());
    loop.run(); // returns on its own: nothing else is pending
    CHECK(fired == 1);
    CHECK(at - started >= 30ms);
    CHECK_FALSE(t.pending());
}

TEST_CASE("Timer: re-arming replaces the pending expiry; cancel() stops it") {
    Watchdog dog(10);
    Loop loop;
    int fired = 0;
    Timer t(loop, [&] { ++fired; });
    REQUIRE(t.start(10ms));
    REQUIRE(t.start(60ms)); // replaces the first: one expiry, not two
    TimePoint started = Clock::now();
    loop.run();
    CHECK(fired == 1);
    CHECK(Clock::now() - started >= 50ms);

    REQUIRE(t.start(10ms));
    t.cancel();
    CHECK_FALSE(t.pending());
    loop.run();
    CHECK(fired == 1);
    t.cancel(); // cancelling twice, or an idle timer, is harmless
}

TEST_CASE("Timer: may re-arm itself from its own callback") {
    Watchdog dog(10);
    Loop loop;
    int fired = 0;
    Timer* self = nullptr;
    Timer t(loop, [&] {
        if (++fired < 3)
            CHECK(self->start(1ms));
    });
    self = &t;
    REQUIRE(t.start(1ms));
    loop.run();
    CHECK(fired == 3);
}

TEST_CASE("Loop::break_loop: run() returns after the running callback, nothing is cancelled") {
    Watchdog dog(10);
    Loop loop;
    bool after = false;
    Timer later(loop, [&] { after = true; });
    Timer breaker(loop, [&] { loop.break_loop(); });
    REQUIRE(later.start(200ms));
    REQUIRE(breaker.start(5ms));
    TimePoint started = Clock::now();
    loop.run();
    CHECK(Clock::now() - started < 150ms);
    CHECK_FALSE(after);
    CHECK(later.pending()); // still there: a second run() gets it
    loop.run();
    CHECK(after);
}

TEST_CASE("Loop::defer: runs later, from the loop, not inside the caller") {
    Watchdog dog(10);
    Loop loop;
    bool ran = false;
    Deferred d = loop.defer([&] { ran = true; });
    CHECK_FALSE(ran);
    CHECK(d.pending());
    loop.run(); // the deferred function keeps the loop busy until it ran
    CHECK(ran);
    CHECK_FALSE(d.pending());
}

TEST_CASE("Loop::defer: from a callback, it runs after that callback returns") {
    Watchdog dog(10);
    Loop loop;
    std::vector<std::string> order;
    Deferred d;
    Timer t(loop, [&] {
        d = loop.defer([&] { order.push_back("deferred"); });
        order.push_back("callback end");
    });
    Timer later(loop, [&] { order.push_back("later timer"); });
    REQUIRE(t.start(1ms));
    REQUIRE(later.start(50ms));
    loop.run();
    CHECK(order == std::vector<std::string>{"callback end", "deferred", "later timer"});
}

TEST_CASE("Loop::defer: functions run in the order deferred") {
    Watchdog dog(10);
    Loop loop;
    std::vector<int> order;
    std::vector<Deferred> handles;
    for (int i = 0; i < 5; ++i)
        handles.push_back(loop.defer([&order, i] { order.push_back(i); }));
    loop.run();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("Loop::defer: what a deferred function defers runs after the rest of its turn") {
    Watchdog dog(10);
    Loop loop;
    std::vector<std::string> order;
    Deferred inner;
    Deferred a = loop.defer([&] {
        order.push_back("a");
        inner = loop.defer([&] { order.push_back("a's"); });
    });
    Deferred b = loop.defer([&] { order.push_back("b"); });
    loop.run();
    CHECK(order == std::vector<std::string>{"a", "b", "a's"});
}

TEST_CASE("Loop::defer: a function that keeps deferring does not starve I/O") {
    Watchdog dog(10);
    Loop loop;
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    UniqueFd a(fds[0]), b(fds[1]);
    REQUIRE(::write(b.get(), "x", 1) == 1);

    int steps = 0;
    int io_at_step = -1;
    struct Reader {
        int* io_at_step;
        int* steps;
        static void on_read(evutil_socket_t, short, void* arg) noexcept {
            auto* r = static_cast<Reader*>(arg);
            *r->io_at_step = *r->steps;
        }
    } reader{&io_at_step, &steps};
    EventPtr watch(event_new(loop.base(), a.get(), EV_READ, &Reader::on_read, &reader));
    REQUIRE(watch);
    REQUIRE(event_add(watch.get(), nullptr) == 0);

    Deferred chain;
    std::function<void()> step = [&] {
        if (++steps < 100)
            chain = loop.defer(step);
    };
    chain = loop.defer(step);
    loop.run();
    CHECK(steps == 100);
    REQUIRE(io_at_step >= 0);
    CHECK(io_at_step < 5); // polled between turns, not after the whole chain
}

TEST_CASE("Deferred: cancelled, or its owner destroyed first, the function never runs") {
    Watchdog dog(10);
    Loop loop;
    int ran = 0;
    SUBCASE("cancel()") {
        Deferred d = loop.defer([&] { ++ran; });
        d.cancel();
        CHECK_FALSE(d.pending());
        d.cancel(); // twice is harmless
    }
    SUBCASE("the handle destroyed") {
        struct Owner {
            int& ran;
            Deferred later;
        };
        auto owner = std::make_unique<Owner>(Owner{ran, {}});
        owner->later = loop.defer([o = owner.get()] { ++o->ran; }); // would use a freed owner
        owner.reset();
    }
    SUBCASE("the handle reassigned: the first is cancelled") {
        Deferred d = loop.defer([&] { ran += 10; });
        d = loop.defer([&] { ++ran; });
        loop.run();
        CHECK(ran == 1);
        ran = 0;
    }
    SUBCASE("cancelled by an earlier function of the same turn") {
        Deferred second;
        Deferred first = loop.defer([&] { second.cancel(); });
        second = loop.defer([&] { ++ran; });
        loop.run();
    }
    loop.run();
    CHECK(ran == 0);
}

TEST_CASE("Deferred: a cancelled function's captures are released at once") {
    Loop loop;
    auto held = std::make_shared<int>(7);
    Deferred d = loop.defer([held] { (void)held; });
    CHECK(held.use_count() == 2);
    d.cancel();
    CHECK(held.use_count() == 1);
}

TEST_CASE("Deferred: moving the handle moves the cancellation") {
    Watchdog dog(10);
    Loop loop;
    int ran = 0;
    Deferred a = loop.defer([&] { ++ran; });
    Deferred b = std::move(a);
    CHECK_FALSE(a.pending()); // NOLINT(bugprone-use-after-move): moved-from is empty
    CHECK(b.pending());
    a.cancel(); // the moved-from handle cancels nothing
    loop.run();
    CHECK(ran == 1);
}

TEST_CASE("Deferred: a function may destroy its own handle, or defer itself again") {
    Watchdog dog(10);
    Loop loop;
    int ran = 0;
    auto handle = std::make_unique<Deferred>();
    *handle = loop.defer([&] {
        ++ran;
        CHECK_FALSE(handle->pending()); // it left the queue before it ran
        handle.reset();
    });
    loop.run();
    CHECK(ran == 1);

    Deferred again;
    std::function<void()> fn = [&] {
        if (++ran < 4)
            again = loop.defer(fn);
    };
    again = loop.defer(fn);
    loop.run();
    CHECK(ran == 4);
}

TEST_CASE("Loop: run() returns once deferred functions ran and nothing else is pending") {
    Watchdog dog(10);
    Loop loop;
    int ran = 0;
    Deferred d = loop.defer([&] { ++ran; });
    Deferred e = loop.defer([&] { ++ran; });
    e.cancel();
    loop.run();
    CHECK(ran == 1);
    loop.run(); // nothing left: returns at once
    CHECK(ran == 1);
    CHECK(run_until(
        loop, [&] { return ran == 1; }, 100ms));
    run_for(loop, 1ms);
}
