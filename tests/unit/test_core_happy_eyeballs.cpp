// HappyEyeballs on a fake clock: the order of addresses (families interleaved, IPv6 first),
// the 50 ms resolution delay, the 250 ms stagger, the next address at once after a failure,
// putting an address back, and when a round has nothing left.
#include "core/happy_eyeballs.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using Kind = HappyEyeballs::Step::Kind;

namespace {

SockAddr addr(const std::string& text) {
    auto a = parse_numeric_address(text, 80);
    REQUIRE(a);
    return *a;
}

// A clock that moves only when told.
struct FakeClock {
    TimePoint now{};
    void advance(Duration d) { now += d; }
};

// Takes every address next() gives at once, each failing at once: the order alone.
std::vector<std::string> order(HappyEyeballs& he, TimePoint now) {
    std::vector<std::string> out;
    for (;;) {
        HappyEyeballs::Step s = he.next(now);
        if (s.kind != Kind::connect)
            break;
        out.push_back(s.address.host());
        he.failed();
    }
    return out;
}

} // namespace

TEST_CASE("HappyEyeballs: families interleave, IPv6 first") {
    FakeClock clock;
    SUBCASE("known addresses, given IPv4 first") {
        HappyEyeballs he;
        for (const char* a : {"10.0.0.1", "10.0.0.2", "10.0.0.3", "::1", "::2"})
            he.add(addr(a));
        CHECK(order(he, clock.now) ==
              std::vector<std::string>{"::1", "10.0.0.1", "::2", "10.0.0.2", "10.0.0.3"});
        CHECK(he.tried() == 5);
        CHECK(he.exhausted());
    }
    SUBCASE("one family only") {
        HappyEyeballs he;
        he.add(addr("10.0.0.1"));
        he.add(addr("10.0.0.2"));
        CHECK(order(he, clock.now) == std::vector<std::string>{"10.0.0.1", "10.0.0.2"});
    }
    SUBCASE("nothing at all: idle and exhausted") {
        HappyEyeballs he;
        CHECK(he.next(clock.now).kind == Kind::idle);
        CHECK(he.exhausted());
        CHECK(he.tried() == 0);
    }
}

TEST_CASE("HappyEyeballs: the next address 250 ms after the previous one started") {
    FakeClock clock;
    HappyEyeballs he;
    he.add(addr("::1"));
    he.add(addr("10.0.0.1"));
    he.add(addr("10.0.0.2"));

    auto s = he.next(clock.now);
    REQUIRE(s.kind == Kind::connect);
    CHECK(s.address.host() == "::1");
    he.started(clock.now);

    clock.advance(100ms);
    s = he.next(clock.now);
    REQUIRE(s.kind == Kind::wait);
    CHECK(s.until == TimePoint{} + 250ms);

    clock.advance(149ms);
    CHECK(he.next(clock.now).kind == Kind::wait);
    clock.advance(1ms); // 250 ms
    s = he.next(clock.now);
    REQUIRE(s.kind == Kind::connect);
    CHECK(s.address.host() == "10.0.0.1");
    he.started(clock.now);

    // The caller's timer fired a little early by our clock: the timer decides.
    clock.advance(249ms);
    CHECK(he.next(clock.now).kind == Kind::wait);
    he.wait_over();
    s = he.next(clock.now);
    REQUIRE(s.kind == Kind::connect);
    CHECK(s.address.host() == "10.0.0.2");
    he.started(clock.now);
    // Nothing left: idle, not a wait (no timer for nothing), though the last one connects.
    CHECK(he.next(clock.now).kind == Kind::idle);
    CHECK(he.exhausted());
}

TEST_CASE("HappyEyeballs: a failed attempt starts the next address at once") {
    FakeClock clock;
    HappyEyeballs he;
    he.add(addr("::1"));
    he.add(addr("10.0.0.1"));
    REQUIRE(he.next(clock.now).kind == Kind::connect);
    he.started(clock.now);
    clock.advance(30ms);
    CHECK(he.next(clock.now).kind == Kind::wait);
    he.failed();
    auto s = he.next(clock.now);
    REQUIRE(s.kind == Kind::connect);
    CHECK(s.address.host() == "10.0.0.1");
}

