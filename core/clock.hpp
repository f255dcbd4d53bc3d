// One time type everywhere: a steady clock and its nanosecond durations.
#pragma once

#include <chrono>
#include <sys/time.h>

namespace tcpretry::core {

using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;
using TimePoint = Clock::time_point;

// libevent wants a timeval; round up so a timer never fires early.
inline timeval to_timeval(Duration d) {
    using namespace std::chrono;
    if (d < Duration::zero())
        d = Duration::zero();
    auto us = ceil<microseconds>(d).count();
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(us / 1'000'000);
    tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
    return tv;
}

// Milliseconds as a double, for reports ("0.21 ms").
inline double to_ms(Duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

} // namespace tcpretry::core
