#include "app/http_server.hpp"

#include "core/errors.hpp"

#include <algorithm>
#include <cerrno>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdexcept>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tcpretry::app {

// -- parsing a request head --------------------------------------------------------------

namespace {

using Status = HeadParse::Status;

bool is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Visible characters (and obs-text): what a request target may hold.
bool is_visible(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
    });
}

bool equals_nocase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && blank(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && blank(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string_view strip_cr(std::string_view line) {
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return line;
}

// What has arrived of the request line could still begin a valid one.
bool could_begin_request_line(std::string_view partial) {
    std::size_t sp = partial.find(' ');
    std::string_view method = partial.substr(0, sp);
    if (!std::all_of(method.begin(), method.end(), is_tchar))
        return false;
    if (sp == std::string_view::npos || sp + 1 == partial.size())
        return sp != 0;
    char first = partial[sp + 1];
    return first == '/' || first == '*' || first == 'h' || first == 'H';
}

HeadParse bad(int status) {
    HeadParse r;
    r.status = Status::bad;
    r.error = status;
    return r;
}

// "/p?q", or the absolute form "http://host/p?q" (which servers must accept).
bool split_target(HttpRequest& req) {
    std::string_view t = req.target;
    if (t.size() > 7 &&
        (equals_nocase(t.substr(0, 7), "http://") || equals_nocase(t.substr(0, 8), "https://"))) {
        std::size_t slash = t.find('/', t.find("//") + 2);
        t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
    }
    if (t.empty() || (t.front() != '/' && t != "*"))
        return false;
    std::size_t q = t.find('?');
    req.path = std::string(t.substr(0, q));
    req.query = q == std::string_view::npos ? "" : std::string(t.substr(q + 1));
    return true;
}

// METHOD SP TARGET SP HTTP/1.x; 0 when good, else the status to answer.
int parse_request_line(std::string_view line, HttpRequest& req) {
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos)
        return 400;
    std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method) || target.empty() || !is_visible(target))
        return 400;
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        !std::isdigit(static_cast<unsigned char>(version[5])) ||
        !std::isdigit(static_cast<unsigned char>(version[7])))
        return 400;
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
        return 505;
    req.method = std::string(method);
    req.target = std::string(target);
    req.keep_alive = version[7] == '1';
    return split_target(req) ? 0 : 400;
}

// One "Name: value" line; false when malformed.
bool parse_header(std::string_view line, HttpRequest& req) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
        return false; // a leading space (obs-fold) lands here too
    std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    bool clean = std::all_of(value.begin(), value.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u >= 0x20 && u != 0x7f) || c == '\t';
    });
    if (!clean)
        return false;
    req.headers.emplace_back(name, value);
    if (equals_nocase(name, "Content-Length")) {
        if (value.empty() || !std::all_of(value.begin(), value.end(), ::isdigit))
            return false;
        req.has_body = req.has_body || value.find_first_not_of('0') != std::string_view::npos;
    } else if (equals_nocase(name, "Transfer-Encoding")) {
        req.has_body = true;
    } else if (equals_nocase(name, "Connection")) {
        for (std::size_t at = 0; at <= value.size();) {
            std::size_t comma = std::min(value.find(',', at), value.size());
            std::string_view option = trim(value.substr(at, comma - at));
            if (equals_nocase(option, "close"))
                req.keep_alive = false;
            else if (equals_nocase(option, "keep-alive"))
                req.keep_alive = true;
            at = comma + 1;
        }
    }
    return true;
}

} // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
    for (const auto& [n, value] : headers)
        if (equals_nocase(n, name))
            return value;
    return std::nullopt;
}

