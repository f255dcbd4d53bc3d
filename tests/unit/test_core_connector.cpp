// The Connector against loopback sockets the test owns: refused rounds and retries, a
// cancelled retry, a connection, a blackholed endpoint, the --send/--expect check phase,
// round state held only while a round is in flight, and names through a stub DNS server.
// Nothing leaves 127.0.0.1 / ::1. The check itself is tested in test_core_check.cpp, the
// address order and pacing in test_core_happy_eyeballs.cpp.
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
#include <memory>
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

// What every test needs: a loop, a resolver (no DNS server unless a test names one), a sink
// that records, and the Connectors under test (destroyed first, before the resolver).
struct ConnectorFixture {
    Loop loop;
    std::unique_ptr<Resolver> resolver = std::make_unique<Resolver>(loop, std::nullopt);
    RecordingSink sink;
    std::vector<std::unique_ptr<Connector>> connectors;

    // Names are asked of `server` ("ADDR:PORT"); Connectors made before are dropped.
    void use_nameserver(const std::string& server) {
        connectors.clear();
        resolver = std::make_unique<Resolver>(loop, server);
    }
    Connector& make(const std::string& text, const ConnectorOptions& o = fast_options(1),
                    std::size_t index = 0) {
        connectors.push_back(
            std::make_unique<Connector>(loop, *resolver, target(text), index, o, sink));
        return *connectors.back();
    }
    // Runs the loop until nothing is pending; a hang kills the process loudly instead.
    void run() {
        Watchdog dog(20);
        loop.run();
    }
    // Makes one Connector, starts it and runs the loop.
    Connector& run_one(const std::string& text, const ConnectorOptions& o = fast_options(1),
                       std::size_t index = 0) {
        Connector& c = make(text, o, index);
        c.start();
        run();
        return c;
    }
};

} // namespace

TEST_CASE("Connector: a closed port is refused, retried, then given up") {
    const std::size_t fds_at_start = open_fds();
    {
        UniqueFd closed = bound_socket(Family::ipv4);
        const uint16_t port = local_port(closed.get());
        ConnectorFixture f;
        const std::size_t fds_before = open_fds();
        Connector& c = f.make(v4_target(port), fast_options(2), 3);
        CHECK(c.state() == Connector::State::idle);
        CHECK_FALSE(c.in_round());
        c.start();
        f.run(); // returns on its own: nothing left pending after gave_up
        const RecordingSink& sink = f.sink;

        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry,
                                      EventType::attempt, EventType::failed, EventType::gave_up});
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
        CHECK_FALSE(c.in_round());
        CHECK(c.rounds() == 2);
        CHECK(c.failed_rounds() == 2);
        CHECK(open_fds() == fds_before);
        f.connectors.clear();
        CHECK(open_fds() == fds_before);
    }
    CHECK(open_fds() == fds_at_start);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: retry delays follow the backoff") {
    UniqueFd closed = bound_socket(Family::ipv4);
    ConnectorOptions o = fast_options(5);
    o.backoff.initial = 5ms;
    o.backoff.max = 20ms;
    Connector& c = run_one(v4_target(local_port(closed.get())), o);
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

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: stop() while a retry is pending cancels it") {
    UniqueFd closed = bound_socket(Family::ipv4);
    const std::size_t fds_before = open_fds();
    // A long delay: if stop() left the retry timer armed, the loop would run on for it.
    Connector& c = make(v4_target(local_port(closed.get())), fast_options(3, 800ms));
    std::size_t events_at_stop = 0;
    Timer stopper(loop, [&] {
        events_at_stop = sink.size();
        CHECK(c.state() == Connector::State::waiting);
        CHECK_FALSE(c.in_round()); // a waiting target holds no round state
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
                REQUIRE(stopper.start(20ms));
        };
    }

    c.start();
    auto started = Clock::now();
    run(); // the loop exits on its own once nothing is pending
    CHECK(Clock::now() - started < 700ms);
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry});
    CHECK(events_at_stop == 3);
    CHECK(sink.size() == events_at_stop); // nothing after stop()
    CHECK(c.state() == Connector::State::stopped);
    CHECK(c.rounds() == 1);
    CHECK(open_fds() == fds_before);

    // Starting again after stop() does nothing (muduo's stop-then-start double connect).
    c.start();
    run();
    CHECK(sink.size() == 3);
    CHECK(c.rounds() == 1);
}

