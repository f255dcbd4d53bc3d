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
    : TcpClient(loop, resolver, std::move(target), index,
                std::make_shared<const ConnectorOptions>(connector), connector.seed,
                std::make_shared<const ClientOptions>(options), sink) {}

TcpClient::TcpClient(Loop& loop, Resolver& resolver, Target target, std::size_t index,
                     std::shared_ptr<const ConnectorOptions> connector, uint64_t seed,
                     std::shared_ptr<const ClientOptions> options, EventSink& sink)
    : m_loop(loop), m_resolver(resolver), m_index(index), m_options(std::move(options)),
      m_sink(sink),
      m_connector(loop, resolver, std::move(target), index, std::move(connector), seed, *this) {
    if (m_options->hold)
        m_w = std::make_unique<Watch>(*this);
    m_connector.set_connected_handler([this](Channel channel, uint64_t bytes_read) {
        on_connected(std::move(channel), bytes_read);
    });
}

TcpClient::Watch::Watch(TcpClient& owner)
    : recheck_timer(owner.m_loop, [&owner] { owner.start_recheck(); }) {}

TcpClient::~TcpClient() = default;

void TcpClient::start() {
    if (m_w)
        m_w->started = m_w->changed = Clock::now();
    m_connector.start();
}

void TcpClient::stop(std::function<void()> done) {
    m_stopped = true;
    m_connector.stop();
    if (m_w) {
        m_w->open_failed.cancel();
        m_w->recheck_timer.cancel();
        stop_recheck();
        // A drop whose reconnect was still undecided is not reported: the run is over.
        m_w->pending_drop.reset();
        m_w->held_back.clear();
    }
    if (!m_connection)
        return done();
    // Closed by us: no `disconnected` event.
    m_connection->close([this, done = std::move(done)] {
        m_connection.reset();
        done();
    });
}

bool TcpClient::connected() const {
    if (m_w)
        return m_w->available;
    return m_connector.state() == Connector::State::connected;
}

WatchStats TcpClient::stats() const {
    TimePoint now = Clock::now();
    WatchStats s;
    if (!m_w)
        return s; // wait mode keeps no statistics
    s.connections = m_w->connections;
    s.disconnects = m_w->disconnects;
    s.recycled = m_w->recycled;
    s.outages = m_w->outages;
    s.connected = m_w->available;
    s.elapsed = now - m_w->started;
    s.up = m_w->up;
    s.longest_up = m_w->longest_up;
    s.longest_down = m_w->longest_down;
    if (m_w->available) {
        s.up += now - m_w->changed;
        s.longest_up = std::max(s.longest_up, now - m_w->changed);
    } else {
        s.longest_down = std::max(s.longest_down, now - m_w->changed);
    }
    return s;
}

void TcpClient::begin_outage(TimePoint at) {
    if (!m_w->available)
        return;
    Duration up = at - m_w->changed;
    m_w->up += up;
    m_w->longest_up = std::max(m_w->longest_up, up);
    m_w->changed = at;
    m_w->available = false;
    ++m_w->outages;
}

void TcpClient::end_outage(TimePoint at) {
    if (m_w->available)
        return;
    m_w->longest_down = std::max(m_w->longest_down, at - m_w->changed);
    m_w->changed = at;
    m_w->available = true;
}

void TcpClient::on_event(const Event& e) {
    if (m_stopped)
        return; // emits nothing more, even from the Connector call that stopped us
    if (!m_w) { // wait mode: the one connection is connection 1
        if (e.type != EventType::connected)
            return m_sink.on_event(e);
        Event numbered = e;
        numbered.connection = 1;
        return m_sink.on_event(numbered);
    }
    if (m_w->pending_drop) {
        // The immediate reconnect's round: its outcome decides what the drop was.
        if (e.type == EventType::connected)
            settle_drop(false);
        else if (e.type == EventType::retry || e.type == EventType::gave_up)
            settle_drop(true);
        else if (e.type != EventType::warning)
            return m_w->held_back.push_back(e);
    }
    if (e.type != EventType::connected)
        return m_sink.on_event(e);
    // Number the connection and end the outage before anyone hears of it.
    TimePoint now = Clock::now();
    end_outage(now);
    m_w->connected_at = now;
    Event numbered = e;
    numbered.connection = static_cast<unsigned>(++m_w->connections);
    m_w->peer = e.address;
    m_sink.on_event(numbered);
}

void TcpClient::settle_drop(bool outage) {
    Event drop = std::move(*m_w->pending_drop);
    m_w->pending_drop.reset();
    drop.outage = outage;
    ++m_w->disconnects; // counted when reported: a drop undecided at stop() is neither
    if (outage)
        begin_outage(m_w->drop_time); // downtime counts from the drop
    else
        ++m_w->recycled;
    std::vector<Event> held = std::move(m_w->held_back);
    m_w->held_back.clear();
    m_sink.on_event(drop);
    for (const Event& h : held)
        m_sink.on_event(h);
}

