// --metrics-listen: the live metrics over HTTP, served from the run's loop by the hardened
// HttpServer (app/http_server.hpp has its limits).
#pragma once

#include "app/http_server.hpp"
#include "app/metrics.hpp"
#include "core/address.hpp"
#include "core/loop.hpp"

namespace tcpretry::app {

// GET (and HEAD) /metrics: the exposition; /-/healthy: "OK"; /: a page linking to /metrics.
class MetricsServer {
  public:
    // Throws std::runtime_error when it cannot listen there.
    MetricsServer(core::Loop& loop, const core::SockAddr& where, const Metrics& metrics);
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

  private:
    const Metrics& m_metrics;
    HttpServer m_http;
};

} // namespace tcpretry::app