TEST_CASE_FIXTURE(ConnectorFixture,
                  "Connector: destroying a Connector with a retry pending leaves nothing behind") {
    UniqueFd closed = bound_socket(Family::ipv4);
    const std::size_t fds_before = open_fds();
    make(v4_target(local_port(closed.get())), fast_options(0, 800ms));
    Timer destroyer(loop, [&] { connectors.clear(); });
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::retry)
            REQUIRE(destroyer.start(10ms));
    };
    connectors.back()->start();
    auto started = Clock::now();
    run();
    CHECK(Clock::now() - started < 700ms);
    CHECK(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry});
    CHECK(connectors.empty());
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
            ConnectorFixture f;
            Connector& c = f.make(text, fast_options(3), 1);
            UniqueFd handed;
            c.set_connected_handler([&](Channel ch, uint64_t) { handed = ch.release_fd(); });
            c.start();
            f.run();
            const RecordingSink& sink = f.sink;
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
            CHECK_FALSE(e.check); // no --send/--expect
            CHECK(c.state() == Connector::State::connected);
            CHECK_FALSE(c.in_round()); // a connected target holds no round state
            CHECK(c.rounds() == 1);
            CHECK(c.failed_rounds() == 0);

            // The handler got the connected socket: its local end is the one reported.
            REQUIRE(handed.get() >= 0);
            CHECK(local_port(handed.get()) == e.local->port);
            auto peer = peer_address(handed.get());
            REQUIRE(peer);
            CHECK(peer->port() == port);
            // And the server sees it.
            UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            CHECK(accepted.get() >= 0);
        }
        CHECK(open_fds() == fds_at_start);
    }
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: without a connected handler the socket is closed") {
    UniqueFd listener = listening_socket(Family::ipv4);
    const std::size_t fds_before = open_fds();
    run_one(v4_target(local_port(listener.get())));
    CHECK(sink.types() == Types{EventType::attempt, EventType::connected});
    CHECK(open_fds() == fds_before);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: a port that opens while it waits is noticed") {
    UniqueFd socket = bound_socket(Family::ipv4);
    // After the second refusal the bound socket starts listening.
    int refusals = 0;
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::failed && ++refusals == 2)
            CHECK(::listen(socket.get(), 4) == 0);
    };
    Connector& c = run_one(v4_target(local_port(socket.get())), fast_options(0, 20ms));
    CHECK(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry,
                                EventType::attempt, EventType::failed, EventType::retry,
                                EventType::attempt, EventType::connected});
    CHECK(sink[sink.size() - 1].attempt == 3);
    CHECK(sink[sink.size() - 1].waited >= 40ms);
    CHECK(c.state() == Connector::State::connected);
    CHECK(c.failed_rounds() == 2);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: several targets run concurrently in one loop") {
    UniqueFd listener = listening_socket(Family::ipv4);
    UniqueFd closed = bound_socket(Family::ipv4);
    Connector& open = make(v4_target(local_port(listener.get())), fast_options(2), 0);
    Connector& shut = make(v4_target(local_port(closed.get())), fast_options(2), 1);
    open.start();
    shut.start();
    run();
    Types first, second;
    for (const auto& r : sink.recorded())
        (r.event.target == 0 ? first : second).push_back(r.event.type);
    CHECK(first == Types{EventType::attempt, EventType::connected});
    CHECK(second == Types{EventType::attempt, EventType::failed, EventType::retry,
                          EventType::attempt, EventType::failed, EventType::gave_up});
    CHECK(open.state() == Connector::State::connected);
    CHECK(shut.state() == Connector::State::gave_up);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: options shared by many Connectors") {
    UniqueFd listener = listening_socket(Family::ipv4);
    UniqueFd closed = bound_socket(Family::ipv4);
    auto shared = std::make_shared<const ConnectorOptions>(fast_options(2));
    Connector open(loop, *resolver, target(v4_target(local_port(listener.get()))), 0, shared, 1,
                   sink);
    Connector shut(loop, *resolver, target(v4_target(local_port(closed.get()))), 1, shared, 2,
                   sink);
    CHECK(&open.options() == &shut.options());
    open.start();
    shut.start();
    run();
    CHECK(open.state() == Connector::State::connected);
    CHECK(shut.state() == Connector::State::gave_up);
    CHECK(shut.rounds() == 2);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: a blackholed endpoint times out on our own timer") {
    // backlog 0 holds one connection; with it taken, further SYNs are dropped.
    UniqueFd listener = listening_socket(Family::ipv4, 0);
    const uint16_t port = local_port(listener.get());
    UniqueFd filler(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(filler.get() >= 0);
    SockAddr addr = loopback(Family::ipv4, port);
    REQUIRE(::connect(filler.get(), addr.get(), addr.length) == 0);
    const std::size_t fds_before = open_fds();

    SUBCASE("the connect timeout fails the attempt with timeout / ETIMEDOUT") {
        ConnectorOptions o = fast_options(1);
        o.connect_timeout = 200ms;
        run_one(v4_target(port), o);
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
        Connector& c = make(v4_target(port), fast_options(3));
        Timer stopper(loop, [&] {
            CHECK(c.state() == Connector::State::connecting);
            CHECK(c.in_round());
            c.stop();
            CHECK_FALSE(c.in_round());
        });
        sink.hook = [&](const Event& e) {
            if (e.type == EventType::attempt)
                REQUIRE(stopper.start(50ms));
        };
        c.start();
        auto started = Clock::now();
        run();
        CHECK(Clock::now() - started < 1s); // the 2 s connect timeout was cancelled too
        CHECK(sink.types() == Types{EventType::attempt});
        CHECK(c.state() == Connector::State::stopped);
        CHECK(open_fds() == fds_before);
    }
}

