// The Connector against loopback sockets the test owns: refused rounds and retries, a
// cancelled retry, a connection, a blackholed endpoint, and names through a stub DNS server.
// Nothing leaves 127.0.0.1 / ::1.
#include "core/connector.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <doctest/doctest.h>
#include <event2/util.h>
#include <filesystem>
#include <functional>
#include <map>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <variant>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;

namespace {

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

// A guard against a hang: the process dies loudly (SIGALRM) instead of stalling the suite.
struct Watchdog {
    explicit Watchdog(unsigned seconds) { alarm(seconds); }
    ~Watchdog() { alarm(0); }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
};

SockAddr loopback(Family family, uint16_t port = 0) {
    auto a = parse_numeric_address(family == Family::ipv6 ? "::1" : "127.0.0.1", port);
    REQUIRE(a);
    return *a;
}

uint16_t local_port(int fd) {
    SockAddr a;
    a.length = sizeof a.storage;
    REQUIRE(::getsockname(fd, a.get(), &a.length) == 0);
    return a.port();
}

// A TCP socket bound on loopback. Not listening, it keeps a closed port reserved: connects
// are refused and no other process can take the port meanwhile.
UniqueFd bound_socket(Family family) {
    UniqueFd fd(
        ::socket(family == Family::ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    SockAddr a = loopback(family);
    REQUIRE(::bind(fd.get(), a.get(), a.length) == 0);
    return fd;
}

UniqueFd listening_socket(Family family, int backlog = 16) {
    UniqueFd fd = bound_socket(family);
    REQUIRE(::listen(fd.get(), backlog) == 0);
    return fd;
}

Target target(const std::string& text) {
    auto r = parse_target(text);
    REQUIRE(std::holds_alternative<Target>(r));
    return std::get<Target>(r);
}

std::string v4_target(uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

struct Recorded {
    Event event;
    TimePoint at;
};

class RecordingSink : public EventSink {
  public:
    void on_event(const Event& e) override {
        m_events.push_back({e, Clock::now()});
        if (hook)
            hook(e);
    }
    const std::vector<Recorded>& recorded() const { return m_events; }
    std::vector<EventType> types() const {
        std::vector<EventType> out;
        for (const auto& r : m_events)
            out.push_back(r.event.type);
        return out;
    }
    const Event& operator[](std::size_t i) const { return m_events.at(i).event; }
    std::size_t size() const { return m_events.size(); }

    std::function<void(const Event&)> hook;

  private:
    std::vector<Recorded> m_events;
};

ConnectorOptions fast_options(unsigned max_rounds, Duration initial = 10ms) {
    ConnectorOptions o;
    o.max_rounds = max_rounds;
    o.connect_timeout = 2s;
    o.backoff.initial = initial;
    o.backoff.max = initial;
    o.backoff.multiplier = 2;
    o.backoff.jitter = 0;
    o.seed = 1;
    return o;
}

using Types = std::vector<EventType>;

void check_refused(const Event& e, unsigned attempt, uint16_t port, std::size_t index) {
    CHECK(e.type == EventType::failed);
    CHECK(e.target == index);
    CHECK(e.attempt == attempt);
    REQUIRE(e.address);
    CHECK(e.address->address == "127.0.0.1");
    CHECK(e.address->port == port);
    CHECK(e.error == ErrorClass::refused);
    CHECK(e.code.domain == ErrorCode::Domain::sys);
    CHECK(e.code.value == ECONNREFUSED);
    CHECK(error_code_name(e.code) == "ECONNREFUSED");
    CHECK(e.message == "connection refused");
    CHECK(e.duration >= Duration::zero());
    CHECK(e.duration < 2s);
}

// A stub DNS server on a loopback UDP socket, served from the same event loop. It answers
// each question type as configured: addresses, NODATA (no answers), or NXDOMAIN.
class StubDns {
  public:
    struct Answer {
        int rcode = 0;                      // 3 = NXDOMAIN
        std::vector<std::string> addresses; // of the question's family
    };

    StubDns(Loop& loop, std::map<uint16_t, Answer> answers) : m_answers(std::move(answers)) {
        m_fd = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        REQUIRE(m_fd.get() >= 0);
        SockAddr a = loopback(Family::ipv4);
        REQUIRE(::bind(m_fd.get(), a.get(), a.length) == 0);
        m_port = local_port(m_fd.get());
        m_event.reset(
            event_new(loop.base(), m_fd.get(), EV_READ | EV_PERSIST, &StubDns::on_read, this));
        REQUIRE(m_event.get() != nullptr);
        REQUIRE(event_add(m_event.get(), nullptr) == 0);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }
    void stop() { m_event.reset(); }
    int queries() const { return m_queries; }

  private:
    static void on_read(evutil_socket_t, short, void* arg) { static_cast<StubDns*>(arg)->serve(); }

    void serve() {
        unsigned char buf[512];
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        ssize_t n = ::recvfrom(m_fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from),
                               &from_len);
        if (n < 12)
            return;
        ++m_queries;
        auto size = static_cast<std::size_t>(n);
        // The question: the name's labels, then QTYPE and QCLASS.
        std::size_t i = 12;
        while (i < size && buf[i] != 0)
            i += 1u + buf[i];
        if (i + 5 > size)
            return;
        std::size_t question_end = i + 5;
        auto qtype = static_cast<uint16_t>(buf[i + 1] << 8 | buf[i + 2]);
        Answer answer;
        if (auto it = m_answers.find(qtype); it != m_answers.end())
            answer = it->second;

        std::vector<unsigned char> out(buf, buf + question_end);
        out[2] = static_cast<unsigned char>(0x80 | (buf[2] & 0x01));       // QR, RD copied
        out[3] = static_cast<unsigned char>(0x80 | (answer.rcode & 0x0f)); // RA, RCODE
        out[4] = 0;
        out[5] = 1;
        out[6] = 0;
        out[7] = static_cast<unsigned char>(answer.addresses.size());
        for (int k = 8; k < 12; ++k)
            out[static_cast<std::size_t>(k)] = 0;
        for (const auto& text : answer.addresses) {
            unsigned char rdata[16];
            int family = qtype == 28 ? AF_INET6 : AF_INET;
            if (inet_pton(family, text.c_str(), rdata) != 1) {
                FAIL_CHECK("bad address in the stub's answers: " << text);
                return;
            }
            unsigned char len = family == AF_INET6 ? 16 : 4;
            const unsigned char rr[] = {0xc0,
                                        0x0c,
                                        static_cast<unsigned char>(qtype >> 8),
                                        static_cast<unsigned char>(qtype & 0xff),
                                        0,
                                        1,
                                        0,
                                        0,
                                        0,
                                        30,
                                        0,
                                        len};
            out.insert(out.end(), std::begin(rr), std::end(rr));
            out.insert(out.end(), rdata, rdata + len);
        }
        ::sendto(m_fd.get(), out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from),
                 from_len);
    }

    std::map<uint16_t, Answer> m_answers;
    UniqueFd m_fd;
    uint16_t m_port = 0;
    EventPtr m_event;
    int m_queries = 0;
};

constexpr uint16_t k_type_a = 1;
constexpr uint16_t k_type_aaaa = 28;

} // namespace

TEST_CASE("Connector: a closed port is refused, retried, then given up") {
    const std::size_t fds_at_start = open_fds();
    {
        UniqueFd closed = bound_socket(Family::ipv4);
        const uint16_t port = local_port(closed.get());
        Loop loop;
        Resolver resolver(loop, std::nullopt);
        RecordingSink sink;
        const std::size_t fds_before = open_fds();
        {
            Connector c(loop, resolver, target(v4_target(port)), 3, fast_options(2), sink);
            CHECK(c.state() == Connector::State::idle);
            c.start();
            Watchdog dog(20);
            loop.run(); // returns on its own: nothing left pending after gave_up

            REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry,
                                          EventType::attempt, EventType::failed,
                                          EventType::gave_up});
            for (std::size_t i = 0; i < sink.size(); ++i)
                CHECK(sink[i].target == 3);

            CHECK(sink[0].attempt == 1);
            REQUIRE(sink[0].address);
            CHECK(sink[0].address->address == "127.0.0.1");
            CHECK(sink[0].address->port == port);
            CHECK(sink[0].address->family == Family::ipv4);
            check_refused(sink[1], 1, port, 3);

            CHECK(sink[2].attempt == 2); // retry: the next round
            CHECK(sink[2].delay == 10ms);
            CHECK_FALSE(sink[2].address);
            // The second round started no earlier than the delay after the retry was scheduled.
            CHECK(sink.recorded()[3].at - sink.recorded()[2].at >= 10ms);

            CHECK(sink[3].attempt == 2);
            check_refused(sink[4], 2, port, 3);

            CHECK(sink[5].attempt == 2); // gave_up: rounds
            CHECK(sink[5].error == ErrorClass::refused);
            CHECK_FALSE(sink[5].address);

            CHECK(c.state() == Connector::State::gave_up);
            CHECK(c.rounds() == 2);
            CHECK(c.failed_rounds() == 2);
            CHECK(open_fds() == fds_before);
        }
        CHECK(open_fds() == fds_before);
    }
    CHECK(open_fds() == fds_at_start);
}

