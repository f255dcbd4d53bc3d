// What reporters receive: the core's events, plus the start and the final summary.
#pragma once

#include "app/outcome.hpp"
#include "core/clock.hpp"
#include "core/event.hpp"
#include "core/stats.hpp"
#include "core/target.hpp"
#include "core/watch_stats.hpp"

#include <optional>

#include <string>
#include <string_view>
#include <vector>

namespace tcpretry::app {

struct Summary {
    Result result = Result::ok;
    unsigned attempts = 0; // rounds, summed over targets
    unsigned failures = 0; // failed rounds, summed over targets
    std::size_t targets = 0;
    std::size_t connected = 0;
    core::Duration elapsed{};
    int exit_code = 0;
    std::optional<core::ProbeStats> probes; // ping mode: over all probes of all targets
};

class Reporter : public core::EventSink {
  public:
    virtual void start() = 0;
    // Once a second while running: a live display may redraw (elapsed time moves on).
    virtual void tick() {}
    // Watch mode, before the overall summary: one per target.
    virtual void target_summary(std::size_t target, const core::WatchStats& stats) = 0;
    // Ping mode, before the overall summary (and on SIGQUIT, interim): one per target.
    // interim: on SIGQUIT, the run goes on.
    virtual void probe_summary(std::size_t target, const core::ProbeStats& stats, bool interim) = 0;
    virtual void summary(const Summary& s) = 0;
    // SIGHUP brought a new target: it takes the next index (indexes are never reused).
    virtual void add_target(const core::Target& target) { (void)target; }
};

} // namespace tcpretry::app
