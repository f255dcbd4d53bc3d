// TARGET parsing: host:port, ipv4:port, [ipv6]:port, [ipv6%zone]:port, tcp://, and every bad
// input.
#include "core/target.hpp"

#include <doctest/doctest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry::core;
using namespace std::string_literals;

namespace {

Target parse_ok(const std::string& text) {
    auto r = parse_target(text);
    if (auto* e = std::get_if<TargetError>(&r))
        FAIL("unexpected error: " << e->message);
    return std::get<Target>(r);
}

std::string parse_error(const std::string& text) {
    auto r = parse_target(text);
    if (std::holds_alternative<Target>(r)) {
        FAIL("expected an error for this target");
        return {};
    }
    return std::get<TargetError>(r).message;
}

uint32_t scope_id(const SockAddr& a) {
    REQUIRE(a.family() == Family::ipv6);
    return reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_scope_id;
}

} // namespace

TEST_CASE("parse_target accepts IPv4 literals") {
    struct Row {
        std::string text;
        std::string host;
        uint16_t port;
    };
    const std::vector<Row> rows{
        {"127.0.0.1:80", "127.0.0.1", 80},
        {"10.0.0.5:5432", "10.0.0.5", 5432},
        {"0.0.0.0:1", "0.0.0.0", 1},
        {"255.255.255.255:65535", "255.255.255.255", 65535},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        Target t = parse_ok(row.text);
        CHECK(t.text == row.text);
        CHECK(t.host == row.host);
        CHECK(t.port == row.port);
        REQUIRE(t.numeric);
        CHECK(t.numeric->family() == Family::ipv4);
        CHECK(t.numeric->host() == row.host);
        CHECK(t.numeric->port() == row.port);
    }
}

TEST_CASE("parse_target accepts bracketed IPv6 literals") {
    struct Row {
        std::string text;
        std::string host;
        uint16_t port;
    };
    const std::vector<Row> rows{
        {"[::1]:80", "::1", 80},
        {"[2001:db8::1]:443", "2001:db8::1", 443},
        {"[::]:22", "::", 22},
        {"[::ffff:127.0.0.1]:8080", "::ffff:127.0.0.1", 8080}, // RFC 4291 2.2 mixed notation
        {"[2001:DB8:0:0:0:0:0:1]:1", "2001:DB8:0:0:0:0:0:1", 1},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        Target t = parse_ok(row.text);
        CHECK(t.text == row.text);
        CHECK(t.host == row.host);
        CHECK(t.port == row.port);
        REQUIRE(t.numeric);
        CHECK(t.numeric->family() == Family::ipv6);
        CHECK(t.numeric->port() == row.port);
        CHECK(scope_id(*t.numeric) == 0);
    }
    CHECK(parse_ok("[2001:db8::1]:443").numeric->host() == "2001:db8::1");
    CHECK(parse_ok("[2001:DB8:0:0:0:0:0:1]:1").numeric->host() == "2001:db8::1");
}

TEST_CASE("parse_target accepts IPv6 zones by interface name and by index") {
    const unsigned lo = if_nametoindex("lo");
    REQUIRE(lo != 0);

    SUBCASE("named zone") {
        Target t = parse_ok("[fe80::1%lo]:80");
        CHECK(t.host == "fe80::1%lo");
        CHECK(t.port == 80);
        REQUIRE(t.numeric);
        CHECK(scope_id(*t.numeric) == lo);
        CHECK(t.numeric->host() == "fe80::1%lo");
    }
    SUBCASE("numeric zone") {
        Target t = parse_ok("[fe80::1%1]:80");
        CHECK(t.host == "fe80::1%1");
        REQUIRE(t.numeric);
        CHECK(scope_id(*t.numeric) == 1);
    }
    SUBCASE("unknown zone is an error naming the address") {
        std::string m = parse_error("[fe80::1%nosuchif0]:80");
        CHECK(m.find("'[fe80::1%nosuchif0]:80'") != std::string::npos);
        CHECK(m.find("fe80::1%nosuchif0") != std::string::npos);
        CHECK(m.find("zone") != std::string::npos);
    }
    SUBCASE("empty zone") {
        CHECK(!parse_error("[fe80::1%]:80").empty());
    }
}

