// A TcpClient owns one Connector and at most one Connection for a target (after muduo's
// TcpClient). In wait mode it reports the connection and lets it go; in watch mode it holds
// it, reports when it drops and why, and reconnects with backoff.
#pragma once

#include "core/connection.hpp"
#include "core/connector.hpp"

#include <functional>
#include <memory>
#include <optional>

namespace tcpretry::core {

struct ClientOptions {
    bool hold = false;                       // watch mode: keep the connection, reconnect
    Duration stable_after = std::chrono::seconds(10); // a connection this long resets backoff
    Duration keepalive = std::chrono::seconds(10);    // dead-peer deadline; zero: off
};

// What a watched target's life looked like, for the per-target summary.
struct WatchStats {
    unsigned connections = 0;
    unsigned disconnects = 0;
    bool connected = false; // at the moment of asking
    Duration up{};          // total time connected
    Duration elapsed{};     // since start()
    Duration longest_up{};
    Duration longest_down{}; // includes the wait before the first connection
};

class TcpClient final : private EventSink {
  public:
    TcpClient(Loop& loop, Resolver& resolver, Target target, std::size_t index,
              ConnectorOptions connector, ClientOptions options, EventSink& sink);
    ~TcpClient() override;
    TcpClient(const TcpClient&) = delete;
    TcpClient& operator=(const TcpClient&) = delete;

    void start();
    // Cancels connecting and retrying; a held connection is half-closed and given up to
    // 200 ms for the peer's EOF. `done` runs once everything is closed (maybe at once).
    void stop(std::function<void()> done);

    const Connector& connector() const { return m_connector; }
    bool connected() const; // wait mode: has connected; watch mode: is connected now
    WatchStats stats() const;

  private:
    void on_event(const Event& e) override;
    void on_connected(UniqueFd fd, uint64_t bytes_read);
    void on_dropped(DisconnectReason reason, int err);

    Loop& m_loop;
    std::size_t m_index;
    ClientOptions m_options;
    EventSink& m_sink;
    Connector m_connector;
    std::unique_ptr<Connection> m_connection;
    std::optional<Endpoint> m_peer;

    unsigned m_connections = 0;
    unsigned m_disconnects = 0;
    TimePoint m_started{};
    TimePoint m_changed{}; // when the connection last came up or went down
    Duration m_up{};
    Duration m_longest_up{};
    Duration m_longest_down{};
};

} // namespace tcpretry::core
