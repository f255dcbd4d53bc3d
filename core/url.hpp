// TARGET strings that are HTTP URLs:
//   http://HOST[:PORT][/PATH][?QUERY]      port 80 by default
//   https://HOST[:PORT][/PATH][?QUERY]     port 443 by default (TLS underneath)
//   http://[::1]:8080/  http://[fe80::1%25eth0]/   IPv6 in brackets, a zone as %25 (RFC 6874)
//   http+unix://%2Frun%2Fapp.sock/health   the socket path percent-encoded (Docker's clients);
//                                          %40name (a leading '@') is an abstract socket
// Parsed strictly: userinfo (no credentials on command lines), fragments, spaces, control
// bytes, non-ASCII bytes and bad percent-encoding are errors naming the problem. The host
// and port are checked by parse_target(), so a URL's host is valid exactly when HOST:PORT is.
// The path and query are sent as written (already percent-encoded), never decoded.
#pragma once

#include "core/target.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace tcpretry::core {

enum class UrlScheme { http, https, http_unix };

std::string_view url_scheme_name(UrlScheme scheme); // "http", "https", "http+unix"

struct Url {
    std::string text; // as the user gave it
    UrlScheme scheme = UrlScheme::http;
    // TCP (http, https): host (without brackets), port, numeric when an IP literal, text = the
    // URL. Empty (port 0) for http+unix.
    Target tcp;
    // http+unix: the decoded socket path; a leading '@' names an abstract socket.
    std::string unix_path;
    std::string path;        // the request target: path and query, "/" when the URL has none
    std::string host_header; // "example.com", "example.com:8080", "[::1]:8080", "localhost"

    bool tls() const { return scheme == UrlScheme::https; }
    bool is_unix() const { return scheme == UrlScheme::http_unix; }
};

// The longest socket path a sockaddr_un holds (107 bytes, its NUL after; an abstract name
// counts its '@').
inline constexpr std::size_t k_unix_path_max = 107;

// True when `text` begins with a scheme this parser owns (http://, https://, http+unix://,
// any case): such a TARGET goes to parse_url, and its errors are the URL's.
bool is_http_url(std::string_view text);

// The URL, or one line naming the problem: "invalid URL 'http://a@b/': userinfo (user@) is
// not accepted: no credentials on command lines".
std::variant<Url, TargetError> parse_url(std::string_view text);

} // namespace tcpretry::core
