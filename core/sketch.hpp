// Bounded, mergeable latency statistics for runs that last months: a quantile sketch
// (LatencySketch) and exact running moments (RunningStats).
#pragma once

#include "core/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpretry::core {

// Percentiles in bounded memory, DDSketch-style.
//
// Up to k_exact_limit samples it keeps them all, so quantile() is the exact nearest rank
// (what ping users compare by hand). Beyond that it keeps counts in logarithmic buckets:
// bucket i holds the values in (gamma^(i-1), gamma^i] nanoseconds, gamma = (1+a)/(1-a) with
// a = 1 %, and answers with a value within 1 % of the true nearest rank. The buckets form
// one window of at most k_max_buckets consecutive indexes: values from the largest seen down
// to 800 million times smaller (1 h down to 4.4 us) keep their 1 %; a smaller value is
// counted in the window's lowest bucket (the lowest quantiles lose their accuracy first,
// the ones we print last). Zero has a count of its own. Memory: at most k_exact_limit
// samples (8 KiB) while exact, at most k_max_buckets counts (8 KiB) after, plus
// sizeof(LatencySketch); a target whose times spread less holds fewer buckets.
class LatencySketch {
  public:
    static constexpr std::size_t k_exact_limit = 1024;
    static constexpr std::size_t k_max_buckets = 1024;
    static constexpr double k_relative_accuracy = 0.01;

    void add(Duration d);
    // As if every sample of `other` had been added here.
    void merge(const LatencySketch& other);

    uint64_t count() const { return m_count; }
    bool exact() const { return m_exact; }
    // The nearest-rank percentile (0..100]: the value at rank ceil(p/100 * n), exact while
    // exact(), else within 1 % of it. Zero when empty.
    Duration quantile(double percent) const;
    // Bytes held, the object included (for the memory bound).
    std::size_t memory_bytes() const;

  private:
    void to_buckets();
    void count_value(int64_t ns, uint64_t n);
    void count_bucket(int index, uint64_t n);
    void reshape(int lowest, int highest);
    Duration bucket_value(int index) const;

    uint64_t m_count = 0;
    int64_t m_min = 0, m_max = 0; // of every sample: estimates are clamped to them
    bool m_exact = true;
    std::vector<int64_t> m_samples; // nanoseconds, while exact
    uint64_t m_zeros = 0;           // samples <= 0 ns, once bucketed
    int m_lowest = 0;               // the index of m_buckets[0]
    std::vector<uint64_t> m_buckets;
};

// Count, min, max, mean and mdev of durations, exact and in constant memory. mdev is ping's:
// sqrt(mean(x^2) - mean(x)^2), from sums kept in long double (64-bit mantissa: a month of
// probes does not wash the small terms out).
class RunningStats {
  public:
    void add(Duration d);
    void merge(const RunningStats& other);

    uint64_t count() const { return m_count; }
    Duration min() const { return m_min; }
    Duration max() const { return m_max; }
    Duration mean() const; // rounded to the nanosecond, zero when empty
    Duration mdev() const;

  private:
    uint64_t m_count = 0;
    Duration m_min{}, m_max{};
    long double m_sum = 0, m_sum_sq = 0; // of nanoseconds
};

} // namespace tcpretry::core
