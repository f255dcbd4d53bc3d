// --metrics-listen: the live metrics over HTTP, served from the run's loop.
#pragma once

#include "app/metrics.hpp"
#include "core/address.hpp"
#include "core/loop.hpp"

#include <memory>

struct evhttp_request;

namespace tcpretry::app {

// --metrics-listen: GET /metrics over HTTP (libevent's evhttp), from the same loop.
class MetricsServer {
  public:
    // Throws std::runtime_error when it cannot listen there.
    MetricsServer(core::Loop& loop, const core::SockAddr& where, const Metrics& metrics);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

  private:
    struct Http;
    static void on_request(::evhttp_request* req, void* arg);
    const Metrics& m_metrics;
    std::unique_ptr<Http> m_http;
};

} // namespace tcpretry::app
