// The Connection a watch holds, on real loopback TCP pairs: how it ended (closed, reset, and
// the errno sorting behind timeout), bytes counted, keepalive applied, close()'s half-close
// and linger, and open() failing as a value. The keepalive_settings table lives here too.
#include "core/connection.hpp"

#include "support.hpp"

#include <cerrno>
#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using tcpretry::test::connected_v4_pair;
using tcpretry::test::open_fd_count;
using tcpretry::test::reset_close;
using tcpretry::test::run_until;
using tcpretry::test::TcpPair;
using tcpretry::test::Watchdog;

namespace {

struct Ending {
    DisconnectReason reason;
    int err;
};

int int_option(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(::getsockopt(fd, level, name, &v, &len) == 0);
    return v;
}

void send_all(int fd, const std::string& data) {
    REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(data.size()));
}

} // namespace

TEST_CASE("keepalive_settings: DUR/3 whole seconds (at least 1), 2 probes, user timeout DUR") {
    struct Row {
        Duration dead_after;
        int idle_s;
        int interval_s;
        int count;
        unsigned user_timeout_ms;
    };
    const std::vector<Row> rows{
        {10s, 3, 3, 2, 10000},   {2s, 1, 1, 2, 2000},          {7s, 2, 2, 2, 7000},
        {3s, 1, 1, 2, 3000},     {6s, 2, 2, 2, 6000},          {2500ms, 1, 1, 2, 2500},
        {60s, 20, 20, 2, 60000}, {1h, 1200, 1200, 2, 3600000},
    };
    for (const auto& row : rows) {
        CAPTURE(row.dead_after.count());
        KeepaliveSettings k = keepalive_settings(row.dead_after);
        CHECK(k.idle_s == row.idle_s);
        CHECK(k.interval_s == row.interval_s);
        CHECK(k.count == row.count);
        CHECK(k.user_timeout_ms == row.user_timeout_ms);
    }
}

TEST_CASE("k_close_linger is 200 ms") {
    CHECK(k_close_linger == 200ms);
}

TEST_CASE("error_reason: how an error on an established connection is named") {
    CHECK(error_reason(ECONNRESET) == DisconnectReason::reset);
    CHECK(error_reason(EPIPE) == DisconnectReason::reset);
    CHECK(error_reason(ECONNABORTED) == DisconnectReason::reset);
    CHECK(error_reason(ETIMEDOUT) == DisconnectReason::timeout); // keepalive, user timeout
    CHECK(error_reason(EHOSTUNREACH) == DisconnectReason::error);
    CHECK(error_reason(ENETDOWN) == DisconnectReason::error);
    CHECK(error_reason(0) == DisconnectReason::error);
}

TEST_CASE("Connection: the peer closes: closed, with every byte counted") {
    Watchdog dog(10);
    const std::size_t fds_at_start = open_fd_count();
    {
        Loop loop;
        TcpPair pair = connected_v4_pair();
        std::optional<Ending> ended;
        auto c = Connection::open(
            loop, std::move(pair.client), Duration::zero(),
            [&](DisconnectReason r, int err) {
                ended = Ending{r, err};
            },
            7);
        REQUIRE(c);
        CHECK(c->bytes_received() == 7); // what the check read is counted
        send_all(pair.server.get(), std::string(3000, 'x'));
        CHECK(run_until(loop, [&] { return c->bytes_received() == 3007; }));
        CHECK_FALSE(ended);
        send_all(pair.server.get(), "bye");
        pair.server.reset(); // FIN
        REQUIRE(run_until(loop, [&] { return ended.has_value(); }));
        CHECK(ended->reason == DisconnectReason::closed);
        CHECK(ended->err == 0);
        CHECK(c->bytes_received() == 3010); // what came with the FIN too
    }
    CHECK(open_fd_count() == fds_at_start);
}

TEST_CASE("Connection: the peer resets: reset, ECONNRESET") {
    Watchdog dog(10);
    Loop loop;
    TcpPair pair = connected_v4_pair();
    std::optional<Ending> ended;
    auto c = Connection::open(loop, std::move(pair.client), Duration::zero(),
                              [&](DisconnectReason r, int err) {
                                  ended = Ending{r, err};
                              });
    REQUIRE(c);
    reset_close(pair.server);
    REQUIRE(run_until(loop, [&] { return ended.has_value(); }));
    CHECK(ended->reason == DisconnectReason::reset);
    CHECK(ended->err == ECONNRESET);
}

