#include "core/backoff.hpp"

#include <algorithm>

namespace tcpretry::core {

Backoff::Backoff(BackoffPolicy policy, uint64_t seed)
    : m_policy(policy), m_current(policy.initial), m_rng_state(seed) {}

double Backoff::uniform() {
    uint64_t z = (m_rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

Duration Backoff::next() {
    Duration base = std::min(m_current, m_policy.max);
    double factor = 1.0;
    if (m_policy.jitter > 0)
        factor = 1.0 - m_policy.jitter + 2.0 * m_policy.jitter * uniform();
    auto jittered =
        Duration(static_cast<Duration::rep>(static_cast<double>(base.count()) * factor));
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
