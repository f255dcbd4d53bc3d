#include "app/metrics_server.hpp"

namespace tcpretry::app {

namespace {

// No scripts, no styles from elsewhere: a browser pointed at the port finds the way on.
constexpr std::string_view k_index_page = R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>tcpretry</title></head>
<body>
<h1>tcpretry</h1>
<p><a href="/metrics">Metrics</a> (Prometheus text format)</p>
</body>
</html>
)";

HttpResponse text(std::string body, std::string content_type = "text/plain; charset=utf-8") {
    HttpResponse r;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
}

} // namespace

MetricsServer::MetricsServer(core::Loop& loop, const core::SockAddr& where, const Metrics& metrics)
    : m_metrics(metrics), m_http(loop, where, "--metrics-listen") {
    m_http.route("/metrics", [this](const HttpRequest&, HttpServer::Responder answer) {
        answer.respond(text(m_metrics.encode(), "text/plain; version=0.0.4; charset=utf-8"));
    });
    m_http.route("/-/healthy", [](const HttpRequest&, HttpServer::Responder answer) {
        answer.respond(text("OK\n"));
    });
    m_http.route("/", [](const HttpRequest&, HttpServer::Responder answer) {
        HttpResponse page = text(std::string(k_index_page), "text/html; charset=utf-8");
        page.headers.emplace_back("Content-Security-Policy", "default-src 'none'");
        page.headers.emplace_back("X-Content-Type-Options", "nosniff");
        answer.respond(std::move(page));
    });
}

} // namespace tcpretry::app
