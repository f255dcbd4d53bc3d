// The --send/--expect Check on connected sockets the test owns (socketpairs and a loopback TCP
// pair): pass, mismatch, timeout, the bytes read, a request larger than the socket buffer, a
// reset, CRLF line ends (matched by core/expect), and a check dropped before it ended.
#include "core/check.hpp"

#include "core/address.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <variant>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

// A guard against a hang: the process dies loudly (SIGALRM) instead of stalling the suite.
struct Watchdog {
    explicit Watchdog(unsigned seconds) { alarm(seconds); }
    ~Watchdog() { alarm(0); }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
};

// Our end non-blocking (as the Connector hands it over), the peer's end blocking.
struct Pair {
    UniqueFd ours;
    UniqueFd peer;
};

Pair socket_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    Pair p{UniqueFd(fds[0]), UniqueFd(fds[1])};
    int flags = ::fcntl(p.peer.get(), F_GETFL);
    REQUIRE(::fcntl(p.peer.get(), F_SETFL, flags & ~O_NONBLOCK) == 0);
    return p;
}

// A connected loopback TCP pair, for what only TCP does (a reset).
Pair tcp_pair() {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener.get() >= 0);
    auto any = parse_numeric_address("127.0.0.1", 0);
    REQUIRE(any);
    REQUIRE(::bind(listener.get(), any->get(), any->length) == 0);
    REQUIRE(::listen(listener.get(), 1) == 0);
    auto server = local_address(listener.get());
    REQUIRE(server);
    Pair p;
    p.ours = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::connect(p.ours.get(), server->get(), server->length) == 0);
    REQUIRE(::fcntl(p.ours.get(), F_SETFL, ::fcntl(p.ours.get(), F_GETFL) | O_NONBLOCK) == 0);
    p.peer = UniqueFd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(p.peer.get() >= 0);
    return p;
}

Matcher compiled(const std::string& pattern) {
    auto r = Matcher::compile(pattern);
    const Matcher* m = std::get_if<Matcher>(&r);
    REQUIRE(m != nullptr);
    return *m;
}

CheckOptions options(std::string send, std::optional<std::string> expect, Duration timeout = 2s) {
    CheckOptions o;
    o.send = std::move(send);
    if (expect)
        o.expect = compiled(*expect);
    o.timeout = timeout;
    return o;
}

void write_all(int fd, const std::string& data) {
    REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(data.size()));
}

std::string read_some(int fd) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE(n >= 0);
    return std::string(buf, static_cast<std::size_t>(n));
}

// One check on `ours`, run until it reports (or the loop has nothing left).
struct Run {
    Loop loop;
    std::unique_ptr<Check> check;
    std::optional<CheckOutcome> outcome;
    int reports = 0;
    bool in_start = false;
    bool reported_inside_start = false;

    void start(const CheckOptions& o, UniqueFd fd) {
        check = make_check(loop, o);
        REQUIRE(check);
        in_start = true;
        check->start(std::move(fd), [this](CheckOutcome out) {
            ++reports;
            reported_inside_start = in_start;
            outcome = std::move(out);
            check.reset(); // the owner may drop the Check from inside its callback
        });
        in_start = false;
    }
    void run() {
        Watchdog dog(20);
        loop.run();
    }
};

} // namespace

TEST_CASE("Check: --send alone passes once the request is sent") {
    Pair p = socket_pair();
    const CheckOptions o = options("PING\r\n", std::nullopt);
    Run r;
    r.start(o, std::move(p.ours));
    REQUIRE(r.outcome);
    CHECK(r.reported_inside_start); // nothing to wait for
    CHECK(r.outcome->passed);
    CHECK(r.outcome->bytes_read == 0);
    REQUIRE(r.outcome->channel);
    CHECK(read_some(p.peer.get()) == "PING\r\n");
    CHECK(r.reports == 1);
}

TEST_CASE("Check: --expect matches the reply; the socket comes back with the bytes read") {
    Pair p = socket_pair();
    const CheckOptions o = options("PING\r\n", "^[+]PONG$"); // $ before CRLF: core/expect
    Run r;
    r.start(o, std::move(p.ours));
    CHECK_FALSE(r.outcome);
    CHECK(read_some(p.peer.get()) == "PING\r\n");
    write_all(p.peer.get(), "+PONG\r\n");
    r.run();
    REQUIRE(r.outcome);
    CHECK_FALSE(r.reported_inside_start);
    CHECK(r.outcome->passed);
    CHECK(r.outcome->bytes_read == 7);
    CHECK(r.outcome->received.empty());
    REQUIRE(r.outcome->channel);
    // Still connected: what the peer sends next is for the new owner.
    write_all(p.peer.get(), "more");
    CHECK(read_some(r.outcome->channel.fd()) == "more");
    CHECK(r.reports == 1);
}

TEST_CASE("Check: a reply that arrives in pieces is matched as a whole") {
    Pair p = socket_pair();
    const CheckOptions o = options("", "^SSH-2\\.0-.*$");
    Run r;
    r.start(o, std::move(p.ours));
    write_all(p.peer.get(), "SS");
    Timer rest(r.loop, [&] { write_all(p.peer.get(), "H-2.0-test\r\n"); });
    REQUIRE(rest.start(30ms));
    r.run();
    REQUIRE(r.outcome);
    CHECK(r.outcome->passed);
    CHECK(r.outcome->bytes_read == 14);
}

