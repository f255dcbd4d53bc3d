#include "core/target.hpp"

#include "core/services.hpp"

#include <algorithm>

namespace tcpretry::core {

namespace {

constexpr size_t k_max_name = 253;
constexpr size_t k_max_label = 63;

bool is_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A host name: labels of letters, digits, '-', '_' (and any UTF-8 beyond ASCII, which the
// resolver will reject if it must), none empty, none longer than 63 bytes.
std::optional<std::string> check_name(std::string_view name) {
    if (name.size() > k_max_name + 1 || (name.size() == k_max_name + 1 && name.back() != '.'))
        return "is longer than 253 bytes";
    if (name.back() == '.')
        name.remove_suffix(1);
    if (name.empty())
        return "is empty";
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos)
            dot = name.size();
        std::string_view label = name.substr(start, dot - start);
        if (label.empty())
            return "has an empty label";
        if (label.size() > k_max_label)
            return "has a label longer than 63 bytes";
        for (char c : label) {
            auto u = static_cast<unsigned char>(c);
            bool ok = u >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!ok)
                return std::string("has an invalid character '") + c + "'";
        }
        start = dot + 1;
    }
    // All digits and dots is an IPv4 address that did not parse ("256.1.1.1", "127.1").
    if (std::all_of(name.begin(), name.end(),
                    [](char c) { return c == '.' || (c >= '0' && c <= '9'); }))
        return "is not a valid IPv4 address";
    return std::nullopt;
}

} // namespace

bool is_clean_text(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            ++i;
            continue;
        }
        size_t len = 0;
        uint32_t cp = 0;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size())
            return false;
        for (size_t k = 1; k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        // C1 controls.
        if (cp >= 0x80 && cp < 0xa0)
            return false;
        i += len;
    }
    return true;
}

std::string quote(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    bool escape_high = !is_clean_text(text);
    std::string out = "'";
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || (escape_high && u >= 0x80)) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::optional<uint16_t> parse_port(std::string_view text) {
    if (text.empty())
        return std::nullopt;
    if (is_digits(text)) {
        if (text.size() > 5)
            return std::nullopt;
        unsigned n = 0;
        for (char c : text)
            n = n * 10 + static_cast<unsigned>(c - '0');
        if (n == 0 || n > 65535)
            return std::nullopt;
        return static_cast<uint16_t>(n);
    }
    bool service_chars = text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || c == '-' || c == '_';
                         });
    if (!service_chars)
        return std::nullopt;
    return service_port(text);
}

