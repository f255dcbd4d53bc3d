// Ping-mode statistics: summarize (min/avg/max/mdev and nearest-rank percentiles),
// nearest_rank itself, LatencySeries (bounded: exact up to 1,024 samples), and ProbeStats
// (loss, failure streaks, merge, history).
#include "core/stats.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <doctest/doctest.h>
#include <type_traits>
#include <utility>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;

namespace {

std::vector<Duration> ms(std::initializer_list<int> values) {
    std::vector<Duration> out;
    for (int v : values)
        out.push_back(std::chrono::milliseconds(v));
    return out;
}

std::vector<Duration> one_to(int n) {
    std::vector<Duration> out;
    for (int i = 1; i <= n; ++i)
        out.push_back(std::chrono::milliseconds(i));
    return out;
}

} // namespace

TEST_CASE("summarize: 1, 2, 3, 4 ms") {
    auto s = summarize(ms({1, 2, 3, 4}));
    REQUIRE(s);
    CHECK(s->min == 1ms);
    CHECK(s->max == 4ms);
    CHECK(s->avg == 2500us);
    // ping's mdev: sqrt(mean(x^2) - mean(x)^2) = sqrt(7.5 - 6.25) = sqrt(1.25) ms.
    CHECK(to_ms(s->mdev) == doctest::Approx(std::sqrt(1.25)).epsilon(1e-6));
    CHECK(s->mdev == Duration(1'118'034)); // rounded to the nanosecond
    CHECK(s->p50 == 2ms);                  // rank ceil(0.5 * 4) = 2
    CHECK(s->p90 == 4ms);                  // rank ceil(3.6) = 4
    CHECK(s->p99 == 4ms);
}

TEST_CASE("summarize: the order of the samples does not matter") {
    auto a = summarize(ms({4, 1, 3, 2}));
    auto b = summarize(ms({1, 2, 3, 4}));
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->min == b->min);
    CHECK(a->avg == b->avg);
    CHECK(a->max == b->max);
    CHECK(a->mdev == b->mdev);
    CHECK(a->p50 == b->p50);
    CHECK(a->p90 == b->p90);
    CHECK(a->p99 == b->p99);
}

