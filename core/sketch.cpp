#include "core/sketch.hpp"

#include <algorithm>
#include <cmath>

namespace tcpretry::core {

namespace {

constexpr double k_gamma =
    (1 + LatencySketch::k_relative_accuracy) / (1 - LatencySketch::k_relative_accuracy);
const double k_log_gamma = std::log(k_gamma);

// The bucket of a positive value: ceil(log_gamma(ns)), so bucket i is (gamma^(i-1), gamma^i].
int bucket_of(int64_t ns) {
    return static_cast<int>(std::ceil(std::log(static_cast<double>(ns)) / k_log_gamma));
}

// The rank of the nearest-rank percentile among n samples, as core/stats' nearest_rank:
// ceil(p/100 * n), multiplied before dividing, forgiving rounding dust, within [1, n].
uint64_t rank_of(double percent, uint64_t n) {
    auto rank = static_cast<uint64_t>(
        std::max(0.0, std::ceil(percent * static_cast<double>(n) / 100.0 - 1e-9)));
    return std::clamp<uint64_t>(rank, 1, n);
}

} // namespace

void LatencySketch::add(Duration d) {
    int64_t ns = d.count();
    m_min = m_count == 0 ? ns : std::min(m_min, ns);
    m_max = m_count == 0 ? ns : std::max(m_max, ns);
    ++m_count;
    if (m_exact && m_samples.size() < k_exact_limit) {
        m_samples.push_back(ns);
        return;
    }
    to_buckets();
    count_value(ns, 1);
}

void LatencySketch::merge(const LatencySketch& other) {
    if (other.m_count == 0)
        return;
    m_min = m_count == 0 ? other.m_min : std::min(m_min, other.m_min);
    m_max = m_count == 0 ? other.m_max : std::max(m_max, other.m_max);
    m_count += other.m_count;
    if (m_exact && other.m_exact && m_samples.size() + other.m_samples.size() <= k_exact_limit) {
        m_samples.insert(m_samples.end(), other.m_samples.begin(), other.m_samples.end());
        return;
    }
    to_buckets();
    for (int64_t ns : other.m_samples)
        count_value(ns, 1);
    m_zeros += other.m_zeros;
    for (std::size_t i = 0; i < other.m_buckets.size(); ++i)
        if (other.m_buckets[i] != 0)
            count_bucket(other.m_lowest + static_cast<int>(i), other.m_buckets[i]);
}

// Leaves exact mode for good: the samples become counts and their memory is given back.
void LatencySketch::to_buckets() {
    if (!m_exact)
        return;
    m_exact = false;
    std::vector<int64_t> samples;
    samples.swap(m_samples);
    for (int64_t ns : samples)
        count_value(ns, 1);
}

void LatencySketch::count_value(int64_t ns, uint64_t n) {
    if (ns <= 0)
        m_zeros += n;
    else
        count_bucket(bucket_of(ns), n);
}

void LatencySketch::count_bucket(int index, uint64_t n) {
    if (m_buckets.empty()) {
        m_lowest = index;
        m_buckets.assign(1, n);
        return;
    }
    int highest = m_lowest + static_cast<int>(m_buckets.size()) - 1;
    int new_highest = std::max(highest, index);
    int new_lowest =
        std::max(std::min(m_lowest, index), new_highest - static_cast<int>(k_max_buckets) + 1);
    if (new_lowest != m_lowest || new_highest != highest)
        reshape(new_lowest, new_highest);
    m_buckets[static_cast<std::size_t>(std::max(index, m_lowest) - m_lowest)] += n;
}

// Moves the window to [lowest, highest] (never narrower at the top); counts that fall below
// it fold into its lowest bucket. The vector is made at its exact size: no slack capacity.
void LatencySketch::reshape(int lowest, int highest) {
    std::vector<uint64_t> moved(static_cast<std::size_t>(highest - lowest + 1), 0);
    for (std::size_t i = 0; i < m_buckets.size(); ++i) {
        int index = std::max(m_lowest + static_cast<int>(i), lowest);
        moved[static_cast<std::size_t>(index - lowest)] += m_buckets[i];
    }
    m_buckets.swap(moved);
    m_lowest = lowest;
}

// The value that is within a of every value in the bucket: 2 gamma^i / (gamma + 1). Where
// buckets are narrower than a nanosecond it holds at most one integer: that one, exactly.
Duration LatencySketch::bucket_value(int index) const {
    double upper = std::pow(k_gamma, index);
    double estimate = 2 * upper / (k_gamma + 1);
    double first = std::floor(upper / k_gamma) + 1, last = std::floor(upper);
    if (first <= last)
        estimate = std::clamp(std::round(estimate), first, last);
    estimate = std::round(estimate);
    if (estimate >= static_cast<double>(m_max)) // also keeps the cast below defined
        return Duration(m_max);
    return Duration(std::max(static_cast<int64_t>(estimate), m_min));
}

Duration LatencySketch::quantile(double percent) const {
    if (m_count == 0)
        return {};
    uint64_t rank = rank_of(percent, m_count);
    if (m_exact) {
        std::vector<int64_t> sorted = m_samples;
        auto nth = sorted.begin() + static_cast<std::ptrdiff_t>(rank - 1);
        std::nth_element(sorted.begin(), nth, sorted.end());
        return Duration(*nth);
    }
    uint64_t seen = m_zeros;
    if (seen >= rank)
        return Duration(std::clamp<int64_t>(0, m_min, m_max));
    for (std::size_t i = 0; i < m_buckets.size(); ++i) {
        seen += m_buckets[i];
        if (seen >= rank)
            return bucket_value(m_lowest + static_cast<int>(i));
    }
    return Duration(m_max);
}

std::size_t LatencySketch::memory_bytes() const {
    return sizeof(*this) + m_samples.capacity() * sizeof(int64_t) +
           m_buckets.capacity() * sizeof(uint64_t);
}

void RunningStats::add(Duration d) {
    m_min = m_count == 0 ? d : std::min(m_min, d);
    m_max = m_count == 0 ? d : std::max(m_max, d);
    ++m_count;
    auto x = static_cast<long double>(d.count());
    m_sum += x;
    m_sum_sq += x * x;
}

void RunningStats::merge(const RunningStats& other) {
    if (other.m_count == 0)
        return;
    m_min = m_count == 0 ? other.m_min : std::min(m_min, other.m_min);
    m_max = m_count == 0 ? other.m_max : std::max(m_max, other.m_max);
    m_count += other.m_count;
    m_sum += other.m_sum;
    m_sum_sq += other.m_sum_sq;
}

Duration RunningStats::mean() const {
    if (m_count == 0)
        return {};
    return Duration(
        static_cast<Duration::rep>(std::llround(m_sum / static_cast<long double>(m_count))));
}

Duration RunningStats::mdev() const {
    if (m_count == 0)
        return {};
    auto n = static_cast<long double>(m_count);
    long double mean = m_sum / n;
    long double var = std::max<long double>(0, m_sum_sq / n - mean * mean);
    return Duration(static_cast<Duration::rep>(std::llround(std::sqrt(var))));
}

} // namespace tcpretry::core