TEST_CASE("Connector: retry delays follow the backoff") {
    UniqueFd closed = bound_socket(Family::ipv4);
    const uint16_t port = local_port(closed.get());
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    ConnectorOptions o = fast_options(5);
    o.backoff.initial = 5ms;
    o.backoff.max = 20ms;
    Connector c(loop, resolver, target(v4_target(port)), 0, o, sink);
    c.start();
    Watchdog dog(20);
    loop.run();
    std::vector<Duration> delays;
    std::vector<unsigned> next_rounds;
    for (const auto& r : sink.recorded()) {
        if (r.event.type == EventType::retry) {
            delays.push_back(r.event.delay);
            next_rounds.push_back(r.event.attempt);
        }
    }
    CHECK(delays == std::vector<Duration>{5ms, 10ms, 20ms, 20ms});
    CHECK(next_rounds == std::vector<unsigned>{2, 3, 4, 5});
    REQUIRE(sink.size() > 0);
    CHECK(sink[sink.size() - 1].type == EventType::gave_up);
    CHECK(sink[sink.size() - 1].attempt == 5);
    CHECK(c.failed_rounds() == 5);
}

TEST_CASE("Connector: stop() while a retry is pending cancels it") {
    const std::size_t fds_at_start = open_fds();
    {
        UniqueFd closed = bound_socket(Family::ipv4);
        const uint16_t port = local_port(closed.get());
        Loop loop;
        Resolver resolver(loop, std::nullopt);
        RecordingSink sink;
        const std::size_t fds_before = open_fds();
        // A long delay: if stop() left the retry timer armed, the loop would run on for it.
        Connector c(loop, resolver, target(v4_target(port)), 0, fast_options(3, 800ms), sink);
        std::size_t events_at_stop = 0;
        Timer stopper(loop, [&] {
            events_at_stop = sink.size();
            CHECK(c.state() == Connector::State::waiting);
            c.stop();
            CHECK(c.state() == Connector::State::stopped);
        });

        SUBCASE("stopped from its own retry event") {
            sink.hook = [&](const Event& e) {
                if (e.type == EventType::retry) {
                    events_at_stop = sink.size();
                    c.stop();
                }
            };
        }
        SUBCASE("stopped from another timer while the retry waits") {
            sink.hook = [&](const Event& e) {
                if (e.type == EventType::retry)
                    stopper.start(20ms);
            };
        }

        c.start();
        auto started = Clock::now();
        {
            Watchdog dog(20);
            loop.run(); // the loop exits on its own once nothing is pending
        }
        auto ran = Clock::now() - started;
        CHECK(ran < 700ms);
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry});
        CHECK(events_at_stop == 3);
        CHECK(sink.size() == events_at_stop); // nothing after stop()
        CHECK(c.state() == Connector::State::stopped);
        CHECK(c.rounds() == 1);
        CHECK(open_fds() == fds_before);

        // Starting again after stop() does nothing (muduo's stop-then-start double connect).
        c.start();
        {
            Watchdog dog(20);
            loop.run();
        }
        CHECK(sink.size() == 3);
        CHECK(c.rounds() == 1);
    }
    CHECK(open_fds() == fds_at_start);
}

