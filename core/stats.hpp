// Probe statistics (ping mode), computed here rather than in a reporter so every output
// format shows the same numbers. Bounded: a target probed for months holds a few KiB.
#pragma once

#include "core/clock.hpp"
#include "core/sketch.hpp"

#include <cstddef>
#include <cstdint>
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

// One series of latencies (the connect times, the TLS handshake times), summarised alike, in
// bounded memory: min/avg/max/mdev exact from running sums, the percentiles from a
// LatencySketch (the exact nearest rank up to 1,024 samples, within 1 % beyond).
class LatencySeries {
  public:
    void add(Duration d) {
        m_moments.add(d);
        m_quantiles.add(d);
    }
    void merge(const LatencySeries& other);
    uint64_t count() const { return m_moments.count(); }
    // Nothing when there are no samples.
    std::optional<LatencySummary> summary() const;

  private:
    RunningStats m_moments;
    LatencySketch m_quantiles;
};

class ProbeStats {
  public:
    // How many of the latest probes the history keeps (for a sparkline).
    static constexpr std::size_t k_history = 64;

    // A successful probe: its connect time, and its handshake time with TLS.
    void add_success(Duration connect_time, std::optional<Duration> tls_time = std::nullopt);
    void add_failure();
    // An HTTP TARGET's probe: its time to the response's first byte.
    void add_ttfb(Duration ttfb) { m_ttfb.add(ttfb); }
    // Over several targets: counts add up, streaks take the longest, samples pool.
    void merge(const ProbeStats& other);

    uint64_t sent() const { return m_sent; }
    uint64_t received() const { return m_received; }
    double loss_percent() const;
    uint64_t longest_failure_streak() const { return m_longest_streak; }
    std::optional<LatencySummary> latency() const { return m_connect.summary(); }
    // TLS handshake times (--tls / --starttls); nothing without TLS.
    std::optional<LatencySummary> tls_latency() const { return m_tls.summary(); }
    // HTTP times to first byte (an HTTP TARGET); nothing otherwise.
    std::optional<LatencySummary> ttfb_latency() const { return m_ttfb.summary(); }
    // The latest probes, oldest first: a connect time, or nothing for a failure.
    const std::vector<std::optional<Duration>>& history() const { return m_history; }

  private:
    void remember(std::optional<Duration> d);

    uint64_t m_sent = 0;
    uint64_t m_received = 0;
    uint64_t m_streak = 0;
    uint64_t m_longest_streak = 0;
    LatencySeries m_connect;
    LatencySeries m_tls;
    LatencySeries m_ttfb;
    std::vector<std::optional<Duration>> m_history;
};

} // namespace tcpretry::core
