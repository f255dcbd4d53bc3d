#include "core/duration.hpp"

#include <array>

namespace tcpretry::core {

namespace {

// Wide enough for digits x nanoseconds-per-unit without overflow.
__extension__ using Wide = __int128;

// Ten years is plenty; beyond that the nanosecond count would overflow soon anyway.
constexpr Wide k_max_ns = 320'000'000'000'000'000;

struct Unit {
    std::string_view name;
    Wide ns;
};
// Largest first: a compound form must follow this order.
constexpr std::array k_units{
    Unit{"h", 3'600'000'000'000}, Unit{"m", 60'000'000'000}, Unit{"s", 1'000'000'000},
    Unit{"ms", 1'000'000},        Unit{"us", 1'000},
};

// One part, "90", "1.5" or "30", times ns_per_unit; nothing when it exceeds k_max_ns.
std::optional<Wide> part_ns(std::string_view whole, std::string_view fraction, Wide ns_per_unit) {
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
    return ns + (frac * ns_per_unit + scale / 2) / scale;
}

} // namespace

std::optional<Duration> parse_duration(std::string_view text) {
    // Parts of digits, an optional fraction and a unit; a lone part may omit the unit
    // (seconds). No sign, no space, no exponent, no "inf".
    std::size_t i = 0;
    auto span = [&](auto accept) {
        std::size_t from = i;
        while (i < text.size() && accept(text[i]))
            ++i;
        return text.substr(from, i - from);
    };
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    auto is_letter = [](char c) { return c >= 'a' && c <= 'z'; };

    Wide total = 0;
    std::size_t next_unit = 0; // units before this one are used up
    bool fraction_seen = false;
    do {
        if (fraction_seen)
            return std::nullopt; // "1.5m30s": only the last part may have a fraction
        std::string_view whole = span(is_digit);
        std::string_view fraction;
        if (i < text.size() && text[i] == '.') {
            ++i;
            fraction = span(is_digit);
            fraction_seen = true;
        }
        if (whole.empty() && fraction.empty())
            return std::nullopt;
        std::string_view unit = span(is_letter);
        Wide ns_per_unit = 0;
        if (unit.empty()) {
            if (total != 0 || next_unit != 0 || i != text.size())
                return std::nullopt; // "1m30": a bare number only stands alone
            ns_per_unit = 1'000'000'000;
        } else {
            std::size_t u = next_unit;
            while (u < k_units.size() && k_units[u].name != unit)
                ++u;
            if (u == k_units.size())
                return std::nullopt; // unknown, repeated or out of order
            ns_per_unit = k_units[u].ns;
            next_unit = u + 1;
        }
        auto ns = part_ns(whole, fraction, ns_per_unit);
        if (!ns)
            return std::nullopt;
        total += *ns;
        if (total > k_max_ns)
            return std::nullopt;
    } while (i < text.size());
    return Duration(static_cast<Duration::rep>(total));
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
