#include "core/connection.hpp"

#include <algorithm>
#include <cerrno>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

Connection::Connection(Private, Loop& loop, Closed on_closed, uint64_t bytes_read) noexcept
    : m_on_closed(std::move(on_closed)), m_linger(loop, [this] { finish_close(); }),
      m_bytes(bytes_read) {}

std::unique_ptr<Connection> Connection::open(Loop& loop, UniqueFd fd, Duration keepalive,
                                             Closed on_closed, uint64_t bytes_read) noexcept {
    int s = fd.get();
    if (keepalive > Duration::zero()) {
        KeepaliveSettings k = keepalive_settings(keepalive);
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &k.idle_s, sizeof k.idle_s);
        setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &k.interval_s, sizeof k.interval_s);
        setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &k.count, sizeof k.count);
        setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &k.user_timeout_ms, sizeof k.user_timeout_ms);
    }
    auto c = std::make_unique<Connection>(Private{}, loop, std::move(on_closed), bytes_read);
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
    if (::shutdown(bufferevent_getfd(m_bev.get()), SHUT_WR) != 0 || !m_linger.start(k_close_linger))
        return finish_close();
}

void Connection::finish_close() {
    m_linger.cancel();
    bufferevent_disable(m_bev.get(), EV_READ | EV_WRITE);
    m_bev.reset();
    auto done = std::move(m_on_done);
    m_on_done = nullptr;
    // May destroy this Connection: nothing after it.
    done();
}

} // namespace tcpretry::core
