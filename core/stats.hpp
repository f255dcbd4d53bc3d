// Probe statistics (ping mode), computed here rather than in a reporter so every output
// format shows the same numbers.
#pragma once

#include "core/clock.hpp"

#include <cstddef>
#include <optional>
#include <vector>

namespace tcpretry::core {

struct LatencySummary {
    Duration min{}, avg{}, max{};
    Duration mdev{};              // as ping: sqrt(mean(x^2) - mean(x)^2)
    Duration p50{}, p90{}, p99{}; // nearest-rank percentiles
};

// Nothing when there are no samples.
std::optional<LatencySummary> summarize(std::vector<Duration> samples);

// The nearest-rank percentile of sorted samples: the value at rank ceil(p/100 * n).
Duration nearest_rank(const std::vector<Duration>& sorted, double percent);

// One series of latencies (the connect times, the TLS handshake times), summarised alike. The
// one place that holds samples: a bounded sketch can replace its insides for every series.
class LatencySeries {
  public:
    void add(Duration d) { m_samples.push_back(d); }
    void merge(const LatencySeries& other);
    std::size_t count() const { return m_samples.size(); }
    // Nothing when there are no samples.
    std::optional<LatencySummary> summary() const { return summarize(m_samples); }

  private:
    std::vector<Duration> m_samples;
};

class ProbeStats {
  public:
    // How many of the latest probes the history keeps (for a sparkline).
    static constexpr std::size_t k_history = 64;

    // A successful probe: its connect time, and its handshake time with TLS.
    void add_success(Duration connect_time, std::optional<Duration> tls_time = std::nullopt);
    void add_failure();
    // Over several targets: counts add up, streaks take the longest, samples pool.
    void merge(const ProbeStats& other);

    unsigned sent() const { return m_sent; }
    unsigned received() const { return m_received; }
    double loss_percent() const;
    unsigned longest_failure_streak() const { return m_longest_streak; }
    std::optional<LatencySummary> latency() const { return m_connect.summary(); }
    // TLS handshake times (--tls / --starttls); nothing without TLS.
    std::optional<LatencySummary> tls_latency() const { return m_tls.summary(); }
    // The latest probes, oldest first: a connect time, or nothing for a failure.
    const std::vector<std::optional<Duration>>& history() const { return m_history; }

  private:
    void remember(std::optional<Duration> d);

    unsigned m_sent = 0;
    unsigned m_received = 0;
    unsigned m_streak = 0;
    unsigned m_longest_streak = 0;
    LatencySeries m_connect;
    LatencySeries m_tls;
    std::vector<std::optional<Duration>> m_history;
};

} // namespace tcpretry::core
