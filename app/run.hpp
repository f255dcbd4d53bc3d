// The program: parse, wire the core to reporters, run the loop, map the outcome to a status.
#pragma once

namespace tcpretry::app {

// Exit statuses (documented in the man page and README).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_timeout = 124;
inline constexpr int k_exit_internal = 125;
inline constexpr int k_exit_not_executable = 126;
inline constexpr int k_exit_not_found = 127;
inline constexpr int k_exit_sigint = 130;
inline constexpr int k_exit_sigpipe = 141;
inline constexpr int k_exit_sigterm = 143;

int run(int argc, char** argv);

} // namespace tcpretry::app
