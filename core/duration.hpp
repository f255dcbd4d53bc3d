// DUR arguments: "250ms", "1.5s", "2m", "1h", a bare number of seconds, or the compound forms
// tcpretry prints itself ("1m30s", "1h02m", "1m00s").
#pragma once

#include "core/clock.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tcpretry::core {

// Units h, m, s, ms, us; a compound form names each unit at most once, largest first, and
// only its last part may have a fraction. Integer arithmetic: exact to the nanosecond.
std::optional<Duration> parse_duration(std::string_view text);

// A short exact form for --help defaults: "100ms", "3s", "2m", "1h" (1.5 s is "1500ms").
std::string format_duration_arg(Duration d);

} // namespace tcpretry::core
