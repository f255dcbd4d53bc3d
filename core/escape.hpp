// C-style escapes: parsing --send STRING, and showing received bytes safely.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace tcpretry::core {

struct EscapeError {
    std::string message; // names the bad sequence
};

// The value of one hex digit (either case), or -1 for any other character.
constexpr int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// \r \n \t \0 (NUL; no octal) \xHH \\ ; any other backslash sequence is an error.
std::variant<std::string, EscapeError> parse_escapes(std::string_view text);

// Printable ASCII as is; \r \n \t \0 \\ and \xHH for everything else. At most `limit` input
// bytes are shown.
std::string escape_bytes(std::string_view bytes, std::size_t limit = std::string_view::npos);

} // namespace tcpretry::core
