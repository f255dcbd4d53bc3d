// A TcpClient owns one Connector and at most one Connection for a target (after muduo's
// TcpClient). In wait mode it reports the connection and lets it go; in watch mode it holds
// it and answers "is the service available, and when was it not":
//   - The peer closing or resetting the held connection is not yet an outage: servers recycle
//     idle or unauthenticated connections. We reconnect at once (paced to k_recycle_min_gap
//     after the previous connect) and report `disconnected` when that reconnect (and check)
//     is decided: outage=false when it succeeded (recycled), outage=true when it failed.
//   - A dead path (keepalive / TCP_USER_TIMEOUT) or another error is an outage at once.
//   - With --recheck, a fresh connect (and check) every DUR beside the held connection; a
//     failed one is an outage even though the held session lives: we close it and reconnect.
//   - During an outage the Connector retries with backoff; downtime runs from the drop to the
//     next successful connect. Availability for stable_after earns the initial delay again.
#pragma once

#include "core/connection.hpp"
#include "core/connector.hpp"
#include "core/defaults.hpp"
#include "core/watch_stats.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace tcpretry::core {

struct ClientOptions {
    bool hold = false;                      // watch mode: keep the connection, reconnect
    Duration stable_after = k_stable_after; // available this long: backoff starts over
    Duration keepalive = k_keepalive;       // dead-peer deadline; zero: off
    std::optional<Duration> recheck;        // watch mode: a fresh connect this often
    Duration recycle_min_gap = k_recycle_min_gap;
};

class TcpClient final : private EventSink {
  public:
    TcpClient(Loop& loop, Resolver& resolver, Target target, std::size_t index,
              ConnectorOptions connector, ClientOptions options, EventSink& sink);
    // With Connector options shared by a fleet (one copy); `seed` seeds this target's jitter.
    TcpClient(Loop& loop, Resolver& resolver, Target target, std::size_t index,
              std::shared_ptr<const ConnectorOptions> connector, uint64_t seed,
              std::shared_ptr<const ClientOptions> options, EventSink& sink);
    ~TcpClient() override;
    TcpClient(const TcpClient&) = delete;
    TcpClient& operator=(const TcpClient&) = delete;

    void start();
    // Cancels connecting and retrying; a held connection is half-closed and given up to
    // k_close_linger for the peer's EOF. `done` runs once everything is closed (maybe at
    // once, inside this call). Emits nothing more.
    void stop(std::function<void()> done);

    const Connector& connector() const { return m_connector; }
    bool connected() const; // wait mode: has connected; watch mode: is available now
    WatchStats stats() const;

  private:
    class RecheckSink;

    void on_event(const Event& e) override;
    void on_connected(Channel channel, uint64_t bytes_read);
    void on_dropped(DisconnectReason reason, int err);
    Event drop_event(DisconnectReason reason, int err, Duration uptime, uint64_t bytes) const;
    void drop(DisconnectReason reason, int err, uint64_t bytes, ErrorCode code = {},
              std::string message = {});
    void settle_drop(bool outage);
    void begin_outage(TimePoint at);
    void end_outage(TimePoint at);
    void start_recheck();
    void on_recheck_event(const Event& e);
    void arm_recheck();
    void stop_recheck();

    Loop& m_loop;
    Resolver& m_resolver;
    std::size_t m_index;
    std::shared_ptr<const ClientOptions> m_options; // shared by a fleet
    EventSink& m_sink;
    Connector m_connector;
    std::unique_ptr<Connection> m_connection;

    // Watch mode only (made when the client holds connections: a fleet waiting for its
    // targets does not carry it).
    struct Watch {
        explicit Watch(TcpClient& owner);
        Deferred open_failed; // the drop of a connection we could not watch, from the loop
        std::optional<Endpoint> peer;

        // A drop waiting for its immediate reconnect, and what the Connector said meanwhile.
        // (Events are held by pointer: ten thousand idle targets need not carry one each.)
        std::unique_ptr<Event> pending_drop;
        std::vector<Event> held_back;
        TimePoint drop_time{};
        TimePoint connected_at{}; // when the held connection came up

        uint64_t connections = 0;
        uint64_t disconnects = 0;
        uint64_t recycled = 0;
        uint64_t outages = 0;
        bool available = false;
        TimePoint started{};
        TimePoint changed{}; // when availability last changed
        Duration up{};
        Duration longest_up{};
        Duration longest_down{};

        // --recheck
        std::unique_ptr<RecheckSink> recheck_sink;
        std::unique_ptr<Connector> recheck;
        std::vector<std::unique_ptr<Connector>> recheck_done; // freed from the loop
        std::unique_ptr<Event> recheck_failure;
        unsigned recheck_seq = 0;
        Timer recheck_timer;
        Deferred reap;
    };
    std::unique_ptr<Watch> m_w;
    bool m_stopped = false; // stop() was called (maybe by the sink, inside our own event)
};

} // namespace tcpretry::core
