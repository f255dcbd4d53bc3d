// The TcpClient against a loopback server run by the same loop: wait mode hands the
// connection over; watch mode tells a recycled connection from an outage, rechecks, stops
// without a word, and keeps the statistics a summary reads.
#include "core/tcp_client.hpp"

#include "support.hpp"

#include <cerrno>
#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using tcpretry::test::bound_v4_socket;
using tcpretry::test::local_port_of;
using tcpretry::test::loopback_target;
using tcpretry::test::RecordingSink;
using tcpretry::test::run_for;
using tcpretry::test::run_until;
using tcpretry::test::Watchdog;

namespace {

// A TCP server on 127.0.0.1 served from the test's loop: accepts everything and keeps it.
class Server {
  public:
    explicit Server(Loop& loop) : m_loop(loop) { listen(0); }

    uint16_t port() const { return m_port; }
    std::size_t accepted() const { return m_accepted; }
    std::vector<UniqueFd>& open() { return m_open; }

    // Sends `data` on every open connection, then closes them (FIN).
    void close_all(const std::string& data = {}) {
        for (auto& fd : m_open)
            if (!data.empty())
                REQUIRE(::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL) ==
                        static_cast<ssize_t>(data.size()));
        m_open.clear();
    }
    // Connects are refused from now on; open connections stay.
    void stop_listening() {
        m_watch.reset();
        m_listener.reset();
    }
    // Listens again on the same port.
    void relisten() { listen(m_port); }

  private:
    void listen(uint16_t port) {
        m_listener = bound_v4_socket(port);
        REQUIRE(::listen(m_listener.get(), 64) == 0);
        m_port = local_port_of(m_listener.get());
        m_watch.reset(event_new(m_loop.base(), m_listener.get(), EV_READ | EV_PERSIST,
                                &Server::on_accept, this));
        REQUIRE(m_watch);
        REQUIRE(event_add(m_watch.get(), nullptr) == 0);
    }
    static void on_accept(evutil_socket_t, short, void* arg) noexcept {
        static_cast<Server*>(arg)->accept_one();
    }
    void accept_one() {
        UniqueFd fd(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!fd)
            return;
        ++m_accepted;
        m_open.push_back(std::move(fd));
    }

    Loop& m_loop;
    UniqueFd m_listener;
    EventPtr m_watch;
    uint16_t m_port = 0;
    std::size_t m_accepted = 0;
    std::vector<UniqueFd> m_open;
};

ConnectorOptions quick_connector(unsigned max_rounds = 0) {
    ConnectorOptions o;
    o.connect_timeout = 2s;
    o.max_rounds = max_rounds;
    o.backoff.initial = 20ms;
    o.backoff.max = 20ms;
    o.backoff.jitter = 0;
    o.seed = 1;
    return o;
}

ClientOptions watching() {
    ClientOptions o;
    o.hold = true;
    o.keepalive = Duration::zero();
    o.recycle_min_gap = 10ms;
    return o;
}

// The events without the per-address ones (attempt, failed): what a watch's story is.
std::vector<EventType> story(const RecordingSink& sink) {
    std::vector<EventType> out;
    for (EventType t : sink.types())
        if (t != EventType::attempt && t != EventType::failed)
            out.push_back(t);
    return out;
}

using Types = std::vector<EventType>;

// Reads what is waiting on a server's end: -1 when nothing is (EAGAIN), 0 at EOF.
ssize_t peek(const UniqueFd& fd) {
    char buf[64];
    return ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
}

} // namespace

TEST_CASE("TcpClient, wait mode: the connection is reported and let go") {
    Watchdog dog(20);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    Server server(loop);
    RecordingSink sink;
    TcpClient client(loop, resolver, loopback_target(server.port()), 2, quick_connector(3),
                     ClientOptions{}, sink);
    CHECK_FALSE(client.connected());
    client.start();
    REQUIRE(run_until(loop, [&] { return sink.count(EventType::connected) == 1; }));
    CHECK(client.connected());
    CHECK(client.connector().state() == Connector::State::connected);
    CHECK(sink.types() == Types{EventType::attempt, EventType::connected});
    CHECK(sink[1].target == 2);
    CHECK(sink[1].connection == 1);
    // Not held: the server sees it closed.
    REQUIRE(run_until(loop, [&] { return server.accepted() == 1; }));
    REQUIRE(run_until(loop, [&] { return peek(server.open()[0]) == 0; }));

    bool done = false;
    client.stop([&] { done = true; });
    CHECK(done); // nothing to close: at once
    CHECK(sink.size() == 2);
}

