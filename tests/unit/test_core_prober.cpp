// The Prober (ping mode) against loopback sockets: how many probes, on what schedule, the
// statistics they add up to, and stop() / destruction with probes still around.
#include "core/prober.hpp"

#include "support.hpp"

#include <cerrno>
#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <optional>
#include <thread>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using tcpretry::test::bound_v4_socket;
using tcpretry::test::listening_v4_socket;
using tcpretry::test::local_port_of;
using tcpretry::test::loopback_target;
using tcpretry::test::open_fd_count;
using tcpretry::test::RecordingSink;
using tcpretry::test::Watchdog;

namespace {

ConnectorOptions probe_connector() {
    ConnectorOptions o;
    o.connect_timeout = 2s;
    o.max_rounds = 5; // the Prober forces one round per probe
    o.backoff.jitter = 0;
    o.seed = 1;
    return o;
}

ProbeOptions every(Duration interval, unsigned count) {
    ProbeOptions p;
    p.interval = interval;
    p.count = count;
    return p;
}

} // namespace

TEST_CASE("Prober: COUNT probes to an open port, on a fixed schedule, all answered") {
    const std::size_t fds_at_start = open_fd_count();
    {
        Watchdog dog(20);
        UniqueFd listener = listening_v4_socket(0, 64);
        const uint16_t port = local_port_of(listener.get());
        Loop loop;
        Resolver resolver(loop, std::nullopt);
        RecordingSink sink;
        Prober prober(loop, resolver, loopback_target(port), 4, probe_connector(), every(50ms, 4),
                      sink);
        CHECK_FALSE(prober.done());
        TimePoint started = Clock::now();
        prober.start();
        loop.run(); // returns once the last probe has its outcome and was freed

        // Only the probes' outcomes are reported, not their connectors' own events.
        REQUIRE(sink.size() == 4);
        for (unsigned i = 0; i < 4; ++i) {
            const Event& e = sink[i];
            CAPTURE(i);
            CHECK(e.type == EventType::probe);
            CHECK(e.target == 4);
            CHECK(e.seq == i + 1);
            CHECK(e.ok);
            REQUIRE(e.address);
            CHECK(e.address->address == "127.0.0.1");
            CHECK(e.address->port == port);
            CHECK(e.duration > Duration::zero());
            // Probe i starts i intervals after the first (timers never fire early).
            CHECK(sink.recorded()[i].at - started >= 50ms * i);
        }
        CHECK(sink.recorded()[3].at - started < 50ms * 3 + 1s);
        CHECK(prober.done());
        CHECK(prober.stats().sent() == 4);
        CHECK(prober.stats().received() == 4);
        CHECK(prober.stats().loss_percent() == 0);
        REQUIRE(prober.stats().latency());
        CHECK(prober.stats().latency()->min > Duration::zero());
        CHECK_FALSE(prober.stats().tls_latency()); // no TLS: no handshake statistics
        CHECK_FALSE(sink[0].tls_time);
        CHECK_FALSE(sink[0].phase);
    }
    CHECK(open_fd_count() == fds_at_start); // every probe's socket closed
}

TEST_CASE("Prober: a closed port: each probe fails with why, and the statistics count it") {
    Watchdog dog(20);
    UniqueFd closed = bound_v4_socket();
    const uint16_t port = local_port_of(closed.get());
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    Prober prober(loop, resolver, loopback_target(port), 0, probe_connector(), every(10ms, 3),
                  sink);
    prober.start();
    loop.run();

    REQUIRE(sink.size() == 3);
    for (unsigned i = 0; i < 3; ++i) {
        const Event& e = sink[i];
        CAPTURE(i);
        CHECK(e.type == EventType::probe);
        CHECK(e.seq == i + 1);
        CHECK_FALSE(e.ok);
        CHECK(e.error == ErrorClass::refused); // from the failed attempt, not the gave_up
        CHECK(e.code.value == ECONNREFUSED);
        CHECK(e.message == "connection refused");
        REQUIRE(e.phase); // the failed attempt's phase, carried by the probe
        CHECK(*e.phase == Phase::connect);
        CHECK_FALSE(e.resolve_time); // an IP literal
        REQUIRE(e.address);
        CHECK(e.address->port == port);
    }
    CHECK(prober.done());
    CHECK(prober.stats().sent() == 3);
    CHECK(prober.stats().received() == 0);
    CHECK(prober.stats().loss_percent() == 100);
    CHECK(prober.stats().longest_failure_streak() == 3);
    CHECK_FALSE(prober.stats().latency());
}

TEST_CASE("Prober: after a stall, the probes missed are skipped, not sent in a burst") {
    Watchdog dog(20);
    UniqueFd closed = bound_v4_socket();
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    Prober prober(loop, resolver, loopback_target(local_port_of(closed.get())), 0,
                  probe_connector(), every(2ms, 0), sink);
    std::optional<TimePoint> resumed;
    sink.hook = [&](const Event& e) {
        if (e.seq == 1) {
            std::this_thread::sleep_for(100ms); // the loop stalls for 50 intervals
            resumed = Clock::now();
        } else if (resumed && Clock::now() - *resumed >= 40ms) {
            prober.stop();
        }
    };
    prober.start();
    loop.run();
    REQUIRE(resumed);
    // In the 20 ms after the stall: the probes its 10 intervals schedule, the late one and the
    // one sent at once (a loaded machine makes fewer, never more); a burst of the 50 missed
    // slots would be 50 more.
    std::size_t soon = 0;
    for (const auto& r : sink.recorded())
        if (r.event.seq > 1 && r.at - *resumed < 20ms)
            ++soon;
    CHECK(soon <= 14);
}

TEST_CASE("Prober: count 0 probes until stopped; stop() ends it silently") {
    Watchdog dog(20);
    UniqueFd listener = listening_v4_socket(0, 64);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    Prober prober(loop, resolver, loopback_target(local_port_of(listener.get())), 0,
                  probe_connector(), every(20ms, 0), sink);

    SUBCASE("stopped from inside the sink, after the third probe") {
        sink.hook = [&](const Event& e) {
            if (e.seq == 3)
                prober.stop();
        };
        prober.start();
        loop.run(); // nothing is left to run once it stopped: the loop ends
        CHECK(sink.size() == 3);
        CHECK(prober.stats().sent() == 3);
    }
    SUBCASE("stopped while its first probe is in flight") {
        prober.start();
        prober.stop();
        loop.run();
        CHECK(sink.size() == 0);
        CHECK(prober.stats().sent() == 0);
    }
    CHECK_FALSE(prober.done()); // count 0 is never done: it is stopped
}

TEST_CASE("Prober: destroyed with finished probes still to be freed, nothing runs later") {
    Watchdog dog(20);
    UniqueFd listener = listening_v4_socket(0, 64);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    auto prober =
        std::make_unique<Prober>(loop, resolver, loopback_target(local_port_of(listener.get())), 0,
                                 probe_connector(), every(1s, 2), sink);
    // The first probe's outcome: its Connector is queued to be freed from the loop.
    sink.hook = [&](const Event&) { loop.break_loop(); };
    prober->start();
    loop.run();
    REQUIRE(sink.size() == 1);
    prober.reset(); // cancels the pending free and the next probe
    loop.run();     // would touch the destroyed Prober; returns at once: nothing pending
    CHECK(sink.size() == 1);
}