TEST_CASE("Connection: the Closed callback may destroy the Connection") {
    Watchdog dog(10);
    Loop loop;
    TcpPair pair = connected_v4_pair();
    std::unique_ptr<Connection> c;
    int calls = 0;
    c = Connection::open(loop, std::move(pair.client), Duration::zero(),
                         [&](DisconnectReason, int) {
                             ++calls;
                             c.reset();
                         });
    REQUIRE(c);
    pair.server.reset();
    REQUIRE(run_until(loop, [&] { return c == nullptr; }));
    tcpretry::test::run_for(loop, 20ms);
    CHECK(calls == 1);
}

TEST_CASE("Connection: keepalive DUR sets SO_KEEPALIVE, the probes and TCP_USER_TIMEOUT") {
    Loop loop;
    SUBCASE("9 s") {
        TcpPair pair = connected_v4_pair();
        int fd = pair.client.get(); // the Connection owns it; still readable here
        auto c = Connection::open(loop, std::move(pair.client), 9s, [](DisconnectReason, int) {});
        REQUIRE(c);
        CHECK(int_option(fd, SOL_SOCKET, SO_KEEPALIVE) == 1);
        CHECK(int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 3);
        CHECK(int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 3);
        CHECK(int_option(fd, IPPROTO_TCP, TCP_KEEPCNT) == 2);
        CHECK(int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 9000);
    }
    SUBCASE("zero: off") {
        TcpPair pair = connected_v4_pair();
        int fd = pair.client.get();
        auto c = Connection::open(loop, std::move(pair.client), Duration::zero(),
                                  [](DisconnectReason, int) {});
        REQUIRE(c);
        CHECK(int_option(fd, SOL_SOCKET, SO_KEEPALIVE) == 0);
        CHECK(int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 0);
    }
}

TEST_CASE("Connection::close: half-closes, and ends when the peer answers with its EOF") {
    Watchdog dog(10);
    const std::size_t fds_at_start = open_fd_count();
    {
        Loop loop;
        TcpPair pair = connected_v4_pair();
        int closed_calls = 0;
        auto c = Connection::open(loop, std::move(pair.client), Duration::zero(),
                                  [&](DisconnectReason, int) { ++closed_calls; });
        REQUIRE(c);
        bool done = false;
        TimePoint started = Clock::now();
        c->close([&] { done = true; });
        CHECK_FALSE(done);
        // The peer sees our FIN while our side still reads: a half-close.
        char buf[16];
        CHECK(::recv(pair.server.get(), buf, sizeof buf, 0) == 0);
        send_all(pair.server.get(), "late");
        pair.server.reset();
        REQUIRE(run_until(loop, [&] { return done; }));
        CHECK(Clock::now() - started < k_close_linger); // did not wait for the linger
        c.reset();
        tcpretry::test::run_for(loop, 20ms);
        CHECK(closed_calls == 0); // closed by us: no Closed callback
    }
    CHECK(open_fd_count() == fds_at_start);
}

TEST_CASE("Connection::close: a peer that never closes is given k_close_linger") {
    Watchdog dog(10);
    const std::size_t fds_at_start = open_fd_count();
    {
        Loop loop;
        TcpPair pair = connected_v4_pair();
        int closed_calls = 0;
        auto c = Connection::open(loop, std::move(pair.client), Duration::zero(),
                                  [&](DisconnectReason, int) { ++closed_calls; });
        REQUIRE(c);
        bool done = false;
        TimePoint started = Clock::now();
        c->close([&] { done = true; });
        REQUIRE(run_until(loop, [&] { return done; }));
        Duration took = Clock::now() - started;
        CHECK(took >= k_close_linger);
        CHECK(took < k_close_linger + 2s);
        CHECK(closed_calls == 0);
        // Our socket is closed now: the peer reads the FIN and nothing else.
        char buf[16];
        CHECK(::recv(pair.server.get(), buf, sizeof buf, 0) == 0);
        c.reset();
    }
    CHECK(open_fd_count() == fds_at_start);
}

TEST_CASE("Connection::open: an fd libevent cannot watch is an error value, and is closed") {
    Loop loop;
    const std::size_t fds_at_start = open_fd_count();
    // epoll refuses regular files (EPERM): the bufferevent cannot be enabled.
    UniqueFd file(::memfd_create("not-a-socket", MFD_CLOEXEC));
    REQUIRE(file.get() >= 0);
    event_set_log_callback([](int, const char*) {}); // libevent warns about the EPERM
    errno = 0;
    auto c =
        Connection::open(loop, std::move(file), Duration::zero(), [](DisconnectReason, int) {});
    int err = errno;
    event_set_log_callback(nullptr);
    CHECK(c == nullptr);
    CHECK(err == EPERM);
    tcpretry::test::run_for(loop, 1ms); // libevent frees a bufferevent from the loop
    CHECK(open_fd_count() == fds_at_start);
}
