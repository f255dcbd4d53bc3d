// Prometheus metrics: counted from the core's events, written in the text exposition format
// (at the end with --format prometheus, live over HTTP with --metrics-listen).
#pragma once

#include "app/board.hpp"
#include "app/output.hpp"
#include "app/report.hpp"
#include "core/address.hpp"
#include "core/event.hpp"

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpretry::app {

// Histogram buckets of the connect and TLS handshake times, in seconds: loopback
// (sub-millisecond) to WAN (seconds).
inline constexpr std::array<double, 14> k_connect_buckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

// One target's histogram of durations (connect, TLS handshake).
struct DurationHistogram {
    std::array<uint64_t, k_connect_buckets.size()> buckets{}; // cumulative: le each bound
    uint64_t count = 0;
    double sum_seconds = 0;

    void observe(core::Duration d);
};

// A label value with \ " and newline escaped, as the exposition format requires.
std::string escape_label_value(std::string_view value);

// A target's counters; whether it is up comes from the board.
struct TargetMetrics {
    uint64_t attempts = 0; // one address's connect each (ping: probes)
    uint64_t rounds = 0;   // rounds begun, each over the target's addresses (ping: probes)
    uint64_t connections = 0;
    uint64_t disconnects = 0;
    uint64_t recycled = 0; // watch: disconnects that were not outages
    uint64_t outages = 0;
    std::map<std::string, uint64_t> failures; // by error class
    DurationHistogram connect;
    DurationHistogram tls;                 // handshakes (--tls / --starttls)
    DurationHistogram http;                // HTTP exchanges (HTTP(S) TARGETs)
    std::optional<int> http_status;        // the last HTTP status seen (even a refused one)
    std::optional<int64_t> cert_not_after; // the last certificate seen (even a failing one)
    std::string tls_version;               // the last handshake's ("TLSv1.3"); empty: none
};

class Metrics : public core::EventSink {
  public:
    // `board`: the run's, fed by the run; none: one of our own, fed from on_event.
    explicit Metrics(std::vector<std::string> targets, const Board* board = nullptr);
    void on_event(const core::Event& e) override;
    // The whole exposition, HELP and TYPE lines included, ending in a newline.
    std::string encode() const;
    // SIGHUP brought a new target: the next index. A `removed` event drops a target's series.
    void add_target(std::string text);

  private:
    void observe_success(TargetMetrics& t, const core::Event& e);
    void encode_state(std::string& out, const std::vector<std::string>& labels) const;
    void encode_counters(std::string& out, const std::vector<std::string>& labels) const;
    // Targets with no sample have no series; a family with no series is left out.
    void encode_histogram(std::string& out, const std::vector<std::string>& labels,
                          const char* name, const char* help,
                          DurationHistogram TargetMetrics::*field, bool only_observed) const;
    void encode_tls(std::string& out, const std::vector<std::string>& labels) const;
    void encode_http(std::string& out, const std::vector<std::string>& labels) const;
    void remove_target(std::size_t target);
    // Rows for the live targets only (removed ones are not exported): m_row[target] is a
    // target's row (k_no_row once removed), m_target_of[row] its target index.
    static constexpr std::size_t k_no_row = static_cast<std::size_t>(-1);
    std::vector<std::string> m_targets;
    std::vector<TargetMetrics> m_metrics;
    std::vector<std::size_t> m_row;
    std::vector<std::size_t> m_target_of;
    BoardView m_board;
};

// --format prometheus: the metrics at the end, for node_exporter's textfile collector; while
// running nothing on the output, and warnings on the error output (cron mails them).
class PrometheusReporter : public Reporter {
  public:
    PrometheusReporter(Output& out, Output& err, const Metrics& metrics)
        : m_out(out), m_err(err), m_metrics(metrics) {}
    void start() override {}
    void on_event(const core::Event& e) override;
    void target_summary(std::size_t, const core::WatchStats&) override {}
    void probe_summary(std::size_t, const core::ProbeStats&, bool) override {}
    void summary(const Summary&) override;

  private:
    Output& m_out;
    Output& m_err;
    const Metrics& m_metrics;
};

} // namespace tcpretry::app
