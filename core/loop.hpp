// RAII around libevent: the loop, events, timers and deferred functions. Callbacks are noexcept
// trampolines: cast the void*, call a member, return.
#pragma once

#include "core/clock.hpp"

#include <cstdint>
#include <deque>
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

class Loop;

// A function deferred to the loop (Loop::defer). Destroying or reassigning the handle cancels
// the function if it has not run yet, so an owner that holds it may be destroyed first. A
// handle must not outlive its Loop.
class Deferred {
  public:
    Deferred() = default;
    Deferred(Deferred&& o) noexcept;
    Deferred& operator=(Deferred&& o) noexcept;
    Deferred(const Deferred&) = delete;
    Deferred& operator=(const Deferred&) = delete;
    ~Deferred() { cancel(); }

    void cancel() noexcept;
    // Queued and not yet run (false inside the function itself: it left the queue).
    bool pending() const noexcept;

  private:
    friend class Loop;
    Deferred(Loop* loop, uint64_t id) : m_loop(loop), m_id(id) {}
    Loop* m_loop = nullptr;
    uint64_t m_id = 0;
};

// The event loop: one per process, precise timers.
//
// Exceptions: nothing may throw out of a libevent callback (it would unwind through
// libevent's C frames). Callbacks are noexcept trampolines; what they call reports failure
// as a value. Running out of memory inside one ends the process (std::terminate).
class Loop {
  public:
    Loop(); // throws std::runtime_error when libevent cannot make a base
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    event_base* base() const { return m_base.get(); }
    // Dispatches events until none is left or break_loop() is called.
    void run();
    // Makes run() return once the callback that is running now returns. Nothing is
    // cancelled: pending events stay pending.
    void break_loop();

    // Runs `fn` from the loop soon: after the running callback returns, in the order
    // deferred, never from inside the caller. Functions deferred by a deferred function run
    // on the next turn of the loop, after I/O is polled. Cheap: no libevent call beyond
    // activating one shared event. The handle cancels it (see Deferred).
    [[nodiscard]] Deferred defer(std::function<void()> fn);

  private:
    friend class Deferred;
    struct Job {
        uint64_t id;
        std::function<void()> fn; // empty once cancelled
    };
    static void on_deferred(evutil_socket_t, short, void* arg) noexcept;
    void run_deferred() noexcept;
    Job* find_job(uint64_t id) noexcept;

    EventBasePtr m_base;
    EventPtr m_deferred_event;
    std::deque<Job> m_jobs; // ids ascending
    uint64_t m_next_id = 1;
    bool m_running_jobs = false;
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
