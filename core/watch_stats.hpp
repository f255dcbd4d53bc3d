// What a watched target's life looked like, for the per-target summary.
#pragma once

#include "core/clock.hpp"

#include <cstdint>

namespace tcpretry::core {

// "Up" is availability: a recycled connection does not interrupt it, an outage does.
struct WatchStats {
    uint64_t connections = 0;
    uint64_t disconnects = 0; // held connections that ended (recycled or not)
    uint64_t recycled = 0;    // of those, re-established at once: no outage
    uint64_t outages = 0;
    bool connected = false; // available at the moment of asking
    Duration up{};          // total time available
    Duration elapsed{};     // since start()
    Duration longest_up{};
    Duration longest_down{}; // includes the wait before the first connection

    // Share of the time watched that the target was available, 0-100 (0 before any time).
    double uptime_percent() const {
        double total = to_ms(elapsed);
        return total > 0 ? to_ms(up) / total * 100 : 0;
    }
};

} // namespace tcpretry::core
