#include "core/duration.hpp"

namespace tcpretry::core {

namespace {
// Wide enough for digits x nanoseconds-per-unit without overflow.
__extension__ using Wide = __int128;
} // namespace

std::optional<Duration> parse_duration(std::string_view text) {
    // Digits, an optional fraction, an optional unit; no sign, no space, no exponent, no
    // "inf". Integer arithmetic, so "9994999154ms" is exactly that many milliseconds.
    std::size_t i = 0;
    auto digits = [&](std::size_t from) {
        while (i < text.size() && text[i] >= '0' && text[i] <= '9')
            ++i;
        return text.substr(from, i - from);
    };
    std::string_view whole = digits(0);
    std::string_view fraction;
    if (i < text.size() && text[i] == '.') {
        ++i;
        fraction = digits(i);
    }
    if (whole.empty() && fraction.empty())
        return std::nullopt;
    std::string_view unit = text.substr(i);

    Wide ns_per_unit = 0;
    if (unit.empty() || unit == "s")
        ns_per_unit = 1'000'000'000;
    else if (unit == "ms")
        ns_per_unit = 1'000'000;
    else if (unit == "us")
        ns_per_unit = 1'000;
    else if (unit == "m")
        ns_per_unit = 60'000'000'000;
    else if (unit == "h")
        ns_per_unit = 3'600'000'000'000;
    else
        return std::nullopt;

    // Ten years is plenty; beyond that the nanosecond count would overflow soon anyway.
    constexpr Wide k_max_ns = 320'000'000'000'000'000;
    Wide ns = 0;
    for (char c : whole) {
        ns = ns * 10 + (c - '0');
        if (ns * ns_per_unit > k_max_ns)
            return std::nullopt;
    }
    ns *= ns_per_unit;
    Wide scale = 1;
    Wide frac = 0;
    for (char c : fraction.substr(0, 18)) { // finer than a nanosecond does not matter
        frac = frac * 10 + (c - '0');
        scale *= 10;
    }
    ns += (frac * ns_per_unit + scale / 2) / scale;
    if (ns > k_max_ns)
        return std::nullopt;
    return Duration(static_cast<Duration::rep>(ns));
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
