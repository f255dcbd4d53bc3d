// The check of a connected socket: what must happen after the TCP connect before the target
// counts as up. Today that is --send / --expect; a TLS handshake or an HTTP exchange would be
// another kind of Check, made by make_check(), without a change to the Connector.
//
// A Check takes the connected socket, does its own I/O with its own timer, and reports once
// through its callback: passed (the socket handed back, with how many bytes it read from it)
// or failed (why, and the bytes received).
#pragma once

#include "core/defaults.hpp"
#include "core/errors.hpp"
#include "core/expect.hpp"
#include "core/loop.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace tcpretry::core {

// An application-level check after the TCP connect: send bytes, then expect a reply.
struct CheckOptions {
    std::string send;              // sent right after connecting (may be empty)
    std::optional<Matcher> expect; // matched against the first k_expect_limit bytes received
    Duration timeout = k_connect_timeout;
};

struct CheckOutcome {
    bool passed = false;
    UniqueFd fd;             // passed: the socket, handed back
    uint64_t bytes_read = 0; // what the check read from the socket
    // failed
    ErrorClass error = ErrorClass::fatal;
    ErrorCode code;
    std::string message;
    std::string received; // the bytes received (raw; reporters shorten and escape them)
};

class Check {
  public:
    // Runs exactly once, maybe before start() returns. The owner may destroy the Check from
    // inside it: a Check touches nothing of itself after calling it.
    using Done = std::function<void(CheckOutcome)>;

    virtual ~Check() = default;
    // Takes the connected socket and begins. Destroying the Check before `done` ran cancels
    // it silently (the socket is closed).
    virtual void start(UniqueFd fd, Done done) = 0;
};

// The check `options` describe (they must outlive it).
std::unique_ptr<Check> make_check(Loop& loop, const CheckOptions& options);

// A timeout as messages say it: "3 s", "0.25 s".
std::string seconds_text(Duration d);

} // namespace tcpretry::core
