#include "core/gate.hpp"

#include <algorithm>

namespace tcpretry::core {

Gate::Gate(Loop& loop, std::size_t limit)
    : m_loop(loop), m_limit(limit == 0 ? static_cast<std::size_t>(-1) : limit), m_cap(m_limit) {}

bool Gate::enter(Ticket who, Admit admit) {
    if (m_waiting.empty() && m_in_flight < m_cap) {
        ++m_in_flight;
        return true;
    }
    m_waiting.push_back(Waiter{who, std::move(admit)});
    return false;
}

void Gate::leave() {
    if (m_in_flight > 0)
        --m_in_flight;
    if (m_cap < m_limit)
        ++m_cap;
    if (!m_waiting.empty())
        schedule();
}

void Gate::withdraw(Ticket who) {
    m_waiting.erase(std::remove_if(m_waiting.begin(), m_waiting.end(),
                                   [&](const Waiter& w) { return w.who == who; }),
                    m_waiting.end());
}

bool Gate::out_of_descriptors(Ticket who, Admit admit) {
    if (m_in_flight > 0)
        --m_in_flight;
    m_cap = std::max<std::size_t>(1, m_in_flight);
    m_waiting.push_front(Waiter{who, std::move(admit)});
    bool first = !m_warned;
    m_warned = true;
    return first;
}

void Gate::schedule() {
    if (!m_admit.pending())
        m_admit = m_loop.defer([this] { admit_waiting(); });
}

void Gate::admit_waiting() {
    while (!m_waiting.empty() && m_in_flight < m_cap) {
        Waiter w = std::move(m_waiting.front());
        m_waiting.pop_front();
        ++m_in_flight;
        w.admit(); // may leave() or run out again: both only touch the queue and counters
    }
}

} // namespace tcpretry::core