TEST_CASE("Check: the peer closes before a match: expect_mismatch with what it sent") {
    Pair p = socket_pair();
    const CheckOptions o = options("", "^OK");
    Run r;
    r.start(o, std::move(p.ours));
    write_all(p.peer.get(), "-ERR no\r\n");
    p.peer.reset();
    r.run();
    REQUIRE(r.outcome);
    CHECK_FALSE(r.outcome->passed);
    CHECK_FALSE(r.outcome->channel);
    CHECK(r.outcome->error == ErrorClass::expect_mismatch);
    CHECK(r.outcome->message == "connection closed before a reply matched");
    CHECK(r.outcome->received == "-ERR no\r\n");
    CHECK(r.outcome->bytes_read == 9);
}

TEST_CASE("Check: a match just before the peer closes passes") {
    Pair p = socket_pair();
    const CheckOptions o = options("", "^OK$");
    Run r;
    r.start(o, std::move(p.ours));
    write_all(p.peer.get(), "OK\r\n");
    p.peer.reset();
    r.run();
    REQUIRE(r.outcome);
    CHECK(r.outcome->passed);
}

TEST_CASE("Check: timeouts") {
    Pair p = socket_pair();
    SUBCASE("no reply at all: expect_timeout") {
        const CheckOptions o = options("", "^OK", 100ms);
        Run r;
        auto started = Clock::now();
        r.start(o, std::move(p.ours));
        r.run();
        REQUIRE(r.outcome);
        CHECK(Clock::now() - started >= 100ms);
        CHECK(r.outcome->error == ErrorClass::expect_timeout);
        CHECK(r.outcome->message == "no reply within 0.1 s");
        CHECK(r.outcome->received.empty());
        CHECK(r.outcome->phase == Phase::check); // not the connect, not TLS
        CHECK_FALSE(r.outcome->tls_time);
    }
    SUBCASE("a reply that does not match: expect_mismatch, with the reply") {
        const CheckOptions o = options("", "^OK", 100ms);
        Run r;
        r.start(o, std::move(p.ours));
        write_all(p.peer.get(), "HELLO");
        r.run();
        REQUIRE(r.outcome);
        CHECK(r.outcome->error == ErrorClass::expect_mismatch);
        CHECK(r.outcome->message == "reply did not match within 0.1 s");
        CHECK(r.outcome->received == "HELLO");
        CHECK(r.outcome->bytes_read == 5);
    }
}

TEST_CASE("Check: no match in the first k_expect_limit bytes is a mismatch at once") {
    Pair p = socket_pair();
    const CheckOptions o = options("", "^OK", 10s);
    Run r;
    r.start(o, std::move(p.ours));
    write_all(p.peer.get(), std::string(k_expect_limit + 100, 'x'));
    auto started = Clock::now();
    r.run();
    REQUIRE(r.outcome);
    CHECK(Clock::now() - started < 5s); // not the timeout
    CHECK(r.outcome->error == ErrorClass::expect_mismatch);
    CHECK(r.outcome->message == "no match in the first 4096 bytes");
    CHECK(r.outcome->received.size() == k_expect_limit);
}

TEST_CASE("Check: a request larger than the socket buffer is sent as the peer reads") {
    Pair p = socket_pair();
    const std::string big(1 << 20, 'r');
    const CheckOptions o = options(big, std::nullopt);
    Run r;
    r.start(o, std::move(p.ours));
    CHECK_FALSE(r.outcome); // the buffer filled up
    std::size_t got = 0;
    Timer drain(r.loop, [&] {
        char buf[65536];
        ssize_t n = ::recv(p.peer.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0)
            got += static_cast<std::size_t>(n);
        if (got < big.size())
            REQUIRE(drain.start(1ms));
    });
    REQUIRE(drain.start(1ms));
    r.run();
    REQUIRE(r.outcome);
    CHECK(r.outcome->passed);
    CHECK(got == big.size());
}

TEST_CASE("Check: a reset connection fails with the errno's class") {
    Pair p = tcp_pair();
    const CheckOptions o = options("", "^OK");
    Run r;
    r.start(o, std::move(p.ours));
    linger lg{1, 0};
    REQUIRE(::setsockopt(p.peer.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    p.peer.reset(); // RST
    r.run();
    REQUIRE(r.outcome);
    CHECK(r.outcome->error == ErrorClass::reset);
    CHECK(error_code_name(r.outcome->code) == "ECONNRESET");
}

TEST_CASE("Check: sending to a peer that is gone fails, without SIGPIPE") {
    Pair p = socket_pair();
    p.peer.reset();
    const CheckOptions o = options("PING\r\n", "^OK");
    Run r;
    r.start(o, std::move(p.ours));
    REQUIRE(r.outcome);
    CHECK(r.outcome->error == ErrorClass::reset);
    CHECK(error_code_name(r.outcome->code) == "EPIPE");
}

TEST_CASE("Check: dropped before it ends, it reports nothing and closes the socket") {
    Pair p = socket_pair();
    const CheckOptions o = options("", "^OK", 10s);
    Run r;
    r.start(o, std::move(p.ours));
    Timer drop(r.loop, [&] { r.check.reset(); });
    REQUIRE(drop.start(20ms));
    auto started = Clock::now();
    r.run(); // returns once the check's events and timer are gone
    CHECK(Clock::now() - started < 5s);
    CHECK_FALSE(r.outcome);
    CHECK(read_some(p.peer.get()).empty()); // EOF: our end was closed
}

TEST_CASE("seconds_text") {
    CHECK(seconds_text(3s) == "3 s");
    CHECK(seconds_text(250ms) == "0.25 s");
    CHECK(seconds_text(100ms) == "0.1 s");
}