HeadParse parse_request_head(std::string_view bytes, std::size_t max_head) {
    std::size_t start = bytes.find_first_not_of("\r\n");
    if (start == std::string_view::npos)
        return bytes.size() > max_head ? bad(400) : HeadParse{};
    std::size_t eol = bytes.find('\n', start);
    std::string_view first = bytes.substr(start, eol == std::string_view::npos ? eol : eol - start);
    if (!could_begin_request_line(first.substr(0, max_head)))
        return bad(400);
    if (eol == std::string_view::npos)
        return bytes.size() > max_head ? bad(414) : HeadParse{};
    if (eol >= max_head)
        return bad(414);
    HeadParse r;
    if (int status = parse_request_line(strip_cr(first), r.request))
        return bad(status);
    bool http10 = strip_cr(first).ends_with("1.0"); // closed after one answer
    for (std::size_t at = eol + 1;;) {
        std::size_t next = bytes.find('\n', at);
        if (next == std::string_view::npos)
            return bytes.size() > max_head ? bad(431) : r;
        if (next >= max_head)
            return bad(431);
        std::string_view line = strip_cr(bytes.substr(at, next - at));
        if (line.empty()) {
            r.status = Status::complete;
            r.consumed = next + 1;
            r.request.keep_alive = r.request.keep_alive && !http10;
            return r;
        }
        if (!parse_header(line, r.request))
            return bad(400);
        at = next + 1;
    }
}

// -- responses ---------------------------------------------------------------------------

std::string_view http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

HttpResponse http_error(int status) {
    HttpResponse r;
    r.status = status;
    r.body = std::string(http_reason(status)) + "\n";
    if (status == 405)
        r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
}

std::string encode_response(const HttpResponse& response, bool head, bool close) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " ";
    out += http_reason(response.status);
    out += "\r\nContent-Type: " + response.content_type;
    out += "\r\nContent-Length: " + std::to_string(response.body.size());
    for (const auto& [name, value] : response.headers)
        out += "\r\n" + name + ": " + value;
    out += close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
    if (!head)
        out += response.body;
    return out;
}

// -- the server --------------------------------------------------------------------------

namespace {

struct BuffereventFree {
    void operator()(bufferevent* b) const { bufferevent_free(b); }
};

} // namespace

// One client connection, in one of three states: waiting for a request (the request timer
// runs), handling one (a route holds its Responder; reading paused), writing the answer
// (the write timer runs). Pipelined requests wait in the input buffer, bounded by its
// high-water mark, until the answer before them is written.
struct HttpServer::Conn : std::enable_shared_from_this<Conn> {
    enum class State { waiting, handling, writing };

    Conn(HttpServer& owner, bufferevent* b)
        : server(owner), bev(b), timer(owner.m_loop, [this] { timed_out(); }) {}

    static void on_read(bufferevent*, void* arg) noexcept { static_cast<Conn*>(arg)->read(); }
    static void on_write(bufferevent*, void* arg) noexcept { static_cast<Conn*>(arg)->written(); }
    static void on_event(bufferevent*, short what, void* arg) noexcept {
        static_cast<Conn*>(arg)->event(what);
    }
    void read();
    void written();
    void event(short what);
    void timed_out();
    void wait_for_request();
    void respond(const HttpResponse& response, bool close);
    std::size_t input_length() const {
        return evbuffer_get_length(bufferevent_get_input(bev.get()));
    }

    HttpServer& server;
    std::unique_ptr<bufferevent, BuffereventFree> bev;
    core::Timer timer;
    State state = State::waiting;
    core::TimePoint waiting_since{};
    bool head = false;        // the request being answered is a HEAD
    bool close_after = false; // close once the answer is written
    bool eof = false;         // the client will send no more
    bool closed = false;
};

void HttpServer::Conn::wait_for_request() {
    state = State::waiting;
    waiting_since = core::Clock::now();
    head = false;
    if (!timer.start(k_http_request_timeout))
        return server.close(*this); // out of memory: no connection without its deadline
    if (!eof)
        bufferevent_enable(bev.get(), EV_READ);
}