TEST_CASE("summarize: a single sample is every statistic, with no deviation") {
    auto s = summarize({Duration(123'456)});
    REQUIRE(s);
    CHECK(s->min == Duration(123'456));
    CHECK(s->avg == Duration(123'456));
    CHECK(s->max == Duration(123'456));
    CHECK(s->mdev == Duration::zero());
    CHECK(s->p50 == Duration(123'456));
    CHECK(s->p90 == Duration(123'456));
    CHECK(s->p99 == Duration(123'456));
}

TEST_CASE("summarize: equal samples have no deviation") {
    auto s = summarize(std::vector<Duration>(10, 250us));
    REQUIRE(s);
    CHECK(s->mdev == Duration::zero());
    CHECK(s->avg == 250us);
}

TEST_CASE("summarize: nothing to summarise") {
    CHECK_FALSE(summarize({}));
}

TEST_CASE("summarize: 1..100 ms") {
    auto s = summarize(one_to(100));
    REQUIRE(s);
    CHECK(s->min == 1ms);
    CHECK(s->max == 100ms);
    CHECK(s->avg == 50500us);
    // Population standard deviation of 1..100: sqrt((100^2 - 1) / 12).
    CHECK(to_ms(s->mdev) == doctest::Approx(std::sqrt((100.0 * 100.0 - 1) / 12)).epsilon(1e-7));
    CHECK(s->p50 == 50ms);
    CHECK(s->p90 == 90ms);
    CHECK(s->p99 == 99ms);
}

TEST_CASE("summarize: large connect times do not overflow") {
    // Squares of nanosecond counts of minutes exceed int64.
    auto s = summarize({std::chrono::minutes(10), std::chrono::minutes(20)});
    REQUIRE(s);
    CHECK(s->avg == std::chrono::minutes(15));
    CHECK(s->mdev == std::chrono::minutes(5));
}

TEST_CASE("summarize: invariants min <= p50 <= p90 <= p99 <= max, avg within") {
    std::vector<std::vector<Duration>> inputs = {
        ms({5, 1, 9}),
        ms({1, 1, 1, 50}),
        ms({7, 3}),
        one_to(37),
        {Duration(1), Duration(1'000'000'000), Duration(17)},
    };
    for (const auto& in : inputs) {
        CAPTURE(in.size());
        auto s = summarize(in);
        REQUIRE(s);
        CHECK(s->min <= s->p50);
        CHECK(s->p50 <= s->p90);
        CHECK(s->p90 <= s->p99);
        CHECK(s->p99 <= s->max);
        CHECK(s->min <= s->avg);
        CHECK(s->avg <= s->max);
        CHECK(s->mdev >= Duration::zero());
        CHECK(s->mdev <= s->max - s->min);
    }
}

TEST_CASE("nearest_rank: the Wikipedia example 15, 20, 35, 40, 50") {
    auto v = ms({15, 20, 35, 40, 50});
    CHECK(nearest_rank(v, 5) == 15ms);
    CHECK(nearest_rank(v, 30) == 20ms);
    CHECK(nearest_rank(v, 40) == 20ms);
    CHECK(nearest_rank(v, 50) == 35ms);
    CHECK(nearest_rank(v, 100) == 50ms);
}

TEST_CASE("nearest_rank: 1..100") {
    auto v = one_to(100);
    CHECK(nearest_rank(v, 99) == 99ms);
    CHECK(nearest_rank(v, 90) == 90ms);
    CHECK(nearest_rank(v, 50) == 50ms);
    CHECK(nearest_rank(v, 100) == 100ms);
    CHECK(nearest_rank(v, 99.5) == 100ms); // rank ceil(99.5)
    CHECK(nearest_rank(v, 0.5) == 1ms);
}

TEST_CASE("nearest_rank: the edges are clamped") {
    auto v = ms({3, 6, 9});
    CHECK(nearest_rank(v, 0) == 3ms);
    CHECK(nearest_rank(v, 100) == 9ms);
    CHECK(nearest_rank(v, 150) == 9ms);
    CHECK(nearest_rank({}, 50) == Duration::zero());
    CHECK(nearest_rank(ms({8}), 1) == 8ms);
    CHECK(nearest_rank(ms({8}), 99) == 8ms);
}

TEST_CASE("nearest_rank: p50/p90/p99 for every size up to 1000") {
    for (int n = 1; n <= 1000; ++n) {
        auto v = one_to(n);
        CAPTURE(n);
        // ceil(p * n / 100) in integers.
        CHECK(nearest_rank(v, 50) == std::chrono::milliseconds((50 * n + 99) / 100));
        CHECK(nearest_rank(v, 90) == std::chrono::milliseconds((90 * n + 99) / 100));
        CHECK(nearest_rank(v, 99) == std::chrono::milliseconds((99 * n + 99) / 100));
    }
}

// In doubles 7 / 100.0 * 100 is 7.000000000000001: computed that way, the 7th percentile of
// 1..100 came out as 8 (likewise p14, p28, p55, p56).
TEST_CASE("nearest_rank: every whole percentile of 1..100 is itself") {
    auto v = one_to(100);
    for (int p = 1; p <= 100; ++p) {
        CAPTURE(p);
        CHECK(nearest_rank(v, p) == std::chrono::milliseconds(p));
    }
    // And of 1..1000 in tenths of a percent.
    auto w = one_to(1000);
    for (int tenths = 1; tenths <= 1000; ++tenths) {
        CAPTURE(tenths);
        CHECK(nearest_rank(w, tenths / 10.0) == std::chrono::milliseconds(tenths));
    }
}

TEST_CASE("ProbeStats: nothing yet") {
    ProbeStats s;
    CHECK(s.sent() == 0);
    CHECK(s.received() == 0);
    CHECK(s.loss_percent() == 0.0);
    CHECK(s.longest_failure_streak() == 0);
    CHECK_FALSE(s.latency());
    CHECK(s.history().empty());
}

TEST_CASE("ProbeStats: loss and the longest failure streak") {
    ProbeStats s;
    // ok fail fail ok fail fail fail ok
    s.add_success(1ms);
    s.add_failure();
    s.add_failure();
    s.add_success(3ms);
    s.add_failure();
    s.add_failure();
    s.add_failure();
    s.add_success(2ms);
    CHECK(s.sent() == 8);
    CHECK(s.received() == 3);
    CHECK(s.loss_percent() == doctest::Approx(62.5));
    CHECK(s.longest_failure_streak() == 3);
    auto l = s.latency();
    REQUIRE(l);
    CHECK(l->min == 1ms);
    CHECK(l->max == 3ms);
    CHECK(l->avg == 2ms);
    CHECK(l->p50 == 2ms);
    REQUIRE(s.history().size() == 8);
    CHECK(s.history()[0] == std::optional<Duration>(1ms));
    CHECK_FALSE(s.history()[1]);
    CHECK(s.history()[7] == std::optional<Duration>(2ms));
}

TEST_CASE("ProbeStats: a streak still running at the end counts") {
    ProbeStats s;
    s.add_failure();
    s.add_success(1ms);
    s.add_failure();
    s.add_failure();
    CHECK(s.longest_failure_streak() == 2);
}

TEST_CASE("ProbeStats: all lost") {
    ProbeStats s;
    for (int i = 0; i < 5; ++i)
        s.add_failure();
    CHECK(s.sent() == 5);
    CHECK(s.received() == 0);
    CHECK(s.loss_percent() == 100.0);
    CHECK(s.longest_failure_streak() == 5);
    CHECK_FALSE(s.latency());
}

TEST_CASE("ProbeStats: none lost") {
    ProbeStats s;
    s.add_success(1ms);
    s.add_success(2ms);
    CHECK(s.loss_percent() == 0.0);
    CHECK(s.longest_failure_streak() == 0);
}

TEST_CASE("ProbeStats: merge adds counts, keeps the longest streak and pools samples") {
    ProbeStats a, b;
    a.add_success(1ms);
    a.add_failure();
    a.add_success(2ms);
    b.add_failure();
    b.add_failure();
    b.add_failure();
    b.add_success(6ms);
    ProbeStats all;
    all.merge(a);
    all.merge(b);
    CHECK(all.sent() == 7);
    CHECK(all.received() == 3);
    CHECK(all.loss_percent() == doctest::Approx(400.0 / 7));
    CHECK(all.longest_failure_streak() == 3);
    auto l = all.latency();
    REQUIRE(l);
    CHECK(l->min == 1ms);
    CHECK(l->max == 6ms);
    CHECK(l->avg == 3ms);
    CHECK(l->p50 == 2ms);
    // The sources are unchanged.
    CHECK(a.sent() == 3);
    CHECK(b.longest_failure_streak() == 3);
}

TEST_CASE("ProbeStats: merging nothing changes nothing") {
    ProbeStats a, empty;
    a.add_success(5ms);
    a.add_failure();
    a.merge(empty);
    CHECK(a.sent() == 2);
    CHECK(a.received() == 1);
    CHECK(a.longest_failure_streak() == 1);
    ProbeStats b;
    b.merge(empty);
    CHECK(b.sent() == 0);
    CHECK_FALSE(b.latency());
}

TEST_CASE("ProbeStats: the history keeps the latest 64 probes, oldest first") {
    REQUIRE(ProbeStats::k_history == 64);
    ProbeStats s;
    // Probe i (1-based): a success of i microseconds when i is odd, else a failure.
    for (int i = 1; i <= 70; ++i) {
        if (i % 2)
            s.add_success(std::chrono::microseconds(i));
        else
            s.add_failure();
    }
    const auto& h = s.history();
    REQUIRE(h.size() == 64);
    for (std::size_t k = 0; k < h.size(); ++k) {
        int i = static_cast<int>(k) + 7; // probes 7..70 remain
        CAPTURE(i);
        if (i % 2)
            CHECK(h[k] == std::optional<Duration>(std::chrono::microseconds(i)));
        else
            CHECK_FALSE(h[k]);
    }
    // The statistics still cover every probe, not only the remembered ones.
    CHECK(s.sent() == 70);
    CHECK(s.received() == 35);
    auto l = s.latency();
    REQUIRE(l);
    CHECK(l->min == 1us);
    CHECK(l->max == 69us);
}

TEST_CASE("LatencySeries: samples summarised, merged, none is nothing") {
    LatencySeries a, b;
    CHECK_FALSE(a.summary());
    a.add(1ms);
    a.add(3ms);
    b.add(5ms);
    a.merge(b);
    CHECK(a.count() == 3);
    CHECK(b.count() == 1);
    auto s = a.summary();
    REQUIRE(s);
    CHECK(s->min == 1ms);
    CHECK(s->avg == 3ms);
    CHECK(s->max == 5ms);
    CHECK(s->p50 == 3ms);
}

TEST_CASE("ProbeStats: TLS handshake times are a series of their own") {
    ProbeStats plain;
    plain.add_success(1ms);
    CHECK_FALSE(plain.tls_latency()); // no TLS, no handshake statistics

    ProbeStats tls;
    tls.add_success(1ms, 4ms);
    tls.add_failure();
    tls.add_success(2ms, 6ms);
    auto c = tls.latency();
    auto h = tls.tls_latency();
    REQUIRE(c);
    REQUIRE(h);
    CHECK(c->min == 1ms);
    CHECK(c->max == 2ms);
    CHECK(h->min == 4ms);
    CHECK(h->avg == 5ms);
    CHECK(h->max == 6ms);
    CHECK(h->mdev == 1ms);
    // The history (sparkline) stays the connect times.
    REQUIRE(tls.history().size() == 3);
    CHECK(tls.history()[0] == std::optional<Duration>(1ms));

    ProbeStats all;
    all.merge(plain);
    all.merge(tls);
    REQUIRE(all.tls_latency());
    CHECK(all.tls_latency()->max == 6ms);
    CHECK(all.latency()->max == 2ms);
}

TEST_CASE("LatencySeries: exact up to 1,024 samples, within 1 % beyond, merged across targets") {
    // Three targets with different speeds: 1..N microseconds, scaled by 1, 3 and 7.
    std::vector<LatencySeries> targets(3);
    std::vector<Duration> every;
    const int scale[] = {1, 3, 7};
    for (int t = 0; t < 3; ++t) {
        for (int i = 1; i <= 1000; ++i) {
            Duration d = std::chrono::microseconds(i * scale[t]);
            targets[t].add(d);
            every.push_back(d);
        }
        // 1,000 samples each: still exact, as summarize() says.
        auto s = targets[t].summary();
        auto exact = summarize(std::vector<Duration>(every.end() - 1000, every.end()));
        REQUIRE(s);
        CHECK(s->p50 == exact->p50);
        CHECK(s->p90 == exact->p90);
        CHECK(s->p99 == exact->p99);
        CHECK(s->mdev == exact->mdev);
    }
    // The overall summary: 3,000 samples, past the exact limit.
    LatencySeries all;
    for (const auto& t : targets)
        all.merge(t);
    auto s = all.summary();
    auto exact = summarize(every);
    REQUIRE(s);
    CHECK(all.count() == 3000);
    CHECK(s->min == exact->min);
    CHECK(s->max == exact->max);
    CHECK(s->avg == exact->avg);
    CHECK(std::abs((s->mdev - exact->mdev).count()) <= 1);
    for (auto [got, want] :
         {std::pair{s->p50, exact->p50}, {s->p90, exact->p90}, {s->p99, exact->p99}}) {
        CAPTURE(want.count());
        CHECK(std::abs(static_cast<double>((got - want).count())) <=
              0.01 * static_cast<double>(want.count()));
    }
}

TEST_CASE("ProbeStats: counters are 64-bit") {
    ProbeStats s;
    static_assert(std::is_same_v<decltype(s.sent()), uint64_t>);
    static_assert(std::is_same_v<decltype(s.received()), uint64_t>);
    static_assert(std::is_same_v<decltype(s.longest_failure_streak()), uint64_t>);
    CHECK(s.sent() == 0);
}
