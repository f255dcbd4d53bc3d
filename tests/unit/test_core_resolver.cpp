// The resolver: evdns DNS_ERR_* codes as EAI_* codes and words; /etc/hosts; cancellation.
#include "core/resolver.hpp"

#include <arpa/inet.h>
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

TEST_CASE("Resolver::from_hosts reads /etc/hosts") {
    Loop loop;
    Resolver resolver(loop, std::nullopt);
    // Every Debian system lists localhost as 127.0.0.1.
    auto v4 = resolver.from_hosts("localhost", Family::ipv4);
    REQUIRE_FALSE(v4.empty());
    CHECK(v4.front().host() == "127.0.0.1");
    CHECK(resolver.from_hosts("LOCALHOST", Family::ipv4).size() == v4.size());
    CHECK(resolver.from_hosts("no-such-name.invalid", Family::ipv4).empty());
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