void TcpClient::on_connected(Channel channel, uint64_t bytes_read) {
    if (m_stopped)
        return; // stopped by the sink while it heard `connected`: the channel just closes
    if (!m_options->hold)
        return; // wait mode: the channel closes here, gracefully (TLS: close_notify)
    m_connection = Connection::open(
        m_loop, std::move(channel), m_options->keepalive,
        [this](DisconnectReason reason, int err) { on_dropped(reason, err); }, bytes_read);
    if (!m_connection) {
        // Connected but cannot be watched: an error drop (an outage), reported from the loop
        // as if the connection had failed at once, not from inside the Connector's call.
        int err = errno;
        m_w->open_failed = m_loop.defer(
            [this, err, bytes_read] { drop(DisconnectReason::error, err, bytes_read); });
        return;
    }
    if (m_options->recheck)
        arm_recheck();
}

void TcpClient::arm_recheck() {
    if (m_w->recheck_timer.start(*m_options->recheck))
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
    e.address = m_w->peer;
    e.reason = reason;
    if (err != 0)
        e.code = ErrorCode::sys(err);
    e.uptime = uptime;
    e.bytes_received = bytes;
    e.connection = static_cast<unsigned>(m_w->connections);
    return e;
}

void TcpClient::on_dropped(DisconnectReason reason, int err) {
    if (reason != DisconnectReason::tls_error)
        return drop(reason, err, m_connection->bytes_received());
    drop(reason, err, m_connection->bytes_received(), m_connection->end_code(),
         m_connection->end_message());
}

void TcpClient::drop(DisconnectReason reason, int err, uint64_t bytes, ErrorCode code,
                     std::string message) {
    TimePoint now = Clock::now();
    Event e = drop_event(reason, err, now - m_w->connected_at, bytes);
    if (code)
        e.code = code;
    e.message = std::move(message);
    m_connection.reset();
    m_w->recheck_timer.cancel();
    stop_recheck();
    // Only availability that lasted earns the initial delay again: a target that flaps keeps
    // its growing delay, so a server that accepts and dies is not hammered.
    if (m_w->available && now - m_w->changed >= m_options->stable_after)
        m_connector.reset_backoff();

    // A TLS truncation (EOF without close_notify) is how many servers close: also maybe
    // recycled. Other TLS errors are an outage at once.
    bool truncated = reason == DisconnectReason::tls_error && !code;
    if (reason == DisconnectReason::closed || reason == DisconnectReason::reset ||
        reason == DisconnectReason::tls_close || truncated) {
        // Maybe only recycled: reconnect at once (paced), and say which once we know.
        m_w->pending_drop = std::make_unique<Event>(std::move(e));
        m_w->drop_time = now;
        Duration gap = m_w->connected_at + m_options->recycle_min_gap - now;
        m_connector.reconnect_after(std::max(Duration::zero(), gap));
        return;
    }
    begin_outage(now); // the path died: an outage at once
    e.outage = true;
    ++m_w->disconnects;
    m_sink.on_event(e);
    m_connector.restart();
}

void TcpClient::start_recheck() {
    if (!m_connection || m_w->recheck)
        return;
    ConnectorOptions co = m_connector.options();
    co.max_rounds = 1;
    co.seed += 0x9e3779b97f4a7c15ULL * ++m_w->recheck_seq;
    m_w->recheck_failure.reset();
    if (!m_w->recheck_sink)
        m_w->recheck_sink = std::make_unique<RecheckSink>(*this);
    m_w->recheck = std::make_unique<Connector>(m_loop, m_resolver, m_connector.target(), m_index,
                                               co, *m_w->recheck_sink);
    m_w->recheck->start();
}

void TcpClient::stop_recheck() {
    if (!m_w->recheck)
        return;
    m_w->recheck->stop();
    // It may be the caller, further up the stack: freed from the loop.
    m_w->recheck_done.push_back(std::move(m_w->recheck));
    if (!m_w->reap.pending())
        m_w->reap = m_loop.defer([this] { m_w->recheck_done.clear(); });
}

void TcpClient::on_recheck_event(const Event& e) {
    if (e.type == EventType::warning)
        return m_sink.on_event(e);
    if (e.type == EventType::failed)
        m_w->recheck_failure = std::make_unique<Event>(e);
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
    const Event& why = m_w->recheck_failure ? *m_w->recheck_failure : e;
    if (why.error == ErrorClass::local) {
        // Our own want (descriptors, memory, --source) says nothing of the service: warn,
        // keep the held connection, and recheck again later.
        Event w;
        w.type = EventType::warning;
        w.target = m_index;
        w.error = why.error;
        w.code = why.code;
        w.message = "--recheck could not connect (" + why.message + "): not counted as an outage";
        m_sink.on_event(w);
        return arm_recheck();
    }
    // New connections fail while the old session lives: the service is not available.
    TimePoint now = Clock::now();
    Event drop = drop_event(DisconnectReason::recheck, 0, now - m_w->connected_at,
                            m_connection->bytes_received());
    drop.error = why.error;
    drop.code = why.code;
    drop.message = why.message;
    drop.received = why.received;
    drop.outage = true;
    ++m_w->disconnects;
    m_connection.reset();
    if (m_w->available && now - m_w->changed >= m_options->stable_after)
        m_connector.reset_backoff();
    begin_outage(now);
    m_sink.on_event(drop);
    m_connector.restart();
}

} // namespace tcpretry::core
