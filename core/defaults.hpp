// Defaults as named constants with their units, in one place (after fping).
#pragma once

#include "core/clock.hpp"

#include <cstddef>

namespace tcpretry::core {

using namespace std::chrono_literals;

// Retry delays: a port that opens while we wait is noticed in about a quarter of a second
// on average, while probing at most about twice a second.
inline constexpr Duration k_initial_delay = 100ms;
inline constexpr Duration k_max_delay = 500ms;
inline constexpr double k_multiplier = 2.0;
inline constexpr double k_jitter = 0.1;
inline constexpr Duration k_min_delay = 1ms;

// Watch mode reconnects more patiently (muduo's values).
inline constexpr Duration k_watch_initial_delay = 500ms;
inline constexpr Duration k_watch_max_delay = 30s;
// Available this long (no outage), a target earns the initial delay again.
inline constexpr Duration k_stable_after = 10s;
// A held connection the server closed is re-opened at once, but a server that closes every
// connection straight away (HTTP with Connection: close) is reconnected at most this often.
inline constexpr Duration k_recycle_min_gap = 1s;
// Dead-peer deadline of a held connection (keepalive + TCP_USER_TIMEOUT); the least allowed.
inline constexpr Duration k_keepalive = 10s;
inline constexpr Duration k_min_keepalive = 2s;

// One round (resolution plus connect) may take this long.
inline constexpr Duration k_connect_timeout = 3s;

// Happy Eyeballs (RFC 8305): wait this long for AAAA after A arrived first, and start the
// next address this long after the previous one unless that one already failed.
inline constexpr Duration k_resolution_delay = 50ms;
inline constexpr Duration k_attempt_stagger = 250ms;

inline constexpr int k_default_dns_port = 53;

// Rounds in flight at once over all targets (--parallel).
inline constexpr std::size_t k_parallel = 1024;
// Ping mode: time between probes.
inline constexpr Duration k_probe_interval = 1s;

} // namespace tcpretry::core