TEST_CASE("Connector: destroying a Connector with a retry pending leaves nothing behind") {
    UniqueFd closed = bound_socket(Family::ipv4);
    const uint16_t port = local_port(closed.get());
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    const std::size_t fds_before = open_fds();
    auto c = std::make_unique<Connector>(loop, resolver, target(v4_target(port)), 0,
                                         fast_options(0, 800ms), sink);
    Timer destroyer(loop, [&] { c.reset(); });
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::retry)
            destroyer.start(10ms);
    };
    c->start();
    auto started = Clock::now();
    {
        Watchdog dog(20);
        loop.run();
    }
    CHECK(Clock::now() - started < 700ms);
    CHECK(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry});
    CHECK(c == nullptr);
    CHECK(open_fds() == fds_before);
}

TEST_CASE("Connector: a listening socket is connected") {
    for (Family family : {Family::ipv4, Family::ipv6}) {
        const bool v6 = family == Family::ipv6;
        CAPTURE(v6);
        const std::size_t fds_at_start = open_fds();
        {
            UniqueFd listener = listening_socket(family);
            const uint16_t port = local_port(listener.get());
            const std::string host = v6 ? "::1" : "127.0.0.1";
            const std::string text = v6 ? "[::1]:" + std::to_string(port) : v4_target(port);
            Loop loop;
            Resolver resolver(loop, std::nullopt);
            RecordingSink sink;
            Connector c(loop, resolver, target(text), 1, fast_options(3), sink);
            UniqueFd handed;
            c.set_connected_handler([&](UniqueFd fd, uint64_t) { handed = std::move(fd); });
            c.start();
            {
                Watchdog dog(20);
                loop.run();
            }
            REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
            const Event& attempt = sink[0];
            CHECK(attempt.attempt == 1);
            REQUIRE(attempt.address);
            CHECK(attempt.address->family == family);

            const Event& e = sink[1];
            CHECK(e.target == 1);
            CHECK(e.attempt == 1);
            REQUIRE(e.address);
            CHECK(e.address->address == host);
            CHECK(e.address->port == port);
            CHECK(e.address->family == family);
            REQUIRE(e.local);
            CHECK(e.local->address == host);
            CHECK(e.local->port != 0);
            CHECK(e.local->port != port);
            CHECK(e.duration > Duration::zero());
            CHECK(e.waited >= e.duration);
            CHECK(e.waited < 2s);
            CHECK(c.state() == Connector::State::connected);
            CHECK(c.rounds() == 1);
            CHECK(c.failed_rounds() == 0);

            // The handler got the connected socket: its local end is the one reported.
            REQUIRE(handed.get() >= 0);
            CHECK(local_port(handed.get()) == e.local->port);
            SockAddr peer;
            peer.length = sizeof peer.storage;
            REQUIRE(::getpeername(handed.get(), peer.get(), &peer.length) == 0);
            CHECK(peer.port() == port);
            // And the server sees it.
            UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            CHECK(accepted.get() >= 0);
        }
        CHECK(open_fds() == fds_at_start);
    }
}