TEST_CASE_FIXTURE(ConnectorFixture,
                  "Connector: a source address that cannot be bound is a local failure") {
    UniqueFd listener = listening_socket(Family::ipv4);
    ConnectorOptions o = fast_options(1);
    o.source = parse_numeric_address("192.0.2.1", 0); // TEST-NET-1: not an address of ours
    REQUIRE(o.source);
    run_one(v4_target(local_port(listener.get())), o);
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
    CHECK(sink[1].error == ErrorClass::local);
    CHECK(error_code_name(sink[1].code) == "EADDRNOTAVAIL");
    CHECK(sink[2].error == ErrorClass::local);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: a bound source address is used") {
    UniqueFd listener = listening_socket(Family::ipv4);
    ConnectorOptions o = fast_options(1);
    o.source = parse_numeric_address("127.0.0.2", 0);
    run_one(v4_target(local_port(listener.get())), o);
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
    REQUIRE(sink[1].local);
    CHECK(sink[1].local->address == "127.0.0.2");
}

namespace {

// --send/--expect through the Connector: the test's listener accepts (from a timer in the
// same loop) and answers `reply`, then closes if asked.
struct CheckedServer {
    UniqueFd listener = listening_socket(Family::ipv4);
    UniqueFd accepted;
    std::string request;

