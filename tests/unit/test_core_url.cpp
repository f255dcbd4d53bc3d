// URL TARGETs (core/url): http, https and http+unix URLs into host, port, socket path,
// request target and Host header; every malformed URL refused with the problem named.
#include "core/url.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace tcpretry::core;

namespace {

Url good(std::string_view text) {
    auto parsed = parse_url(text);
    if (auto* error = std::get_if<TargetError>(&parsed))
        FAIL_CHECK(error->message);
    REQUIRE(std::holds_alternative<Url>(parsed));
    return std::get<Url>(parsed);
}

std::string bad(std::string_view text) {
    auto parsed = parse_url(text);
    if (!std::holds_alternative<TargetError>(parsed))
        FAIL_CHECK("accepted: " << text);
    REQUIRE(std::holds_alternative<TargetError>(parsed));
    return std::get<TargetError>(parsed).message;
}

} // namespace

TEST_CASE("http and https URLs: host, port, path and the Host header") {
    struct Case {
        const char* text;
        UrlScheme scheme;
        const char* host;
        uint16_t port;
        const char* path;
        const char* host_header;
    };
    const std::vector<Case> cases = {
        {"http://example.com", UrlScheme::http, "example.com", 80, "/", "example.com"},
        {"http://example.com/", UrlScheme::http, "example.com", 80, "/", "example.com"},
        {"https://example.com", UrlScheme::https, "example.com", 443, "/", "example.com"},
        {"http://example.com:8080/health", UrlScheme::http, "example.com", 8080, "/health",
         "example.com:8080"},
        {"https://example.com:443/a/b?x=1&y=%20", UrlScheme::https, "example.com", 443,
         "/a/b?x=1&y=%20", "example.com"},
        {"http://example.com:443/", UrlScheme::http, "example.com", 443, "/", "example.com:443"},
        {"https://example.com:80/", UrlScheme::https, "example.com", 80, "/", "example.com:80"},
        {"http://example.com?ready", UrlScheme::http, "example.com", 80, "/?ready", "example.com"},
        {"HTTP://Example.COM/Path", UrlScheme::http, "Example.COM", 80, "/Path", "Example.COM"},
        {"http://127.0.0.1:8080/", UrlScheme::http, "127.0.0.1", 8080, "/", "127.0.0.1:8080"},
        {"http://[::1]:8080/", UrlScheme::http, "::1", 8080, "/", "[::1]:8080"},
        {"https://[::1]/", UrlScheme::https, "::1", 443, "/", "[::1]"},
        {"http://[fe80::1%25lo]:81/", UrlScheme::http, "fe80::1%lo", 81, "/", "[fe80::1]:81"},
        {"http://localhost:9/a:b@c;d=e,f+g!$'()*~_.-", UrlScheme::http, "localhost", 9,
         "/a:b@c;d=e,f+g!$'()*~_.-", "localhost:9"},
        {"http://svc_1.internal/", UrlScheme::http, "svc_1.internal", 80, "/", "svc_1.internal"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        Url url = good(c.text);
        CHECK(url.text == c.text);
        CHECK(url.scheme == c.scheme);
        CHECK(url.tcp.host == c.host);
        CHECK(url.tcp.port == c.port);
        CHECK(url.tcp.text == c.text);
        CHECK(url.path == c.path);
        CHECK(url.host_header == c.host_header);
        CHECK(url.tls() == (c.scheme == UrlScheme::https));
        CHECK_FALSE(url.is_unix());
        CHECK(url.unix_path.empty());
    }
}

TEST_CASE("an IP literal in a URL is numeric, a name is left to the resolver") {
    CHECK(good("http://127.0.0.1/").tcp.numeric.has_value());
    CHECK(good("http://[::1]/").tcp.numeric->family() == Family::ipv6);
    CHECK(good("http://[::1]:8080/").tcp.numeric->port() == 8080);
    CHECK_FALSE(good("http://localhost/").tcp.numeric.has_value());
}

TEST_CASE("http+unix URLs: the socket path percent-decoded") {
    Url url = good("http+unix://%2Frun%2Fapp.sock/health");
    CHECK(url.is_unix());
    CHECK(url.scheme == UrlScheme::http_unix);
    CHECK(url.unix_path == "/run/app.sock");
    CHECK(url.path == "/health");
    CHECK(url.host_header == "localhost");
    CHECK(url.tcp.port == 0);
    CHECK(url.tcp.host.empty());

    CHECK(good("http+unix://%2fvar%2frun%2fdocker.sock").path == "/");
    CHECK(good("HTTP+UNIX://%2Ftmp%2Fa%20b.sock/v1.43/_ping?x=1").unix_path == "/tmp/a b.sock");
    CHECK(good("http+unix://%40abstract-name/").unix_path == "@abstract-name");
    CHECK(good("http+unix://relative.sock/").unix_path == "relative.sock");
    std::string longest = "/" + std::string(k_unix_path_max - 1, 'a');
    CHECK(good("http+unix://%2F" + longest.substr(1) + "/").unix_path == longest);
}

TEST_CASE("bad URLs are refused, naming the problem") {
    struct Case {
        std::string text;
        const char* words;
    };
    const std::vector<Case> cases = {
        {"", "it is empty"},
        {"example.com/x", "missing scheme"},
        {"ftp://example.com/", "unknown scheme 'ftp'"},
        {"tcp://example.com:80", "unknown scheme 'tcp'"},
        {"http:/example.com/", "missing scheme"},
        {"http://", "missing host"},
        {"http:///path", "missing host"},
        {"http://:80/", "missing host"},
        {"http://user@example.com/", "userinfo (user@) is not accepted: no credentials"},
        {"http://user:secret@example.com/", "no credentials on command lines"},
        {"http://example.com/#top", "a fragment ('#...') is never sent"},
        {"http://example.com/a b", "a space (write it as %20)"},
        {"http://example.com/a\tb", "a control character"},
        {"http://example.com/\x7f", "a control character"},
        {"http://example.com/caf\xc3\xa9", "non-ASCII bytes (percent-encode them)"},
        {"http://example.com/%zz", "bad percent-encoding '%zz'"},
        {"http://example.com/%4", "bad percent-encoding '%4'"},
        {"http://example.com/%", "bad percent-encoding '%'"},
        {"http://example.com/a|b", "the character '|' must be percent-encoded"},
        {"http://example.com/{x}", "the character '{' must be percent-encoded"},
        {"http://example.com:/", "missing port after ':'"},
        {"http://example.com:http/", "port 'http' is not a number"},
        {"http://example.com:0/", "port 0 is out of range (1-65535)"},
        {"http://example.com:65536/", "port 65536 is out of range (1-65535)"},
        {"http://example.com:-1/", "port '-1' is not a number"},
        {"http://::1/", "more than one ':' (an IPv6 address needs brackets"},
        {"http://[::1/", "missing ']' after the IPv6 address"},
        {"http://[::1]x/", "expected ':' or '/' after ']'"},
        {"http://[example.com]/", "'example.com' is not an IPv6 address"},
        {"http://[127.0.0.1]/", "'127.0.0.1' is not an IPv6 address"},
        {"http://exa%41mple.com/", "host has an invalid character '%'"},
        {"http://exa!mple.com/", "host has an invalid character '!'"},
        {"http://256.1.1.1/", "host is not a valid IPv4 address"},
        {"http://a..b/", "host has an empty label"},
        {"http+unix:///health", "missing socket path"},
        {"http+unix://%2Frun%2Fa.sock%zz/", "bad percent-encoding in the socket path"},
        {"http+unix://%2Frun%00x/", "the socket path contains a NUL byte"},
        {"http+unix://%40/", "an abstract socket needs a name after '@'"},
        {"http+unix://%2F" + std::string(k_unix_path_max, 'a') + "/",
         "the socket path is longer than 107 bytes"},
        {"http+unix://[x]/", "the character '[' must be percent-encoded in the socket path"},
        {"http+unix://u@%2Fa.sock/", "userinfo"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        std::string message = bad(c.text);
        CHECK(message.starts_with("invalid URL '"));
        CHECK_MESSAGE(message.find(c.words) != std::string::npos, message);
        // One clean line: control bytes in the URL are shown escaped.
        CHECK(message.find_first_of("\r\n\t\x7f") == std::string::npos);
    }
}

TEST_CASE("is_http_url picks the TARGETs that are URLs") {
    CHECK(is_http_url("http://x/"));
    CHECK(is_http_url("HTTPS://x"));
    CHECK(is_http_url("http+unix://%2Fa"));
    CHECK_FALSE(is_http_url("tcp://x:1"));
    CHECK_FALSE(is_http_url("x:80"));
    CHECK_FALSE(is_http_url("[::1]:80"));
    CHECK_FALSE(is_http_url("http:x"));
    CHECK(url_scheme_name(UrlScheme::http_unix) == "http+unix");
    CHECK(url_scheme_name(UrlScheme::https) == "https");
}
