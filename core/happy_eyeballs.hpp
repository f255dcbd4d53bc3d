// Happy Eyeballs (RFC 8305) as pure logic: which address a round tries next, and when. It
// holds the round's addresses not tried yet; the Connector owns the sockets, the timer and
// the resolver, tells this what happened and asks next() what to do. Time comes in as
// arguments, so tests drive it on a fake clock.
//   - Families interleave, IPv6 first.
//   - Nothing tried yet, A answered, AAAA still pending: wait k_resolution_delay for AAAA
//     (once a round); AAAA arriving (with or without addresses) ends the wait.
//   - An attempt connecting: the next address k_attempt_stagger after it started; an
//     attempt that failed: the next one at once.
#pragma once

#include "core/address.hpp"
#include "core/clock.hpp"
#include "core/defaults.hpp"

#include <array>
#include <optional>
#include <vector>

namespace tcpretry::core {

class HappyEyeballs {
  public:
    struct Timing {
        Duration resolution_delay = k_resolution_delay;
        Duration stagger = k_attempt_stagger;
    };

    // What to do now.
    struct Step {
        enum class Kind {
            connect, // try `address` now (then say started() or failed())
            wait,    // call next() again at `until` (or when something happens)
            idle,    // nothing to try until more addresses arrive
        };
        Kind kind = Kind::idle;
        SockAddr address;  // connect
        TimePoint until{}; // wait
    };

    HappyEyeballs() = default;
    explicit HappyEyeballs(Timing timing) : m_timing(timing) {}

    // A lookup of `family` is under way.
    void expect(Family family);
    // The lookup of `family` ended, with these addresses (maybe none).
    void resolved(Family family, const std::vector<SockAddr>& addresses);
    // An address known without a lookup (a numeric host, /etc/hosts).
    void add(const SockAddr& address);

    Step next(TimePoint now);
    // The address next() gave is connecting: the next one waits a stagger.
    void started(TimePoint now);
    // An attempt failed (at once or later): the next address starts at once.
    void failed();
    // The address next() gave could not even start (out of descriptors): it is first again,
    // and nothing is tried for a stagger from now.
    void put_back(const SockAddr& address, TimePoint now);
    // The address next() gave could not start, and the round pauses (the caller resumes it
    // with next()): it is first again.
    void put_back(const SockAddr& address);
    // The caller's timer for a wait fired: the wait is over, whatever the clock says.
    void wait_over() { m_until.reset(); }

    // Nothing left to try and no lookup pending.
    bool exhausted() const;
    // Addresses given out by next() (and not put back).
    unsigned tried() const { return m_tried; }

  private:
    // Addresses of one family not tried yet, oldest first. Not a std::deque: libstdc++'s
    // allocates about 600 bytes when constructed.
    struct Queue {
        std::vector<SockAddr> items;
        std::size_t head = 0;
        bool empty() const { return head == items.size(); }
    };
    static std::size_t slot(Family f) { return f == Family::ipv6 ? 0 : 1; }
    Queue& queue(Family f) { return m_queues[slot(f)]; }
    const Queue& queue(Family f) const { return m_queues[slot(f)]; }
    bool resolution_delay_due() const;
    std::optional<Family> pick() const;

    Timing m_timing;
    std::array<Queue, 2> m_queues;
    std::array<bool, 2> m_pending{};  // a lookup of that family is under way
    std::optional<Family> m_last;     // the family of the address given out last
    std::optional<TimePoint> m_until; // nothing starts before this
    bool m_delay_given = false;
    unsigned m_tried = 0;
};

} // namespace tcpretry::core
