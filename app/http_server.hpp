// A small HTTP/1.1 server on the run's loop that holds under hostile clients: every buffer,
// every wait and the number of connections is bounded. Routes answer GET and HEAD, at once or
// later from the loop (a Responder kept until the answer is known).
//
// The limits, fixed (README and tcpretry(1) list them):
//   - a request head (request line and headers) of at most 8 KiB: longer is 431 (414 when
//     the request line alone is longer), and the connection is closed;
//   - no request body: a Content-Length above 0 or a Transfer-Encoding is 413, closed;
//   - a request must arrive in full within 10 s of the connection opening or of the
//     previous response: one timer is both the read timeout (408, closed) and the
//     keep-alive idle timeout (a connection that sent nothing is closed quietly);
//   - a response must be taken by the client within 10 s (else closed);
//   - at most 64 connections at once. The 65th makes room by closing the connection that
//     has waited longest for a request (idle, or trickling one in); when every connection
//     is busy with a request being answered, the new one is closed at once. Nothing queues.
//   - only GET and HEAD (405 with Allow), unknown paths 404, one request at a time per
//     connection: pipelined requests are read and answered in order, the next read only
//     once the previous answer is written (so a client that does not read cannot make the
//     server buffer more than one response).
#pragma once

#include "core/address.hpp"
#include "core/clock.hpp"
#include "core/loop.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct evconnlistener;

namespace tcpretry::app {

inline constexpr std::size_t k_http_max_head = 8 * 1024;
inline constexpr std::size_t k_http_max_connections = 64;
inline constexpr core::Duration k_http_request_timeout = std::chrono::seconds(10);
inline constexpr core::Duration k_http_write_timeout = std::chrono::seconds(10);

struct HttpRequest {
    std::string method; // as sent: methods are case-sensitive
    std::string target; // as sent, "/metrics?x=1"
    std::string path;   // the target up to '?'
    std::string query;  // after '?', without it
    bool keep_alive = true;
    bool has_body = false; // Content-Length > 0 or Transfer-Encoding
    std::vector<std::pair<std::string, std::string>> headers; // as sent, values trimmed
    bool head() const { return method == "HEAD"; }
    // The first header of that name (any case), or nothing.
    std::optional<std::string_view> header(std::string_view name) const;
};

// The head of one request at the start of `bytes` (pure: unit-tested, and a fuzz target's).
struct HeadParse {
    enum class Status { incomplete, complete, bad };
    Status status = Status::incomplete;
    std::size_t consumed = 0; // the head's bytes, when complete
    int error = 0;            // the status to answer with, when bad: 400, 414, 431, 505
    HttpRequest request;
};
// Bad as soon as what has arrived cannot start a valid request, so garbage is answered at
// once rather than at the timeout. Lines may end in CRLF or a bare LF; empty lines before
// the request line are skipped.
HeadParse parse_request_head(std::string_view bytes, std::size_t max_head = k_http_max_head);

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::vector<std::pair<std::string, std::string>> headers; // more, e.g. {"Allow", "GET"}
    std::string body;
};
// A response for `status` with its reason phrase as the body.
HttpResponse http_error(int status);
std::string_view http_reason(int status);
// The bytes on the wire; a HEAD answer has the GET answer's headers and no body.
std::string encode_response(const HttpResponse& response, bool head, bool close);

class HttpServer {
    struct Conn;

  public:
    // Answers one request, at once or later from the loop; move-only. Answering after the
    // client went away does nothing. Dropped unanswered, it answers 500. A Responder must
    // not outlive its server.
    class Responder {
      public:
        Responder(Responder&&) noexcept = default;
        Responder& operator=(Responder&&) noexcept;
        Responder(const Responder&) = delete;
        Responder& operator=(const Responder&) = delete;
        ~Responder();
        void respond(HttpResponse response);
        // The connection is still there, waiting for this answer. Reading is paused while a
        // request is answered, so a client that went away is noticed when the answer is
        // written, not before.
        bool open() const;

      private:
        friend class HttpServer;
        explicit Responder(std::weak_ptr<Conn> conn) : m_conn(std::move(conn)) {}
        std::weak_ptr<Conn> m_conn;
    };
    using Handler = std::function<void(const HttpRequest&, Responder)>;

    // Listens on `where` at once ("::" falls back to 0.0.0.0 where the host has no IPv6).
    // Throws std::runtime_error naming `flag` when it cannot.
    HttpServer(core::Loop& loop, const core::SockAddr& where, std::string flag);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // GET and HEAD of exactly `path` (the query aside) go to `handler`.
    void route(std::string path, Handler handler);
    std::size_t connections() const { return m_conns.size(); }
    // The port listened on (the kernel's pick when asked for port 0).
    uint16_t port() const;

  private:
    struct ListenerFree {
        void operator()(evconnlistener* l) const;
    };
    static void on_accept(evconnlistener*, int fd, sockaddr*, int, void* arg) noexcept;
    static void on_accept_error(evconnlistener*, void* arg) noexcept;
    void accept(int fd);
    bool make_room();
    void dispatch(const std::shared_ptr<Conn>& conn, HttpRequest request);
    void close(Conn& conn);

    core::Loop& m_loop;
    std::string m_flag;
    std::unique_ptr<evconnlistener, ListenerFree> m_listener;
    core::Timer m_accept_pause; // accept() failed (out of descriptors): try again soon
    std::map<std::string, Handler, std::less<>> m_routes;
    std::vector<std::shared_ptr<Conn>> m_conns;
    std::vector<std::shared_ptr<Conn>> m_closed; // freed from the loop, outside their callbacks
    core::Deferred m_reap;
};

} // namespace tcpretry::app
