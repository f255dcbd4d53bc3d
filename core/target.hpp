// TARGET strings: host:port, ipv4:port, [ipv6]:port, [ipv6%zone]:port, each also as tcp://...;
// and Unix domain sockets: unix:/path/to/sock, unix:relative/sock (from the current directory),
// unix:///path (Docker's form), unix:@name (an abstract socket).
#pragma once

#include "core/address.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace tcpretry::core {

enum class TargetKind : uint8_t { tcp, unix_socket };

struct Target {
    std::string text;  // as the user gave it
    std::string host;  // without brackets; a Unix socket's path ("@name": abstract)
    uint16_t port = 0; // 0 for a Unix socket
    // Beside the port, in what was padding: a Unix target costs no byte more than a TCP one.
    TargetKind kind = TargetKind::tcp;
    std::optional<SockAddr> numeric; // set when host is an IP literal

    bool is_unix() const { return kind == TargetKind::unix_socket; }
};

struct TargetError {
    std::string message; // one line naming the bad value
};

std::variant<Target, TargetError> parse_target(std::string_view text);

// A Unix socket target for `path` (decoded; a leading '@' names an abstract socket), shown
// as `text`; or why not ("invalid target 'TEXT': the socket path is longer than 107 bytes
// ..."). parse_target() makes unix: TARGETs with it; an http+unix:// URL's socket too.
std::variant<Target, TargetError> make_unix_target(std::string_view path, std::string_view text);

// A port number 1-65535 or a TCP service name ("ssh", "https").
std::optional<uint16_t> parse_port(std::string_view text);

// Valid UTF-8 without control characters.
bool is_clean_text(std::string_view text);

// 'text' in single quotes for an error message, with control characters (and, when the text
// is not valid UTF-8, every byte above 0x7f) written as \xHH so the line stays one clean line.
std::string quote(std::string_view text);

} // namespace tcpretry::core
