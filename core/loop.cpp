#include "core/loop.hpp"

#include <stdexcept>
#include <unistd.h>

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
}

void Loop::run() {
    event_base_dispatch(m_base.get());
}

void Loop::exit() {
    event_base_loopbreak(m_base.get());
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