void HttpServer::Conn::read() {
    if (closed || state != State::waiting)
        return;
    evbuffer* in = bufferevent_get_input(bev.get());
    std::size_t look = std::min(evbuffer_get_length(in), k_http_max_head + 1);
    if (look == 0 && eof)
        return server.close(*this);
    const auto* data = evbuffer_pullup(in, static_cast<ev_ssize_t>(look));
    HeadParse parsed = parse_request_head({reinterpret_cast<const char*>(data), look});
    if (parsed.status == HeadParse::Status::bad)
        return respond(http_error(parsed.error), true);
    if (parsed.status == HeadParse::Status::incomplete) {
        if (eof) // half a request, and no more to come
            server.close(*this);
        return;
    }
    evbuffer_drain(in, parsed.consumed);
    server.dispatch(shared_from_this(), std::move(parsed.request));
}

void HttpServer::Conn::respond(const HttpResponse& response, bool close) {
    state = State::writing;
    close_after = close_after || close;
    bufferevent_disable(bev.get(), EV_READ);
    std::string wire = encode_response(response, head, close_after);
    if (bufferevent_write(bev.get(), wire.data(), wire.size()) != 0)
        return server.close(*this);
    if (!timer.start(k_http_write_timeout))
        server.close(*this);
}

void HttpServer::Conn::written() {
    if (closed || state != State::writing ||
        evbuffer_get_length(bufferevent_get_output(bev.get())) != 0)
        return;
    if (close_after)
        return server.close(*this);
    wait_for_request();
    read(); // a pipelined request may be waiting already
}

void HttpServer::Conn::event(short what) {
    if (closed)
        return;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        eof = true; // answer what has arrived complete, then close
        return read();
    }
    server.close(*this);
}

void HttpServer::Conn::timed_out() {
    if (state == State::waiting && input_length() > 0)
        return respond(http_error(408), true);
    server.close(*this); // idle, or the client does not take its answer
}

HttpServer::Responder& HttpServer::Responder::operator=(Responder&& other) noexcept {
    if (this != &other) {
        if (open()) // the request this one held is answered, as on destruction
            respond(http_error(500));
        m_conn = std::move(other.m_conn);
    }
    return *this;
}

HttpServer::Responder::~Responder() {
    if (open())
        respond(http_error(500));
}

bool HttpServer::Responder::open() const {
    auto conn = m_conn.lock();
    return conn && !conn->closed && conn->state == Conn::State::handling;
}

void HttpServer::Responder::respond(HttpResponse response) {
    auto conn = m_conn.lock();
    m_conn.reset();
    if (conn && !conn->closed && conn->state == Conn::State::handling)
        conn->respond(response, false);
}

void HttpServer::ListenerFree::operator()(evconnlistener* l) const {
    evconnlistener_free(l);
}

