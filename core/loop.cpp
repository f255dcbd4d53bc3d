#include "core/loop.hpp"

#include <algorithm>
#include <stdexcept>
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
