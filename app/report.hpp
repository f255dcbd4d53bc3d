// What reporters receive: the core's events, plus the start and the final summary.
#pragma once

#include "core/clock.hpp"
#include "core/event.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace tcpretry::app {

enum class Result { ok, gave_up, timeout, interrupted };

std::string_view result_name(Result r);

struct Summary {
    Result result = Result::ok;
    unsigned attempts = 0; // rounds, summed over targets
    unsigned failures = 0; // failed rounds, summed over targets
    std::size_t targets = 0;
    std::size_t connected = 0;
    core::Duration elapsed{};
    int exit_code = 0;
};

class Reporter : public core::EventSink {
  public:
    virtual void start() = 0;
    virtual void summary(const Summary& s) = 0;
};

} // namespace tcpretry::app
