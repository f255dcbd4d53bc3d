// --serve: the answer to one /probe request, in Prometheus text format, with the metric names
// blackbox_exporter's TCP prober uses (so its dashboards and alerts work unchanged) and
// tcpretry's own per-phase times and error class.
#pragma once

#include "core/address.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tcpretry::app {

struct ProbeResult {
    bool success = false;
    double duration_seconds = 0;                        // the whole probe, as the exporter timed it
    std::optional<double> dns_seconds;                  // when a name was looked up
    std::optional<core::Endpoint> address;              // the address connected (or last tried)
    bool failed_due_to_regex = false;                   // --expect did not match
    std::optional<std::string> tls_version;             // "TLSv1.3" as OpenSSL names it
    std::optional<int64_t> cert_not_after;              // the leaf's, seconds since 1970
    std::vector<std::pair<std::string, double>> phases; // ("connect", 0.0002), ...
    std::optional<std::string> error_class;             // failed: "refused", "timeout", ...
    bool module_ignored = false; // the request named a module= (we have none)
};

// blackbox_exporter's probe_ip_addr_hash: FNV-1a (32 bits) of the address's text.
uint32_t ip_addr_hash(std::string_view address);

// "TLSv1.3" -> "TLS 1.3", the version label blackbox_exporter uses.
std::string blackbox_tls_version(std::string_view openssl_name);

std::string encode_probe(const ProbeResult& result);

} // namespace tcpretry::app
