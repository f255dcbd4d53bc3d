// The bounded latency statistics: LatencySketch against the exact nearest rank on random and
// adversarial distributions (within 1 %), merging, its memory bound; RunningStats against
// core/stats' summarize.
#include "core/sketch.hpp"
#include "core/stats.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <doctest/doctest.h>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;

namespace {

constexpr double k_percents[] = {0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 100};

std::vector<Duration> from_ns(const std::vector<double>& values) {
    std::vector<Duration> out;
    out.reserve(values.size());
    for (double v : values)
        out.push_back(Duration(static_cast<int64_t>(v)));
    return out;
}

LatencySketch sketch_of(const std::vector<Duration>& samples) {
    LatencySketch s;
    for (Duration d : samples)
        s.add(d);
    return s;
}

// Every percentile from `lowest` up is within 1 % (and a rounding nanosecond) of the exact
// nearest rank.
void check_accuracy(std::vector<Duration> samples, double lowest = 0) {
    LatencySketch s = sketch_of(samples);
    std::sort(samples.begin(), samples.end());
    CHECK(s.count() == samples.size());
    for (double p : k_percents) {
        if (p < lowest)
            continue;
        auto exact = static_cast<double>(nearest_rank(samples, p).count());
        auto got = static_cast<double>(s.quantile(p).count());
        INFO("p", p, ": exact ", exact, " ns, sketch ", got, " ns");
        CHECK(std::abs(got - exact) <= LatencySketch::k_relative_accuracy * exact + 0.5);
    }
}

template <typename Dist> std::vector<Duration> draw(Dist dist, std::size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<double> values(n);
    for (double& v : values)
        v = std::max(0.0, dist(rng));
    return from_ns(values);
}

} // namespace

TEST_CASE("LatencySketch: up to 1,024 samples it is the exact nearest rank") {
    std::vector<Duration> samples = draw(std::lognormal_distribution<double>(13, 1), 1024, 1);
    LatencySketch s = sketch_of(samples);
    CHECK(s.exact());
    std::sort(samples.begin(), samples.end());
    for (double p : k_percents)
        CHECK(s.quantile(p) == nearest_rank(samples, p));
    CHECK(LatencySketch().quantile(50) == Duration::zero());
    s.add(1ms);
    CHECK_FALSE(s.exact());
}

