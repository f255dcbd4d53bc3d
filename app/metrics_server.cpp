#include "app/metrics_server.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdexcept>
#include <string>

namespace tcpretry::app {

struct MetricsServer::Http {
    struct Free {
        void operator()(evhttp* h) const { evhttp_free(h); }
    };
    std::unique_ptr<evhttp, Free> http;
};

MetricsServer::MetricsServer(core::Loop& loop, const core::SockAddr& where, const Metrics& metrics)
    : m_metrics(metrics), m_http(std::make_unique<Http>()) {
    m_http->http.reset(evhttp_new(loop.base()));
    if (!m_http->http)
        throw std::runtime_error("cannot create the metrics HTTP server");
    evhttp_set_allowed_methods(m_http->http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(m_http->http.get(), &MetricsServer::on_request, this);
    std::string host = where.host();
    auto bind = [&] {
        errno = 0;
        if (evhttp_bind_socket_with_handle(m_http->http.get(), host.c_str(), where.port()))
            return 0;
        return errno != 0 ? errno : EIO;
    };
    int err = bind();
    // ":PORT" is [::], dual stack; where the host has no IPv6, all IPv4 addresses instead.
    if (host == "::" && (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)) {
        host = "0.0.0.0";
        err = bind();
    }
    if (err != 0) {
        std::string shown = where.family() == core::Family::ipv6 ? "[" + where.host() + "]" : host;
        throw std::runtime_error("--metrics-listen: cannot listen on " + shown + ":" +
                                 std::to_string(where.port()) + ": " + core::errno_message(err));
    }
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::on_request(evhttp_request* req, void* arg) {
    auto* self = static_cast<MetricsServer*>(arg);
    const char* uri = evhttp_request_get_uri(req);
    std::string_view path = uri ? uri : "";
    path = path.substr(0, path.find('?'));
    evbuffer* body = evbuffer_new();
    if (!body)
        return evhttp_send_error(req, HTTP_INTERNAL, nullptr);
    if (path != "/metrics") {
        evbuffer_add_printf(body, "tcpretry serves /metrics\n");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; charset=utf-8");
        evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", body);
    } else {
        std::string text = self->m_metrics.encode();
        evbuffer_add(body, text.data(), text.size());
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(req, HTTP_OK, "OK", body);
    }
    evbuffer_free(body);
}

} // namespace tcpretry::app
