#include "core/stats.hpp"

#include <algorithm>
#include <cmath>

namespace tcpretry::core {

Duration nearest_rank(const std::vector<Duration>& sorted, double percent) {
    if (sorted.empty())
        return {};
    auto n = static_cast<double>(sorted.size());
    // Multiply before dividing, and forgive rounding dust: 7 % of 100 is rank 7, not 8.
    auto rank = static_cast<std::size_t>(std::ceil(percent * n / 100.0 - 1e-9));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

std::optional<LatencySummary> summarize(std::vector<Duration> samples) {
    if (samples.empty())
        return std::nullopt;
    std::sort(samples.begin(), samples.end());
    LatencySummary s;
    s.min = samples.front();
    s.max = samples.back();
    // Sums of nanoseconds as doubles: squares of int64 would overflow.
    double sum = 0, sum_sq = 0;
    for (Duration d : samples) {
        auto x = static_cast<double>(d.count());
        sum += x;
        sum_sq += x * x;
    }
    auto n = static_cast<double>(samples.size());
    double mean = sum / n;
    double var = std::max(0.0, sum_sq / n - mean * mean);
    s.avg = Duration(static_cast<Duration::rep>(std::llround(mean)));
    s.mdev = Duration(static_cast<Duration::rep>(std::llround(std::sqrt(var))));
    s.p50 = nearest_rank(samples, 50);
    s.p90 = nearest_rank(samples, 90);
    s.p99 = nearest_rank(samples, 99);
    return s;
}

void LatencySeries::merge(const LatencySeries& other) {
    m_moments.merge(other.m_moments);
    m_quantiles.merge(other.m_quantiles);
}

std::optional<LatencySummary> LatencySeries::summary() const {
    if (m_moments.count() == 0)
        return std::nullopt;
    LatencySummary s;
    s.min = m_moments.min();
    s.max = m_moments.max();
    s.avg = m_moments.mean();
    s.mdev = m_moments.mdev();
    s.p50 = m_quantiles.quantile(50);
    s.p90 = m_quantiles.quantile(90);
    s.p99 = m_quantiles.quantile(99);
    return s;
}

void ProbeStats::remember(std::optional<Duration> d) {
    if (m_history.size() == k_history)
        m_history.erase(m_history.begin());
    m_history.push_back(d);
}

void ProbeStats::add_success(Duration connect_time, std::optional<Duration> tls_time) {
    ++m_sent;
    ++m_received;
    m_streak = 0;
    m_connect.add(connect_time);
    if (tls_time)
        m_tls.add(*tls_time);
    remember(connect_time);
}

void ProbeStats::add_failure() {
    ++m_sent;
    ++m_streak;
    m_longest_streak = std::max(m_longest_streak, m_streak);
    remember(std::nullopt);
}

void ProbeStats::merge(const ProbeStats& other) {
    m_sent += other.m_sent;
    m_received += other.m_received;
    m_longest_streak = std::max(m_longest_streak, other.m_longest_streak);
    m_connect.merge(other.m_connect);
    m_tls.merge(other.m_tls);
    m_ttfb.merge(other.m_ttfb);
}

double ProbeStats::loss_percent() const {
    if (m_sent == 0)
        return 0;
    return 100.0 * static_cast<double>(m_sent - m_received) / static_cast<double>(m_sent);
}

} // namespace tcpretry::core
