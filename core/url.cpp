#include "core/url.hpp"

#include "core/escape.hpp"

#include <algorithm>
#include <optional>

namespace tcpretry::core {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == y; });
}

bool is_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 3986: unreserved, sub-delims, ':' and '@' (pchar without '%'), plus '/' and '?' (the
// path and the query may hold both).
bool is_path_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("-._~!$&'()*+,;=:@/?").find(c) != std::string_view::npos;
}

struct Scheme {
    std::string_view name;
    UrlScheme scheme;
    uint16_t port;
};

constexpr Scheme k_schemes[] = {
    {"http", UrlScheme::http, 80},
    {"https", UrlScheme::https, 443},
    {"http+unix", UrlScheme::http_unix, 0},
};

std::optional<Scheme> find_scheme(std::string_view name) {
    for (const Scheme& s : k_schemes)
        if (equals_ignoring_case(name, s.name))
            return s;
    return std::nullopt;
}

// Spaces, control bytes and non-ASCII bytes are never part of a URL as written.
std::optional<std::string> check_bytes(std::string_view text) {
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (c == ' ')
            return "it contains a space (write it as %20)";
        if (u < 0x20 || u == 0x7f)
            return "it contains a control character";
        if (u >= 0x80)
            return "it contains non-ASCII bytes (percent-encode them)";
    }
    if (text.find('#') != std::string_view::npos)
        return "a fragment ('#...') is never sent to the server: leave it out";
    return std::nullopt;
}

// The path and query: each byte allowed, each '%' followed by two hex digits.
std::optional<std::string> check_path(std::string_view path) {
    for (std::size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%') {
            if (i + 2 >= path.size() || hex_value(path[i + 1]) < 0 || hex_value(path[i + 2]) < 0)
                return "bad percent-encoding " + quote(path.substr(i, 3)) +
                       " (a '%' must be followed by two hex digits)";
            i += 2;
        } else if (!is_path_char(c)) {
            return "the character " + quote(std::string_view(&c, 1)) +
                   " must be percent-encoded in the path or query";
        }
    }
    return std::nullopt;
}

// %XX decoded; nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size() || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0)
            return std::nullopt;
        out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
        i += 2;
    }
    return out;
}

// http+unix: the authority is the socket path, percent-encoded.
std::optional<std::string> parse_unix_authority(std::string_view authority, Url& url) {
    for (char c : authority)
        if (c != '%' && !is_path_char(c))
            return "the character " + quote(std::string_view(&c, 1)) +
                   " must be percent-encoded in the socket path";
    auto path = percent_decode(authority);
    if (!path)
        return std::string("bad percent-encoding in the socket path (a '%' must be followed by "
                           "two hex digits)");
    if (path->empty())
        return std::string("missing socket path (as in http+unix://%2Frun%2Fapp.sock/)");
    if (path->find('\0') != std::string::npos)
        return std::string("the socket path contains a NUL byte");
    if (*path == "@")
        return std::string("an abstract socket needs a name after '@'");
    if (path->size() > k_unix_path_max)
        return "the socket path is longer than " + std::to_string(k_unix_path_max) + " bytes";
    url.unix_path = std::move(*path);
    url.host_header = "localhost";
    return std::nullopt;
}

struct Authority {
    std::string host; // an IPv6 zone's "%25" decoded to '%'
    std::string port; // empty: the scheme's default
    bool bracketed = false;
};

std::variant<Authority, std::string> split_authority(std::string_view authority) {
    Authority a;
    std::string_view rest = authority;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::string("missing ']' after the IPv6 address");
        std::string_view host = authority.substr(1, close - 1);
        // RFC 6874 writes the zone's '%' as "%25"; a bare '%' is taken too (as curl does).
        if (auto pct = host.find("%25"); pct != std::string_view::npos)
            a.host = std::string(host.substr(0, pct)) + "%" + std::string(host.substr(pct + 3));
        else
            a.host = std::string(host);
        a.bracketed = true;
        rest = authority.substr(close + 1);
        if (!rest.empty() && rest.front() != ':')
            return std::string("expected ':' or '/' after ']'");
    } else {
        if (std::count(authority.begin(), authority.end(), ':') > 1)
            return std::string("more than one ':' (an IPv6 address needs brackets, as in "
                               "http://[::1]:8080/)");
        auto colon = authority.find(':');
        a.host = std::string(authority.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    }
    if (a.host.empty())
        return std::string("missing host");
    if (!rest.empty()) {
        std::string_view port = rest.substr(1);
        if (port.empty())
            return std::string("missing port after ':'");
        if (!is_digits(port))
            return "port " + quote(port) + " is not a number";
        a.port = std::string(port);
    }
    return a;
}