TEST_CASE("parse_target accepts host names") {
    struct Row {
        std::string text;
        std::string host;
        uint16_t port;
    };
    const std::string label63(63, 'a');
    // 4 labels of 63 bytes and dots: 4*63+3 = 255 bytes is too long; 3 of 63 plus one of 61
    // is exactly 253.
    const std::string name253 =
        label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    REQUIRE(name253.size() == 253);
    const std::vector<Row> rows{
        {"db:5432", "db", 5432},
        {"a.b.c:1", "a.b.c", 1},
        {"db.example.:5432", "db.example.", 5432}, // trailing dot: fully qualified
        {"localhost:65535", "localhost", 65535},
        {"my-host_1.example.com:8080", "my-host_1.example.com", 8080},
        {"DB.Example.COM:80", "DB.Example.COM", 80},
        {"xn--bcher-kva.example:80", "xn--bcher-kva.example", 80},
        {"b\xc3\xbc"
         "cher.example:80",
         "b\xc3\xbc"
         "cher.example",
         80}, // UTF-8 is passed on
        {label63 + ".example:1", label63 + ".example", 1},
        {name253 + ":1", name253, 1},
        {name253 + ".:1", name253 + ".", 1}, // 254 bytes with the root dot is still 253
        {"1.2.3.4.example:1", "1.2.3.4.example", 1},
        {"123host:1", "123host", 1},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        Target t = parse_ok(row.text);
        CHECK(t.text == row.text);
        CHECK(t.host == row.host);
        CHECK(t.port == row.port);
        CHECK_FALSE(t.numeric);
    }
}

