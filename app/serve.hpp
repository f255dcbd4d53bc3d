// --serve: tcpretry as a blackbox-style exporter. GET /probe?target=HOST:PORT runs one round
// (the command line's options) and answers with the probe's metrics; /metrics has the
// exporter's own. Prometheus owns the target list; --serve-allow limits who may be probed.
#pragma once

#include "app/options.hpp"
#include "core/clock.hpp"

#include <optional>
#include <string_view>

namespace tcpretry::app {

// Without an X-Prometheus-Scrape-Timeout-Seconds header, a probe has Prometheus's default
// scrape timeout (before the offset).
inline constexpr core::Duration k_serve_default_scrape_timeout = std::chrono::seconds(10);

// The whole probe's deadline: the scrape timeout (the header's, in seconds, else the default)
// less `offset`; half the scrape timeout when the offset would leave less than that. Nothing
// for a header that is not a positive number.
std::optional<core::Duration> probe_deadline(std::optional<std::string_view> header,
                                             core::Duration offset);

// Runs the exporter until SIGINT or SIGTERM; the exit status (0 after a signal).
int serve(const Options& options);

} // namespace tcpretry::app