// http, https: HOST[:PORT], checked as the TARGET HOST:PORT would be.
std::optional<std::string> parse_tcp_authority(std::string_view authority, uint16_t default_port,
                                               Url& url) {
    auto split = split_authority(authority);
    if (auto* why = std::get_if<std::string>(&split))
        return *why;
    const Authority& a = std::get<Authority>(split);
    std::string port = a.port.empty() ? std::to_string(default_port) : a.port;
    std::string host_port = (a.bracketed ? "[" + a.host + "]" : a.host) + ":" + port;
    // As tcp://HOST:PORT: a host named "unix" is a host here, not a unix: TARGET's prefix.
    auto target = parse_target("tcp://" + host_port);
    if (auto* error = std::get_if<TargetError>(&target)) {
        // parse_target says "invalid target 'tcp://HOST:PORT': why"; the URL says its own.
        std::string prefix = "invalid target " + quote("tcp://" + host_port) + ": ";
        std::string why = error->message;
        if (why.starts_with(prefix))
            why.erase(0, prefix.size());
        return why;
    }
    url.tcp = std::get<Target>(std::move(target));
    url.tcp.text = url.text;
    // The Host header: no zone (RFC 6874 keeps it off the wire), the port when not default.
    std::string host = a.host.substr(0, a.bracketed ? a.host.find('%') : std::string::npos);
    url.host_header = a.bracketed ? "[" + host + "]" : host;
    if (url.tcp.port != default_port) {
        // Piece by piece: gcc 12 at -O3 warns (-Wrestrict, a false positive) otherwise.
        url.host_header += ':';
        url.host_header += std::to_string(url.tcp.port);
    }
    return std::nullopt;
}

} // namespace

std::string_view url_scheme_name(UrlScheme scheme) {
    for (const Scheme& s : k_schemes)
        if (s.scheme == scheme)
            return s.name;
    return "http";
}

bool is_http_url(std::string_view text) {
    auto sep = text.find("://");
    return sep != std::string_view::npos && find_scheme(text.substr(0, sep)).has_value();
}

std::variant<Url, TargetError> parse_url(std::string_view text) {
    auto fail = [&](const std::string& why) {
        return TargetError{"invalid URL " + quote(text) + ": " + why};
    };
    if (text.empty())
        return fail("it is empty");
    if (auto why = check_bytes(text))
        return fail(*why);
    auto sep = text.find("://");
    if (sep == std::string_view::npos)
        return fail("missing scheme (http://, https:// or http+unix://)");
    auto scheme = find_scheme(text.substr(0, sep));
    if (!scheme)
        return fail("unknown scheme " + quote(text.substr(0, sep)) + " (http, https or http+unix)");
    std::string_view rest = text.substr(sep + 3);
    std::size_t end = std::min(rest.find_first_of("/?"), rest.size());
    std::string_view authority = rest.substr(0, end);
    std::string_view path = rest.substr(end);
    if (authority.find('@') != std::string_view::npos)
        return fail("userinfo (user@) is not accepted: no credentials on command lines");
    if (auto why = check_path(path))
        return fail(*why);
    Url url;
    url.text = std::string(text);
    url.scheme = scheme->scheme;
    // A query alone gets the path "/" in front. (Not "/" + std::string(path): gcc 12 at -O3
    // warns about that, -Wrestrict, a false positive.)
    url.path = std::string(path);
    if (url.path.empty() || url.path.front() == '?')
        url.path.insert(url.path.begin(), '/');
    auto why = url.is_unix() ? parse_unix_authority(authority, url)
                             : parse_tcp_authority(authority, scheme->port, url);
    if (why)
        return fail(*why);
    return url;
}

} // namespace tcpretry::core