TEST_CASE("parse_target accepts tcp://HOST:PORT (wait4x's form)") {
    struct Row {
        std::string text;
        std::string host;
        uint16_t port;
        bool numeric;
    };
    const std::vector<Row> rows{
        {"tcp://db:5432", "db", 5432, false},
        {"tcp://db:5432/", "db", 5432, false},
        {"TCP://db:5432", "db", 5432, false},
        {"tcp://127.0.0.1:80", "127.0.0.1", 80, true},
        {"tcp://[::1]:80", "::1", 80, true},
        {"tcp://[::1]:80/", "::1", 80, true},
        {"tcp://localhost:https", "localhost", 443, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        Target t = parse_ok(row.text);
        CHECK(t.text == row.text); // events name the target as given
        CHECK(t.host == row.host);
        CHECK(t.port == row.port);
        CHECK(t.numeric.has_value() == row.numeric);
    }
}

TEST_CASE("parse_target: a URL is not told that an IPv6 address needs brackets") {
    struct Row {
        std::string text;
        std::string expect;
    };
    const std::vector<Row> rows{
        {"http://db:80", "a http:// URL; only HOST:PORT (or tcp://HOST:PORT) is understood"},
        {"https://example.com/health", "a https:// URL"},
        {"postgres://u:p@db:5432/app", "a postgres:// URL"},
        {"redis://db", "a redis:// URL"},
        {"udp://db:53", "a udp:// URL"},
        {"tcp://db:5432/x", "nothing may follow HOST:PORT"},
        {"tcp://db:5432//", "nothing may follow HOST:PORT"},
        {"tcp://db:5432?x=1", "nothing may follow HOST:PORT"},
        {"tcp://db", "missing port"},
        {"tcp://", "missing port"},
        {"tcp://::1:80", "brackets"},
        {"user:pw@db:80", "more than one ':'"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        std::string m = parse_error(row.text);
        CAPTURE(m);
        CHECK(m.find(row.expect) != std::string::npos);
        CHECK(m.find(quote(row.text)) != std::string::npos);
        if (row.text.rfind("tcp://::1", 0) != 0) {
            CHECK(m.find("brackets") == std::string::npos);
        }
    }
}

TEST_CASE("parse_target accepts service names for the port") {
    struct Row {
        std::string text;
        uint16_t port;
    };
    const std::vector<Row> rows{
        {"db:ssh", 22},  {"db:https", 443}, {"db:postgresql", 5432},
        {"db:http", 80}, {"[::1]:ssh", 22}, {"127.0.0.1:https", 443},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(parse_ok(row.text).port == row.port);
    }
}

TEST_CASE("parse_port") {
    struct Row {
        std::string text;
        std::optional<uint16_t> port;
    };
    const std::vector<Row> rows{
        {"1", 1},
        {"80", 80},
        {"65535", 65535},
        {"00080", 80},
        {"ssh", 22},
        {"https", 443},
        {"postgresql", 5432},
        {"0", std::nullopt},
        {"00000", std::nullopt},
        {"65536", std::nullopt},
        {"99999999", std::nullopt},
        {"123456", std::nullopt},
        {"", std::nullopt},
        {"-1", std::nullopt},
        {"+80", std::nullopt},
        {" 80", std::nullopt},
        {"80 ", std::nullopt},
        {"8o", std::nullopt},
        {"no-such-service-here", std::nullopt},
        {std::string(40, 'a'), std::nullopt},
        {"ss h", std::nullopt},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(parse_port(row.text) == row.port);
    }
}

TEST_CASE("parse_target rejects bad input with a one-line message naming the value") {
    const std::string label64(64, 'a');
    const std::string label63(63, 'a');
    // 254 bytes without a trailing dot: one byte too long.
    const std::string name254 =
        label63 + "." + label63 + "." + label63 + "." + std::string(62, 'b');
    REQUIRE(name254.size() == 254);
    const std::string name255dot = name254 + ".";

    struct Row {
        std::string text;
        std::string expect; // a piece of the message, besides the quoted target
    };
    const std::vector<Row> rows{
        {"", "empty"},
        {":80", "missing host"},
        {"db:", "missing port"},
        {"db", "missing port"},
        {"db:0", "port 0 is out of range"},
        {"db:65536", "port 65536 is out of range"},
        {"db:99999999", "port 99999999 is out of range"},
        {"db:nosuchservice", "'nosuchservice'"},
        {"[::1", "missing ']'"},
        {"[::1]80", "expected ':'"},
        {"[::1]", "missing port"},
        {"[::1]:", "missing port"},
        {"[]:80", "'[]:80'"}, // "missing host" or "'' is not an IPv6 address": either names it
        {"::1:80", "brackets"},
        {"2001:db8::1:443", "brackets"},
        {"[db]:80", "not an IPv6 address"},
        {"[127.0.0.1]:80", "not an IPv6 address"},
        {name254 + ":80", "longer than 253"},
        {name255dot + ":80", "longer than 253"},
        {label64 + ".example:80", "label longer than 63"},
        {"example." + label64 + ":80", "label longer than 63"},
        {"a..b:1", "empty label"},
        {".a:1", "empty label"},
        {"..:1", "empty label"},
        {".:1", "empty"},
        {"a b:1", "invalid character"},
        {"a/b:1", "invalid character"},
        {"256.1.1.1:80", "not a valid IPv4 address"},
        {"1.2.3.4.5:80", "not a valid IPv4 address"},
        {"127.1:80", "not a valid IPv4 address"},
        // Control characters (C0, DEL, C1) and NUL.
        {"db\n:80", "control characters"},
        {"db\r:80", "control characters"},
        {"db\t:80", "control characters"},
        {"d\x01"
         "b:80",
         "control characters"},
        {"db\x7f:80", "control characters"},
        {"db:80\x1b[31m", "control characters"},
        {"db\0x:80"s, "control characters"},
        {"db\xc2\x85:80", "control characters"}, // U+0085 NEL, a C1 control
        // Invalid UTF-8: a stray byte, a truncated sequence, overlong forms, a surrogate,
        // beyond U+10FFFF, a lone continuation byte.
        {"d\xff"
         "b:80",
         "invalid UTF-8"},
        {"d\xc3:80", "invalid UTF-8"},
        {"d\xe2\x82:80", "invalid UTF-8"},
        {"d\xc0\xaf:80", "invalid UTF-8"},
        {"d\xc1\xbf:80", "invalid UTF-8"},
        {"d\xe0\x80\xaf:80", "invalid UTF-8"},
        {"d\xf0\x80\x80\xaf:80", "invalid UTF-8"},
        {"d\xed\xa0\x80:80", "invalid UTF-8"},
        {"d\xf4\x90\x80\x80:80", "invalid UTF-8"},
        {"d\x80:80", "invalid UTF-8"},
        {"d\xf8\x88\x80\x80\x80:80", "invalid UTF-8"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        std::string m = parse_error(row.text);
        CAPTURE(m);
        CHECK(m.find(row.expect) != std::string::npos);
        // One clean line: no raw control characters of any kind.
        CHECK(m.find('\n') == std::string::npos);
        CHECK(is_clean_text(m));
        // It names the bad value: the whole target, quoted (escaped where it must be).
        CHECK(m.find(quote(row.text)) != std::string::npos);
    }
}

TEST_CASE("parse_target error messages escape hostile bytes") {
    CHECK(parse_error("db\n:80") ==
          "invalid target 'db\\x0a:80': it contains control characters or invalid UTF-8");
    CHECK(parse_error("db\0x:80"s).find("'db\\x00x:80'") != std::string::npos);
    CHECK(parse_error("d\xc0\xaf:80").find("'d\\xc0\\xaf:80'") != std::string::npos);
    CHECK(parse_error("db:0") == "invalid target 'db:0': port 0 is out of range (1-65535)");
    CHECK(parse_error(":80") == "invalid target ':80': missing host");
}

TEST_CASE("quote") {
    struct Row {
        std::string text;
        std::string quoted;
    };
    const std::vector<Row> rows{
        {"", "''"},
        {"db:80", "'db:80'"},
        {"a\tb", "'a\\x09b'"},
        {"a\nb", "'a\\x0ab'"},
        {"\x7f", "'\\x7f'"},
        {"\0"s, "'\\x00'"},
        {"b\xc3\xbc"
         "cher",
         "'b\xc3\xbc"
         "cher'"},                               // clean UTF-8 is kept
        {"b\xc3\xbc\xff", "'b\\xc3\\xbc\\xff'"}, // not clean: every high byte escaped
        {"\xc0\xaf", "'\\xc0\\xaf'"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(quote(row.text) == row.quoted);
    }
}

TEST_CASE("is_clean_text") {
    struct Row {
        std::string text;
        bool clean;
    };
    const std::vector<Row> rows{
        {"", true},
        {"db.example:5432", true},
        {"b\xc3\xbc"
         "cher",
         true},                     // U+00FC
        {"\xc2\xa0", true},         // U+00A0, the first after the C1 block
        {"\xe2\x82\xac", true},     // U+20AC
        {"\xf0\x9f\x98\x80", true}, // U+1F600
        {"\xf4\x8f\xbf\xbf", true}, // U+10FFFF
        {"\xef\xbb\xbf", true},     // U+FEFF
        {"a\x1f", false},
        {"\x7f", false},
        {"\0"s, false},
        {"\xc2\x80", false},         // U+0080, C1
        {"\xc2\x9f", false},         // U+009F, C1
        {"\xc0\x80", false},         // overlong NUL
        {"\xe0\x9f\xbf", false},     // overlong U+07FF
        {"\xf0\x8f\xbf\xbf", false}, // overlong U+FFFF
        {"\xed\xbf\xbf", false},     // surrogate U+DFFF
        {"\xf4\x90\x80\x80", false}, // U+110000
        {"\xf5\x80\x80\x80", false},
        {"\xfe", false},
        {"\xbf", false},
        {"\xe2\x82", false},
        {"\xe2\x28\xa1", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(is_clean_text(row.text) == row.clean);
    }
}

TEST_CASE("parse_target: Unix domain sockets") {
    struct Row {
        std::string text;
        std::string path;
    };
    // Relative paths are accepted: connect() resolves them from the current directory.
    const std::vector<Row> rows{
        {"unix:/run/app.sock", "/run/app.sock"},
        {"UNIX:/run/app.sock", "/run/app.sock"},
        {"unix:///var/run/docker.sock", "/var/run/docker.sock"}, // Docker's spelling
        {"unix:app.sock", "app.sock"},
        {"unix:./run/app.sock", "./run/app.sock"},
        {"unix:@abstract", "@abstract"},
        {"unix:/with:colon", "/with:colon"},
        {"unix:/" + std::string(106, 'a'), "/" + std::string(106, 'a')}, // 107 bytes: the limit
        {"unix:@" + std::string(106, 'b'), "@" + std::string(106, 'b')},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        Target t = parse_ok(row.text);
        CHECK(t.is_unix());
        CHECK(t.kind == TargetKind::unix_socket);
        CHECK(t.text == row.text);
        CHECK(t.host == row.path);
        CHECK(t.port == 0);
        CHECK_FALSE(t.numeric);
    }
    CHECK_FALSE(parse_ok("127.0.0.1:80").is_unix());
    CHECK_FALSE(parse_ok("db:5432").is_unix());
}

TEST_CASE("parse_target: bad Unix socket targets name the problem") {
    const std::vector<std::pair<std::string, std::string>> rows{
        {"unix:", "invalid target 'unix:': the socket path is empty"},
        {"unix:@", "invalid target 'unix:@': the socket path has an empty abstract name"},
        {"unix:/" + std::string(107, 'a'), "the socket path is longer than 107 bytes"},
        {"unix:@" + std::string(107, 'a'), "the socket path is longer than 107 bytes"},
        {"unix:/a\tb", "control characters"},
    };
    for (const auto& [text, words] : rows) {
        CAPTURE(text);
        CHECK(parse_error(text).find(words) != std::string::npos);
    }
}

TEST_CASE("make_unix_target: an http+unix:// URL's decoded socket path") {
    auto ok = make_unix_target("/run/app.sock", "http+unix://%2Frun%2Fapp.sock/health");
    REQUIRE(std::holds_alternative<Target>(ok));
    const Target& t = std::get<Target>(ok);
    CHECK(t.is_unix());
    CHECK(t.host == "/run/app.sock");
    CHECK(t.text == "http+unix://%2Frun%2Fapp.sock/health");
    auto bad = make_unix_target(std::string(108, 'x'), "T");
    REQUIRE(std::holds_alternative<TargetError>(bad));
    CHECK(std::get<TargetError>(bad).message.find("'T'") != std::string::npos);
}

TEST_CASE("A Unix target costs no more memory than a TCP one") {
    // The kind sits in the padding after the port; the path lives in `host`.
    struct Before {
        std::string text, host;
        uint16_t port;
        std::optional<SockAddr> numeric;
    };
    CHECK(sizeof(Target) == sizeof(Before));
}
