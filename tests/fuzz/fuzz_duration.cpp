// DUR arguments (core::parse_duration): never crash; a parsed duration is in range; the
// canonical form (format_duration_arg) parses back to the same milliseconds: exactly below
// 1e15 ns (11.5 days), within 1 us above. parse_duration computes in double, so "Nms" beyond
// 2^53 ns (104 days) can come back a few nanoseconds off; harmless, and not what this guards.
#include "core/duration.hpp"
#include "fuzz_support.hpp"

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
    return 0;
}