TEST_CASE("TcpClient, watch mode: a recycled connection is reconnected, not an outage") {
    Watchdog dog(20);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    Server server(loop);
    RecordingSink sink;
    TcpClient client(loop, resolver, loopback_target(server.port()), 0, quick_connector(),
                     watching(), sink);
    client.start();
    REQUIRE(run_until(loop, [&] { return client.connected() && server.accepted() == 1; }));
    run_for(loop, 20ms); // some time up, so uptime is not zero

    server.close_all("hello"); // the server recycles it, with a parting message
    REQUIRE(run_until(loop, [&] { return sink.count(EventType::connected) == 2; }));
    CHECK(story(sink) ==
          Types{EventType::connected, EventType::disconnected, EventType::connected});
    const Event drop = sink.of(EventType::disconnected).at(0);
    CHECK(drop.reason == DisconnectReason::closed);
    CHECK_FALSE(drop.outage); // the reconnect succeeded: recycled
    CHECK(drop.connection == 1);
    CHECK(drop.bytes_received == 5);
    CHECK(drop.uptime >= 20ms);
    REQUIRE(drop.address);
    CHECK(drop.address->port == server.port());
    CHECK(sink.of(EventType::connected).at(1).connection == 2);
    CHECK(client.connected());

    WatchStats s = client.stats();
    CHECK(s.connections == 2);
    CHECK(s.disconnects == 1);
    CHECK(s.recycled == 1);
    CHECK(s.outages == 0);
    CHECK(s.connected);
    CHECK(s.up >= 20ms);
    CHECK(s.elapsed >= s.up);
    CHECK(s.longest_up >= 20ms);

    bool done = false;
    client.stop([&] { done = true; });
    server.close_all(); // answers our half-close with its EOF
    REQUIRE(run_until(loop, [&] { return done; }));
}

TEST_CASE("TcpClient, watch mode: the server gone is an outage, retried until it is back") {
    Watchdog dog(20);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    Server server(loop);
    RecordingSink sink;
    TcpClient client(loop, resolver, loopback_target(server.port()), 0, quick_connector(),
                     watching(), sink);
    client.start();
    REQUIRE(run_until(loop, [&] { return client.connected() && server.accepted() == 1; }));

    server.stop_listening();
    server.close_all();
    REQUIRE(run_until(loop, [&] { return sink.count(EventType::retry) >= 2; }));
    CHECK_FALSE(client.connected());
    // The drop is told first, then what its reconnect said (held back until it was decided).
    const Types all = sink.types();
    const Types head(all.begin(), all.begin() + 6);
    CHECK(head == Types{EventType::attempt, EventType::connected, EventType::disconnected,
                        EventType::attempt, EventType::failed, EventType::retry});
    const Event drop = sink.of(EventType::disconnected).at(0);
    CHECK(drop.reason == DisconnectReason::closed);
    CHECK(drop.outage);
    const Event failed = sink.of(EventType::failed).at(0);
    CHECK(failed.error == ErrorClass::refused);
    WatchStats s = client.stats();
    CHECK(s.outages == 1);
    CHECK(s.recycled == 0);
    CHECK(s.disconnects == 1);
    CHECK_FALSE(s.connected);

    server.relisten();
    REQUIRE(run_until(loop, [&] { return sink.count(EventType::connected) == 2; }));
    CHECK(client.connected());
    CHECK(sink.of(EventType::connected).at(1).connection == 2);
    s = client.stats();
    CHECK(s.connections == 2);
    CHECK(s.outages == 1);
    CHECK(s.longest_down > Duration::zero());

    bool done = false;
    client.stop([&] { done = true; });
    server.close_all();
    REQUIRE(run_until(loop, [&] { return done; }));
}

