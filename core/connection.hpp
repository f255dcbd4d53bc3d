// An established connection held open in watch mode (after muduo's TcpConnection): reads
// and discards what arrives, counts it, and reports how the connection ended. A TLS
// connection (a Channel with a session) is read through TLS: close_notify is an orderly
// close (tls_close), a TLS error or an EOF without close_notify is tls_error, a reset stays a
// reset; closing it sends close_notify before the half-close.
#pragma once

#include "core/check.hpp"
#include "core/event.hpp"
#include "core/loop.hpp"

#include <cstdint>
#include <event2/bufferevent.h>
#include <functional>
#include <memory>

namespace tcpretry::core {

// How long a graceful close waits for the peer's EOF after our half-close.
inline constexpr Duration k_close_linger = std::chrono::milliseconds(200);

// Keepalive settings for a dead-peer deadline DUR (>= 2 s): probes start after DUR/3 idle,
// repeat every DUR/3, two unanswered probes end it; TCP_USER_TIMEOUT = DUR bounds unacked
// data. Whole seconds, at least 1.
struct KeepaliveSettings {
    int idle_s = 0;
    int interval_s = 0;
    int count = 0;
    unsigned user_timeout_ms = 0;
};
KeepaliveSettings keepalive_settings(Duration dead_after);

// What an error on an established connection means: the peer reset it (ECONNRESET, EPIPE,
// ECONNABORTED), keepalive or TCP_USER_TIMEOUT found it dead (ETIMEDOUT), or another error.
DisconnectReason error_reason(int err);

class Connection {
    struct Private { // only open() constructs
        explicit Private() = default;
    };

  public:
    // Called once when the peer or the network ended the connection (not after close()).
    using Closed = std::function<void(DisconnectReason reason, int err)>;

    // Takes the fd. keepalive zero: no keepalive, no user timeout. bytes_read: what was
    // already read from it (the --expect check), counted as received. Never throws (safe in
    // a callback): nullptr when libevent cannot watch the fd, with errno saying why; the fd
    // is closed then.
    static std::unique_ptr<Connection> open(Loop& loop, UniqueFd fd, Duration keepalive,
                                            Closed on_closed, uint64_t bytes_read = 0) noexcept;
    // The same for a Channel: plain, or TLS (the session then owns the socket).
    static std::unique_ptr<Connection> open(Loop& loop, Channel channel, Duration keepalive,
                                            Closed on_closed, uint64_t bytes_read = 0) noexcept;

    Connection(Private, Loop& loop, Closed on_closed, uint64_t bytes_read) noexcept;
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Half-closes our side, waits up to k_close_linger for the peer's EOF, then closes;
    // `done` runs then (at once, inside this call, when the half-close or the linger timer
    // cannot be set up). No Closed callback follows.
    void close(std::function<void()> done);

    uint64_t bytes_received() const { return m_bytes; }
    // After Closed with tls_error: the TLS error's code (none for a truncation) and words.
    ErrorCode end_code() const;
    std::string end_message() const;

  private:
    struct Tls; // only for a TLS connection: plain ones carry one pointer more, no more
    static void on_tls_event(evutil_socket_t, short what, void* arg) noexcept;
    void on_tls_readable();
    static void set_keepalive(int fd, Duration keepalive);
    struct BevFree {
        void operator()(bufferevent* b) const { bufferevent_free(b); }
    };
    static void on_read(bufferevent* bev, void* arg) noexcept;
    static void on_event(bufferevent* bev, short what, void* arg) noexcept;
    void drain();
    void on_bev_event(short what);
    void finish_close();

    std::unique_ptr<bufferevent, BevFree> m_bev; // plain
    std::unique_ptr<Tls> m_tls;                  // TLS
    Closed m_on_closed;
    std::function<void()> m_on_done; // set while closing
    Timer m_linger;
    uint64_t m_bytes = 0;
};

} // namespace tcpretry::core
