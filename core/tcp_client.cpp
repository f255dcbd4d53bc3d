#include "core/tcp_client.hpp"

#include <algorithm>

namespace tcpretry::core {

TcpClient::TcpClient(Loop& loop, Resolver& resolver, Target target, std::size_t index,
                     ConnectorOptions connector, ClientOptions options, EventSink& sink)
    : m_loop(loop), m_index(index), m_options(options), m_sink(sink),
      m_connector(loop, resolver, std::move(target), index, std::move(connector), *this) {
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
    if (!m_connection)
        return done();
    // Closed by us: no `disconnected` event. The stats keep the time up to now.
    TimePoint now = Clock::now();
    m_up += now - m_changed;
    m_longest_up = std::max(m_longest_up, now - m_changed);
    m_changed = now;
    m_connection->close([this, done = std::move(done)] {
        m_connection.reset();
        done();
    });
}

bool TcpClient::connected() const {
    if (m_options.hold)
        return m_connection != nullptr;
    return m_connector.state() == Connector::State::connected;
}

WatchStats TcpClient::stats() const {
    TimePoint now = Clock::now();
    WatchStats s;
    s.connections = m_connections;
    s.disconnects = m_disconnects;
    s.connected = m_connection != nullptr;
    s.elapsed = now - m_started;
    s.up = m_up;
    s.longest_up = m_longest_up;
    s.longest_down = m_longest_down;
    if (m_connection && m_connector.state() == Connector::State::connected) {
        s.up += now - m_changed;
        s.longest_up = std::max(s.longest_up, now - m_changed);
    } else if (!m_connection) {
        s.longest_down = std::max(s.longest_down, now - m_changed);
    }
    return s;
}

void TcpClient::on_event(const Event& e) {
    if (e.type != EventType::connected)
        return m_sink.on_event(e);
    // Number the connection and close the down period before anyone hears of it.
    TimePoint now = Clock::now();
    m_longest_down = std::max(m_longest_down, now - m_changed);
    m_changed = now;
    Event numbered = e;
    numbered.connection = ++m_connections;
    m_peer = e.address;
    m_sink.on_event(numbered);
}

void TcpClient::on_connected(UniqueFd fd, uint64_t bytes_read) {
    if (!m_options.hold)
        return; // wait mode: the fd closes here, gracefully
    m_connection = std::make_unique<Connection>(
        m_loop, std::move(fd), m_options.keepalive,
        [this](DisconnectReason reason, int err) { on_dropped(reason, err); }, bytes_read);
}

void TcpClient::on_dropped(DisconnectReason reason, int err) {
    TimePoint now = Clock::now();
    Duration uptime = now - m_changed;
    m_up += uptime;
    m_longest_up = std::max(m_longest_up, uptime);
    m_changed = now;
    ++m_disconnects;

    Event e;
    e.type = EventType::disconnected;
    e.target = m_index;
    e.attempt = m_connector.rounds();
    e.address = m_peer;
    e.reason = reason;
    if (err != 0)
        e.code = ErrorCode::sys(err);
    e.uptime = uptime;
    e.bytes_received = m_connection->bytes_received();
    e.connection = m_connections;
    m_connection.reset();

    // Only a connection that stayed up long enough earns the initial delay again; after a
    // short one the delay keeps growing, so a server that accepts and drops is not hammered.
    if (uptime >= m_options.stable_after)
        m_connector.reset_backoff();
    m_sink.on_event(e);
    m_connector.restart();
}

} // namespace tcpretry::core