TEST_CASE("TcpClient, watch mode: --recheck: passing is silent, failing is an outage") {
    Watchdog dog(20);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    Server server(loop);
    RecordingSink sink;
    ClientOptions options = watching();
    options.recheck = 30ms;
    TcpClient client(loop, resolver, loopback_target(server.port()), 0, quick_connector(), options,
                     sink);
    client.start();
    REQUIRE(run_until(loop, [&] { return client.connected() && server.accepted() == 1; }));

    // Fresh connects beside the held one succeed: nothing to say.
    REQUIRE(run_until(loop, [&] { return server.accepted() >= 3; }));
    CHECK(sink.types() == Types{EventType::attempt, EventType::connected});

    // New connections are refused while the held one lives: the service is not available.
    server.stop_listening();
    REQUIRE(run_until(loop, [&] { return sink.count(EventType::disconnected) == 1; }));
    const Event drop = sink.of(EventType::disconnected).at(0);
    CHECK(drop.reason == DisconnectReason::recheck);
    CHECK(drop.outage);
    CHECK(drop.error == ErrorClass::refused); // why the recheck failed
    CHECK(drop.code.value == ECONNREFUSED);
    CHECK(drop.connection == 1);
    CHECK_FALSE(client.connected());
    CHECK(client.stats().outages == 1);
    // We closed the held connection ourselves: the server sees its EOF.
    REQUIRE(run_until(loop, [&] { return peek(server.open()[0]) == 0; }));
    // And the client retries.
    REQUIRE(run_until(loop, [&] { return sink.count(EventType::retry) >= 1; }));

    bool done = false;
    client.stop([&] { done = true; });
    CHECK(done);
}

TEST_CASE("TcpClient::stop: nothing is reported after it") {
    Watchdog dog(20);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    Server server(loop);
    RecordingSink sink;
    ClientOptions options = watching();

    SUBCASE("a held connection: half-closed, done once the server answers") {
        TcpClient client(loop, resolver, loopback_target(server.port()), 0, quick_connector(),
                         options, sink);
        client.start();
        REQUIRE(run_until(loop, [&] { return client.connected() && server.accepted() == 1; }));
        const std::size_t before = sink.size();
        bool done = false;
        client.stop([&] { done = true; });
        CHECK_FALSE(done); // waits for the server's EOF, up to k_close_linger
        REQUIRE(run_until(loop, [&] { return peek(server.open()[0]) == 0; }));
        server.close_all();
        REQUIRE(run_until(loop, [&] { return done; }));
        run_for(loop, 50ms);
        CHECK(sink.size() == before);
        CHECK(client.stats().disconnects == 0);
    }
    SUBCASE("a drop whose reconnect is undecided is not reported") {
        options.recycle_min_gap = 2s; // the reconnect waits
        TcpClient client(loop, resolver, loopback_target(server.port()), 0, quick_connector(),
                         options, sink);
        client.start();
        REQUIRE(run_until(loop, [&] { return client.connected() && server.accepted() == 1; }));
        const std::size_t before = sink.size();
        server.close_all();
        run_for(loop, 100ms); // the drop was seen; its reconnect is 2 s away
        CHECK(sink.size() == before);
        bool done = false;
        client.stop([&] { done = true; });
        CHECK(done);
        server.stop_listening();
        loop.run(); // nothing left pending (the retry timer was cancelled): returns
        CHECK(sink.size() == before);
        CHECK(client.stats().disconnects == 0);
        CHECK(server.accepted() == 1);
    }
    SUBCASE("while retrying a refused port") {
        server.stop_listening();
        TcpClient client(loop, resolver, loopback_target(server.port()), 0, quick_connector(),
                         options, sink);
        client.start();
        REQUIRE(run_until(loop, [&] { return sink.count(EventType::retry) == 2; }));
        const std::size_t before = sink.size();
        bool done = false;
        client.stop([&] { done = true; });
        CHECK(done);
        loop.run();
        CHECK(sink.size() == before);
        CHECK(client.connector().state() == Connector::State::stopped);
    }
}

TEST_CASE(
    "TcpClient, watch mode: stopped by the sink while it hears `connected`, it says no more") {
    Watchdog dog(20);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    Server server(loop);
    RecordingSink sink;
    TcpClient client(loop, resolver, loopback_target(server.port()), 0, quick_connector(),
                     watching(), sink);
    bool done = false;
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::connected)
            client.stop([&] { done = true; });
    };
    client.start();
    REQUIRE(run_until(loop, [&] { return sink.count(EventType::connected) == 1; }));
    CHECK(done);
    // The connection is not held: the server sees it closed, and nothing follows.
    REQUIRE(run_until(loop, [&] { return server.accepted() == 1; }));
    REQUIRE(run_until(loop, [&] { return peek(server.open()[0]) == 0; }));
    server.close_all();
    run_for(loop, 100ms);
    CHECK(sink.types() == Types{EventType::attempt, EventType::connected});
}
