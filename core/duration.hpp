// DUR arguments: "250ms", "1.5s", "2m", "1h", or a bare number of seconds.
#pragma once

#include "core/clock.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tcpretry::core {

std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact form for help text and docs: "100ms", "3s", "1.5s", "2m".
std::string format_duration_arg(Duration d);

} // namespace tcpretry::core
