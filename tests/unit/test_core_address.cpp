// Socket addresses: numeric parsing, printable forms, ports, equality, a socket's own and
// peer address.
#include "core/address.hpp"
#include "core/loop.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstddef>
#include <doctest/doctest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <vector>

using namespace tcpretry::core;

TEST_CASE("parse_numeric_address") {
    struct Row {
        std::string text;
        bool ok;
        Family family;
        std::string host; // as printed back
    };
    const std::vector<Row> rows{
        {"127.0.0.1", true, Family::ipv4, "127.0.0.1"},
        {"0.0.0.0", true, Family::ipv4, "0.0.0.0"},
        {"255.255.255.255", true, Family::ipv4, "255.255.255.255"},
        {"::1", true, Family::ipv6, "::1"},
        {"::", true, Family::ipv6, "::"},
        {"2001:DB8:0::1", true, Family::ipv6, "2001:db8::1"},
        {"::ffff:10.0.0.1", true, Family::ipv6, "::ffff:10.0.0.1"},
        {"fe80::1%lo", true, Family::ipv6, "fe80::1%lo"},
        {"fe80::1%1", true, Family::ipv6, "fe80::1%lo"}, // index 1 is lo: printed by name
        {"", false, Family::ipv4, ""},
        {"256.0.0.1", false, Family::ipv4, ""},
        {"127.1", false, Family::ipv4, ""},
        {"1.2.3.4.5", false, Family::ipv4, ""},
        {"localhost", false, Family::ipv4, ""},
        {"[::1]", false, Family::ipv4, ""},
        {"::1%", false, Family::ipv4, ""},
        {"fe80::1%nosuchif0", false, Family::ipv4, ""},
        {"fe80::1%0", false, Family::ipv4, ""},
        {"fe80::1%-1", false, Family::ipv4, ""},
        {"fe80::1%1x", false, Family::ipv4, ""},
        // The kernel reads "lo:x" as an alias of lo; no interface name has ':', '/' or space.
        {"fe80::1%lo:b1://:b4:`", false, Family::ipv4, ""},
        {"fe80::1%lo:1", false, Family::ipv4, ""},
        {"fe80::1%lo/x", false, Family::ipv4, ""},
        {"fe80::1%lo x", false, Family::ipv4, ""},
        {"fe80::1%0123456789abcdef", false, Family::ipv4, ""},
        {"127.0.0.1%lo", false, Family::ipv4, ""},
        {" 127.0.0.1", false, Family::ipv4, ""},
        {"1:2:3:4:5:6:7:8:9", false, Family::ipv4, ""},
    };
    REQUIRE(if_nametoindex("lo") == 1);
    for (const auto& row : rows) {
        CAPTURE(row.text);
        auto a = parse_numeric_address(row.text, 8080);
        REQUIRE(a.has_value() == row.ok);
        if (!a)
            continue;
        CHECK(a->family() == row.family);
        CHECK(a->port() == 8080);
        CHECK(a->host() == row.host);
        CHECK(a->length ==
              (row.family == Family::ipv6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)));
        CHECK(a->get()->sa_family == (row.family == Family::ipv6 ? AF_INET6 : AF_INET));
    }
}

TEST_CASE("SockAddr ports and equality") {
    auto a = parse_numeric_address("10.0.0.5", 80);
    auto b = parse_numeric_address("10.0.0.5", 80);
    auto c = parse_numeric_address("10.0.0.6", 80);
    auto d = parse_numeric_address("::ffff:10.0.0.5", 80);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    REQUIRE(d);
    CHECK(*a == *b);
    CHECK_FALSE(*a == *c);
    CHECK_FALSE(*a == *d); // a mapped address is another family
    b->set_port(81);
    CHECK(b->port() == 81);
    CHECK_FALSE(*a == *b);

    auto v6 = parse_numeric_address("::1", 1);
    REQUIRE(v6);
    v6->set_port(65535);
    CHECK(v6->port() == 65535);
    CHECK(*v6 == *parse_numeric_address("::1", 65535));
}

