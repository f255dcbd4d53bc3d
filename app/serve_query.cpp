#include "app/serve_query.hpp"

#include "core/escape.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>

namespace tcpretry::app {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

// A host name as a target would accept it ("db.example"), without a port.
bool is_host_name(std::string_view name) {
    if (name.empty() || name.find_first_of(":[]/%@ ") != std::string_view::npos)
        return false;
    auto parsed = core::parse_target(std::string(name) + ":1");
    const auto* t = std::get_if<core::Target>(&parsed);
    return t && !t->numeric;
}

// "b.a.example" ends in ".a.example" for the pattern "*.a.example".
bool suffix_matches(std::string_view pattern, std::string_view host) {
    std::string_view suffix = pattern.substr(1); // ".a.example"
    return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
}

} // namespace

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c != '%') {
            out += c;
        } else {
            if (i + 2 >= text.size())
                return std::nullopt;
            int hi = core::hex_value(text[i + 1]);
            int lo = core::hex_value(text[i + 2]);
            if (hi < 0 || lo < 0)
                return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        }
    }
    return out;
}

std::variant<ProbeQuery, QueryError> parse_probe_query(std::string_view query) {
    if (query.size() > k_max_probe_query)
        return QueryError{"the query is longer than " + std::to_string(k_max_probe_query) +
                          " bytes"};
    std::optional<std::string> target;
    std::optional<std::string> module;
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty())
            continue;
        std::size_t eq = pair.find('=');
        auto name = percent_decode(pair.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (!name || !value)
            return QueryError{"bad percent-encoding in " + core::quote(pair)};
        if (*name == "target" || *name == "module") {
            auto& slot = *name == "target" ? target : module;
            if (slot)
                return QueryError{"parameter '" + *name + "' is given more than once"};
            slot = std::move(*value);
        }
    }
    if (!target || target->empty())
        return QueryError{"missing parameter 'target' (/probe?target=HOST:PORT)"};
    auto parsed = core::parse_target(*target);
    if (auto* err = std::get_if<core::TargetError>(&parsed))
        return QueryError{"target: " + err->message};
    return ProbeQuery{std::get<core::Target>(std::move(parsed)), std::move(module)};
}

bool Cidr::contains(const core::SockAddr& addr) const {
    const uint8_t* raw = nullptr;
    if (addr.family() != family)
        return false;
    if (family == core::Family::ipv4)
        raw = reinterpret_cast<const uint8_t*>(&addr.storage.in4.sin_addr);
    else
        raw = addr.storage.in6.sin6_addr.s6_addr;
    int whole = prefix / 8;
    if (std::memcmp(raw, bytes.data(), static_cast<std::size_t>(whole)) != 0)
        return false;
    int rest = prefix % 8;
    if (rest == 0)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (raw[whole] & mask) == bytes[static_cast<std::size_t>(whole)];
}

std::vector<std::string> split_allow_list(std::string_view text) {
    std::vector<std::string> entries;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t end = text.find_first_of(", \t\r\n", i);
        if (end == std::string_view::npos)
            end = text.size();
        if (end > i)
            entries.emplace_back(text.substr(i, end - i));
        i = end + 1;
    }
    return entries;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    std::size_t slash = text.find('/');
    std::string address(text.substr(0, slash));
    Cidr c;
    std::size_t width = 4;
    if (inet_pton(AF_INET, address.c_str(), c.bytes.data()) == 1) {
        c.family = core::Family::ipv4;
    } else if (inet_pton(AF_INET6, address.c_str(), c.bytes.data()) == 1) {
        c.family = core::Family::ipv6;
        width = 16;
    } else {
        return std::nullopt;
    }
    int max = static_cast<int>(width * 8);
    c.prefix = max;
    if (slash != std::string_view::npos) {
        std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 ||
            digits.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        c.prefix = std::stoi(std::string(digits));
        if (c.prefix > max)
            return std::nullopt;
    }
    // Host bits zero, so "10.1.2.3/8" means 10.0.0.0/8.
    for (std::size_t i = 0; i < width; ++i) {
        int bits = std::clamp(c.prefix - static_cast<int>(i * 8), 0, 8);
        c.bytes[i] &= static_cast<uint8_t>(bits == 0 ? 0 : 0xff << (8 - bits));
    }
    return c;
}

std::optional<std::string> AllowList::add(std::string_view entry) {
    if (auto cidr = parse_cidr(entry)) {
        m_cidrs.push_back(*cidr);
        return std::nullopt;
    }
    std::string name = lower(entry);
    bool wildcard = name.size() > 2 && name.compare(0, 2, "*.") == 0;
    if (is_host_name(wildcard ? std::string_view(name).substr(2) : std::string_view(name))) {
        m_names.push_back(std::move(name));
        return std::nullopt;
    }
    return "--serve-allow: " + core::quote(entry) +
           " is neither a network (10.0.0.0/8, ::1/128, 192.0.2.7) nor a host name (db.example, "
           "*.example)";
}

void AllowList::add_target(const core::Target& target) {
    core::Target t = target;
    t.host = lower(t.host);
    m_targets.push_back(std::move(t));
}

bool AllowList::allows_target(const core::Target& target) const {
    std::string host = lower(target.host);
    for (const auto& t : m_targets)
        if (t.host == host && t.port == target.port)
            return true;
    if (target.numeric)
        return allows_address(*target.numeric);
    return std::any_of(m_names.begin(), m_names.end(), [&](const std::string& name) {
        return name[0] == '*' ? suffix_matches(name, host) : name == host;
    });
}

bool AllowList::allows_address(const core::SockAddr& addr) const {
    return std::any_of(m_cidrs.begin(), m_cidrs.end(),
                       [&](const Cidr& c) { return c.contains(addr); });
}

} // namespace tcpretry::app
