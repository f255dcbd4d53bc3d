// TARGET strings: host:port, ipv4:port, [ipv6]:port, [ipv6%zone]:port, each also as tcp://...
#pragma once

#include "core/address.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace tcpretry::core {

struct Target {
    std::string text; // as the user gave it
    std::string host; // without brackets
    uint16_t port = 0;
    std::optional<SockAddr> numeric; // set when host is an IP literal
};

struct TargetError {
    std::string message; // one line naming the bad value
};

std::variant<Target, TargetError> parse_target(std::string_view text);

// A port number 1-65535 or a TCP service name ("ssh", "https").
std::optional<uint16_t> parse_port(std::string_view text);

// Valid UTF-8 without control characters.
bool is_clean_text(std::string_view text);

// 'text' in single quotes for an error message, with control characters (and, when the text
// is not valid UTF-8, every byte above 0x7f) written as \xHH so the line stays one clean line.
std::string quote(std::string_view text);

} // namespace tcpretry::core
