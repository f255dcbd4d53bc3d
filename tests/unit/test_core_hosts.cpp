// /etc/hosts lookups: comments, aliases, case, families, duplicates.
#include "core/hosts.hpp"

#include <cstdio>
#include <doctest/doctest.h>
#include <fstream>
#include <net/if.h>
#include <netinet/in.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace tcpretry::core;

namespace {

const char* const k_hosts = R"(# /etc/hosts for the tests
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
10.0.0.5   db db.internal   DB-Primary   # the database
10.0.0.6   db
10.0.0.5   db.internal
2001:db8::5 db
2001:db8::5 db
# 10.9.9.9 db
#10.9.9.8 commented
   10.0.0.7    indented   
10.0.0.8 crlf
10.0.0.9#glued
fe80::1%lo zoned
not-an-address broken
10.0.0.10
192.0.2.1 web # comment ending in a name: notinhosts
)";

std::vector<std::string> hosts(std::string_view text, std::string_view name, Family f) {
    std::vector<std::string> out;
    for (const SockAddr& a : hosts_lookup(text, name, f)) {
        CHECK(a.family() == f);
        CHECK(a.port() == 0);
        out.push_back(a.host());
    }
    return out;
}

using Names = std::vector<std::string>;

} // namespace

TEST_CASE("hosts_lookup") {
    struct Row {
        std::string name;
        Family family;
        Names expected;
    };
    const std::string text = std::string(k_hosts) + "10.0.0.12 crlf2\r\n";
    const std::vector<Row> rows{
        {"localhost", Family::ipv4, {"127.0.0.1"}},
        {"localhost", Family::ipv6, {"::1"}},
        {"ip6-loopback", Family::ipv6, {"::1"}}, // an alias later on the line
        {"ip6-loopback", Family::ipv4, {}},
        {"db", Family::ipv4, {"10.0.0.5", "10.0.0.6"}}, // several lines, in file order
        {"db", Family::ipv6, {"2001:db8::5"}},          // duplicates listed once
        {"db.internal", Family::ipv4, {"10.0.0.5"}},    // duplicate across lines
        {"DB", Family::ipv4, {"10.0.0.5", "10.0.0.6"}}, // case-insensitive
        {"db-primary", Family::ipv4, {"10.0.0.5"}},
        {"Db.Internal", Family::ipv4, {"10.0.0.5"}},
        {"db.", Family::ipv4, {"10.0.0.5", "10.0.0.6"}}, // a trailing dot is ignored
        {"indented", Family::ipv4, {"10.0.0.7"}},
        {"crlf", Family::ipv4, {"10.0.0.8"}},
        {"crlf2", Family::ipv4, {"10.0.0.12"}},
        {"commented", Family::ipv4, {}},
        {"glued", Family::ipv4, {}}, // "10.0.0.9#glued": the name is in the comment
        {"the", Family::ipv4, {}},
        {"database", Family::ipv4, {}},
        {"notinhosts", Family::ipv4, {}},
        {"web", Family::ipv4, {"192.0.2.1"}},
        {"broken", Family::ipv4, {}},
        {"broken", Family::ipv6, {}},
        {"nosuchname", Family::ipv4, {}},
        {"d", Family::ipv4, {}},         // no prefix matches
        {"10.0.0.10", Family::ipv4, {}}, // an address is not a name
        {"", Family::ipv4, {}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CAPTURE(row.family == Family::ipv6);
        CHECK(hosts(text, row.name, row.family) == row.expected);
    }
}

TEST_CASE("hosts_lookup: a zone on a link-local address is kept") {
    auto found = hosts_lookup(k_hosts, "zoned", Family::ipv6);
    REQUIRE(found.size() == 1);
    CHECK(reinterpret_cast<const sockaddr_in6*>(&found[0].storage)->sin6_scope_id ==
          if_nametoindex("lo"));
}

TEST_CASE("hosts_lookup: empty and odd texts") {
    CHECK(hosts("", "localhost", Family::ipv4).empty());
    CHECK(hosts("\n\n\n", "localhost", Family::ipv4).empty());
    CHECK(hosts("127.0.0.1 localhost", "localhost", Family::ipv4) ==
          Names{"127.0.0.1"}); // no final newline
    CHECK(hosts("# only a comment localhost", "localhost", Family::ipv4).empty());
    CHECK(hosts("127.0.0.1", "127.0.0.1", Family::ipv4).empty());
}

TEST_CASE("is_localhost_name: RFC 6761's localhost names") {
    for (const char* yes : {"localhost", "LOCALHOST", "LocalHost", "localhost.", "app.localhost",
                            "App.LocalHost.", "a.b.localhost", "x.localhost"}) {
        CAPTURE(yes);
        CHECK(is_localhost_name(yes));
    }
    for (const char* no : {"", ".", "localhos", "mylocalhost", "localhost.com",
                           "localhost.localdomain", ".localhost", "localhost..",
                           "app.localhost.com", "localhost-1", "127.0.0.1", "ip6-localhost"}) {
        CAPTURE(no);
        CHECK_FALSE(is_localhost_name(no));
    }
}

TEST_CASE("loopback_address") {
    CHECK(loopback_address(Family::ipv4).host() == "127.0.0.1");
    CHECK(loopback_address(Family::ipv4).family() == Family::ipv4);
    CHECK(loopback_address(Family::ipv6).host() == "::1");
    CHECK(loopback_address(Family::ipv6).family() == Family::ipv6);
    CHECK(loopback_address(Family::ipv6).port() == 0);
}

namespace {

// local_answer as "family address" strings; "dns" when DNS must be asked.
Names local(std::string_view text, std::string_view name) {
    auto found = local_answer(text, name);
    if (!found)
        return {"dns"};
    Names out;
    for (const SockAddr& a : *found) {
        CHECK(a.port() == 0);
        out.push_back(std::string(family_name(a.family())) + " " + a.host());
    }
    return out;
}

} // namespace

TEST_CASE("local_answer: precedence of /etc/hosts, localhost names and DNS") {
    const std::string v4_only = "127.0.0.1 localhost\n10.0.0.5 db\n";
    const std::string both = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
    const std::string remapped = "127.0.1.1 localhost app.localhost\n2001:db8::7 db\n";
    struct Row {
        const std::string* text;
        std::string name;
        Names expected;
    };
    const std::string none;
    const std::vector<Row> rows{
        // The case of the issue: /etc/hosts lists localhost for IPv4 only; ::1 is built in.
        {&v4_only, "localhost", {"ipv6 ::1", "ipv4 127.0.0.1"}},
        {&v4_only, "LOCALHOST.", {"ipv6 ::1", "ipv4 127.0.0.1"}},
        {&both, "localhost", {"ipv6 ::1", "ipv4 127.0.0.1"}},
        // Names under .localhost: loopback without any entry.
        {&v4_only, "app.localhost", {"ipv6 ::1", "ipv4 127.0.0.1"}},
        {&none, "localhost", {"ipv6 ::1", "ipv4 127.0.0.1"}},
        {&none, "Web.App.Localhost", {"ipv6 ::1", "ipv4 127.0.0.1"}},
        // An entry is honoured for the family it lists; the other family is still loopback.
        {&remapped, "localhost", {"ipv6 ::1", "ipv4 127.0.1.1"}},
        {&remapped, "app.localhost", {"ipv6 ::1", "ipv4 127.0.1.1"}},
        // Other names: the hosts file alone, for every family, when it lists them.
        {&v4_only, "db", {"ipv4 10.0.0.5"}},
        {&remapped, "db", {"ipv6 2001:db8::7"}},
        {&v4_only, "web", {"dns"}},
        {&v4_only, "mylocalhost", {"dns"}},
        {&v4_only, "localhost.example", {"dns"}},
        {&none, "db", {"dns"}},
    };
    for (const auto& row : rows) {
        CAPTURE(*row.text);
        CAPTURE(row.name);
        CHECK(local(*row.text, row.name) == row.expected);
    }
}

TEST_CASE("HostsFile: read again only when the file changed") {
    char path[] = "/tmp/tcpretry-hosts-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    auto write = [&](const std::string& text) {
        std::ofstream out(path, std::ios::trunc);
        out << text;
    };
    write("10.0.0.1 db\n");
    HostsFile hosts(path);
    CHECK(hosts.text() == "10.0.0.1 db\n");
    CHECK(hosts.text() == "10.0.0.1 db\n"); // unchanged: the same text, not read again

    SUBCASE("an edit is followed, also one of the same size") {
        write("10.0.0.2 db\n"); // a new change time, even within the same clock tick
        CHECK(hosts.text() == "10.0.0.2 db\n");
        write("10.0.0.2 db\n10.0.0.3 cache\n");
        CHECK(hosts.text() == "10.0.0.2 db\n10.0.0.3 cache\n");
    }
    SUBCASE("a file replaced by rename is followed") {
        std::string other = std::string(path) + ".new";
        {
            std::ofstream out(other);
            out << "10.0.0.9 db\n";
        }
        REQUIRE(std::rename(other.c_str(), path) == 0);
        CHECK(hosts.text() == "10.0.0.9 db\n");
    }
    SUBCASE("a removed file reads as empty, and its return is noticed") {
        REQUIRE(unlink(path) == 0);
        CHECK(hosts.text().empty());
        write("10.0.0.4 db\n");
        CHECK(hosts.text() == "10.0.0.4 db\n");
    }
    unlink(path);
}
