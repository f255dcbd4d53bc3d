// Capped exponential backoff with jitter, reproducible with a seed.
#pragma once

#include "core/clock.hpp"
#include "core/defaults.hpp"

#include <cstdint>
#include <random>

namespace tcpretry::core {

struct BackoffPolicy {
    Duration initial = k_initial_delay;
    Duration max = k_max_delay;
    double multiplier = k_multiplier;
    double jitter = k_jitter; // delay x uniform[1 - jitter, 1 + jitter]
};

class Backoff {
  public:
    Backoff(BackoffPolicy policy, uint64_t seed);

    // The delay before the next retry; each call grows the base delay for the next one.
    Duration next();
    // Back to the initial delay (a connection that stayed up).
    void reset();
    // The base delay the next call starts from, before jitter.
    Duration current() const { return m_current; }

  private:
    BackoffPolicy m_policy;
    Duration m_current;
    std::mt19937_64 m_rng;
};

} // namespace tcpretry::core
