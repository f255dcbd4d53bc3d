// The Loop and its Timer, WriteWatch and defer(): when functions run, in what order, and what a
// cancelled or destroyed owner leaves behind. All on the real libevent loop.
#include "core/loop.hpp"

#include "support.hpp"

#include <cerrno>
#include <chrono>
#include <doctest/doctest.h>
#include <functional>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
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

namespace {

// Records which watches ran, in order.
struct WatchLog {
    std::vector<std::string> ran;
};

struct Named {
    WatchLog* log;
    std::string name;
    std::function<void()> then; // runs inside the callback, after it is recorded
    static void on_writable(void* arg) noexcept {
        auto* self = static_cast<Named*>(arg);
        self->log->ran.push_back(self->name);
        if (self->then)
            self->then();
    }
};

struct SocketPair {
    UniqueFd a, b;
};

SocketPair socket_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Fills the socket's send buffer: it is not writable until the peer reads.
void fill(int fd) {
    std::string chunk(65536, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
}

} // namespace

TEST_CASE("WriteWatch: a connecting socket's watch fires once, when it connects") {
    Watchdog dog(10);
    Loop loop;
    UniqueFd listener = tcpretry::test::listening_v4_socket();
    SockAddr to = tcpretry::test::loopback_v4(tcpretry::test::local_port_of(listener.get()));
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    int rc = ::connect(fd.get(), to.get(), to.length);
    REQUIRE((rc == 0 || errno == EINPROGRESS));

    WatchLog log;
    WriteWatch watch;
    bool armed_inside = true;
    Named n{&log, "connected", [&] { armed_inside = watch.armed(); }};
    REQUIRE(watch.arm(loop, fd.get(), &Named::on_writable, &n));
    CHECK(watch.armed());
    loop.run(); // returns once the watch fired: nothing else is pending
    CHECK(log.ran == std::vector<std::string>{"connected"});
    CHECK_FALSE(armed_inside);
    CHECK_FALSE(watch.armed());
    int err = -1;
    socklen_t len = sizeof err;
    REQUIRE(::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    CHECK(err == 0);
    run_for(loop, 20ms); // still writable, but fired once only
    CHECK(log.ran.size() == 1);
}

TEST_CASE("WriteWatch: cancelled or destroyed, it never fires; it may be armed again") {
    Watchdog dog(10);
    Loop loop;
    SocketPair p = socket_pair(); // writable at once
    WatchLog log;
    Named n{&log, "a", nullptr};
    SUBCASE("cancel()") {
        WriteWatch watch;
        REQUIRE(watch.arm(loop, p.a.get(), &Named::on_writable, &n));
        watch.cancel();
        CHECK_FALSE(watch.armed());
        watch.cancel(); // twice is harmless
        run_for(loop, 20ms);
        CHECK(log.ran.empty());
        SUBCASE("armed again on the same socket (still in the set): fires once") {
            REQUIRE(watch.arm(loop, p.a.get(), &Named::on_writable, &n));
            loop.run();
            CHECK(log.ran == std::vector<std::string>{"a"});
        }
    }
    SUBCASE("destroyed") {
        auto watch = std::make_unique<WriteWatch>();
        REQUIRE(watch->arm(loop, p.a.get(), &Named::on_writable, &n));
        watch.reset();
        run_for(loop, 20ms);
        CHECK(log.ran.empty());
    }
    SUBCASE("re-armed while armed: fires once") {
        WriteWatch watch;
        REQUIRE(watch.arm(loop, p.a.get(), &Named::on_writable, &n));
        REQUIRE(watch.arm(loop, p.a.get(), &Named::on_writable, &n));
        loop.run();
        CHECK(log.ran == std::vector<std::string>{"a"});
    }
}

TEST_CASE("WriteWatch: not writable, no call; writable later, one call") {
    Watchdog dog(10);
    Loop loop;
    SocketPair p = socket_pair();
    fill(p.a.get());
    WatchLog log;
    Named n{&log, "a", nullptr};
    WriteWatch watch;
    REQUIRE(watch.arm(loop, p.a.get(), &Named::on_writable, &n));
    run_for(loop, 30ms);
    CHECK(log.ran.empty());
    CHECK(watch.armed());
    std::string sink(1 << 20, '\0');
    while (::read(p.b.get(), sink.data(), sink.size()) > 0) {
    }
    CHECK(run_until(loop, [&] { return !log.ran.empty(); }));
    CHECK(log.ran == std::vector<std::string>{"a"});
}

TEST_CASE("WriteWatch: a callback that cancels another ready watch: that one never runs") {
    // Both are ready in the same batch. The first to run cancels the other and reuses its
    // watch on a socket that is not writable: the other's readiness, still in the batch,
    // must reach neither the cancelled callback nor the new one.
    Watchdog dog(10);
    Loop loop;
    SocketPair p1 = socket_pair(), p2 = socket_pair(), p3 = socket_pair();
    fill(p3.a.get());
    WatchLog log;
    WriteWatch w1, w2;
    Named late{&log, "late", nullptr};
    Named n1{&log, "1", nullptr}, n2{&log, "2", nullptr};
    n1.then = [&] {
        w2.cancel();
        CHECK(w2.arm(loop, p3.a.get(), &Named::on_writable, &late)); // noexcept: no REQUIRE
    };
    n2.then = [&] {
        w1.cancel();
        CHECK(w1.arm(loop, p3.a.get(), &Named::on_writable, &late));
    };
    REQUIRE(w1.arm(loop, p1.a.get(), &Named::on_writable, &n1));
    REQUIRE(w2.arm(loop, p2.a.get(), &Named::on_writable, &n2));
    run_for(loop, 30ms);
    REQUIRE(log.ran.size() == 1);
    CHECK((log.ran[0] == "1" || log.ran[0] == "2"));
    CHECK((w1.armed() != w2.armed())); // the one on the full socket waits
}

TEST_CASE("WriteWatch: a callback that breaks the loop leaves the other ready ones to run()") {
    Watchdog dog(10);
    Loop loop;
    SocketPair p1 = socket_pair(), p2 = socket_pair();
    WatchLog log;
    Named n1{&log, "1", [&] { loop.break_loop(); }}, n2{&log, "2", [&] { loop.break_loop(); }};
    WriteWatch w1, w2;
    REQUIRE(w1.arm(loop, p1.a.get(), &Named::on_writable, &n1));
    REQUIRE(w2.arm(loop, p2.a.get(), &Named::on_writable, &n2));
    loop.run();
    CHECK(log.ran.size() == 1);
    CHECK((w1.armed() != w2.armed()));
    loop.run(); // the other one, still armed, runs now
    CHECK(log.ran.size() == 2);
    CHECK_FALSE(w1.armed());
    CHECK_FALSE(w2.armed());
}
