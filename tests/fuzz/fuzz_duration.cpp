// DUR arguments (core::parse_duration): never crash; a parsed duration is in range; the
// canonical form (format_duration_arg) parses back to the same milliseconds; and the compound
// form the human output prints ("1m05s", "2h03m") parses back to the same whole seconds.
#include "core/duration.hpp"
#include "fuzz_support.hpp"

#include <cstdio>

using namespace tcpretry;
using tcpretry::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    auto d = core::parse_duration(fuzz::as_text(data, size));
    if (!d)
        return 0;
    require(*d >= core::Duration::zero(), "a duration is never negative");
    require(d->count() <= 320'000'000'000'000'000LL, "a duration is at most ~10 years");
    (void)core::to_timeval(*d); // what libevent gets; must not overflow

    std::string shown = core::format_duration_arg(*d);
    auto back = core::parse_duration(shown);
    require(back.has_value(), "format_duration_arg's output parses");
    core::Duration want = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    core::Duration off = *back > want ? *back - want : want - *back;
    if (want.count() < 1'000'000'000'000'000LL)
        require(off == core::Duration::zero(),
                "format_duration_arg round-trips to the millisecond");
    else
        require(off <= std::chrono::microseconds(1), "format_duration_arg round-trips within 1 us");

    // "XmYYs" below an hour, "XhYYm" above, as the human output prints spans.
    long long s = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
    char buf[48];
    if (s < 3600)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    auto compound = core::parse_duration(buf);
    require(compound.has_value(), "the compound form parses");
    long long want_s = s < 3600 ? s : s / 60 * 60;
    require(*compound == std::chrono::seconds(want_s), "the compound form round-trips");
    return 0;
}