    void serve(const std::string& reply, bool close_after) {
        accepted = UniqueFd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        REQUIRE(accepted.get() >= 0);
        char buf[256];
        ssize_t n = ::recv(accepted.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0)
            request.assign(buf, static_cast<std::size_t>(n));
        REQUIRE(::send(accepted.get(), reply.data(), reply.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(reply.size()));
        if (close_after)
            accepted.reset();
    }
};

ConnectorOptions checked_options(const std::string& send, const std::string& expect) {
    ConnectorOptions o = fast_options(1);
    CheckOptions check;
    check.send = send;
    auto m = Matcher::compile(expect);
    REQUIRE(std::holds_alternative<Matcher>(m));
    check.expect = std::get<Matcher>(m);
    check.timeout = 2s;
    o.check = std::move(check);
    return o;
}

} // namespace

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: a check that passes hands the socket on") {
    CheckedServer server;
    Connector& c =
        make(v4_target(local_port(server.listener.get())), checked_options("PING\r\n", "^OK$"));
    uint64_t handed_bytes = 0;
    UniqueFd handed;
    c.set_connected_handler([&](Channel ch, uint64_t bytes) {
        handed = ch.release_fd();
        handed_bytes = bytes;
    });
    Timer serve(loop, [&] {
        CHECK(c.state() == Connector::State::checking);
        CHECK(c.in_round());
        server.serve("OK\r\n", false);
    });
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::attempt)
            REQUIRE(serve.start(30ms));
    };
    c.start();
    run();
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
    CHECK(server.request == "PING\r\n");
    const Event& e = sink[1];
    REQUIRE(e.check);
    CHECK(*e.check >= 20ms);
    CHECK(e.waited >= *e.check);
    CHECK(c.state() == Connector::State::connected);
    CHECK_FALSE(c.in_round());
    CHECK(handed.get() >= 0);
    CHECK(handed_bytes == 4);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: a check that fails fails the round") {
    CheckedServer server;
    const std::size_t fds_before = open_fds();
    Connector& c = make(v4_target(local_port(server.listener.get())), checked_options("", "^OK"));
    Timer serve(loop, [&] { server.serve("-ERR\r\n", true); });
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::attempt)
            REQUIRE(serve.start(10ms));
    };
    c.start();
    run();
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
    const Event& f = sink[1];
    REQUIRE(f.address);
    CHECK(f.address->port == local_port(server.listener.get()));
    CHECK(f.error == ErrorClass::expect_mismatch);
    CHECK(f.message == "connection closed before a reply matched");
    CHECK(f.received == "-ERR\r\n");
    CHECK(sink[2].error == ErrorClass::expect_mismatch);
    CHECK(c.state() == Connector::State::gave_up);
    CHECK_FALSE(c.in_round());
    CHECK(open_fds() == fds_before);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: stop() during the check closes the socket") {
    CheckedServer server;
    const std::size_t fds_before = open_fds();
    Connector& c = make(v4_target(local_port(server.listener.get())), checked_options("", "^OK"));
    Timer stopper(loop, [&] {
        CHECK(c.state() == Connector::State::checking);
        c.stop();
    });
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::attempt)
            REQUIRE(stopper.start(30ms));
    };
    c.start();
    run();
    CHECK(sink.types() == Types{EventType::attempt});
    CHECK(c.state() == Connector::State::stopped);
    CHECK_FALSE(c.in_round());
    CHECK(open_fds() == fds_before);
}

TEST_CASE("Connector: a name from /etc/hosts") {
    // localhost is 127.0.0.1 in every /etc/hosts; it may also be ::1, tried first (and
    // refused there, since the listener is IPv4 only).
    UniqueFd listener = listening_socket(Family::ipv4);
    ConnectorFixture f;
    f.use_nameserver("127.0.0.1:1"); // must not be needed; loopback if it were
    f.run_one("localhost:" + std::to_string(local_port(listener.get())));
    REQUIRE(f.sink.size() >= 2);
    const Event& last = f.sink[f.sink.size() - 1];
    CHECK(last.type == EventType::connected);
    REQUIRE(last.address);
    CHECK(last.address->address == "127.0.0.1");
    for (const auto& r : f.sink.recorded()) {
        CHECK(r.event.attempt == 1);
        CHECK(r.event.error != ErrorClass::resolve);
    }
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: names through a stub DNS server on loopback") {
    UniqueFd listener = listening_socket(Family::ipv4);
    const uint16_t port = local_port(listener.get());
    const std::string name = "svc.tcpretry.test:" + std::to_string(port);
    // One Connector for the name, through `dns`, until it connects or gives up.
    auto run_with = [&](StubDns& dns, const ConnectorOptions& o) {
        use_nameserver(dns.address());
        sink.hook = [&](const Event& e) {
            if (e.type == EventType::connected || e.type == EventType::gave_up)
                dns.stop();
        };
        run_one(name, o);
    };

    SUBCASE("NXDOMAIN: one failed event with error resolve, no attempt") {
        StubDns dns(loop, {{k_type_a, {3, {}}}, {k_type_aaaa, {3, {}}}});
        run_with(dns, fast_options(1));
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
        run_with(dns, fast_options(2));
        REQUIRE(sink.types() ==
                Types{EventType::failed, EventType::retry, EventType::failed, EventType::gave_up});
        CHECK(sink[2].attempt == 2);
        CHECK(dns.queries() >= 4); // A and AAAA, twice
    }
    SUBCASE("A only (AAAA has no data): connected to the IPv4 address") {
        StubDns dns(loop, {{k_type_a, {0, {"127.0.0.1"}}}, {k_type_aaaa, {0, {}}}});
        run_with(dns, fast_options(1));
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
        REQUIRE(sink[1].address);
        CHECK(sink[1].address->address == "127.0.0.1");
        CHECK(sink[1].address->port == port);
    }
    SUBCASE("AAAA ::1 and A 127.0.0.1, server on IPv4 only: ::1 refused, then connected") {
        StubDns dns(loop, {{k_type_a, {0, {"127.0.0.1"}}}, {k_type_aaaa, {0, {"::1"}}}});
        run_with(dns, fast_options(1));
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
        ConnectorOptions o = fast_options(1);
        o.family = Family::ipv6;
        run_with(dns, o);
        REQUIRE(sink.types() == Types{EventType::failed, EventType::gave_up});
        CHECK(sink[0].error == ErrorClass::resolve);
        CHECK_FALSE(sink[0].address);
        CHECK(dns.queries() == 1);
    }
    SUBCASE("a DNS server that never answers: the round times out as resolve") {
        StubDns dns(loop, {}); // placeholder so the socket exists; then stop answering
        dns.stop();
        use_nameserver(dns.address());
        ConnectorOptions o = fast_options(1);
        o.connect_timeout = 200ms;
        auto started = Clock::now();
        run_one(name, o);
        CHECK(Clock::now() - started < 3s);
        REQUIRE(sink.types() == Types{EventType::failed, EventType::gave_up});
        CHECK(sink[0].error == ErrorClass::resolve);
        CHECK_FALSE(sink[0].address);
        CHECK(sink[0].duration >= 190ms);
        CHECK(sink[1].error == ErrorClass::resolve);
    }
}

