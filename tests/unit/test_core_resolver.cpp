// The resolver: evdns DNS_ERR_* codes as EAI_* codes and words; /etc/hosts; cancellation.
#include "core/resolver.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <doctest/doctest.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace tcpretry::core;

TEST_CASE("resolve_failure maps evdns errors to EAI codes and words") {
    struct Row {
        int dns_err;
        const char* dns_name;
        int eai;
        std::string eai_name;
        std::string message; // a piece of it
        bool no_data;
    };
    const std::vector<Row> rows{
        {DNS_ERR_NOTEXIST, "NOTEXIST", EVUTIL_EAI_NONAME, "EAI_NONAME",
         "name does not exist (NXDOMAIN)", false},
        {DNS_ERR_NODATA, "NODATA", EVUTIL_EAI_NODATA, "EAI_NODATA", "name has no address", true},
        {DNS_ERR_SERVERFAILED, "SERVERFAILED", EVUTIL_EAI_AGAIN, "EAI_AGAIN", "SERVFAIL", false},
        {DNS_ERR_TIMEOUT, "TIMEOUT", EVUTIL_EAI_AGAIN, "EAI_AGAIN", "did not answer", false},
        {DNS_ERR_REFUSED, "REFUSED", EVUTIL_EAI_FAIL, "EAI_FAIL", "REFUSED", false},
        {DNS_ERR_FORMAT, "FORMAT", EVUTIL_EAI_FAIL, "EAI_FAIL", "FORMERR", false},
        {DNS_ERR_TRUNCATED, "TRUNCATED", EVUTIL_EAI_FAIL, "EAI_FAIL", "truncated", false},
        {DNS_ERR_NOTIMPL, "NOTIMPL", EVUTIL_EAI_FAIL, "EAI_FAIL", "DNS error", false},
        {DNS_ERR_UNKNOWN, "UNKNOWN", EVUTIL_EAI_FAIL, "EAI_FAIL", "DNS error", false},
        {DNS_ERR_SHUTDOWN, "SHUTDOWN", EVUTIL_EAI_FAIL, "EAI_FAIL", "DNS error", false},
        {DNS_ERR_CANCEL, "CANCEL", EVUTIL_EAI_FAIL, "EAI_FAIL", "DNS error", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.dns_name);
        ResolveResult r = resolve_failure(row.dns_err);
        CHECK(r.addresses.empty());
        CHECK(r.code.domain == ErrorCode::Domain::resolver);
        CHECK(r.code.value == row.eai);
        CHECK(error_code_name(r.code) == row.eai_name);
        CHECK(r.message.find(row.message) != std::string::npos);
        CHECK(r.message.find('\n') == std::string::npos);
        CHECK(r.no_data == row.no_data);
    }
}

TEST_CASE("Resolver::local_lookup reads /etc/hosts and knows localhost") {
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    // Every Debian system lists localhost as 127.0.0.1; ::1 is loopback whether listed or not.
    auto local = resolver.local_lookup("localhost");
    REQUIRE(local);
    std::vector<std::string> hosts;
    for (const SockAddr& a : *local)
        hosts.push_back(a.host());
    CHECK(std::find(hosts.begin(), hosts.end(), "127.0.0.1") != hosts.end());
    CHECK(std::find(hosts.begin(), hosts.end(), "::1") != hosts.end());
    REQUIRE(resolver.local_lookup("LOCALHOST"));
    CHECK(resolver.local_lookup("LOCALHOST")->size() == local->size());
    CHECK(resolver.local_lookup("tcpretry-test.localhost"));
    CHECK_FALSE(resolver.local_lookup("no-such-name.invalid"));
}

TEST_CASE("server_unreachable_failure names the server and the errno") {
    ResolveResult r = server_unreachable_failure("127.0.0.1:5353", ECONNREFUSED);
    CHECK(r.addresses.empty());
    CHECK(error_code_name(r.code) == "EAI_AGAIN");
    CHECK(r.message ==
          "DNS server 127.0.0.1:5353 refused (ECONNREFUSED): nothing listens on its port");
    CHECK_FALSE(r.no_data);
    r = server_unreachable_failure("[2001:db8::1]:53", EHOSTUNREACH);
    CHECK(r.message ==
          "DNS server [2001:db8::1]:53 is unreachable (EHOSTUNREACH): no route to host");
    for (int err : {ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN})
        CHECK(is_server_unreachable(err));
    for (int err : {0, EAGAIN, EINTR, EMFILE, ENOBUFS, EPERM, EMSGSIZE})
        CHECK_FALSE(is_server_unreachable(err));
}

