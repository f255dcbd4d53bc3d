// Capped exponential backoff with jitter, reproducible with a seed.
#pragma once

#include "core/clock.hpp"
#include "core/defaults.hpp"

#include <cstdint>

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
    // A uniform number in [0, 1). SplitMix64: eight bytes of state where std::mt19937_64
    // takes 2.5 KiB, which ten thousand targets would feel.
    double uniform();

    BackoffPolicy m_policy;
    Duration m_current;
    uint64_t m_rng_state;
};

} // namespace tcpretry::core
