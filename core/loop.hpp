// RAII around libevent: the loop, events, timers, write watches and deferred functions.
// Callbacks are noexcept trampolines: cast the void*, call a member, return.
#pragma once

#include "core/clock.hpp"

#include <cstdint>
#include <deque>
#include <event2/event.h>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

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

// A wait for a connecting socket to turn writable (connected, or failed: SO_ERROR says),
// once. It lives in an epoll set of the Loop's own, not libevent's: closing the socket is
// what takes it out of that set, so a watch costs one epoll_ctl (ADD), where a libevent event
// costs two (it removes every event it fires or frees with an epoll_ctl DEL). Cancelling a
// watch or letting it fire disarms it for good; the socket may then be closed or kept.
// The callback never runs after cancel() or destruction. A watch must not outlive its Loop.
class WriteWatch {
  public:
    using Callback = void (*)(void* arg) noexcept;

    WriteWatch() = default;
    ~WriteWatch() { cancel(); }
    WriteWatch(const WriteWatch&) = delete;
    WriteWatch& operator=(const WriteWatch&) = delete;

    // Calls fn(arg) from the loop once `fd` is writable or has an error. A watch that is
    // armed is re-armed. False when the kernel refuses (out of memory): nothing is armed.
    bool arm(Loop& loop, int fd, Callback fn, void* arg) noexcept;
    void cancel() noexcept;
    // Armed and not yet fired (false inside the callback).
    bool armed() const noexcept;

  private:
    Loop* m_loop = nullptr;
    uint64_t m_token = 0;
};

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
    friend class WriteWatch;
    struct Job {
        uint64_t id;
        std::function<void()> fn; // empty once cancelled
    };
    static void on_deferred(evutil_socket_t, short, void* arg) noexcept;
    void run_deferred() noexcept;
    Job* find_job(uint64_t id) noexcept;

    // WriteWatch's set: the epoll data of a watch is a token, its slot's index and
    // generation, so that a stale readiness (a watch cancelled while the batch that reports
    // it is being run) finds a newer generation and is dropped.
    struct WatchSlot {
        uint32_t generation = 0;
        WriteWatch::Callback fn = nullptr; // null while the slot is free
        void* arg = nullptr;
    };
    std::optional<uint32_t> take_watch_slot() noexcept;
    bool add_watch(int fd, WriteWatch::Callback fn, void* arg, uint64_t& token) noexcept;
    void drop_watch(uint64_t token) noexcept;
    const WatchSlot* watch_slot(uint64_t token) const noexcept;
    static void on_watches(evutil_socket_t, short, void* arg) noexcept;
    void run_watches() noexcept;

    EventBasePtr m_base;
    EventPtr m_deferred_event;
    std::deque<Job> m_jobs; // ids ascending
    uint64_t m_next_id = 1;
    bool m_running_jobs = false;
    UniqueFd m_watch_fd;    // the epoll set
    EventPtr m_watch_event; // libevent's read watch on it
    std::vector<WatchSlot> m_watch_slots;
    std::vector<uint32_t> m_free_watch_slots;
    std::size_t m_armed_watches = 0;
    static constexpr std::size_t k_watch_batch = 256;
    std::vector<uint64_t> m_ready_watches; // the batch being run: tokens
    std::size_t m_next_ready = 0;          // in m_ready_watches
};

// A one-shot timer that calls a function; re-arming replaces the pending expiry. The libevent
// event is made on first use: most of a target's timers never run.
class Timer {
  public:
    Timer(Loop& loop, std::function<void()> fn);
    // An armed event points at this object: a Timer stays where it was made.
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    Timer(Timer&&) = delete;
    Timer& operator=(Timer&&) = delete;
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