TEST_CASE("Connector: without a connected handler the socket is closed") {
    UniqueFd listener = listening_socket(Family::ipv4);
    const uint16_t port = local_port(listener.get());
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    const std::size_t fds_before = open_fds();
    Connector c(loop, resolver, target(v4_target(port)), 0, fast_options(1), sink);
    c.start();
    {
        Watchdog dog(20);
        loop.run();
    }
    CHECK(sink.types() == Types{EventType::attempt, EventType::connected});
    CHECK(open_fds() == fds_before);
}

TEST_CASE("Connector: a port that opens while it waits is noticed") {
    UniqueFd socket = bound_socket(Family::ipv4);
    const uint16_t port = local_port(socket.get());
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    Connector c(loop, resolver, target(v4_target(port)), 0, fast_options(0, 20ms), sink);
    // After the second refusal the bound socket starts listening.
    int refusals = 0;
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::failed && ++refusals == 2)
            CHECK(::listen(socket.get(), 4) == 0);
    };
    c.start();
    {
        Watchdog dog(20);
        loop.run();
    }
    CHECK(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry,
                                EventType::attempt, EventType::failed, EventType::retry,
                                EventType::attempt, EventType::connected});
    CHECK(sink[sink.size() - 1].attempt == 3);
    CHECK(sink[sink.size() - 1].waited >= 40ms);
    CHECK(c.state() == Connector::State::connected);
    CHECK(c.failed_rounds() == 2);
}

