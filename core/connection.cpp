#include "core/connection.hpp"

#include <algorithm>
#include <cerrno>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <new>
#include <sys/socket.h>

namespace tcpretry::core {

KeepaliveSettings keepalive_settings(Duration dead_after) {
    using namespace std::chrono;
    KeepaliveSettings k;
    auto third = duration_cast<seconds>(dead_after / 3).count();
    k.idle_s = static_cast<int>(std::max<decltype(third)>(1, third));
    k.interval_s = k.idle_s;
    k.count = 2;
    k.user_timeout_ms = static_cast<unsigned>(duration_cast<milliseconds>(dead_after).count());
    return k;
}

DisconnectReason error_reason(int err) {
    switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        return DisconnectReason::reset;
    case ETIMEDOUT:
        return DisconnectReason::timeout;
    default:
        return DisconnectReason::error;
    }
}

struct Connection::Tls {
    std::unique_ptr<TlsSession> session;
    EventPtr read; // persistent read watch on the session's socket
    ErrorCode end_code;
    std::string end_message;
};

Connection::Connection(Private, Loop& loop, Closed on_closed, uint64_t bytes_read) noexcept
    : m_on_closed(std::move(on_closed)), m_linger(loop, [this] { finish_close(); }),
      m_bytes(bytes_read) {}

void Connection::set_keepalive(int s, Duration keepalive) {
    if (keepalive <= Duration::zero())
        return;
    KeepaliveSettings k = keepalive_settings(keepalive);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &k.idle_s, sizeof k.idle_s);
    setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &k.interval_s, sizeof k.interval_s);
    setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &k.count, sizeof k.count);
    setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &k.user_timeout_ms, sizeof k.user_timeout_ms);
}

std::unique_ptr<Connection> Connection::open(Loop& loop, Channel channel, Duration keepalive,
                                             Closed on_closed, uint64_t bytes_read) noexcept {
    if (!channel.tls())
        return open(loop, channel.release_fd(), keepalive, std::move(on_closed), bytes_read);
    int s = channel.fd();
    std::unique_ptr<Connection> c;
    try {
        c = std::make_unique<Connection>(Private{}, loop, std::move(on_closed), bytes_read);
        c->m_tls = std::make_unique<Tls>();
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
        return nullptr; // `channel` closes the socket
    }
    c->set_keepalive(s, keepalive);
    c->m_tls->read.reset(event_new(loop.base(), s, EV_READ | EV_PERSIST, &on_tls_event, c.get()));
    if (!c->m_tls->read || event_add(c->m_tls->read.get(), nullptr) != 0) {
        errno = ENOMEM;
        return nullptr;
    }
    c->m_tls->session = channel.release_tls();
    // Records the check left decrypted in the session announce no readability: read them
    // from the loop (not from inside this call: Closed may follow).
    if (c->m_tls->session->pending())
        event_active(c->m_tls->read.get(), EV_READ, 0);
    return c;
}

void Connection::on_tls_event(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Connection*>(arg)->on_tls_readable();
}

void Connection::on_tls_readable() {
    char buf[4096];
    TlsSession& t = *m_tls->session;
    for (;;) {
        TlsSession::Io io = t.read(buf, sizeof buf);
        if (io.status == TlsSession::Io::Status::ok) {
            m_bytes += io.bytes; // counted and discarded
            continue;
        }
        // want_write: a TLS 1.2 renegotiation with a full socket; the next readability retries
        if (io.status == TlsSession::Io::Status::want_read ||
            io.status == TlsSession::Io::Status::want_write)
            return;
        if (m_on_done)
            return finish_close(); // the peer's close (or an error) after ours
        DisconnectReason reason = DisconnectReason::tls_error;
        int err = 0;
        if (io.status == TlsSession::Io::Status::closed) {
            reason = DisconnectReason::tls_close;
        } else if (io.status == TlsSession::Io::Status::truncated) {
            m_tls->end_message = "connection closed without close_notify";
        } else if (t.failure().kind == TlsFailureKind::io) {
            err = t.failure().code.value;
            reason = error_reason(err);
        } else {
            m_tls->end_code = t.failure().code;
            m_tls->end_message = t.failure().message;
        }
        event_del(m_tls->read.get());
        // The callback may destroy this Connection: nothing after it.
        return m_on_closed(reason, err);
    }
}

ErrorCode Connection::end_code() const {
    return m_tls ? m_tls->end_code : ErrorCode{};
}

std::string Connection::end_message() const {
    return m_tls ? m_tls->end_message : std::string();
}

std::unique_ptr<Connection> Connection::open(Loop& loop, UniqueFd fd, Duration keepalive,
                                             Closed on_closed, uint64_t bytes_read) noexcept {
    int s = fd.get();
    auto c = std::make_unique<Connection>(Private{}, loop, std::move(on_closed), bytes_read);
    c->set_keepalive(s, keepalive);
    errno = 0;
    c->m_bev.reset(bufferevent_socket_new(loop.base(), s, BEV_OPT_CLOSE_ON_FREE));
    if (!c->m_bev) {
        errno = errno ? errno : ENOMEM;
        return nullptr; // `fd` closes the socket
    }
    fd.release(); // the bufferevent owns it now
    bufferevent_setcb(c->m_bev.get(), &Connection::on_read, nullptr, &Connection::on_event,
                      c.get());
    if (bufferevent_enable(c->m_bev.get(), EV_READ) != 0) {
        int err = errno ? errno : ENOMEM;
        c.reset(); // closes the socket with the bufferevent
        errno = err;
        return nullptr;
    }
    return c;
}

Connection::~Connection() = default;

void Connection::drain() {
    evbuffer* in = bufferevent_get_input(m_bev.get());
    size_t n = evbuffer_get_length(in);
    m_bytes += n;
    evbuffer_drain(in, n); // counted and discarded, never buffered without bound
}

void Connection::on_read(bufferevent*, void* arg) noexcept {
    static_cast<Connection*>(arg)->drain();
}

void Connection::on_event(bufferevent*, short what, void* arg) noexcept {
    static_cast<Connection*>(arg)->on_bev_event(what);
}

void Connection::on_bev_event(short what) {
    int err = (what & BEV_EVENT_ERROR) ? EVUTIL_SOCKET_ERROR() : 0;
    drain();
    if (m_on_done)
        return finish_close(); // the peer's EOF (or an error) after our half-close
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    DisconnectReason reason =
        (what & BEV_EVENT_ERROR) ? error_reason(err) : DisconnectReason::closed;
    bufferevent_disable(m_bev.get(), EV_READ | EV_WRITE);
    // The callback may destroy this Connection: nothing after it.
    m_on_closed(reason, err);
}

void Connection::close(std::function<void()> done) {
    m_on_done = std::move(done);
    int s = -1;
    if (m_tls) {
        m_tls->session->shutdown(); // close_notify, then the half-close
        s = m_tls->session->fd();
    } else {
        s = bufferevent_getfd(m_bev.get());
    }
    if (::shutdown(s, SHUT_WR) != 0 || !m_linger.start(k_close_linger))
        return finish_close();
}

void Connection::finish_close() {
    m_linger.cancel();
    if (m_bev)
        bufferevent_disable(m_bev.get(), EV_READ | EV_WRITE);
    m_bev.reset();
    m_tls.reset(); // the watch first (declared after the session), then the socket
    auto done = std::move(m_on_done);
    m_on_done = nullptr;
    // May destroy this Connection: nothing after it.
    done();
}

} // namespace tcpretry::core
