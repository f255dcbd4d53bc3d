#include "app/probe_metrics.hpp"

#include "app/exposition.hpp"
#include "app/metrics.hpp"

namespace tcpretry::app {

namespace ex = exposition;

uint32_t ip_addr_hash(std::string_view address) {
    uint32_t h = 2166136261u;
    for (unsigned char c : address) {
        h ^= c;
        h *= 16777619u;
    }
    return h;
}

std::string blackbox_tls_version(std::string_view openssl_name) {
    if (openssl_name.rfind("TLSv", 0) == 0)
        return "TLS " + std::string(openssl_name.substr(4));
    return std::string(openssl_name);
}

namespace {

void gauge(std::string& out, const char* name, const char* help, double value) {
    ex::family(out, name, "gauge", help);
    ex::sample(out, name, "", value);
}

void encode_tls(std::string& out, const ProbeResult& r) {
    if (r.tls_version) {
        ex::family(out, "probe_tls_version_info", "gauge", "The TLS version used");
        std::string label =
            "version=\"" + escape_label_value(blackbox_tls_version(*r.tls_version)) + "\"";
        ex::sample(out, "probe_tls_version_info", label, 1);
    }
    if (r.cert_not_after)
        gauge(out, "probe_ssl_earliest_cert_expiry",
              "Returns last SSL chain expiry in unixtime (here: the leaf certificate's)",
              static_cast<double>(*r.cert_not_after));
}

void encode_own(std::string& out, const ProbeResult& r) {
    if (!r.phases.empty()) {
        ex::family(out, "tcpretry_probe_phase_seconds", "gauge",
                   "Duration of each phase of the probe (resolve, connect, tls, check)");
        for (const auto& [phase, seconds] : r.phases)
            ex::sample(out, "tcpretry_probe_phase_seconds",
                       "phase=\"" + escape_label_value(phase) + "\"", seconds);
    }
    if (r.error_class) {
        ex::family(out, "tcpretry_probe_error_info", "gauge",
                   "Why the probe failed: its error class (see tcpretry(1), ERRORS)");
        ex::sample(out, "tcpretry_probe_error_info",
                   "class=\"" + escape_label_value(*r.error_class) + "\"", 1);
    }
    if (r.module_ignored)
        gauge(out, "tcpretry_probe_module_ignored",
              "1: the request named a module=, which tcpretry ignores (options come from its "
              "command line)",
              1);
}

} // namespace

std::string encode_probe(const ProbeResult& r) {
    std::string out;
    if (r.dns_seconds)
        gauge(out, "probe_dns_lookup_time_seconds",
              "Returns the time taken for probe dns lookup in seconds", *r.dns_seconds);
    gauge(out, "probe_duration_seconds", "Returns how long the probe took to complete in seconds",
          r.duration_seconds);
    gauge(out, "probe_failed_due_to_regex", "Indicates if probe failed due to regex",
          r.failed_due_to_regex ? 1 : 0);
    if (r.address) {
        gauge(out, "probe_ip_addr_hash",
              "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
              ip_addr_hash(r.address->address));
        gauge(out, "probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6",
              r.address->family == core::Family::ipv6 ? 6 : 4);
    }
    encode_tls(out, r);
    gauge(out, "probe_success", "Displays whether or not the probe was a success",
          r.success ? 1 : 0);
    encode_own(out, r);
    return out;
}

} // namespace tcpretry::app