// Phase times and phases: what a user's pipeline reads to tell a slow lookup from a slow
// connect, and a connect failure from a check failure.
TEST_CASE_FIXTURE(ConnectorFixture, "Connector: phase times and the phase of each failure") {
    SUBCASE("an IP literal: no resolve time; a refused connect is in phase connect") {
        UniqueFd closed = bound_socket(Family::ipv4);
        run_one(v4_target(local_port(closed.get())));
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
        REQUIRE(sink[1].phase);
        CHECK(*sink[1].phase == Phase::connect);
        CHECK(phase_name(*sink[1].phase) == "connect");
        CHECK_FALSE(sink[1].resolve_time);
    }
    SUBCASE("connected to an IP literal: connect time, no resolve or TLS time, no phase") {
        UniqueFd listener = listening_socket(Family::ipv4);
        run_one(v4_target(local_port(listener.get())));
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
        CHECK_FALSE(sink[1].resolve_time);
        CHECK_FALSE(sink[1].tls_time);
        CHECK_FALSE(sink[1].check);
        CHECK_FALSE(sink[1].phase);
    }
    SUBCASE("a name from /etc/hosts: its lookup is timed, within the round") {
        UniqueFd listener = listening_socket(Family::ipv4);
        ConnectorOptions o = fast_options(1);
        o.family = Family::ipv4;
        run_one("localhost:" + std::to_string(local_port(listener.get())), o);
        const Event& last = sink[sink.size() - 1];
        REQUIRE(last.type == EventType::connected);
        REQUIRE(last.resolve_time);
        CHECK(*last.resolve_time >= Duration::zero());
        CHECK(*last.resolve_time <= last.waited);
    }
    SUBCASE("a name through DNS: timed to its first address; NXDOMAIN is phase resolve") {
        UniqueFd listener = listening_socket(Family::ipv4);
        const std::string name = "svc.tcpretry.test:" + std::to_string(local_port(listener.get()));
        StubDns ok(loop, {{k_type_a, {0, {"127.0.0.1"}}}, {k_type_aaaa, {0, {}}}});
        use_nameserver(ok.address());
        sink.hook = [&](const Event& e) {
            if (e.type == EventType::connected || e.type == EventType::gave_up)
                ok.stop();
        };
        run_one(name);
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
        REQUIRE(sink[1].resolve_time);
        CHECK(*sink[1].resolve_time > Duration::zero());
        CHECK(*sink[1].resolve_time + sink[1].duration <= sink[1].waited);

        StubDns nx(loop, {{k_type_a, {3, {}}}, {k_type_aaaa, {3, {}}}});
        use_nameserver(nx.address());
        sink.hook = [&](const Event& e) {
            if (e.type == EventType::gave_up)
                nx.stop();
        };
        run_one(name);
        const Event& f = sink[2];
        REQUIRE(f.type == EventType::failed);
        CHECK(f.error == ErrorClass::resolve);
        REQUIRE(f.phase);
        CHECK(*f.phase == Phase::resolve);
    }
    SUBCASE("a failed --expect is in phase check, with no TLS time") {
        CheckedServer server;
        Connector& c =
            make(v4_target(local_port(server.listener.get())), checked_options("", "^OK"));
        Timer serve(loop, [&] { server.serve("-ERR\r\n", true); });
        sink.hook = [&](const Event& e) {
            if (e.type == EventType::attempt)
                REQUIRE(serve.start(10ms));
        };
        c.start();
        run();
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
        REQUIRE(sink[1].phase);
        CHECK(*sink[1].phase == Phase::check);
        CHECK_FALSE(sink[1].tls_time);
    }
}

