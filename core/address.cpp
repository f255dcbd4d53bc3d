#include "core/address.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstddef>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>

namespace tcpretry::core {

std::string_view family_name(Family f) {
    switch (f) {
    case Family::ipv4:
        return "ipv4";
    case Family::ipv6:
        return "ipv6";
    case Family::unix_socket:
        return "unix";
    }
    return "ipv4";
}

SockAddr SockAddr::unix_marker() {
    SockAddr a;
    a.storage.ss_family = AF_UNIX;
    a.length = sizeof(sa_family_t);
    return a;
}

std::optional<std::string> unix_path_problem(std::string_view path) {
    if (path.empty())
        return "is empty";
    if (path == "@")
        return "has an empty abstract name";
    if (path.size() > k_max_unix_path)
        return "is longer than " + std::to_string(k_max_unix_path) +
               " bytes (the limit of a Unix socket path)";
    if (path.find('\0') != std::string_view::npos)
        return "contains a NUL byte";
    return std::nullopt;
}

UnixAddress make_unix_address(std::string_view path) {
    UnixAddress u;
    u.addr.sun_family = AF_UNIX;
    std::size_t n = std::min(path.size(), sizeof u.addr.sun_path - 1);
    std::memcpy(u.addr.sun_path, path.data(), n);
    if (!path.empty() && path.front() == '@') {
        u.addr.sun_path[0] = '\0'; // abstract: the name is exactly the bytes after it
        u.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
    } else {
        u.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
    }
    return u;
}

uint16_t SockAddr::port() const {
    if (storage.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

void SockAddr::set_port(uint16_t port) {
    if (storage.ss_family == AF_INET6)
        reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
    else
        reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
}

std::string SockAddr::host() const {
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
    if (storage.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        std::string out = buf;
        if (in6->sin6_scope_id != 0) {
            char ifname[IF_NAMESIZE] = {};
            out += '%';
            if (if_indextoname(in6->sin6_scope_id, ifname))
                out.append(ifname);
            else
                out.append(std::to_string(in6->sin6_scope_id));
        }
        return out;
    }
    // IPv4 by hand: glibc's inet_ntop formats through sprintf (about 1,900 instructions),
    // and a fleet formats each address several times.
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage);
    const auto* octets = reinterpret_cast<const unsigned char*>(&in4->sin_addr.s_addr);
    std::size_t n = 0;
    for (int i = 0; i < 4; ++i) {
        unsigned v = octets[i];
        if (i > 0)
            buf[n++] = '.';
        if (v >= 100)
            buf[n++] = static_cast<char>('0' + v / 100);
        if (v >= 10)
            buf[n++] = static_cast<char>('0' + v / 10 % 10);
        buf[n++] = static_cast<char>('0' + v % 10);
    }
    return std::string(buf, n);
}

bool SockAddr::operator==(const SockAddr& other) const {
    if (storage.ss_family != other.storage.ss_family)
        return false;
    if (storage.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
        const auto* b = reinterpret_cast<const sockaddr_in6*>(&other.storage);
        return a->sin6_port == b->sin6_port &&
               std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
    }
    const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
    const auto* b = reinterpret_cast<const sockaddr_in*>(&other.storage);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

std::optional<SockAddr> parse_numeric_address(const std::string& text, uint16_t port) {
    SockAddr out;
    auto* in4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        out.length = sizeof(sockaddr_in);
        return out;
    }
    std::string addr = text;
    std::string zone;
    if (auto pct = text.find('%'); pct != std::string::npos) {
        addr = text.substr(0, pct);
        zone = text.substr(pct + 1);
        // An interface name has no ':', '/' or space and is shorter than IF_NAMESIZE (the
        // kernel would read "lo:x" as the alias of lo and accept it).
        if (zone.empty() || zone.size() >= IF_NAMESIZE ||
            zone.find_first_of(":/ \t\n") != std::string::npos)
            return std::nullopt;
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (inet_pton(AF_INET6, addr.c_str(), &in6->sin6_addr) != 1)
        return std::nullopt;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (!zone.empty()) {
        unsigned index = if_nametoindex(zone.c_str());
        if (index == 0) {
            // A numeric zone is an interface index.
            char* end = nullptr;
            unsigned long n = std::strtoul(zone.c_str(), &end, 10);
            if (*end != '\0' || n == 0 || n > 0xffffffffUL || !(zone[0] >= '0' && zone[0] <= '9'))
                return std::nullopt;
            index = static_cast<unsigned>(n);
        }
        in6->sin6_scope_id = index;
    }
    out.length = sizeof(sockaddr_in6);
    return out;
}

Endpoint to_endpoint(const SockAddr& addr) {
    return Endpoint{addr.host(), addr.port(), addr.family()};
}

std::optional<SockAddr> local_address(int fd) {
    SockAddr a;
    a.length = sizeof a.storage;
    if (::getsockname(fd, a.get(), &a.length) != 0)
        return std::nullopt;
    return a;
}

std::optional<SockAddr> peer_address(int fd) {
    SockAddr a;
    a.length = sizeof a.storage;
    if (::getpeername(fd, a.get(), &a.length) != 0)
        return std::nullopt;
    return a;
}

} // namespace tcpretry::core