TEST_CASE("SockAddr::host formats IPv4 as inet_ntop does") {
    // Every octet value in every position, and some whole addresses.
    std::vector<uint32_t> addresses = {0x00000000u, 0xffffffffu, 0x7f000001u, 0x0a000005u,
                                       0xc0a80001u, 0x01020304u, 0x640a0a63u};
    for (uint32_t v = 0; v < 256; ++v)
        for (int shift : {0, 8, 16, 24})
            addresses.push_back((v << shift) | (shift == 0 ? 0x01010100u : 0x9u));
    for (uint32_t host_order : addresses) {
        SockAddr a;
        a.storage.in4.sin_family = AF_INET;
        a.storage.in4.sin_addr.s_addr = htonl(host_order);
        a.length = sizeof(sockaddr_in);
        char expected[INET_ADDRSTRLEN] = {};
        REQUIRE(inet_ntop(AF_INET, &a.storage.in4.sin_addr, expected, sizeof expected));
        CHECK(a.host() == expected);
    }
}

TEST_CASE("to_endpoint and family_name") {
    auto a = parse_numeric_address("2001:db8::1", 443);
    REQUIRE(a);
    Endpoint e = to_endpoint(*a);
    CHECK(e.address == "2001:db8::1");
    CHECK(e.port == 443);
    CHECK(e.family == Family::ipv6);
    CHECK(family_name(Family::ipv4) == "ipv4");
    CHECK(family_name(Family::ipv6) == "ipv6");
}

TEST_CASE("SockAddr holds IPv6 in 32 bytes (every target keeps one)") {
    CHECK(sizeof(SockAddr) <= 32);
    SockAddr zero;
    CHECK(zero.length == 0);
    CHECK(zero.storage.ss_family == 0);
    CHECK(zero.port() == 0);
}

TEST_CASE("local_address and peer_address") {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener.get() >= 0);
    auto any = parse_numeric_address("127.0.0.1", 0);
    REQUIRE(any);
    REQUIRE(::bind(listener.get(), any->get(), any->length) == 0);
    REQUIRE(::listen(listener.get(), 1) == 0);
    auto server = local_address(listener.get());
    REQUIRE(server);
    CHECK(server->host() == "127.0.0.1");
    CHECK(server->port() != 0);

    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(client.get() >= 0);
    errno = 0;
    CHECK_FALSE(peer_address(client.get())); // not connected
    CHECK(errno == ENOTCONN);
    REQUIRE(::connect(client.get(), server->get(), server->length) == 0);
    auto local = local_address(client.get());
    auto peer = peer_address(client.get());
    REQUIRE(local);
    REQUIRE(peer);
    CHECK(*peer == *server);
    CHECK(local->host() == "127.0.0.1");
    CHECK_FALSE(*local == *peer);

    errno = 0;
    CHECK_FALSE(local_address(-1));
    CHECK(errno == EBADF);
}

TEST_CASE("make_unix_address: a path ends with its NUL, an abstract name has none") {
    UnixAddress p = make_unix_address("/run/a.sock");
    CHECK(p.addr.sun_family == AF_UNIX);
    CHECK(std::string(p.addr.sun_path) == "/run/a.sock");
    CHECK(p.length == offsetof(sockaddr_un, sun_path) + 12);
    UnixAddress a = make_unix_address("@name");
    CHECK(a.addr.sun_path[0] == '\0');
    CHECK(std::string(a.addr.sun_path + 1, 4) == "name");
    CHECK(a.length == offsetof(sockaddr_un, sun_path) + 5);
    UnixAddress longest = make_unix_address("/" + std::string(k_max_unix_path - 1, 'x'));
    CHECK(longest.length == sizeof(sockaddr_un));
    CHECK(longest.addr.sun_path[k_max_unix_path] == '\0');
}

TEST_CASE("unix_path_problem") {
    CHECK_FALSE(unix_path_problem("/a"));
    CHECK_FALSE(unix_path_problem("rel/a"));
    CHECK_FALSE(unix_path_problem("@x"));
    CHECK(unix_path_problem("") == "is empty");
    CHECK(unix_path_problem("@") == "has an empty abstract name");
    CHECK(unix_path_problem(std::string(k_max_unix_path + 1, 'a'))->find("longer than 107") !=
          std::string::npos);
    CHECK(family_name(Family::unix_socket) == "unix");
    CHECK(SockAddr::unix_marker().is_unix());
    CHECK_FALSE(parse_numeric_address("127.0.0.1", 1)->is_unix());
}