namespace {

// A fresh directory for Unix sockets, removed with what is in it.
struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/tcpretry-unit-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

// A Unix stream socket bound to `path` ("@name": abstract); listening unless told not to.
UniqueFd unix_socket(const std::string& path, bool listen = true) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    UnixAddress u = make_unix_address(path);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&u.addr), u.length) == 0);
    if (listen)
        REQUIRE(::listen(fd.get(), 8) == 0);
    return fd;
}

ConnectorOptions inverted(unsigned max_rounds) {
    ConnectorOptions o = fast_options(max_rounds);
    o.invert = true;
    return o;
}

} // namespace

TEST_CASE_FIXTURE(ConnectorFixture, "Connector --invert: a refused round is the success") {
    UniqueFd closed = bound_socket(Family::ipv4);
    const uint16_t port = local_port(closed.get());
    Connector& c = run_one(v4_target(port), inverted(3));
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::closed});
    check_refused(sink[1], 1, port, 0);
    const Event& e = sink[2];
    CHECK(e.attempt == 1);
    CHECK(e.error == ErrorClass::refused);
    CHECK(error_code_name(e.code) == "ECONNREFUSED");
    CHECK(e.message == "connection refused");
    REQUIRE(e.address);
    CHECK(e.address->port == port);
    CHECK(c.state() == Connector::State::closed);
    CHECK_FALSE(c.in_round());
    CHECK(c.failed_rounds() == 0);
}

TEST_CASE_FIXTURE(ConnectorFixture,
                  "Connector --invert: a connect is still_open, until it closes") {
    UniqueFd listener = listening_socket(Family::ipv4);
    const uint16_t port = local_port(listener.get());
    int open_rounds = 0;
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::failed && e.error == ErrorClass::still_open && ++open_rounds == 2)
            listener.reset(); // the port closes: the next round is refused
    };
    const std::size_t fds_before = open_fds();
    Connector& c = run_one(v4_target(port), inverted(0));
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry,
                                  EventType::attempt, EventType::failed, EventType::retry,
                                  EventType::attempt, EventType::failed, EventType::closed});
    for (std::size_t i : {1, 4}) {
        CHECK(sink[i].error == ErrorClass::still_open);
        CHECK_FALSE(sink[i].code);
        CHECK(sink[i].message == "still accepting connections");
        CHECK(sink[i].phase == Phase::connect);
        REQUIRE(sink[i].address);
        CHECK(sink[i].address->port == port);
    }
    CHECK(sink[8].error == ErrorClass::refused);
    CHECK(sink[8].attempt == 3);
    CHECK(sink[8].waited >= 20ms);
    CHECK(c.state() == Connector::State::closed);
    CHECK(c.failed_rounds() == 2);
    CHECK(open_fds() == fds_before - 1); // each connection was closed at once; the listener too
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector --invert: out of rounds while still open") {
    UniqueFd listener = listening_socket(Family::ipv4);
    Connector& c = run_one(v4_target(local_port(listener.get())), inverted(2));
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry,
                                  EventType::attempt, EventType::failed, EventType::gave_up});
    CHECK(sink[5].error == ErrorClass::still_open);
    CHECK(c.state() == Connector::State::gave_up);
}

