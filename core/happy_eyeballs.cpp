#include "core/happy_eyeballs.hpp"

namespace tcpretry::core {

void HappyEyeballs::expect(Family family) {
    m_pending[slot(family)] = true;
}

void HappyEyeballs::resolved(Family family, const std::vector<SockAddr>& addresses) {
    m_pending[slot(family)] = false;
    for (const SockAddr& a : addresses)
        queue(family).items.push_back(a);
    // An answer during the resolution delay ends the delay.
    if (m_tried == 0)
        m_until.reset();
}

void HappyEyeballs::add(const SockAddr& address) {
    queue(address.family()).items.push_back(address);
}

bool HappyEyeballs::resolution_delay_due() const {
    return m_tried == 0 && !m_delay_given && queue(Family::ipv6).empty() &&
           !queue(Family::ipv4).empty() && m_pending[slot(Family::ipv6)];
}

std::optional<Family> HappyEyeballs::pick() const {
    auto other = [](Family f) { return f == Family::ipv6 ? Family::ipv4 : Family::ipv6; };
    // IPv6 first; then the other family than last time, unless it has nothing left.
    Family first = m_last ? other(*m_last) : Family::ipv6;
    if (!queue(first).empty())
        return first;
    if (!queue(other(first)).empty())
        return other(first);
    return std::nullopt;
}

HappyEyeballs::Step HappyEyeballs::next(TimePoint now) {
    Step step;
    if (m_queues[0].empty() && m_queues[1].empty())
        return step; // idle: a timer would only wake us for nothing
    if (m_until && now < *m_until) {
        step.kind = Step::Kind::wait;
        step.until = *m_until;
        return step;
    }
    m_until.reset();
    if (resolution_delay_due()) {
        m_delay_given = true;
        m_until = now + m_timing.resolution_delay;
        step.kind = Step::Kind::wait;
        step.until = *m_until;
        return step;
    }
    std::optional<Family> family = pick();
    if (!family)
        return step;
    Queue& q = queue(*family);
    step.kind = Step::Kind::connect;
    step.address = q.items[q.head++];
    m_last = family;
    ++m_tried;
    return step;
}

void HappyEyeballs::started(TimePoint now) {
    m_until = now + m_timing.stagger;
}

void HappyEyeballs::failed() {
    m_until.reset();
}

void HappyEyeballs::put_back(const SockAddr& address) {
    Queue& q = queue(address.family());
    if (q.head > 0)
        q.items[--q.head] = address;
    else
        q.items.insert(q.items.begin(), address);
    if (m_tried > 0)
        --m_tried;
}

void HappyEyeballs::put_back(const SockAddr& address, TimePoint now) {
    put_back(address);
    m_until = now + m_timing.stagger;
}

bool HappyEyeballs::exhausted() const {
    return m_queues[0].empty() && m_queues[1].empty() && !m_pending[0] && !m_pending[1];
}

} // namespace tcpretry::core