TEST_CASE("Resolver: a query to a silent loopback DNS server can be cancelled") {
    // A UDP socket bound on loopback that never answers: the query stays on this machine.
    int dns_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(dns_fd >= 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(dns_fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
    socklen_t len = sizeof sin;
    REQUIRE(::getsockname(dns_fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0);
    const std::string server = "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));

    Loop loop;
    Resolver resolver(loop, server);
    int calls = 0;
    auto id =
        resolver.resolve("example.invalid", Family::ipv4, 80, [&](ResolveResult) { ++calls; });
    REQUIRE(id != 0);
    CHECK(calls == 0); // never called from inside resolve()

    bool cancelled = false;
    Timer cancel(loop, [&] {
        resolver.cancel(id);
        cancelled = true;
    });
    cancel.start(std::chrono::milliseconds(50));
    alarm(20); // a hang fails loudly instead of stalling the suite
    loop.run();
    alarm(0);
    CHECK(cancelled);
    CHECK(calls == 0); // never after cancel()
    ::close(dns_fd);
}

namespace {

// A loopback UDP port with nothing bound to it (bound, read, then closed): a query there
// draws an ICMP port unreachable and never leaves this machine.
std::string closed_udp_server() {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
    socklen_t len = sizeof sin;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0);
    ::close(fd);
    return "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
}

} // namespace

TEST_CASE("Resolver: a DNS server where nothing listens fails the queries at once") {
    const std::string server = closed_udp_server();
    Loop loop;
    Resolver resolver(loop, server);
    std::vector<ResolveResult> results;
    auto a = resolver.resolve("example.invalid", Family::ipv4, 80,
                              [&](ResolveResult r) { results.push_back(std::move(r)); });
    auto aaaa = resolver.resolve("example.invalid", Family::ipv6, 80,
                                 [&](ResolveResult r) { results.push_back(std::move(r)); });
    REQUIRE(a != 0);
    REQUIRE(aaaa != 0);
    CHECK(results.empty()); // never called from inside resolve()
    const auto start = Clock::now();
    alarm(20);
    loop.run(); // ends on its own: nothing is left pending
    alarm(0);
    CHECK(Clock::now() - start < std::chrono::seconds(1));
    REQUIRE(results.size() == 2);
    for (const auto& r : results) {
        CHECK(r.addresses.empty());
        CHECK(error_code_name(r.code) == "EAI_AGAIN");
        CHECK(r.message ==
              "DNS server " + server + " refused (ECONNREFUSED): nothing listens on its port");
    }
}

TEST_CASE("Resolver: a refused query's callback may cancel the next, or ask again") {
    const std::string server = closed_udp_server();
    Loop loop;
    Resolver resolver(loop, server);
    int first = 0, second = 0, again = 0;
    Resolver::RequestId other = 0;
    resolver.resolve("one.invalid", Family::ipv4, 80, [&](ResolveResult) {
        ++first;
        resolver.cancel(other);
        // A new query after the verdict gets a probe of its own, and its own failure.
        resolver.resolve("two.invalid", Family::ipv4, 80, [&](ResolveResult r) {
            ++again;
            CHECK(r.message.find("refused (ECONNREFUSED)") != std::string::npos);
        });
    });
    other = resolver.resolve("one.invalid", Family::ipv6, 80, [&](ResolveResult) { ++second; });
    alarm(20);
    loop.run();
    alarm(0);
    CHECK(first == 1);
    CHECK(second == 0);
    CHECK(again == 1);
}

TEST_CASE("Resolver: a query cancelled before the refusal arrives is never called") {
    const std::string server = closed_udp_server();
    Loop loop;
    Resolver resolver(loop, server);
    int calls = 0;
    auto id =
        resolver.resolve("example.invalid", Family::ipv4, 80, [&](ResolveResult) { ++calls; });
    REQUIRE(id != 0);
    resolver.cancel(id);
    alarm(20);
    loop.run();
    alarm(0);
    CHECK(calls == 0);
}
