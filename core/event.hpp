// What the core reports: plain values handed to a sink it does not own. It never prints.
#pragma once

#include "core/address.hpp"
#include "core/clock.hpp"
#include "core/errors.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace tcpretry::core {

enum class EventType {
    attempt,   // a connect to one address started
    failed,    // one address's attempt failed, or the round's resolution failed
    retry,     // the round failed; the next one is scheduled
    connected, // an address connected; the target is done (or, in watch mode, up)
    gave_up,   // no more rounds for this target
};

struct Event {
    EventType type = EventType::attempt;
    std::size_t target = 0;  // index of the target in the order given
    unsigned attempt = 0;    // round number, from 1 (retry: the next round; gave_up: rounds)
    std::optional<Endpoint> address; // peer (absent for resolution failures and retry)
    std::optional<Endpoint> local;   // connected: our end

    // failed and gave_up
    ErrorClass error = ErrorClass::fatal;
    ErrorCode code;       // the errno or resolver code, when there was one
    std::string message;  // human words

    Duration duration{}; // failed: this address's attempt; connected: its connect time
    Duration waited{};   // connected: since the target's first round began
    Duration delay{};    // retry: until the next round
};

class EventSink {
  public:
    virtual ~EventSink() = default;
    virtual void on_event(const Event& event) = 0;
};

} // namespace tcpretry::core
