#include "core/tcp_client.hpp"

#include <algorithm>
#include <cerrno>

namespace tcpretry::core {

// Hears a --recheck Connector (the TcpClient already hears its own).
class TcpClient::RecheckSink final : public EventSink {
  public:
    explicit RecheckSink(TcpClient& owner) : m_owner(owner) {}
    void on_event(const Event& e) override { m_owner.on_recheck_event(e); }

  private:
    TcpClient& m_owner;
};

TcpClient::TcpClient(Loop& loop, Resolver& resolver, Target target, std::size_t index,
                     ConnectorOptions connector, ClientOptions options, EventSink& sink)
    : m_loop(loop), m_resolver(resolver), m_index(index), m_connector_options(connector),
      m_options(options), m_sink(sink),
      m_connector(loop, resolver, std::move(target), index, std::move(connector), *this),
      m_recheck_sink(std::make_unique<RecheckSink>(*this)),
      m_recheck_timer(loop, [this] { start_recheck(); }) {
    m_connector.set_connected_handler(
        [this](UniqueFd fd, uint64_t bytes_read) { on_connected(std::move(fd), bytes_read); });
}

TcpClient::~TcpClient() = default;

void TcpClient::start() {
    m_started = m_changed = Clock::now();
    m_connector.start();
}

void TcpClient::stop(std::function<void()> done) {
    m_connector.stop();
    m_open_failed.cancel();
    m_recheck_timer.cancel();
    stop_recheck();
    // A drop whose reconnect was still undecided is not reported: the run is over.
    m_pending_drop.reset();
    m_held_back.clear();
    if (!m_connection)
        return done();
    // Closed by us: no `disconnected` event.
    m_connection->close([this, done = std::move(done)] {
        m_connection.reset();
        done();
    });
}

bool TcpClient::connected() const {
    if (m_options.hold)
        return m_available;
    return m_connector.state() == Connector::State::connected;
}

WatchStats TcpClient::stats() const {
    TimePoint now = Clock::now();
    WatchStats s;
    s.connections = m_connections;
    s.disconnects = m_disconnects;
    s.recycled = m_recycled;
    s.outages = m_outages;
    s.connected = m_available;
    s.elapsed = now - m_started;
    s.up = m_up;
    s.longest_up = m_longest_up;
    s.longest_down = m_longest_down;
    if (m_available) {
        s.up += now - m_changed;
        s.longest_up = std::max(s.longest_up, now - m_changed);
    } else {
        s.longest_down = std::max(s.longest_down, now - m_changed);
    }
    return s;
}

void TcpClient::begin_outage(TimePoint at) {
    if (!m_available)
        return;
    Duration up = at - m_changed;
    m_up += up;
    m_longest_up = std::max(m_longest_up, up);
    m_changed = at;
    m_available = false;
    ++m_outages;
}

void TcpClient::end_outage(TimePoint at) {
    if (m_available)
        return;
    m_longest_down = std::max(m_longest_down, at - m_changed);
    m_changed = at;
    m_available = true;
}

void TcpClient::on_event(const Event& e) {
    if (m_pending_drop) {
        // The immediate reconnect's round: its outcome decides what the drop was.
        if (e.type == EventType::connected)
            settle_drop(false);
        else if (e.type == EventType::retry || e.type == EventType::gave_up)
            settle_drop(true);
        else if (e.type != EventType::warning)
            return m_held_back.push_back(e);
    }
    if (e.type != EventType::connected)
        return m_sink.on_event(e);
    // Number the connection and end the outage before anyone hears of it.
    TimePoint now = Clock::now();
    end_outage(now);
    m_connected_at = now;
    Event numbered = e;
    numbered.connection = static_cast<unsigned>(++m_connections);
    m_peer = e.address;
    m_sink.on_event(numbered);
}

void TcpClient::settle_drop(bool outage) {
    Event drop = std::move(*m_pending_drop);
    m_pending_drop.reset();
    drop.outage = outage;
    ++m_disconnects; // counted when reported: a drop undecided at stop() is neither
    if (outage)
        begin_outage(m_drop_time); // downtime counts from the drop
    else
        ++m_recycled;
    std::vector<Event> held = std::move(m_held_back);
    m_held_back.clear();
    m_sink.on_event(drop);
    for (const Event& h : held)
        m_sink.on_event(h);
}

void TcpClient::on_connected(UniqueFd fd, uint64_t bytes_read) {
    if (!m_options.hold)
        return; // wait mode: the fd closes here, gracefully
    m_connection = Connection::open(
        m_loop, std::move(fd), m_options.keepalive,
        [this](DisconnectReason reason, int err) { on_dropped(reason, err); }, bytes_read);
    if (!m_connection) {
        // Connected but cannot be watched: an error drop (an outage), reported from the loop
        // as if the connection had failed at once, not from inside the Connector's call.
        int err = errno;
        m_open_failed = m_loop.defer(
            [this, err, bytes_read] { drop(DisconnectReason::error, err, bytes_read); });
        return;
    }
    if (m_options.recheck)
        arm_recheck();
}

void TcpClient::arm_recheck() {
    if (m_recheck_timer.start(*m_options.recheck))
        return;
    Event w;
    w.type = EventType::warning;
    w.target = m_index;
    w.error = ErrorClass::local;
    w.code = ErrorCode::sys(ENOMEM);
    w.message = "cannot schedule --recheck (out of memory): the held connection is not rechecked";
    m_sink.on_event(w);
}

Event TcpClient::drop_event(DisconnectReason reason, int err, Duration uptime,
                            uint64_t bytes) const {
    Event e;
    e.type = EventType::disconnected;
    e.target = m_index;
    e.attempt = m_connector.rounds();
    e.address = m_peer;
    e.reason = reason;
    if (err != 0)
        e.code = ErrorCode::sys(err);
    e.uptime = uptime;
    e.bytes_received = bytes;
    e.connection = static_cast<unsigned>(m_connections);
    return e;
}

void TcpClient::on_dropped(DisconnectReason reason, int err) {
    drop(reason, err, m_connection->bytes_received());
}

void TcpClient::drop(DisconnectReason reason, int err, uint64_t bytes) {
    TimePoint now = Clock::now();
    Event e = drop_event(reason, err, now - m_connected_at, bytes);
    m_connection.reset();
    m_recheck_timer.cancel();
    stop_recheck();
    // Only availability that lasted earns the initial delay again: a target that flaps keeps
    // its growing delay, so a server that accepts and dies is not hammered.
    if (m_available && now - m_changed >= m_options.stable_after)
        m_connector.reset_backoff();

    if (reason == DisconnectReason::closed || reason == DisconnectReason::reset) {
        // Maybe only recycled: reconnect at once (paced), and say which once we know.
        m_pending_drop = std::move(e);
        m_drop_time = now;
        Duration gap = m_connected_at + m_options.recycle_min_gap - now;
        m_connector.reconnect_after(std::max(Duration::zero(), gap));
        return;
    }
    begin_outage(now); // the path died: an outage at once
    e.outage = true;
    ++m_disconnects;
    m_sink.on_event(e);
    m_connector.restart();
}

void TcpClient::start_recheck() {
    if (!m_connection || m_recheck)
        return;
    ConnectorOptions co = m_connector_options;
    co.max_rounds = 1;
    co.seed += 0x9e3779b97f4a7c15ULL * ++m_recheck_seq;
    m_recheck_failure.reset();
    m_recheck = std::make_unique<Connector>(m_loop, m_resolver, m_connector.target(), m_index, co,
                                            *m_recheck_sink);
    m_recheck->start();
}

void TcpClient::stop_recheck() {
    if (!m_recheck)
        return;
    m_recheck->stop();
    // It may be the caller, further up the stack: freed from the loop.
    m_recheck_done.push_back(std::move(m_recheck));
    if (!m_reap.pending())
        m_reap = m_loop.defer([this] { m_recheck_done.clear(); });
}

void TcpClient::on_recheck_event(const Event& e) {
    if (e.type == EventType::warning)
        return m_sink.on_event(e);
    if (e.type == EventType::failed)
        m_recheck_failure = e;
    if (e.type != EventType::connected && e.type != EventType::gave_up)
        return;
    stop_recheck();
    if (e.type == EventType::connected) {
        if (m_connection)
            arm_recheck();
        return;
    }
    if (!m_connection)
        return;
    // New connections fail while the old session lives: the service is not available.
    TimePoint now = Clock::now();
    Event drop = drop_event(DisconnectReason::recheck, 0, now - m_connected_at,
                            m_connection->bytes_received());
    const Event& why = m_recheck_failure ? *m_recheck_failure : e;
    drop.error = why.error;
    drop.code = why.code;
    drop.message = why.message;
    drop.received = why.received;
    drop.outage = true;
    ++m_disconnects;
    m_connection.reset();
    if (m_available && now - m_changed >= m_options.stable_after)
        m_connector.reset_backoff();
    begin_outage(now);
    m_sink.on_event(drop);
    m_connector.restart();
}

} // namespace tcpretry::core
