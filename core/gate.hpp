// The gate: how many rounds may be in flight at once across all targets (--parallel), and
// back-pressure when the process runs out of file descriptors. Waiting rounds are let in,
// first come first served, from the loop (never from inside another target's callback).
#pragma once

#include "core/loop.hpp"

#include <cstddef>
#include <deque>
#include <functional>

namespace tcpretry::core {

class Gate {
  public:
    // Called when a waiting round may start.
    using Admit = std::function<void()>;
    using Ticket = const void*; // identifies a waiter (its owner's address)

    Gate(Loop& loop, std::size_t limit); // limit 0: no limit
    Gate(const Gate&) = delete;
    Gate& operator=(const Gate&) = delete;

    // A round wants to start: true if it may start now (it then holds a slot), else it is
    // queued and `admit` runs later, holding a slot.
    bool enter(Ticket who, Admit admit);
    // The round ended: its slot is free.
    void leave();
    // Forget a queued waiter (its owner stopped).
    void withdraw(Ticket who);
    // The holder ran out of descriptors while other rounds are in flight: it gives its slot
    // back and waits at the front; the limit drops to what is in flight now and grows back by
    // one with each round that ends. Returns true the first time (warn once).
    bool out_of_descriptors(Ticket who, Admit admit);

    std::size_t in_flight() const { return m_in_flight; }

  private:
    struct Waiter {
        Ticket who;
        Admit admit;
    };
    void schedule();
    void admit_waiting();

    Loop& m_loop;
    std::size_t m_limit;
    std::size_t m_cap; // the limit, lowered while descriptors are short
    std::size_t m_in_flight = 0;
    std::deque<Waiter> m_waiting;
    bool m_warned = false;
    Deferred m_admit; // admits from the loop, not from inside the caller of leave()
};

} // namespace tcpretry::core
