// services(5) text read by tcpretry itself (no NSS): comments, aliases, protocols, malformed
// lines, case, and the built-in table behind it.
#include "core/services.hpp"
#include "core/target.hpp"

#include <doctest/doctest.h>
#include <optional>
#include <string>
#include <vector>

using namespace tcpretry::core;

namespace {

const char* const k_services = R"(# /etc/services for the tests
# comment line		9/tcp
tcpmux		1/tcp				# TCP port service multiplexer
echo		7/tcp
echo		7/udp
ssh		22/tcp				# SSH Remote Login Protocol
smtp		25/tcp		mail
http		80/tcp		www		# WorldWideWeb HTTP
syslog		514/udp
talk		517/udp
who		513/udp		whod
postgresql	5432/tcp	postgres	# PostgreSQL Database
  indented   6000/tcp   x11-alias
crlf		6001/tcp	crlf-alias	
MixedCase	7000/tcp	ShoutingAlias
noport		tcp
badport		8o/tcp
zero		0/tcp
toolarge	65536/tcp
sixdigits	100000/tcp
noproto		9000
slashonly	/tcp
emptyproto	9001/
sctp-only	9002/sctp
dup		9100/tcp
dup		9200/tcp
upper-proto	9300/TCP
spaces	 	 9400/tcp	 alias-after-tabs	 # trailing comment
hash#inside	9500/tcp	# '#' starts a comment anywhere: no port
after-comment	9600/tcp	# alias-in-comment
)";

} // namespace

TEST_CASE("services_lookup reads names, aliases and TCP ports") {
    struct Row {
        std::string name;
        std::optional<uint16_t> port;
    };
    const std::vector<Row> rows{
        {"tcpmux", 1},
        {"echo", 7}, // the tcp line, whatever the udp line says
        {"ssh", 22},
        {"smtp", 25},
        {"mail", 25}, // an alias
        {"www", 80},
        {"postgres", 5432},
        {"indented", 6000}, // leading blanks
        {"x11-alias", 6000},
        {"crlf-alias", 6001},  // a CR before the newline is a blank
        {"dup", 9100},         // the first line wins
        {"upper-proto", 9300}, // "TCP" is tcp
        {"alias-after-tabs", 9400},
        {"after-comment", 9600},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(services_lookup(k_services, row.name) == row.port);
    }
}

TEST_CASE("services_lookup ignores comments, other protocols and malformed lines") {
    for (std::string name :
         {"comment",      "line",       "syslog",    "talk",     "who",       "whod",
          "noport",       "badport",    "zero",      "toolarge", "sixdigits", "noproto",
          "slashonly",    "emptyproto", "sctp-only", "hash",     "inside",    "alias-in-comment",
          "WorldWideWeb", "tcp",        "22/tcp",    "22",       "",          "nosuchservice"}) {
        CAPTURE(name);
        CHECK(services_lookup(k_services, name) == std::nullopt);
    }
}

TEST_CASE("services_lookup matches names in any case") {
    CHECK(services_lookup(k_services, "SSH") == 22);
    CHECK(services_lookup(k_services, "Http") == 80);
    CHECK(services_lookup(k_services, "mixedcase") == 7000);
    CHECK(services_lookup(k_services, "shoutingalias") == 7000);
    CHECK(services_lookup(k_services, "POSTGRES") == 5432);
}

TEST_CASE("services_lookup on odd text") {
    CHECK(services_lookup("", "ssh") == std::nullopt);
    CHECK(services_lookup("ssh 22/tcp", "ssh") == 22); // no final newline
    CHECK(services_lookup("\n\n\t\n", "ssh") == std::nullopt);
    CHECK(services_lookup("ssh", "ssh") == std::nullopt);
    CHECK(services_lookup(std::string("ssh\0 22/tcp\n", 12), "ssh") == std::nullopt);
}

TEST_CASE("the built-in table: the common TCP services, with Debian's names and aliases") {
    struct Row {
        std::string name;
        uint16_t port;
    };
    const std::vector<Row> rows{
        {"ssh", 22},         {"smtp", 25},       {"domain", 53},  {"http", 80},
        {"www", 80},         {"https", 443},     {"imap", 143},   {"ldap", 389},
        {"submission", 587}, {"imaps", 993},     {"mysql", 3306}, {"postgresql", 5432},
        {"postgres", 5432},  {"amqp", 5672},     {"redis", 6379}, {"http-alt", 8080},
        {"HTTPS", 443},      {"mongodb", 27017},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(builtin_service(row.name) == row.port);
    }
    CHECK(builtin_service("no-such-service") == std::nullopt);
    CHECK(builtin_service("") == std::nullopt);
}

TEST_CASE("service_port: /etc/services or the built-in table, never the C library") {
    // Whether or not this machine has /etc/services, the common names resolve.
    CHECK(service_port("ssh") == 22);
    CHECK(service_port("postgresql") == 5432);
    CHECK(service_port("no-such-service-here") == std::nullopt);
    // And through the TARGET parser.
    CHECK(parse_port("https") == 443);
    CHECK(parse_port("HTTPS") == 443);
}
