// Capped exponential backoff with jitter, reproducible with a seed.
#include "core/backoff.hpp"

#include <cmath>
#include <doctest/doctest.h>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;

namespace {

BackoffPolicy policy(Duration initial, Duration max, double multiplier, double jitter) {
    BackoffPolicy p;
    p.initial = initial;
    p.max = max;
    p.multiplier = multiplier;
    p.jitter = jitter;
    return p;
}

std::vector<Duration> take(Backoff& b, std::size_t n) {
    std::vector<Duration> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(b.next());
    return out;
}

} // namespace

TEST_CASE("BackoffPolicy defaults match the issue") {
    BackoffPolicy p;
    CHECK(p.initial == 100ms);
    CHECK(p.max == 500ms);
    CHECK(p.multiplier == 2.0);
    CHECK(p.jitter == doctest::Approx(0.1));
    CHECK(k_min_delay == 1ms);
}

TEST_CASE("Backoff without jitter doubles up to the cap") {
    struct Row {
        const char* name;
        BackoffPolicy policy;
        std::vector<Duration> expected;
    };
    const std::vector<Row> rows{
        {"defaults", policy(100ms, 500ms, 2, 0), {100ms, 200ms, 400ms, 500ms, 500ms, 500ms}},
        {"multiplier 1 is constant", policy(100ms, 500ms, 1, 0), {100ms, 100ms, 100ms, 100ms}},
        {"multiplier 3", policy(10ms, 1s, 3, 0), {10ms, 30ms, 90ms, 270ms, 810ms, 1s, 1s}},
        {"multiplier 1.5", policy(100ms, 1s, 1.5, 0), {100ms, 150ms, 225ms, 337500us, 506250us}},
        {"initial equals max", policy(250ms, 250ms, 2, 0), {250ms, 250ms, 250ms}},
        {"initial above max is capped", policy(2s, 500ms, 2, 0), {500ms, 500ms}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        Backoff b(row.policy, 1);
        auto got = take(b, row.expected.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            CAPTURE(i);
            CHECK(got[i].count() == row.expected[i].count());
        }
    }
}

TEST_CASE("Backoff::current is the base before jitter and grows after each next()") {
    Backoff b(policy(100ms, 500ms, 2, 0.5), 7);
    CHECK(b.current() == 100ms);
    b.next();
    CHECK(b.current() == 200ms);
    b.next();
    CHECK(b.current() == 400ms);
    b.next();
    CHECK(b.current() == 500ms);
    b.next();
    CHECK(b.current() == 500ms);
}

TEST_CASE("Backoff jitter stays within [d(1-j), d(1+j)]") {
    for (double jitter : {0.1, 0.25, 0.5, 1.0}) {
        for (uint64_t seed : {0ULL, 1ULL, 42ULL, 0xdeadbeefULL}) {
            CAPTURE(jitter);
            CAPTURE(seed);
            Backoff b(policy(100ms, 500ms, 2, jitter), seed);
            const Duration bases[] = {100ms, 200ms, 400ms};
            for (int i = 0; i < 1000; ++i) {
                Duration base = i < 3 ? bases[i] : Duration(500ms);
                Duration d = b.next();
                auto lo = static_cast<Duration::rep>(
                    std::floor(static_cast<double>(base.count()) * (1 - jitter)));
                auto hi = static_cast<Duration::rep>(
                    std::ceil(static_cast<double>(base.count()) * (1 + jitter)));
                if (d.count() < std::max<Duration::rep>(lo, Duration(k_min_delay).count()) ||
                    d.count() > hi) {
                    CAPTURE(i);
                    CAPTURE(d.count());
                    FAIL_CHECK("delay outside the jitter bounds");
                }
            }
        }
    }
}

TEST_CASE("Backoff jitter actually varies and spreads over the whole range") {
    Backoff b(policy(500ms, 500ms, 2, 0.1), 12345);
    Duration lo = Duration::max();
    Duration hi = Duration::min();
    for (int i = 0; i < 2000; ++i) {
        Duration d = b.next();
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    // Uniform over [450, 550] ms: 2000 draws come close to both ends.
    CHECK(lo < 455ms);
    CHECK(hi > 545ms);
    CHECK(lo >= 450ms);
    CHECK(hi <= 550ms);
}

TEST_CASE("Backoff with a seed is reproducible") {
    const BackoffPolicy p = policy(100ms, 500ms, 2, 0.1);
    SUBCASE("same seed, same sequence") {
        Backoff a(p, 42);
        Backoff b(p, 42);
        CHECK(take(a, 50) == take(b, 50));
    }
    SUBCASE("different seeds, different sequences") {
        Backoff a(p, 1);
        Backoff b(p, 2);
        CHECK(take(a, 50) != take(b, 50));
    }
    SUBCASE("without jitter the seed does not matter") {
        Backoff a(policy(100ms, 500ms, 2, 0), 1);
        Backoff b(policy(100ms, 500ms, 2, 0), 2);
        CHECK(take(a, 10) == take(b, 10));
    }
}

TEST_CASE("Backoff::reset starts over from the initial delay") {
    Backoff b(policy(100ms, 500ms, 2, 0), 0);
    take(b, 5);
    CHECK(b.current() == 500ms);
    b.reset();
    CHECK(b.current() == 100ms);
    auto again = take(b, 4);
    CHECK(again == std::vector<Duration>{100ms, 200ms, 400ms, 500ms});
}

TEST_CASE("Backoff delays are at least 1 ms") {
    SUBCASE("tiny base delay") {
        Backoff b(policy(10us, 100us, 2, 0), 0);
        for (Duration d : take(b, 10))
            CHECK(d == 1ms);
    }
    SUBCASE("zero base delay") {
        Backoff b(policy(0ms, 0ms, 2, 0), 0);
        for (Duration d : take(b, 5))
            CHECK(d == 1ms);
    }
    SUBCASE("full jitter can draw near zero but never below the minimum") {
        Backoff b(policy(2ms, 2ms, 1, 1.0), 99);
        for (Duration d : take(b, 5000)) {
            CHECK(d >= 1ms);
            CHECK(d <= 4ms);
        }
    }
}

TEST_CASE("Backoff does not overflow after thousands of rounds") {
    struct Row {
        const char* name;
        BackoffPolicy policy;
    };
    // 87600 h (ten years) is the largest duration the command line accepts.
    const std::vector<Row> rows{
        {"defaults", policy(100ms, 500ms, 2, 0.1)},
        {"large cap", policy(1ms, 87600h, 2, 1.0)},
        {"huge multiplier", policy(1ms, 87600h, 1000, 0.5)},
        {"cap one hour", policy(100ms, 1h, 10, 0)},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        Backoff b(row.policy, 3);
        Duration last{};
        bool ok = true;
        for (int i = 0; i < 10000 && ok; ++i) {
            Duration d = b.next();
            last = d;
            ok = d >= k_min_delay &&
                 static_cast<double>(d.count()) <=
                     static_cast<double>(row.policy.max.count()) * (1 + row.policy.jitter) + 1;
            ok = ok && b.current() <= row.policy.max && b.current() > Duration::zero();
        }
        CHECK(ok);
        CHECK(b.current() == row.policy.max);
        CHECK(last > Duration::zero());
    }
}
