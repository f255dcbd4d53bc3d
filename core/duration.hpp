// DUR arguments: "250ms", "1.5s", "2m", "1h", or a bare number of seconds.
#pragma once

#include "core/clock.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tcpretry::core {

std::optional<Duration> parse_duration(std::string_view text);

// A short exact form for --help defaults: "100ms", "3s", "2m", "1h" (1.5 s is "1500ms").
std::string format_duration_arg(Duration d);

} // namespace tcpretry::core