TEST_CASE("LatencySketch: within 1 % of the nearest rank on random distributions") {
    SUBCASE("uniform 1 us .. 100 ms") {
        check_accuracy(draw(std::uniform_real_distribution<double>(1e3, 1e8), 200'000, 2));
    }
    SUBCASE("lognormal around 0.5 ms") {
        check_accuracy(draw(std::lognormal_distribution<double>(13, 1.5), 200'000, 3));
    }
    SUBCASE("just past the exact limit") {
        check_accuracy(draw(std::lognormal_distribution<double>(12, 0.3), 1025, 4));
    }
}

TEST_CASE("LatencySketch: within 1 % on adversarial distributions") {
    SUBCASE("all equal") {
        std::vector<Duration> same(50'000, 1234567ns);
        LatencySketch s = sketch_of(same);
        for (double p : k_percents)
            CHECK(s.quantile(p) == 1234567ns); // clamped to min = max: exact
    }
    SUBCASE("two clusters far apart (100 us and 2 s)") {
        std::vector<Duration> v = draw(std::normal_distribution<double>(1e5, 1e3), 30'000, 5);
        std::vector<Duration> far = draw(std::normal_distribution<double>(2e9, 1e7), 20'000, 6);
        v.insert(v.end(), far.begin(), far.end());
        std::shuffle(v.begin(), v.end(), std::mt19937_64(7));
        check_accuracy(v);
    }
    SUBCASE("heavy tail: pareto, alpha 1.5, from 100 us") {
        std::mt19937_64 rng(8);
        std::uniform_real_distribution<double> u(0, 1);
        std::vector<double> v(200'000);
        for (double& x : v)
            x = 1e5 / std::pow(1 - u(rng), 1 / 1.5);
        check_accuracy(from_ns(v));
    }
    SUBCASE("tiny values: 0 .. 100 ns, where a bucket is narrower than a nanosecond") {
        check_accuracy(draw(std::uniform_real_distribution<double>(0, 101), 100'000, 9));
    }
    SUBCASE("huge values: hours, up to the largest duration") {
        std::vector<Duration> v =
            draw(std::uniform_real_distribution<double>(3.6e12, 9e18), 100'000, 10);
        v.push_back(Duration::max());
        check_accuracy(v);
    }
    SUBCASE("zeros, alone and mixed") {
        std::vector<Duration> zeros(5000, 0ns);
        LatencySketch s = sketch_of(zeros);
        CHECK(s.quantile(50) == 0ns);
        CHECK(s.quantile(100) == 0ns);
        std::vector<Duration> mixed =
            draw(std::uniform_real_distribution<double>(1e3, 1e6), 5000, 11);
        mixed.insert(mixed.end(), zeros.begin(), zeros.end());
        std::shuffle(mixed.begin(), mixed.end(), std::mt19937_64(12));
        check_accuracy(mixed);
    }
}

TEST_CASE("LatencySketch: wider than its window, the high percentiles stay within 1 %") {
    // 1 ns .. 1 h, log-uniform: a spread of 3.6e12, far past the window's 8e8.
    std::mt19937_64 rng(13);
    std::uniform_real_distribution<double> exponent(0, std::log(3.6e12));
    std::vector<double> v(300'000);
    for (double& x : v)
        x = std::exp(exponent(rng));
    check_accuracy(from_ns(v), 50);
}

TEST_CASE("LatencySketch: merging equals one sketch of the union") {
    auto a = draw(std::lognormal_distribution<double>(13, 1), 40'000, 14);
    auto b = draw(std::lognormal_distribution<double>(14, 0.5), 25'000, 15);
    auto small = draw(std::uniform_real_distribution<double>(1e4, 1e5), 300, 16);
    auto check_union = [](const std::vector<Duration>& x, const std::vector<Duration>& y) {
        LatencySketch merged = sketch_of(x);
        merged.merge(sketch_of(y));
        std::vector<Duration> both = x;
        both.insert(both.end(), y.begin(), y.end());
        LatencySketch whole = sketch_of(both);
        CHECK(merged.count() == both.size());
        CHECK(merged.exact() == whole.exact());
        for (double p : k_percents)
            CHECK(merged.quantile(p) == whole.quantile(p));
    };
    SUBCASE("bucketed + bucketed") {
        check_union(a, b);
    }
    SUBCASE("exact + bucketed, both ways") {
        check_union(small, a);
        check_union(a, small);
    }
    SUBCASE("exact + exact, still exact") {
        check_union(small, small);
    }
    SUBCASE("exact + exact, past the limit") {
        auto more = draw(std::uniform_real_distribution<double>(1e4, 1e5), 900, 17);
        check_union(small, more);
    }
    SUBCASE("with an empty one") {
        check_union(a, {});
        check_union({}, small);
    }
}

TEST_CASE("LatencySketch: memory is bounded after 10 million samples of a wide distribution") {
    LatencySketch s;
    std::mt19937_64 rng(18);
    std::uniform_real_distribution<double> exponent(0, std::log(3.6e12)); // 1 ns .. 1 h
    for (int i = 0; i < 10'000'000; ++i)
        s.add(Duration(static_cast<int64_t>(std::exp(exponent(rng)))));
    CHECK(s.count() == 10'000'000);
    std::size_t bound = sizeof(LatencySketch) + LatencySketch::k_max_buckets * sizeof(uint64_t);
    INFO("memory_bytes ", s.memory_bytes(), ", bound ", bound);
    CHECK(s.memory_bytes() <= bound);
    CHECK(bound < 9 * 1024);
}

TEST_CASE("RunningStats: the min/avg/max/mdev that summarize computes from every sample") {
    for (uint64_t seed : {19U, 20U, 21U}) {
        auto v = draw(std::lognormal_distribution<double>(13, 1), 5000, seed);
        RunningStats r;
        for (Duration d : v)
            r.add(d);
        auto s = summarize(v);
        REQUIRE(s);
        CHECK(r.count() == v.size());
        CHECK(r.min() == s->min);
        CHECK(r.max() == s->max);
        CHECK(r.mean() == s->avg);
        CHECK(std::abs((r.mdev() - s->mdev).count()) <= 1);
    }
    SUBCASE("ping's definition: 1, 2, 3, 4 ms has mdev sqrt(1.25) ms") {
        RunningStats r;
        for (auto d : {1ms, 2ms, 3ms, 4ms})
            r.add(d);
        CHECK(r.mean() == 2500us);
        CHECK(r.mdev() == Duration(1118034)); // 1.118034 ms
    }
    SUBCASE("merge adds up") {
        RunningStats a, b, both;
        for (auto d : {5ms, 7ms})
            a.add(d), both.add(d);
        for (auto d : {1ms, 30ms, 2ms})
            b.add(d), both.add(d);
        a.merge(b);
        CHECK(a.count() == 5);
        CHECK(a.min() == 1ms);
        CHECK(a.max() == 30ms);
        CHECK(a.mean() == both.mean());
        CHECK(a.mdev() == both.mdev());
        RunningStats empty;
        empty.merge(a);
        CHECK(empty.min() == 1ms);
    }
    CHECK(RunningStats().mean() == 0ns);
    CHECK(RunningStats().mdev() == 0ns);
}
