#include "core/loop.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <new>
#include <optional>
#include <stdexcept>
#include <sys/epoll.h>
#include <unistd.h>
#include <utility>

namespace tcpretry::core {

void UniqueFd::reset(int fd) {
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = fd;
}

Loop::Loop() {
    std::unique_ptr<event_config, void (*)(event_config*)> cfg(event_config_new(),
                                                               event_config_free);
    if (!cfg)
        throw std::runtime_error("cannot create libevent configuration");
    // Timers default to the coarse monotonic clock (1-4 ms steps): ask for the precise one.
    event_config_set_flag(cfg.get(), EVENT_BASE_FLAG_PRECISE_TIMER);
    m_base.reset(event_base_new_with_config(cfg.get()));
    if (!m_base)
        throw std::runtime_error("cannot create the event loop");
    // Made once, here, so that defer() cannot fail inside a callback.
    m_deferred_event.reset(event_new(m_base.get(), -1, 0, &Loop::on_deferred, this));
    if (!m_deferred_event)
        throw std::runtime_error("cannot create the event loop");
    m_watch_fd.reset(epoll_create1(EPOLL_CLOEXEC));
    if (m_watch_fd)
        m_watch_event.reset(event_new(m_base.get(), m_watch_fd.get(), EV_READ | EV_PERSIST,
                                      &Loop::on_watches, this));
    if (!m_watch_event)
        throw std::runtime_error("cannot create the event loop");
    m_ready_watches.reserve(k_watch_batch);
}

Loop::~Loop() {
    // Functions that never ran are dropped; dropping one may cancel another (its captures
    // may hold a Deferred), which then finds the queue already empty.
    std::deque<Job> jobs = std::move(m_jobs);
    m_jobs.clear();
    jobs.clear();
}

void Loop::run() {
    event_base_dispatch(m_base.get());
}

void Loop::break_loop() {
    event_base_loopbreak(m_base.get());
}

Deferred Loop::defer(std::function<void()> fn) {
    uint64_t id = m_next_id++;
    m_jobs.push_back(Job{id, std::move(fn)});
    // While the queue runs, run_deferred() re-arms for what it leaves behind.
    if (!m_running_jobs)
        event_active(m_deferred_event.get(), EV_TIMEOUT, 0);
    return Deferred(this, id);
}

void Loop::on_deferred(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Loop*>(arg)->run_deferred();
}

void Loop::run_deferred() noexcept {
    // This turn runs what was queued before it began; later ones wait for the next turn.
    const uint64_t end = m_next_id;
    m_running_jobs = true;
    while (!m_jobs.empty() && m_jobs.front().id < end) {
        // Off the queue before it runs: it may defer, cancel or destroy its own handle.
        std::function<void()> fn = std::move(m_jobs.front().fn);
        m_jobs.pop_front();
        if (fn)
            fn();
    }
    m_running_jobs = false;
    if (m_jobs.empty())
        return;
    // Deferred from a deferred function: after the next poll for I/O, so a function that
    // keeps deferring cannot starve the loop. Adding a timer may need memory; activating
    // cannot fail.
    timeval now{};
    if (event_add(m_deferred_event.get(), &now) != 0)
        event_active(m_deferred_event.get(), EV_TIMEOUT, 0);
}

Loop::Job* Loop::find_job(uint64_t id) noexcept {
    auto it = std::lower_bound(m_jobs.begin(), m_jobs.end(), id,
                               [](const Job& j, uint64_t wanted) { return j.id < wanted; });
    return it != m_jobs.end() && it->id == id ? &*it : nullptr;
}

Deferred::Deferred(Deferred&& o) noexcept
    : m_loop(std::exchange(o.m_loop, nullptr)), m_id(std::exchange(o.m_id, 0)) {}

Deferred& Deferred::operator=(Deferred&& o) noexcept {
    if (this != &o) {
        cancel();
        m_loop = std::exchange(o.m_loop, nullptr);
        m_id = std::exchange(o.m_id, 0);
    }
    return *this;
}

void Deferred::cancel() noexcept {
    Loop* loop = std::exchange(m_loop, nullptr);
    uint64_t id = std::exchange(m_id, 0);
    if (!loop)
        return;
    std::function<void()> dropped; // destroyed last: what it captured goes with it
    if (Loop::Job* job = loop->find_job(id)) {
        dropped = std::move(job->fn);
        job->fn = nullptr; // left in place (the queue stays sorted); the loop skips it
    }
}

bool Deferred::pending() const noexcept {
    if (!m_loop)
        return false;
    const Loop::Job* job = m_loop->find_job(m_id);
    return job && job->fn;
}

namespace {

uint64_t watch_token(uint32_t index, uint32_t generation) {
    return (uint64_t{generation} << 32) | index;
}

} // namespace

// The slot of an armed watch, or null (a stale token: cancelled or fired).
const Loop::WatchSlot* Loop::watch_slot(uint64_t token) const noexcept {
    auto index = static_cast<uint32_t>(token);
    auto generation = static_cast<uint32_t>(token >> 32);
    if (index >= m_watch_slots.size())
        return nullptr;
    const WatchSlot& slot = m_watch_slots[index];
    return slot.fn && slot.generation == generation ? &slot : nullptr;
}

// A free slot's index (a new slot when none is free), or nullopt when out of memory.
std::optional<uint32_t> Loop::take_watch_slot() noexcept {
    if (!m_free_watch_slots.empty()) {
        uint32_t index = m_free_watch_slots.back();
        m_free_watch_slots.pop_back();
        return index;
    }
    try {
        // Room for every slot in the free list, so that dropping a watch cannot throw.
        if (m_free_watch_slots.capacity() <= m_watch_slots.size())
            m_free_watch_slots.reserve(2 * m_watch_slots.size() + 16);
        m_watch_slots.emplace_back();
    } catch (const std::bad_alloc&) {
        return std::nullopt;
    }
    return static_cast<uint32_t>(m_watch_slots.size() - 1);
}

bool Loop::add_watch(int fd, WriteWatch::Callback fn, void* arg, uint64_t& token) noexcept {
    std::optional<uint32_t> index = take_watch_slot();
    if (!index)
        return false;
    WatchSlot& slot = m_watch_slots[*index];
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLONESHOT;
    ev.data.u64 = watch_token(*index, slot.generation);
    // Added to libevent only while a watch is armed: run() returns when nothing else is
    // pending. A socket watched before (fired or cancelled, not closed) is still in the set.
    if ((m_armed_watches == 0 && event_add(m_watch_event.get(), nullptr) != 0) ||
        (epoll_ctl(m_watch_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0 &&
         (errno != EEXIST || epoll_ctl(m_watch_fd.get(), EPOLL_CTL_MOD, fd, &ev) != 0))) {
        m_free_watch_slots.push_back(*index);
        if (m_armed_watches == 0)
            event_del(m_watch_event.get());
        return false;
    }
    ++m_armed_watches;
    slot.fn = fn;
    slot.arg = arg;
    token = ev.data.u64;
    return true;
}

// The slot is free for the next watch, under a new generation. The socket stays in the set
// until it is closed (disarmed, or about to be: the kernel drops it with its last close).
void Loop::drop_watch(uint64_t token) noexcept {
    if (!watch_slot(token))
        return;
    auto index = static_cast<uint32_t>(token);
    WatchSlot& slot = m_watch_slots[index];
    slot.fn = nullptr;
    slot.arg = nullptr;
    ++slot.generation;
    m_free_watch_slots.push_back(index); // reserved in add_watch: cannot throw
    if (--m_armed_watches == 0)
        event_del(m_watch_event.get());
}

void Loop::on_watches(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Loop*>(arg)->run_watches();
}

// One batch of ready sockets (the set stays readable while more are ready, so libevent calls
// again). A callback that breaks the loop leaves the rest of the batch to the next run().
void Loop::run_watches() noexcept {
    if (m_next_ready == m_ready_watches.size()) {
        std::array<epoll_event, k_watch_batch> ready;
        int n = epoll_wait(m_watch_fd.get(), ready.data(), static_cast<int>(ready.size()), 0);
        m_ready_watches.clear(); // its capacity is k_watch_batch: push_back cannot throw
        m_next_ready = 0;
        for (int i = 0; i < n; ++i)
            m_ready_watches.push_back(ready[static_cast<std::size_t>(i)].data.u64);
    }
    while (m_next_ready < m_ready_watches.size()) {
        // A callback may cancel watches later in this batch: looked up again each time, a
        // cancelled one finds a newer generation and is skipped.
        const uint64_t token = m_ready_watches[m_next_ready++];
        const WatchSlot* slot = watch_slot(token);
        if (!slot)
            continue;
        WriteWatch::Callback fn = slot->fn;
        void* fn_arg = slot->arg;
        drop_watch(token); // fired: disarmed for good (EPOLLONESHOT)
        fn(fn_arg);
        if (event_base_got_break(m_base.get())) {
            if (m_next_ready < m_ready_watches.size() && m_armed_watches > 0)
                event_active(m_watch_event.get(), EV_READ, 0);
            return;
        }
    }
}

bool WriteWatch::arm(Loop& loop, int fd, Callback fn, void* arg) noexcept {
    cancel();
    uint64_t token = 0;
    if (!loop.add_watch(fd, fn, arg, token))
        return false;
    m_loop = &loop;
    m_token = token;
    return true;
}

void WriteWatch::cancel() noexcept {
    if (Loop* loop = std::exchange(m_loop, nullptr))
        loop->drop_watch(std::exchange(m_token, 0));
}

bool WriteWatch::armed() const noexcept {
    return m_loop && m_loop->watch_slot(m_token);
}

Timer::Timer(Loop& loop, std::function<void()> fn) : m_loop(loop), m_fn(std::move(fn)) {}

bool Timer::start(Duration after) noexcept {
    if (!m_event) {
        m_event.reset(evtimer_new(m_loop.base(), &Timer::trampoline, this));
        if (!m_event)
            return false;
    }
    timeval tv = to_timeval(after);
    event_del(m_event.get());
    return event_add(m_event.get(), &tv) == 0;
}

void Timer::cancel() {
    if (m_event)
        event_del(m_event.get());
}

bool Timer::pending() const {
    return m_event && event_pending(m_event.get(), EV_TIMEOUT, nullptr) != 0;
}

void Timer::trampoline(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Timer*>(arg)->m_fn();
}

} // namespace tcpretry::core