TEST_CASE("HappyEyeballs: the resolution delay (A answered first, AAAA pending)") {
    FakeClock clock;
    HappyEyeballs he;
    he.expect(Family::ipv6);
    he.expect(Family::ipv4);
    CHECK_FALSE(he.exhausted());
    CHECK(he.next(clock.now).kind == Kind::idle); // nothing resolved yet

    he.resolved(Family::ipv4, {addr("10.0.0.1"), addr("10.0.0.2")});
    auto s = he.next(clock.now);
    REQUIRE(s.kind == Kind::wait);
    CHECK(s.until == TimePoint{} + 50ms);

    SUBCASE("AAAA arrives within the delay: IPv6 goes first, at once") {
        clock.advance(20ms);
        he.resolved(Family::ipv6, {addr("::1")});
        s = he.next(clock.now);
        REQUIRE(s.kind == Kind::connect);
        CHECK(s.address.host() == "::1");
        he.failed();
        CHECK(order(he, clock.now) == std::vector<std::string>{"10.0.0.1", "10.0.0.2"});
    }
    SUBCASE("AAAA has no address: the delay ends, IPv4 at once") {
        clock.advance(10ms);
        he.resolved(Family::ipv6, {});
        s = he.next(clock.now);
        REQUIRE(s.kind == Kind::connect);
        CHECK(s.address.host() == "10.0.0.1");
    }
    SUBCASE("AAAA is late: IPv4 after 50 ms, AAAA's addresses interleave when they come") {
        clock.advance(49ms);
        CHECK(he.next(clock.now).kind == Kind::wait);
        clock.advance(1ms);
        s = he.next(clock.now);
        REQUIRE(s.kind == Kind::connect);
        CHECK(s.address.host() == "10.0.0.1");
        he.started(clock.now);
        clock.advance(100ms);
        he.resolved(Family::ipv6, {addr("::1")});
        // Something was tried already: the answer does not cut the stagger short.
        s = he.next(clock.now);
        REQUIRE(s.kind == Kind::wait);
        CHECK(s.until == TimePoint{} + 300ms);
        clock.advance(150ms);
        s = he.next(clock.now);
        REQUIRE(s.kind == Kind::connect);
        CHECK(s.address.host() == "::1");
        he.failed();
        CHECK(order(he, clock.now) == std::vector<std::string>{"10.0.0.2"});
        CHECK(he.exhausted());
    }
}

TEST_CASE("HappyEyeballs: no resolution delay without a pending AAAA, and once a round") {
    FakeClock clock;
    SUBCASE("only A asked (-4)") {
        HappyEyeballs he;
        he.expect(Family::ipv4);
        he.resolved(Family::ipv4, {addr("10.0.0.1")});
        CHECK(he.next(clock.now).kind == Kind::connect);
    }
    SUBCASE("AAAA answered first") {
        HappyEyeballs he;
        he.expect(Family::ipv6);
        he.expect(Family::ipv4);
        he.resolved(Family::ipv6, {addr("::1")});
        auto s = he.next(clock.now);
        REQUIRE(s.kind == Kind::connect);
        CHECK(s.address.host() == "::1");
        CHECK_FALSE(he.exhausted()); // A still pending
        he.resolved(Family::ipv4, {});
        he.failed();
        CHECK(he.exhausted());
    }
    SUBCASE("the delay is given once") {
        HappyEyeballs he;
        he.expect(Family::ipv6);
        he.expect(Family::ipv4);
        he.resolved(Family::ipv4, {addr("10.0.0.1")});
        REQUIRE(he.next(clock.now).kind == Kind::wait);
        he.wait_over();
        auto s = he.next(clock.now);
        REQUIRE(s.kind == Kind::connect);
        // Put back (no descriptor): tried again without another resolution delay.
        he.put_back(s.address);
        CHECK(he.tried() == 0);
        s = he.next(clock.now);
        REQUIRE(s.kind == Kind::connect);
        CHECK(s.address.host() == "10.0.0.1");
    }
}

TEST_CASE("HappyEyeballs: an address put back is first again, after a stagger if asked") {
    FakeClock clock;
    HappyEyeballs he;
    he.add(addr("10.0.0.1"));
    he.add(addr("10.0.0.2"));
    auto s = he.next(clock.now);
    REQUIRE(s.kind == Kind::connect);
    CHECK(he.tried() == 1);
    he.put_back(s.address, clock.now);
    CHECK(he.tried() == 0);
    s = he.next(clock.now);
    REQUIRE(s.kind == Kind::wait);
    CHECK(s.until == clock.now + 250ms);
    clock.advance(250ms);
    CHECK(order(he, clock.now) == std::vector<std::string>{"10.0.0.1", "10.0.0.2"});
}

TEST_CASE("HappyEyeballs: timing is configurable") {
    FakeClock clock;
    HappyEyeballs he(HappyEyeballs::Timing{10ms, 100ms});
    he.expect(Family::ipv6);
    he.expect(Family::ipv4);
    he.resolved(Family::ipv4, {addr("10.0.0.1"), addr("10.0.0.2")});
    auto s = he.next(clock.now);
    REQUIRE(s.kind == Kind::wait);
    CHECK(s.until == clock.now + 10ms);
    clock.advance(10ms);
    REQUIRE(he.next(clock.now).kind == Kind::connect);
    he.started(clock.now);
    s = he.next(clock.now);
    REQUIRE(s.kind == Kind::wait);
    CHECK(s.until == clock.now + 100ms);
}

TEST_CASE("HappyEyeballs: the defaults are RFC 8305's") {
    HappyEyeballs::Timing t;
    CHECK(t.resolution_delay == 50ms);
    CHECK(t.stagger == 250ms);
}
