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
    : m_targets(std::move(targets)), m_metrics(m_targets.size()), m_row(m_targets.size()),
      m_target_of(m_targets.size()), m_board(board, m_targets.size()) {
    for (std::size_t i = 0; i < m_row.size(); ++i)
        m_row[i] = m_target_of[i] = i;
}

void Metrics::add_target(std::string text) {
    m_row.push_back(m_targets.size());
    m_target_of.push_back(m_row.size() - 1);
    m_targets.push_back(std::move(text));
    m_metrics.emplace_back();
    m_board.add_target();
}

void Metrics::remove_target(std::size_t target) {
    std::size_t row = m_row[target];
    m_targets.erase(m_targets.begin() + static_cast<std::ptrdiff_t>(row));
    m_metrics.erase(m_metrics.begin() + static_cast<std::ptrdiff_t>(row));
    m_target_of.erase(m_target_of.begin() + static_cast<std::ptrdiff_t>(row));
    m_row[target] = k_no_row;
    for (std::size_t r = row; r < m_target_of.size(); ++r)
        m_row[m_target_of[r]] = r;
}

void DurationHistogram::observe(core::Duration d) {
    double seconds = std::chrono::duration<double>(d).count();
    for (std::size_t i = 0; i < k_connect_buckets.size(); ++i)
        if (seconds <= k_connect_buckets[i])
            ++buckets[i];
    ++count;
    sum_seconds += seconds;
}

// connected, probe (ok): the connect time, and with TLS the handshake and its facts.
void Metrics::observe_success(TargetMetrics& t, const core::Event& e) {
    ++t.connections;
    t.connect.observe(e.duration);
    if (e.tls_time)
        t.tls.observe(*e.tls_time);
    if (e.http_time)
        t.http.observe(*e.http_time);
    if (e.tls) {
        t.tls_version = e.tls->version;
        if (e.tls->cert)
            t.cert_not_after = e.tls->cert->not_after_unix;
    }
}

void Metrics::on_event(const core::Event& e) {
    m_board.on_event(e);
    if (e.type == core::EventType::warning || e.target >= m_row.size() ||
        m_row[e.target] == k_no_row)
        return;
    if (e.type == core::EventType::removed)
        return remove_target(e.target);
    TargetMetrics& t = m_metrics[m_row[e.target]];
    if (e.http) // connected, probe, or failed with http_status
        t.http_status = e.http->status;
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
        if (e.cert) // a failing certificate's expiry is what a monitor alerts on
            t.cert_not_after = e.cert->not_after_unix;
        break;
    case core::EventType::connected:
        observe_success(t, e);
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
            observe_success(t, e);
        } else {
            ++t.failures[std::string(core::error_class_name(e.error))];
            if (e.cert)
                t.cert_not_after = e.cert->not_after_unix;
        }
        break;
    case core::EventType::retry:
    case core::EventType::gave_up:
    case core::EventType::warning:
    case core::EventType::removed:
    case core::EventType::closed: // --invert: the board's up gauge says it
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
    encode_histogram(out, labels, "tcpretry_connect_duration_seconds",
                     "Time from connect() to an established connection.", &TargetMetrics::connect,
                     false);
    encode_histogram(out, labels, "tcpretry_tls_handshake_duration_seconds",
                     "Time of the TLS handshake, certificate checks included (--tls, --starttls; "
                     "after STARTTLS).",
                     &TargetMetrics::tls, true);
    encode_histogram(out, labels, "tcpretry_http_duration_seconds",
                     "Time of an HTTP(S) TARGET's exchange, from the request to the judged "
                     "response.",
                     &TargetMetrics::http, true);
    encode_tls(out, labels);
    encode_http(out, labels);
    return out;
}

// Whether each target is up, as the board has it.
void Metrics::encode_state(std::string& out, const std::vector<std::string>& labels) const {
    auto gauge = [&](const char* name) {
        for (std::size_t i = 0; i < labels.size(); ++i) {
            bool up = m_board->at(m_target_of[i]).state == TargetState::connected;
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

void Metrics::encode_histogram(std::string& out, const std::vector<std::string>& labels,
                               const char* name, const char* help,
                               DurationHistogram TargetMetrics::*field, bool only_observed) const {
    auto observed = [&](const TargetMetrics& t) { return !only_observed || (t.*field).count > 0; };
    if (std::none_of(m_metrics.begin(), m_metrics.end(), observed))
        return;
    family(out, name, "histogram", help);
    const std::string n = name;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (!observed(m_metrics[i]))
            continue;
        const std::string& l = labels[i];
        const DurationHistogram& h = m_metrics[i].*field;
        for (std::size_t b = 0; b < k_connect_buckets.size(); ++b)
            out += n + "_bucket{" + l + ",le=\"" + number(k_connect_buckets[b]) + "\"} " +
                   std::to_string(h.buckets[b]) + "\n";
        out += n + "_bucket{" + l + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
        out += n + "_sum{" + l + "} " + number(h.sum_seconds) + "\n";
        out += n + "_count{" + l + "} " + std::to_string(h.count) + "\n";
    }
}

// The last certificate's expiry and the last handshake's version, for targets that had any.
void Metrics::encode_tls(std::string& out, const std::vector<std::string>& labels) const {
    auto any = [&](auto has) { return std::any_of(m_metrics.begin(), m_metrics.end(), has); };
    if (any([](const TargetMetrics& t) { return t.cert_not_after.has_value(); })) {
        family(out, "tcpretry_tls_cert_not_after_timestamp_seconds", "gauge",
               "When the target's certificate expires (the last one seen), in seconds since "
               "1970.");
        for (std::size_t i = 0; i < labels.size(); ++i)
            if (const auto& t = m_metrics[i]; t.cert_not_after)
                out += "tcpretry_tls_cert_not_after_timestamp_seconds{" + labels[i] + "} " +
                       std::to_string(*t.cert_not_after) + "\n";
    }
    if (any([](const TargetMetrics& t) { return !t.tls_version.empty(); })) {
        family(out, "tcpretry_tls_version_info", "gauge",
               "The TLS version the target's last handshake agreed on (always 1).");
        for (std::size_t i = 0; i < labels.size(); ++i)
            if (const auto& t = m_metrics[i]; !t.tls_version.empty())
                out += "tcpretry_tls_version_info{" + labels[i] + ",version=\"" +
                       escape_label_value(t.tls_version) + "\"} 1\n";
    }
}

// The last HTTP status of each HTTP(S) TARGET that answered one.
void Metrics::encode_http(std::string& out, const std::vector<std::string>& labels) const {
    if (std::none_of(m_metrics.begin(), m_metrics.end(),
                     [](const TargetMetrics& t) { return t.http_status.has_value(); }))
        return;
    family(out, "tcpretry_http_status_code", "gauge",
           "The HTTP status of the target's last response (HTTP(S) TARGETs).");
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (const auto& t = m_metrics[i]; t.http_status)
            out += "tcpretry_http_status_code{" + labels[i] + "} " +
                   std::to_string(*t.http_status) + "\n";
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
