#include "app/metrics.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <cstdio>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
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

Metrics::Metrics(std::vector<std::string> targets)
    : m_targets(std::move(targets)), m_metrics(m_targets.size()) {}

void Metrics::observe_connect(TargetMetrics& t, core::Duration d) {
    double seconds = std::chrono::duration<double>(d).count();
    for (std::size_t i = 0; i < k_connect_buckets.size(); ++i)
        if (seconds <= k_connect_buckets[i])
            ++t.buckets[i];
    ++t.connect_count;
    t.connect_sum_seconds += seconds;
}

void Metrics::on_event(const core::Event& e) {
    if (e.type == core::EventType::warning || e.target >= m_metrics.size())
        return;
    TargetMetrics& t = m_metrics[e.target];
    switch (e.type) {
    case core::EventType::attempt:
        ++t.attempts;
        break;
    case core::EventType::failed:
        ++t.failures[std::string(core::error_class_name(e.error))];
        break;
    case core::EventType::connected:
        t.up = true;
        ++t.connections;
        observe_connect(t, e.duration);
        break;
    case core::EventType::disconnected:
        // A recycled connection (reconnected at once) leaves the target up.
        ++t.disconnects;
        if (e.outage) {
            t.up = false;
            ++t.outages;
        } else {
            ++t.recycled;
        }
        break;
    case core::EventType::probe:
        ++t.attempts;
        t.has_probe = true;
        t.last_probe_ok = e.ok;
        t.up = e.ok;
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
    std::string out;
    std::vector<std::string> labels;
    for (const auto& t : m_targets)
        labels.push_back("target=\"" + escape_label_value(t) + "\"");
    auto each = [&](auto&& fn) {
        for (std::size_t i = 0; i < m_metrics.size(); ++i)
            fn(labels[i], m_metrics[i]);
    };

    family(out, "tcpretry_up", "gauge",
           "Whether the target is available (watch: connected or recycling a connection; ping: "
           "the last probe succeeded).");
    each([&](const std::string& l, const TargetMetrics& t) {
        out += "tcpretry_up{" + l + "} " + (t.up ? "1" : "0") + "\n";
    });
    family(out, "tcpretry_probe_success", "gauge",
           "Whether the target's last check succeeded (ping: last probe; otherwise connected).");
    each([&](const std::string& l, const TargetMetrics& t) {
        bool ok = t.has_probe ? t.last_probe_ok : t.up;
        out += "tcpretry_probe_success{" + l + "} " + (ok ? "1" : "0") + "\n";
    });
    family(out, "tcpretry_attempts_total", "counter", "Connect attempts (ping: probes) started.");
    each([&](const std::string& l, const TargetMetrics& t) {
        out += "tcpretry_attempts_total{" + l + "} " + std::to_string(t.attempts) + "\n";
    });
    family(out, "tcpretry_connections_total", "counter", "Connections established.");
    each([&](const std::string& l, const TargetMetrics& t) {
        out += "tcpretry_connections_total{" + l + "} " + std::to_string(t.connections) + "\n";
    });
    family(out, "tcpretry_disconnects_total", "counter", "Held connections that dropped (watch mode).");
    each([&](const std::string& l, const TargetMetrics& t) {
        out += "tcpretry_disconnects_total{" + l + "} " + std::to_string(t.disconnects) + "\n";
    });
    family(out, "tcpretry_recycled_total", "counter",
           "Held connections the server closed that were re-established at once (watch mode; "
           "not outages).");
    each([&](const std::string& l, const TargetMetrics& t) {
        out += "tcpretry_recycled_total{" + l + "} " + std::to_string(t.recycled) + "\n";
    });
    family(out, "tcpretry_outages_total", "counter",
           "Times the target became unavailable after having been connected (watch mode).");
    each([&](const std::string& l, const TargetMetrics& t) {
        out += "tcpretry_outages_total{" + l + "} " + std::to_string(t.outages) + "\n";
    });
    family(out, "tcpretry_failures_total", "counter", "Failed attempts, by error class.");
    each([&](const std::string& l, const TargetMetrics& t) {
        for (const auto& [error, n] : t.failures)
            out += "tcpretry_failures_total{" + l + ",error=\"" + escape_label_value(error) +
                   "\"} " + std::to_string(n) + "\n";
    });
    family(out, "tcpretry_connect_duration_seconds", "histogram",
           "Time from connect() to an established connection.");
    each([&](const std::string& l, const TargetMetrics& t) {
        for (std::size_t i = 0; i < k_connect_buckets.size(); ++i)
            out += "tcpretry_connect_duration_seconds_bucket{" + l + ",le=\"" +
                   number(k_connect_buckets[i]) + "\"} " + std::to_string(t.buckets[i]) + "\n";
        out += "tcpretry_connect_duration_seconds_bucket{" + l + ",le=\"+Inf\"} " +
               std::to_string(t.connect_count) + "\n";
        out += "tcpretry_connect_duration_seconds_sum{" + l + "} " + number(t.connect_sum_seconds) +
               "\n";
        out += "tcpretry_connect_duration_seconds_count{" + l + "} " +
               std::to_string(t.connect_count) + "\n";
    });
    return out;
}

void PrometheusReporter::summary(const Summary&) {
    std::string text = m_metrics.encode();
    if (!text.empty() && text.back() == '\n')
        text.pop_back(); // write_line adds it back
    m_out.write_line(text);
}

struct MetricsServer::Http {
    struct Free {
        void operator()(evhttp* h) const { evhttp_free(h); }
    };
    std::unique_ptr<evhttp, Free> http;
};

MetricsServer::MetricsServer(core::Loop& loop, const core::SockAddr& where, const Metrics& metrics)
    : m_metrics(metrics), m_http(std::make_unique<Http>()) {
    m_http->http.reset(evhttp_new(loop.base()));
    if (!m_http->http)
        throw std::runtime_error("cannot create the metrics HTTP server");
    evhttp_set_allowed_methods(m_http->http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(m_http->http.get(), &MetricsServer::on_request, this);
    std::string host = where.host();
    auto bind = [&] {
        errno = 0;
        if (evhttp_bind_socket_with_handle(m_http->http.get(), host.c_str(), where.port()))
            return 0;
        return errno != 0 ? errno : EIO;
    };
    int err = bind();
    // ":PORT" is [::], dual stack; where the host has no IPv6, all IPv4 addresses instead.
    if (host == "::" && (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)) {
        host = "0.0.0.0";
        err = bind();
    }
    if (err != 0) {
        std::string shown = where.family() == core::Family::ipv6 ? "[" + where.host() + "]" : host;
        throw std::runtime_error("--metrics-listen: cannot listen on " + shown + ":" +
                                 std::to_string(where.port()) + ": " + core::errno_message(err));
    }
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::on_request(evhttp_request* req, void* arg) {
    auto* self = static_cast<MetricsServer*>(arg);
    const char* uri = evhttp_request_get_uri(req);
    std::string_view path = uri ? uri : "";
    path = path.substr(0, path.find('?'));
    evbuffer* body = evbuffer_new();
    if (!body)
        return evhttp_send_error(req, HTTP_INTERNAL, nullptr);
    if (path != "/metrics") {
        evbuffer_add_printf(body, "tcpretry serves /metrics\n");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; charset=utf-8");
        evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", body);
    } else {
        std::string text = self->m_metrics.encode();
        evbuffer_add(body, text.data(), text.size());
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(req, HTTP_OK, "OK", body);
    }
    evbuffer_free(body);
}

} // namespace tcpretry::app