TEST_CASE("Connector: several targets run concurrently in one loop") {
    UniqueFd listener = listening_socket(Family::ipv4);
    UniqueFd closed = bound_socket(Family::ipv4);
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    Connector open(loop, resolver, target(v4_target(local_port(listener.get()))), 0,
                   fast_options(2), sink);
    Connector shut(loop, resolver, target(v4_target(local_port(closed.get()))), 1, fast_options(2),
                   sink);
    open.start();
    shut.start();
    {
        Watchdog dog(20);
        loop.run();
    }
    Types first, second;
    for (const auto& r : sink.recorded())
        (r.event.target == 0 ? first : second).push_back(r.event.type);
    CHECK(first == Types{EventType::attempt, EventType::connected});
    CHECK(second == Types{EventType::attempt, EventType::failed, EventType::retry,
                          EventType::attempt, EventType::failed, EventType::gave_up});
    CHECK(open.state() == Connector::State::connected);
    CHECK(shut.state() == Connector::State::gave_up);
}

TEST_CASE("Connector: a blackholed endpoint times out on our own timer") {
    // backlog 0 holds one connection; with it taken, further SYNs are dropped.
    UniqueFd listener = listening_socket(Family::ipv4, 0);
    const uint16_t port = local_port(listener.get());
    UniqueFd filler(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(filler.get() >= 0);
    SockAddr addr = loopback(Family::ipv4, port);
    REQUIRE(::connect(filler.get(), addr.get(), addr.length) == 0);

    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    const std::size_t fds_before = open_fds();

    SUBCASE("the connect timeout fails the attempt with timeout / ETIMEDOUT") {
        ConnectorOptions o = fast_options(1);
        o.connect_timeout = 200ms;
        Connector c(loop, resolver, target(v4_target(port)), 0, o, sink);
        c.start();
        {
            Watchdog dog(20);
            loop.run();
        }
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
        const Event& f = sink[1];
        CHECK(f.attempt == 1);
        REQUIRE(f.address);
        CHECK(f.address->port == port);
        CHECK(f.error == ErrorClass::timeout);
        CHECK(error_code_name(f.code) == "ETIMEDOUT");
        CHECK(f.message.find("timed out") != std::string::npos);
        CHECK(f.duration >= 190ms);
        CHECK(f.duration < 1500ms);
        CHECK(sink[2].error == ErrorClass::timeout);
        CHECK(sink[2].attempt == 1);
        CHECK(open_fds() == fds_before);
    }
    SUBCASE("stop() while the connect is in flight closes the socket, nothing more is reported") {
        Connector c(loop, resolver, target(v4_target(port)), 0, fast_options(3), sink);
        Timer stopper(loop, [&] { c.stop(); });
        sink.hook = [&](const Event& e) {
            if (e.type == EventType::attempt)
                stopper.start(50ms);
        };
        c.start();
        auto started = Clock::now();
        {
            Watchdog dog(20);
            loop.run();
        }
        CHECK(Clock::now() - started < 1s); // the 2 s connect timeout was cancelled too
        CHECK(sink.types() == Types{EventType::attempt});
        CHECK(c.state() == Connector::State::stopped);
        CHECK(open_fds() == fds_before);
    }
}

TEST_CASE("Connector: a source address that cannot be bound is a local failure") {
    UniqueFd listener = listening_socket(Family::ipv4);
    const uint16_t port = local_port(listener.get());
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    ConnectorOptions o = fast_options(1);
    o.source = parse_numeric_address("192.0.2.1", 0); // TEST-NET-1: not an address of ours
    REQUIRE(o.source);
    Connector c(loop, resolver, target(v4_target(port)), 0, o, sink);
    c.start();
    {
        Watchdog dog(20);
        loop.run();
    }
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
    CHECK(sink[1].error == ErrorClass::local);
    CHECK(error_code_name(sink[1].code) == "EADDRNOTAVAIL");
    CHECK(sink[2].error == ErrorClass::local);
}

TEST_CASE("Connector: a bound source address is used") {
    UniqueFd listener = listening_socket(Family::ipv4);
    const uint16_t port = local_port(listener.get());
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    RecordingSink sink;
    ConnectorOptions o = fast_options(1);
    o.source = parse_numeric_address("127.0.0.2", 0);
    Connector c(loop, resolver, target(v4_target(port)), 0, o, sink);
    c.start();
    {
        Watchdog dog(20);
        loop.run();
    }
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
    REQUIRE(sink[1].local);
    CHECK(sink[1].local->address == "127.0.0.2");
}

TEST_CASE("Connector: a name from /etc/hosts") {
    // localhost is 127.0.0.1 in every /etc/hosts; it may also be ::1, tried first (and
    // refused there, since the listener is IPv4 only).
    UniqueFd listener = listening_socket(Family::ipv4);
    const uint16_t port = local_port(listener.get());
    Loop loop;
    Resolver resolver(loop, "127.0.0.1:1"); // must not be needed; loopback if it were
    RecordingSink sink;
    Connector c(loop, resolver, target("localhost:" + std::to_string(port)), 0, fast_options(1),
                sink);
    c.start();
    {
        Watchdog dog(20);
        loop.run();
    }
    REQUIRE(sink.size() >= 2);
    const Event& last = sink[sink.size() - 1];
    CHECK(last.type == EventType::connected);
    REQUIRE(last.address);
    CHECK(last.address->address == "127.0.0.1");
    for (const auto& r : sink.recorded()) {
        CHECK(r.event.attempt == 1);
        CHECK(r.event.error != ErrorClass::resolve);
    }
}

TEST_CASE("Connector: names through a stub DNS server on loopback") {
    UniqueFd listener = listening_socket(Family::ipv4);
    const uint16_t port = local_port(listener.get());
    Loop loop;
    const std::string name = "svc.tcpretry.test";
    // One Connector for the name, through `dns`, until it connects or gives up.
    auto run = [&](StubDns& dns, const ConnectorOptions& o, RecordingSink& sink) {
        Resolver resolver(loop, dns.address());
        sink.hook = [&](const Event& e) {
            if (e.type == EventType::connected || e.type == EventType::gave_up)
                dns.stop();
        };
        Connector c(loop, resolver, target(name + ":" + std::to_string(port)), 0, o, sink);
        c.start();
        Watchdog dog(20);
        loop.run();
    };

    SUBCASE("NXDOMAIN: one failed event with error resolve, no attempt") {
        StubDns dns(loop, {{k_type_a, {3, {}}}, {k_type_aaaa, {3, {}}}});
        RecordingSink sink;
        run(dns, fast_options(1), sink);
        REQUIRE(sink.types() == Types{EventType::failed, EventType::gave_up});
        const Event& f = sink[0];
        CHECK(f.attempt == 1);
        CHECK(f.error == ErrorClass::resolve);
        CHECK_FALSE(f.address);
        CHECK(error_code_name(f.code) == "EAI_NONAME");
        CHECK(f.message.find("NXDOMAIN") != std::string::npos);
        CHECK(sink[1].error == ErrorClass::resolve);
        CHECK(dns.queries() >= 1);
    }
    SUBCASE("a resolution failure is retried with a fresh query each round") {
        StubDns dns(loop, {{k_type_a, {3, {}}}, {k_type_aaaa, {3, {}}}});
        RecordingSink sink;
        run(dns, fast_options(2), sink);
        REQUIRE(sink.types() ==
                Types{EventType::failed, EventType::retry, EventType::failed, EventType::gave_up});
        CHECK(sink[2].attempt == 2);
        CHECK(dns.queries() >= 4); // A and AAAA, twice
    }
    SUBCASE("A only (AAAA has no data): connected to the IPv4 address") {
        StubDns dns(loop, {{k_type_a, {0, {"127.0.0.1"}}}, {k_type_aaaa, {0, {}}}});
        RecordingSink sink;
        run(dns, fast_options(1), sink);
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
        REQUIRE(sink[1].address);
        CHECK(sink[1].address->address == "127.0.0.1");
        CHECK(sink[1].address->port == port);
    }
    SUBCASE("AAAA ::1 and A 127.0.0.1, server on IPv4 only: ::1 refused, then connected") {
        StubDns dns(loop, {{k_type_a, {0, {"127.0.0.1"}}}, {k_type_aaaa, {0, {"::1"}}}});
        RecordingSink sink;
        run(dns, fast_options(1), sink);
        REQUIRE(sink.size() >= 2);
        const Event& last = sink[sink.size() - 1];
        CHECK(last.type == EventType::connected);
        REQUIRE(last.address);
        CHECK(last.address->address == "127.0.0.1");
        for (const auto& r : sink.recorded()) {
            CHECK(r.event.attempt == 1);
            if (r.event.type == EventType::failed) {
                REQUIRE(r.event.address);
                CHECK(r.event.address->address == "::1");
                CHECK(r.event.error == ErrorClass::refused);
            }
        }
    }
    SUBCASE("-6: only AAAA is asked; NODATA is a resolve failure") {
        StubDns dns(loop, {{k_type_a, {0, {"127.0.0.1"}}}, {k_type_aaaa, {0, {}}}});
        RecordingSink sink;
        ConnectorOptions o = fast_options(1);
        o.family = Family::ipv6;
        run(dns, o, sink);
        REQUIRE(sink.types() == Types{EventType::failed, EventType::gave_up});
        CHECK(sink[0].error == ErrorClass::resolve);
        CHECK_FALSE(sink[0].address);
        CHECK(dns.queries() == 1);
    }
    SUBCASE("a DNS server that never answers: the round times out as resolve") {
        StubDns dns(loop, {}); // placeholder so the socket exists; then stop answering
        dns.stop();
        Resolver resolver(loop, dns.address());
        RecordingSink sink;
        ConnectorOptions o = fast_options(1);
        o.connect_timeout = 200ms;
        Connector c(loop, resolver, target(name + ":" + std::to_string(port)), 0, o, sink);
        c.start();
        auto started = Clock::now();
        {
            Watchdog dog(20);
            loop.run();
        }
        CHECK(Clock::now() - started < 3s);
        REQUIRE(sink.types() == Types{EventType::failed, EventType::gave_up});
        CHECK(sink[0].error == ErrorClass::resolve);
        CHECK_FALSE(sink[0].address);
        CHECK(sink[0].duration >= 190ms);
        CHECK(sink[1].error == ErrorClass::resolve);
    }
}
