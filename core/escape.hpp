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

// \r \n \t \0 (NUL; no octal) \xHH \\ ; any other backslash sequence is an error.
std::variant<std::string, EscapeError> parse_escapes(std::string_view text);

// Printable ASCII as is; \r \n \t \0 \\ and \xHH for everything else. At most `limit` input
// bytes are shown.
std::string escape_bytes(std::string_view bytes, std::size_t limit = std::string_view::npos);

} // namespace tcpretry::core