TEST_CASE_FIXTURE(ConnectorFixture,
                  "Connector --invert: an unanswered round closes at the deadline") {
    // backlog 0 holds one connection; with it taken, further SYNs are dropped.
    UniqueFd listener = listening_socket(Family::ipv4, 0);
    const uint16_t port = local_port(listener.get());
    UniqueFd filler(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    SockAddr addr = loopback(Family::ipv4, port);
    REQUIRE(::connect(filler.get(), addr.get(), addr.length) == 0);
    ConnectorOptions o = inverted(0);
    o.connect_timeout = 200ms;
    auto started = Clock::now();
    Connector& c = run_one(v4_target(port), o);
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::closed});
    CHECK(sink[2].error == ErrorClass::timeout);
    CHECK(error_code_name(sink[2].code) == "ETIMEDOUT");
    CHECK(Clock::now() - started >= 190ms);
    CHECK(Clock::now() - started < 5s);
    CHECK(c.state() == Connector::State::closed);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector --invert: a name that does not resolve is closed") {
    StubDns dns(loop, {{k_type_a, {3, {}}}, {k_type_aaaa, {3, {}}}}); // NXDOMAIN
    use_nameserver(dns.address());
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::closed)
            dns.stop(); // nothing else keeps the loop running
    };
    Connector& c = run_one("no-such-host.test:80", inverted(0));
    REQUIRE(sink.types() == Types{EventType::failed, EventType::closed});
    CHECK(sink[1].error == ErrorClass::resolve);
    CHECK(error_code_name(sink[1].code) == "EAI_NONAME");
    CHECK_FALSE(sink[1].address);
    CHECK(c.state() == Connector::State::closed);
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: a Unix socket that appears later is connected") {
    TempDir dir;
    const std::string path = dir.path + "/app.sock";
    UniqueFd listener;
    sink.hook = [&](const Event& e) {
        if (e.type == EventType::failed && e.attempt == 2)
            listener = unix_socket(path);
    };
    const std::size_t fds_before = open_fds();
    bool handed = false;
    Connector& c = make("unix:" + path, fast_options(0));
    c.set_connected_handler([&](Channel channel, uint64_t) {
        handed = true;
        CHECK(channel.fd() >= 0);
    });
    c.start();
    run();
    REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::retry,
                                  EventType::attempt, EventType::failed, EventType::retry,
                                  EventType::attempt, EventType::connected});
    for (std::size_t i : {0, 1, 7}) {
        REQUIRE(sink[i].address);
        CHECK(sink[i].address->address == path);
        CHECK(sink[i].address->port == 0);
        CHECK(sink[i].address->family == Family::unix_socket);
    }
    CHECK(sink[1].error == ErrorClass::missing);
    CHECK(error_code_name(sink[1].code) == "ENOENT");
    CHECK(sink[1].phase == Phase::connect);
    CHECK_FALSE(sink[7].local);
    CHECK_FALSE(sink[7].resolve_time);
    CHECK(handed);
    CHECK(c.state() == Connector::State::connected);
    CHECK(open_fds() == fds_before + 1); // the listener; the connection was handed on and closed
}

TEST_CASE_FIXTURE(ConnectorFixture, "Connector: Unix sockets: abstract, no listener, --invert") {
    TempDir dir;
    SUBCASE("an abstract socket") {
        const std::string name = "@tcpretry-unit-" + std::to_string(::getpid());
        UniqueFd listener = unix_socket(name);
        run_one("unix:" + name);
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::connected});
        CHECK(sink[1].address->address == name);
    }
    SUBCASE("a socket file with no listener is refused") {
        UniqueFd bound = unix_socket(dir.path + "/s", false);
        run_one("unix:" + dir.path + "/s", fast_options(1));
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
        CHECK(sink[1].error == ErrorClass::refused);
        CHECK(error_code_name(sink[1].code) == "ECONNREFUSED");
    }
    SUBCASE("--invert: a missing socket is closed") {
        Connector& c = run_one("unix:" + dir.path + "/gone", inverted(0));
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::closed});
        CHECK(sink[2].error == ErrorClass::missing);
        CHECK(sink[2].address->address == dir.path + "/gone");
        CHECK(c.state() == Connector::State::closed);
    }
    SUBCASE("--invert: a listening socket is still open") {
        UniqueFd listener = unix_socket(dir.path + "/up");
        run_one("unix:" + dir.path + "/up", inverted(1));
        REQUIRE(sink.types() == Types{EventType::attempt, EventType::failed, EventType::gave_up});
        CHECK(sink[1].error == ErrorClass::still_open);
    }
}