namespace {

// A listening socket on `where`, or the errno of the step that failed.
core::UniqueFd listen_on(const core::SockAddr& where, int& err) {
    core::UniqueFd fd(
        ::socket(where.get()->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int on = 1; // [::] takes IPv4 too unless net.ipv6.bindv6only says otherwise
    if (!fd || ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(fd.get(), where.get(), where.length) != 0 || ::listen(fd.get(), 128) != 0) {
        err = errno;
        return {};
    }
    return fd;
}

} // namespace

HttpServer::HttpServer(core::Loop& loop, const core::SockAddr& where, std::string flag)
    : m_loop(loop), m_flag(std::move(flag)), m_accept_pause(loop, [this] {
          if (m_listener)
              evconnlistener_enable(m_listener.get());
      }) {
    int err = 0;
    core::UniqueFd fd = listen_on(where, err);
    // ":PORT" is [::], dual stack; where the host has no IPv6, all IPv4 addresses instead.
    if (!fd && where.host() == "::" && (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)) {
        if (auto any4 = core::parse_numeric_address("0.0.0.0", where.port()))
            fd = listen_on(*any4, err);
    }
    if (!fd) {
        // Appended piece by piece: gcc 12 at -O3 wrongly warns (-Wrestrict) about "[" + host.
        std::string message = m_flag + ": cannot listen on ";
        bool v6 = where.family() == core::Family::ipv6;
        message += v6 ? "[" : "";
        message += where.host();
        message += v6 ? "]:" : ":";
        message += std::to_string(where.port()) + ": " + core::errno_message(err);
        throw std::runtime_error(message);
    }
    m_listener.reset(evconnlistener_new(loop.base(), &HttpServer::on_accept, this,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
                                        fd.get()));
    if (!m_listener)
        throw std::runtime_error(m_flag + ": cannot listen: out of memory");
    fd.release();
    evconnlistener_set_error_cb(m_listener.get(), &HttpServer::on_accept_error);
}

HttpServer::~HttpServer() = default;

uint16_t HttpServer::port() const {
    auto local = core::local_address(evconnlistener_get_fd(m_listener.get()));
    return local ? local->port() : 0;
}

void HttpServer::route(std::string path, Handler handler) {
    m_routes[std::move(path)] = std::move(handler);
}

void HttpServer::on_accept(evconnlistener*, int fd, sockaddr*, int, void* arg) noexcept {
    static_cast<HttpServer*>(arg)->accept(fd);
}

// Out of descriptors (or memory): the listener would fire again at once, so it rests.
void HttpServer::on_accept_error(evconnlistener* listener, void* arg) noexcept {
    evconnlistener_disable(listener);
    static_cast<HttpServer*>(arg)->m_accept_pause.start(std::chrono::milliseconds(100));
}

void HttpServer::accept(int fd) {
    core::UniqueFd owned(fd);
    if (m_conns.size() >= k_http_max_connections && !make_room())
        return; // every connection is busy with an answer: this one is closed at once
    bufferevent* bev = bufferevent_socket_new(m_loop.base(), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return;
    owned.release();
    auto conn = std::make_shared<Conn>(*this, bev);
    bufferevent_setcb(bev, &Conn::on_read, &Conn::on_write, &Conn::on_event, conn.get());
    bufferevent_setwatermark(bev, EV_READ, 0, k_http_max_head + 1);
    m_conns.push_back(conn);
    conn->wait_for_request();
}

// Closes the connection that has waited longest for a request; false when none waits.
bool HttpServer::make_room() {
    Conn* oldest = nullptr;
    for (const auto& c : m_conns)
        if (c->state == Conn::State::waiting &&
            (!oldest || c->waiting_since < oldest->waiting_since))
            oldest = c.get();
    if (oldest)
        close(*oldest);
    return oldest != nullptr;
}

void HttpServer::dispatch(const std::shared_ptr<Conn>& conn, HttpRequest request) {
    conn->state = Conn::State::handling;
    conn->timer.cancel();
    bufferevent_disable(conn->bev.get(), EV_READ);
    conn->head = request.head();
    conn->close_after = !request.keep_alive;
    if (request.method != "GET" && request.method != "HEAD")
        return conn->respond(http_error(405), request.has_body);
    if (request.has_body)
        return conn->respond(http_error(413), true);
    auto route = m_routes.find(request.path);
    if (route == m_routes.end())
        return conn->respond(http_error(404), false);
    route->second(request, Responder(conn));
}

// The descriptor goes now; the object once the callback that got here has returned.
void HttpServer::close(Conn& conn) {
    if (conn.closed)
        return;
    conn.closed = true;
    conn.timer.cancel();
    conn.bev.reset();
    auto it = std::find_if(m_conns.begin(), m_conns.end(),
                           [&](const auto& c) { return c.get() == &conn; });
    if (it == m_conns.end())
        return;
    m_closed.push_back(std::move(*it));
    m_conns.erase(it);
    if (!m_reap.pending())
        m_reap = m_loop.defer([this] { m_closed.clear(); });
}

} // namespace tcpretry::app
