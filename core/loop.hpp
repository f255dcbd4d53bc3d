// RAII around libevent: the loop, events and timers. Callbacks are thin trampolines.
#pragma once

#include "core/clock.hpp"

#include <event2/event.h>
#include <functional>
#include <memory>

namespace tcpretry::core {

struct EventBaseDeleter {
    void operator()(event_base* b) const { event_base_free(b); }
};
struct EventDeleter {
    void operator()(event* e) const { event_free(e); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;

// An owned file descriptor.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : m_fd(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : m_fd(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        reset(o.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }
    int release() {
        int fd = m_fd;
        m_fd = -1;
        return fd;
    }
    void reset(int fd = -1);

  private:
    int m_fd = -1;
};

// The event loop: one per process, precise timers.
class Loop {
  public:
    Loop(); // throws std::runtime_error when libevent cannot make a base
    event_base* base() const { return m_base.get(); }
    void run();
    void exit();

  private:
    EventBasePtr m_base;
};

// A one-shot timer that calls a function; re-arming replaces the pending expiry. The libevent
// event is made on first use: most of a target's timers never run.
class Timer {
  public:
    Timer(Loop& loop, std::function<void()> fn);
    // Arms (or re-arms) the timer. False when libevent cannot make or add the event (out of
    // memory): nothing is armed then. Never throws, so it is safe inside a callback.
    bool start(Duration after) noexcept;
    void cancel();
    bool pending() const;

  private:
    static void trampoline(evutil_socket_t, short, void* arg) noexcept;
    Loop& m_loop;
    std::function<void()> m_fn;
    EventPtr m_event;
};

} // namespace tcpretry::core
