// An established connection held open in watch mode (after muduo's TcpConnection): reads
// and discards what arrives, counts it, and reports how the connection ended.
#pragma once

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

class Connection {
  public:
    // Called once when the peer or the network ended the connection (not after close()).
    using Closed = std::function<void(DisconnectReason reason, int err)>;

    // Takes the fd. keepalive zero: no keepalive, no user timeout. bytes_read: what was
    // already read from it (the --expect check), counted as received.
    Connection(Loop& loop, UniqueFd fd, Duration keepalive, Closed on_closed,
               uint64_t bytes_read = 0);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Half-closes our side, waits up to k_close_linger for the peer's EOF, then closes;
    // `done` runs then. No Closed callback follows.
    void close(std::function<void()> done);

    uint64_t bytes_received() const { return m_bytes; }

  private:
    struct BevFree {
        void operator()(bufferevent* b) const { bufferevent_free(b); }
    };
    static void on_read(bufferevent* bev, void* arg);
    static void on_event(bufferevent* bev, short what, void* arg);
    void drain();
    void finish_close();

    std::unique_ptr<bufferevent, BevFree> m_bev;
    Closed m_on_closed;
    std::function<void()> m_on_done; // set while closing
    Timer m_linger;
    uint64_t m_bytes = 0;
};

} // namespace tcpretry::core
