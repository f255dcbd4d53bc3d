// What an HTTP readiness exchange found, as events carry it (connected, probe, and a failed
// attempt with http_status). Kept apart from core/http.hpp so events need no parser.
#pragma once

#include "core/clock.hpp"

#include <cstdint>
#include <string>

namespace tcpretry::core {

struct HttpInfo {
    int status = 0;     // the final response's status code
    std::string reason; // its reason phrase, raw bytes
    Duration ttfb{};    // from the request's last byte sent to the response's first byte
    uint64_t bytes = 0; // every response byte read (head and body)
};

} // namespace tcpretry::core