namespace {

// RFC 3986's scheme: a letter, then letters, digits, '+', '-', '.'.
bool is_scheme(std::string_view s) {
    auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (s.empty() || !letter(s[0]))
        return false;
    return std::all_of(s.begin(), s.end(), [&](char c) {
        return letter(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    });
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

// A host that could be an unbracketed IPv6 address: hex digits, ':', '.', '%'.
bool looks_like_ipv6(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == ':' || c == '.' || c == '%';
    });
}

// "tcp://HOST:PORT[/]" is a TARGET (wait4x's form); other URLs are not understood yet.
// Returns what is left to parse, or why not (through `why`).
std::string_view strip_scheme(std::string_view text, std::optional<std::string>& why) {
    auto sep = text.find("://");
    if (sep == std::string_view::npos || !is_scheme(text.substr(0, sep)))
        return text;
    std::string_view scheme = text.substr(0, sep);
    if (!equals_ignoring_case(scheme, "tcp")) {
        why = "a " + std::string(scheme) +
              ":// URL; only HOST:PORT (or tcp://HOST:PORT) is understood";
        return {};
    }
    std::string_view address = text.substr(sep + 3);
    if (!address.empty() && address.back() == '/')
        address.remove_suffix(1);
    if (address.find_first_of("/?#") != std::string_view::npos)
        why = "nothing may follow HOST:PORT in a tcp:// target";
    return address;
}

struct HostPort {
    std::string_view host;
    std::string_view port;
    bool bracketed = false; // [IPV6]:PORT, the host checked to be an IPv6 literal
};

// HOST:PORT or [IPV6]:PORT into its parts, or why not.
std::variant<HostPort, std::string> split_host_port(std::string_view address) {
    HostPort hp;
    if (!address.empty() && address.front() == '[') {
        auto close = address.find(']');
        if (close == std::string_view::npos)
            return std::string("missing ']' after the IPv6 address");
        hp.host = address.substr(1, close - 1);
        auto literal = parse_numeric_address(std::string(hp.host), 0);
        if (!literal || literal->family() != Family::ipv6) {
            if (hp.host.find('%') != std::string_view::npos)
                return quote(hp.host) + " is not an IPv6 address with a known zone";
            return quote(hp.host) + " is not an IPv6 address";
        }
        std::string_view rest = address.substr(close + 1);
        if (rest.empty())
            return std::string("missing port (use [ADDRESS]:PORT)");
        if (rest.front() != ':')
            return std::string("expected ':' after ']'");
        hp.port = rest.substr(1);
        hp.bracketed = true;
        return hp;
    }
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos)
        return std::string("missing port (use HOST:PORT)");
    hp.host = address.substr(0, colon);
    hp.port = address.substr(colon + 1);
    if (hp.host.find(':') != std::string_view::npos) {
        if (looks_like_ipv6(hp.host))
            return std::string("an IPv6 address needs brackets, as in [::1]:80");
        return std::string("more than one ':' (use HOST:PORT)");
    }
    return hp;
}

} // namespace

std::variant<Target, TargetError> make_unix_target(std::string_view path, std::string_view text) {
    if (auto why = unix_path_problem(path))
        return TargetError{"invalid target " + quote(text) + ": the socket path " + *why};
    Target t;
    t.text = std::string(text);
    t.host = std::string(path);
    t.kind = TargetKind::unix_socket;
    return t;
}

namespace {

// "unix:PATH", any case; "unix:///abs" is Docker's spelling of "unix:/abs".
std::optional<std::string_view> unix_path_of(std::string_view text) {
    constexpr std::string_view prefix = "unix:";
    if (text.size() < prefix.size() || !equals_ignoring_case(text.substr(0, 5), prefix))
        return std::nullopt;
    std::string_view path = text.substr(prefix.size());
    if (path.starts_with("///"))
        path.remove_prefix(2);
    return path;
}

} // namespace

std::variant<Target, TargetError> parse_target(std::string_view text) {
    auto fail = [&](std::string why) {
        return TargetError{"invalid target " + quote(text) + ": " + why};
    };
    if (text.empty())
        return fail("it is empty");
    if (!is_clean_text(text))
        return fail("it contains control characters or invalid UTF-8");
    if (auto path = unix_path_of(text))
        return make_unix_target(*path, text);
    std::optional<std::string> scheme_problem;
    std::string_view address = strip_scheme(text, scheme_problem);
    if (scheme_problem)
        return fail(*scheme_problem);
    auto split = split_host_port(address);
    if (auto* why = std::get_if<std::string>(&split))
        return fail(*why);
    const HostPort& hp = std::get<HostPort>(split);
    if (hp.host.empty())
        return fail("missing host");
    if (hp.port.empty())
        return fail("missing port");
    auto port_number = parse_port(hp.port);
    if (!port_number) {
        if (is_digits(hp.port))
            return fail("port " + std::string(hp.port) + " is out of range (1-65535)");
        return fail("unknown port or service " + quote(hp.port));
    }
    Target t;
    t.text = std::string(text);
    t.port = *port_number;
    t.host = std::string(hp.host);
    if (hp.bracketed) {
        t.numeric = parse_numeric_address(t.host, t.port);
        return t;
    }
    if (auto addr = parse_numeric_address(t.host, t.port); addr && addr->family() == Family::ipv4) {
        t.numeric = addr;
        return t;
    }
    if (auto why = check_name(hp.host))
        return fail("host " + *why);
    return t;
}

} // namespace tcpretry::core
