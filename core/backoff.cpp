#include "core/backoff.hpp"

#include <algorithm>

namespace tcpretry::core {

Backoff::Backoff(BackoffPolicy policy, uint64_t seed)
    : m_policy(policy), m_current(policy.initial), m_rng(seed) {}

Duration Backoff::next() {
    Duration base = std::min(m_current, m_policy.max);
    double factor = 1.0;
    if (m_policy.jitter > 0) {
        std::uniform_real_distribution<double> dist(1.0 - m_policy.jitter, 1.0 + m_policy.jitter);
        factor = dist(m_rng);
    }
    auto jittered = Duration(static_cast<Duration::rep>(static_cast<double>(base.count()) * factor));
    // Grow for next time, saturating at the cap (no overflow after many rounds).
    double grown = static_cast<double>(m_current.count()) * m_policy.multiplier;
    m_current = grown >= static_cast<double>(m_policy.max.count())
                    ? m_policy.max
                    : Duration(static_cast<Duration::rep>(grown));
    return std::max(jittered, k_min_delay);
}

void Backoff::reset() {
    m_current = m_policy.initial;
}

} // namespace tcpretry::core
