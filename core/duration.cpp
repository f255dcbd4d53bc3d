#include "core/duration.hpp"

#include <charconv>
#include <cmath>

namespace tcpretry::core {

std::optional<Duration> parse_duration(std::string_view text) {
    if (text.empty() || !((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
        return std::nullopt; // no sign, no space, no "inf"
    size_t unit_at = text.size();
    while (unit_at > 0 && ((text[unit_at - 1] >= 'a' && text[unit_at - 1] <= 'z')))
        --unit_at;
    std::string_view number = text.substr(0, unit_at);
    std::string_view unit = text.substr(unit_at);

    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value,
                                     std::chars_format::fixed);
    if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value) ||
        value < 0)
        return std::nullopt;

    double seconds_per_unit = 0;
    if (unit.empty() || unit == "s")
        seconds_per_unit = 1;
    else if (unit == "ms")
        seconds_per_unit = 1e-3;
    else if (unit == "us")
        seconds_per_unit = 1e-6;
    else if (unit == "m")
        seconds_per_unit = 60;
    else if (unit == "h")
        seconds_per_unit = 3600;
    else
        return std::nullopt;

    double ns = value * seconds_per_unit * 1e9;
    // Ten years is plenty; beyond that the nanosecond count would overflow soon anyway.
    if (ns > 3.2e17)
        return std::nullopt;
    return Duration(static_cast<Duration::rep>(std::llround(ns)));
}

std::string format_duration_arg(Duration d) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(d).count();
    if (ms != 0 && ms % 3'600'000 == 0)
        return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0)
        return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

} // namespace tcpretry::core
