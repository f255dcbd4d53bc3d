#include "app/metrics.hpp"

#include "core/errors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

namespace tcpretry::app {

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

Metrics::Metrics(std::vector<std::string> targets, const Board* board)
    : m_targets(std::move(targets)), m_metrics(m_targets.size()), m_board(board, m_targets.size()) {
}

void Metrics::observe_connect(TargetMetrics& t, core::Duration d) {
    double seconds = std::chrono::duration<double>(d).count();
    for (std::size_t i = 0; i < k_connect_buckets.size(); ++i)
        if (seconds <= k_connect_buckets[i])
            ++t.buckets[i];
    ++t.connect_count;
    t.connect_sum_seconds += seconds;
}

void Metrics::on_event(const core::Event& e) {
    m_board.on_event(e);
    if (e.type == core::EventType::warning || e.target >= m_metrics.size())
        return;
    TargetMetrics& t = m_metrics[e.target];
    // Rounds are numbered from 1 for the whole run: the highest heard of is how many began.
    // (A retry names the round to come, not one begun.)
    if (e.type != core::EventType::retry && e.type != core::EventType::probe)
        t.rounds = std::max<uint64_t>(t.rounds, e.attempt);
    switch (e.type) {
    case core::EventType::attempt:
        ++t.attempts;
        break;
    case core::EventType::failed:
        ++t.failures[std::string(core::error_class_name(e.error))];
        break;
    case core::EventType::connected:
        ++t.connections;
        observe_connect(t, e.duration);
        break;
    case core::EventType::disconnected:
        // A recycled connection (reconnected at once) leaves the target up.
        ++t.disconnects;
        if (e.outage) {
            ++t.outages;
        } else {
            ++t.recycled;
        }
        break;
    case core::EventType::probe:
        ++t.attempts;
        ++t.rounds; // a probe is one round of one connect
        if (e.ok) {
            ++t.connections;
            observe_connect(t, e.duration);
        } else {
            ++t.failures[std::string(core::error_class_name(e.error))];
        }
        break;
    case core::EventType::retry:
    case core::EventType::gave_up:
    case core::EventType::warning:
        break;
    }
}

namespace {

std::string number(double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

} // namespace

std::string Metrics::encode() const {
    std::vector<std::string> labels;
    for (const auto& t : m_targets)
        labels.push_back("target=\"" + escape_label_value(t) + "\"");
    std::string out;
    encode_state(out, labels);
    encode_counters(out, labels);
    encode_histogram(out, labels);
    return out;
}

// Whether each target is up, as the board has it.
void Metrics::encode_state(std::string& out, const std::vector<std::string>& labels) const {
    auto gauge = [&](const char* name) {
        for (std::size_t i = 0; i < labels.size(); ++i) {
            bool up = m_board->at(i).state == TargetState::connected;
            out += std::string(name) + "{" + labels[i] + "} " + (up ? "1" : "0") + "\n";
        }
    };
    family(out, "tcpretry_up", "gauge",
           "Whether the target is available (watch: connected or recycling a connection; ping: "
           "the last probe succeeded).");
    gauge("tcpretry_up");
    family(out, "tcpretry_probe_success", "gauge",
           "Whether the target's last check succeeded (ping: last probe; otherwise connected).");
    gauge("tcpretry_probe_success");
}

void Metrics::encode_counters(std::string& out, const std::vector<std::string>& labels) const {
    auto counter = [&](const char* name, const char* help, uint64_t TargetMetrics::*field) {
        family(out, name, "counter", help);
        for (std::size_t i = 0; i < labels.size(); ++i)
            out += std::string(name) + "{" + labels[i] + "} " +
                   std::to_string(m_metrics[i].*field) + "\n";
    };
    counter("tcpretry_attempts_total",
            "Connect attempts started, one per address tried (ping: probes); a round may try "
            "several addresses.",
            &TargetMetrics::attempts);
    counter("tcpretry_rounds_total",
            "Rounds begun: tries at the target, each over its addresses (ping: probes); the "
            "JSON summary's attempts.",
            &TargetMetrics::rounds);
    counter("tcpretry_connections_total", "Connections established.", &TargetMetrics::connections);
    counter("tcpretry_disconnects_total", "Held connections that dropped (watch mode).",
            &TargetMetrics::disconnects);
    counter("tcpretry_recycled_total",
            "Held connections the server closed that were re-established at once (watch mode; "
            "not outages).",
            &TargetMetrics::recycled);
    counter("tcpretry_outages_total",
            "Times the target became unavailable after having been connected (watch mode).",
            &TargetMetrics::outages);
    family(out, "tcpretry_failures_total", "counter", "Failed attempts, by error class.");
    for (std::size_t i = 0; i < labels.size(); ++i)
        for (const auto& [error, n] : m_metrics[i].failures)
            out += "tcpretry_failures_total{" + labels[i] + ",error=\"" +
                   escape_label_value(error) + "\"} " + std::to_string(n) + "\n";
}

void Metrics::encode_histogram(std::string& out, const std::vector<std::string>& labels) const {
    family(out, "tcpretry_connect_duration_seconds", "histogram",
           "Time from connect() to an established connection.");
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const std::string& l = labels[i];
        const TargetMetrics& t = m_metrics[i];
        for (std::size_t b = 0; b < k_connect_buckets.size(); ++b)
            out += "tcpretry_connect_duration_seconds_bucket{" + l + ",le=\"" +
                   number(k_connect_buckets[b]) + "\"} " + std::to_string(t.buckets[b]) + "\n";
        out += "tcpretry_connect_duration_seconds_bucket{" + l + ",le=\"+Inf\"} " +
               std::to_string(t.connect_count) + "\n";
        out += "tcpretry_connect_duration_seconds_sum{" + l + "} " + number(t.connect_sum_seconds) +
               "\n";
        out += "tcpretry_connect_duration_seconds_count{" + l + "} " +
               std::to_string(t.connect_count) + "\n";
    }
}

void PrometheusReporter::on_event(const core::Event& e) {
    if (e.type == core::EventType::warning)
        m_err.write_line("tcpretry: warning: " + e.message);
}

void PrometheusReporter::summary(const Summary&) {
    std::string text = m_metrics.encode();
    if (!text.empty() && text.back() == '\n')
        text.pop_back(); // write_line adds it back
    m_out.write_line(text);
}

} // namespace tcpretry::app
